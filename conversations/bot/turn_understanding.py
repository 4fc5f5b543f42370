"""Stages 1 and 2 of a bot turn, before any reply is written: the texts the turn reads and embeds,
their vectors from the model workers in one batch, then the inbound injection check, the intent
and retrieval in one trip to the thread pool (docs/architecture.md, "A customer message, end to end"). turn.py runs
the stages; runner.py reads a turn's start here while it claims the conversation's lease.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.conf import settings
from django.utils import translation

from conversations.bot.context import TurnInput, turn_input_load
from conversations.bot.understanding.intent import IntentGuess, get_intent_classifier
from conversations.bot.understanding.requests import follow_up_query, without_names
from conversations.bot.understanding.spelling import spelled_out
from conversations.core.async_db import db
from guardrails.injection.detector import InjectionVerdict
from guardrails.limits import LimitExceeded, token_budget_check
from guardrails.pii.pool import model_workers_start
from guardrails.services import inbound_message_check
from knowledge.kb_cache import glossary_entries
from knowledge.passages import Section, answer_passage
from knowledge.query_text import knowledge_query_text, knowledge_reading_text
from knowledge.selectors import Audience, Retrieval, knowledge_search
from supportbot.llm.embeddings import embed_async, get_embedder, local_minilm
from supportbot.llm.gateway import model_configured


@dataclass
class Flagged:
    """The inbound check stopped the message: nothing is understood or retrieved."""

    verdict: InjectionVerdict


@dataclass
class Understanding:
    verdict: InjectionVerdict
    understood: str
    guess: IntentGuess | None
    retrieval: Retrieval
    budget_exceeded: LimitExceeded | None = None  # read only when asked for (a model is configured)


@dataclass(frozen=True)
class TurnTexts:
    """What the turn reads and embeds, worked out before any vector is needed."""

    understood: str
    search_text: str
    glossary: list[list[str]]
    query_text: str | None  # what retrieval would embed itself; None when it embeds with another provider
    embedded: list[str]  # the distinct texts to embed, each cut to 2,000 characters
    # the search text without its product words (the product reading), embedded in the same batch;
    # None when it holds none or retrieval embeds with another provider
    reading_text: str | None = None


def turn_texts(*, loaded: TurnInput) -> TurnTexts:
    """Name placeholders are left out and shorthand and typos spelled out first ("retrun
    policy?") for the intent and the search; a short follow-up ("and for express?") is searched
    together with the question it follows, with the glossary's synonyms ("delivery" -> "shipping"). Every distinct text among the
    customer's own (for the injection check), the spelled-out one (intent), the search text and its
    product reading (without the shop's product words) is embedded in one batch, once: one model call per message instead of up to three. On the thread
    pool: the glossary and the vocabulary are cached database reads."""
    question = loaded.question
    understood = spelled_out(without_names(question))
    search_text = follow_up_query(text=understood, history=loaded.history) or understood
    glossary = glossary_entries()
    # Retrieval embeds with the configured provider; the local vector only serves it when they are
    # one. It must be the vector of the text retrieval would embed itself (misspellings corrected
    # to the knowledge base's words, then the glossary's synonyms).
    query_text = (
        knowledge_query_text(question=search_text, glossary=glossary) if get_embedder() is local_minilm() else None
    )
    reading_text = knowledge_reading_text(question=search_text, glossary=glossary) if query_text is not None else None
    embedded = list(dict.fromkeys(t[:2000] for t in (question, understood, query_text, reading_text) if t is not None))
    return TurnTexts(
        understood=understood,
        search_text=search_text,
        glossary=glossary,
        query_text=query_text,
        embedded=embedded,
        reading_text=reading_text,
    )


@dataclass(frozen=True)
class TurnStart:
    """What a turn reads before it needs a vector: its input and the texts to embed."""

    loaded: TurnInput
    texts: TurnTexts


def turn_start(*, conversation_id: int, up_to_seq: int) -> TurnStart | None:
    """The turn's input and texts in one trip to the thread pool (the lease claim's, when it can:
    runner.turn_drive). None when the conversation is no longer the bot's to answer."""
    loaded = turn_input_load(
        conversation_id=conversation_id, up_to_seq=up_to_seq, history_messages=settings.BOT_HISTORY_MESSAGES
    )
    if loaded is None:
        return None
    with translation.override(loaded.language):
        return TurnStart(loaded=loaded, texts=turn_texts(loaded=loaded))


def turn_understood(
    *,
    loaded: TurnInput,
    texts: TurnTexts,
    vectors: dict[str, list[float]],
    check_budget: bool = False,
    with_passage: bool = True,
) -> Understanding | Flagged:
    """Stages 1 and 2 with the vectors known, in one trip to the thread pool: the injection check,
    the intent, retrieval; with `check_budget`, whether the token budget allows a model call; with
    `with_passage` (the offline responder will reply), what its answer quotes."""
    question = loaded.question
    verdict = inbound_message_check(
        conversation_id=loaded.conversation_id, site_id=loaded.site_id, text=question, vector=vectors[question[:2000]]
    )
    if verdict.flagged:
        return Flagged(verdict=verdict)
    guess = get_intent_classifier().classify(vectors[texts.understood[:2000]])
    # Chunks that read like instructions were flagged when indexed and never come back from the search.
    retrieval = knowledge_search(
        question=texts.search_text,
        audience=turn_audience(loaded),
        glossary=texts.glossary,
        language=loaded.language,
        query_vector=vectors[texts.query_text[:2000]] if texts.query_text is not None else None,
        reading_vector=vectors[texts.reading_text[:2000]] if texts.reading_text is not None else None,
    )
    if with_passage:
        retrieval = with_answer_passage(retrieval=retrieval, audience=turn_audience(loaded))
    exceeded = (
        token_budget_check(conversation_id=loaded.conversation_id, site_id=loaded.site_id) if check_budget else None
    )
    return Understanding(
        verdict=verdict, understood=texts.understood, guess=guess, retrieval=retrieval, budget_exceeded=exceeded
    )


async def turn_vectors(texts: TurnTexts) -> dict[str, list[float]]:
    """The vector of each text the turn embeds, from the model workers in one batch (awaited
    without holding a thread), by text."""
    model_workers_start()
    return dict(zip(texts.embedded, await embed_async(texts.embedded)))


async def turn_understand(
    *, loaded: TurnInput, texts: TurnTexts | None = None, vectors: dict[str, list[float]] | None = None
) -> Understanding | Flagged:
    """The texts first, then their vectors from the model workers (guardrails/pii/pool.py), awaited
    without holding a thread, then the database part (turn_run hands over the texts and vectors it
    already has). ModelWorkersUnavailable (a worker died or is stuck) fails the turn the way any
    turn error does (runner._fail_turn: an apology and a handoff), within WORKER_TIMEOUT_SECONDS."""
    if texts is None:
        texts = await db(turn_texts)(loaded=loaded)
    if vectors is None:
        vectors = await turn_vectors(texts)
    model = model_configured()
    return await db(turn_understood)(
        loaded=loaded, texts=texts, vectors=vectors, check_budget=model, with_passage=not model
    )


def turn_audience(loaded: TurnInput) -> Audience:
    """Whose articles the turn may read: a signed-in or verified customer's, or a visitor's."""
    return "verified" if loaded.customer_id else "anonymous"


def with_answer_passage(*, retrieval: Retrieval, audience: Audience) -> Retrieval:
    """`retrieval` with the passage an offline answer quotes, when it answers."""
    if not (retrieval.confident and retrieval.chunks) or retrieval.passage:
        return retrieval
    best = retrieval.chunks[0]
    passage = answer_passage(
        article_id=best.article_id,
        audience=audience,
        best=Section.of_chunk(heading_path=best.heading_path, text=best.text),
    )
    return replace(retrieval, passage=passage)
