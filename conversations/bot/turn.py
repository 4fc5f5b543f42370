"""One bot turn, as explicit bounded stages:

inbound guardrails -> retrieval (audience from identity) -> respond (model with a capped tool
loop, or the offline responder) -> output guardrails -> the stored final message.

Streaming: model text goes out as `delta` frames while it arrives; the stored `message` (after the
output checks) supersedes them. Every stage runs without a database transaction open; the
database work is short calls on the thread pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy

from conversations.bot.actions import action_card, action_waiting
from conversations.bot.context import (
    MISSES_BEFORE_HANDOFF,
    TurnInput,
    TurnOutput,
    turn_output_post,
)
from conversations.bot.offline import (
    OfflineStep,
    offline_escalation,
    offline_step,
    related_articles,
    without_last_order,
)
from conversations.bot.order_replies import ASK_FOR_ORDER, offline_order_pick, offline_tool_reply
from conversations.bot.prompts import (
    PROMPT_VERSION,
    SystemPrompt,
    escalation_message,
    reading_message,
    sources_message,
    summary_message,
    system_prompt,
)
from conversations.bot.tools import Actor, ToolOutcome, tool_run, tool_schemas
from conversations.bot.turn_understanding import (
    Flagged,
    TurnStart,
    TurnTexts,
    Understanding,
    turn_audience,
    turn_start,
    turn_understand,
    turn_vectors,
    with_answer_passage,
)
from conversations.bot.understanding.intent import IntentGuess
from conversations.bot.understanding.order_reference import OrderDescription
from conversations.bot.understanding.requests import asks_the_knowledge_base, requested_action
from conversations.core import events
from conversations.core.async_db import call_service, db
from conversations.models import Conversation, ModelCall
from guardrails.injection.plain_replies import is_decision_reply
from guardrails.limits import abuse_strike, token_budget_spend
from guardrails.models import GuardrailEvent
from guardrails.output import OutputVerdict, output_check
from guardrails.pii.engine import PiiSpan
from guardrails.pii.vault import placeholders_in, vault_values
from guardrails.redaction import text_patterns_async
from guardrails.services import guardrail_event_record
from knowledge.selectors import (
    Retrieval,
    RetrievedChunk,
)
from supportbot.llm.gateway import ModelUnavailable, get_gateway, model_configured
from supportbot.runtime.trace import trace_mark, trace_turn_begin, trace_turn_end

logger = logging.getLogger(__name__)

# Lazy: rendered in the customer's language, which the whole turn runs under (turn_run).
REFUSAL = gettext_lazy(
    "I can only help with questions about our products, orders and policies. Could you tell me what you need help with?"
)
# A typed "yes, confirm" under a card: only the card's buttons act (the protocol's confirm frame,
# checked against the proposal), so the customer is pointed to them rather than answered at random.
CARD_WAITING_REPLY = gettext_lazy("To go ahead, press Confirm on the card above. To stop, press Cancel.")
LOOP_CAP_REPLY = gettext_lazy("I couldn't finish that on my own, so I'm bringing in a person from our team.")
DELTA_COALESCE_SECONDS = 0.05


@dataclass
class TurnState:
    turn_id: str
    started: float
    first_delta_at: float | None = None
    model_ms: float = 0.0
    usage: dict[str, Any] = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0})
    model: str = "offline"


class DeltaStream:
    """Publishes streamed text. The first piece goes out at once (time to first delta is what the
    customer feels); later pieces are coalesced for DELTA_COALESCE_SECONDS, one channel-layer
    message instead of one per token. A possibly unfinished placeholder ("<EMAIL_AD") is held
    back, so a placeholder always reaches the widget whole and can be re-hydrated there.

    Where the pieces go is settled once, at the first: when the question "does anyone outside this
    process listen?" (asked as the stream opens, answered long before a model's first token) came
    back "no", every piece of the turn goes straight to this process's sockets; otherwise, or
    when the answer is not in yet, every piece goes through Redis. One route per turn, so no
    piece can overtake an earlier one."""

    def __init__(self, *, public_id: str, turn: TurnState) -> None:
        self.public_id, self.turn = public_id, turn
        self.pending = ""
        self.last_sent = 0.0
        self.audience_here: asyncio.Task[bool] | None = asyncio.get_running_loop().create_task(
            events.delta_audience_here(public_id=public_id)
        )
        self.here = False
        self.delta_sent = False

    async def feed(self, piece: str) -> None:
        self.pending += piece
        now = time.perf_counter()
        if self.turn.first_delta_at is not None and now - self.last_sent < DELTA_COALESCE_SECONDS:
            return
        await self._send(final=False)

    async def flush(self) -> None:
        await self._send(final=True)

    async def _send(self, *, final: bool) -> None:
        text = self.pending
        cut = text.rfind("<")
        if not final and cut != -1 and ">" not in text[cut:] and len(text) - cut < 40:
            text, self.pending = text[:cut], text[cut:]
        else:
            self.pending = ""
        if not text:
            return
        if self.turn.first_delta_at is None:
            self.turn.first_delta_at = time.perf_counter()
        if self.audience_here is not None:
            self.here = self.audience_here.done() and self.audience_here.result()
            self.audience_here.cancel()  # not yet answered: this turn goes through Redis
            self.audience_here = None
        await events.publish_delta(public_id=self.public_id, turn_id=self.turn.turn_id, text=text, here=self.here)
        # The window counts from when this piece got out: while a publish waits (a busy Redis
        # connection), the text arriving meanwhile leaves as one delta after it, instead of one
        # publish per token each waiting its turn, which held the model stream's reading for
        # seconds (docs/performance.md, "the latency tail").
        self.last_sent = time.perf_counter()
        if final or not self.delta_sent:
            self.delta_sent = True
            trace_mark("delta_final" if final else "delta_first")


async def turn_run(*, conversation_id: int, up_to_seq: int, start: TurnStart | None = None) -> None:
    """`start`: the turn's input and texts when the lease claim's trip to the thread pool already
    read them (runner.turn_drive); else this reads them."""
    turn = TurnState(turn_id=str(uuid.uuid4()), started=time.perf_counter())
    trace = trace_turn_begin()
    if start is None:
        start = await db(turn_start)(conversation_id=conversation_id, up_to_seq=up_to_seq)
    if start is None:
        return
    loaded = start.loaded
    try:
        # The texts' vectors are computed in the model workers while "thinking" goes out.
        _, vectors = await asyncio.gather(
            events.publish_bot_activity(public_id=loaded.public_id, state=True, activity="thinking"),
            turn_vectors(start.texts),
        )
        trace_mark("activity_published")
        # Every fixed sentence of the turn (the offline responder's, refusals, the output check's
        # safe reply) is written in the customer's language.
        with translation.override(loaded.language):
            output = await _respond(loaded, turn, start.texts, vectors)
        output.extras.update(
            {
                "turn_id": turn.turn_id,
                "prompt_version": PROMPT_VERSION,
                "model": turn.model,
                "usage": turn.usage,
                "latency_ms": {
                    "total": round((time.perf_counter() - turn.started) * 1000, 1),
                    "model": round(turn.model_ms, 1),
                    "first_delta": round((turn.first_delta_at - turn.started) * 1000, 1)
                    if turn.first_delta_at
                    else None,
                },
            }
        )
        _, pending = await call_service(
            turn_output_post, conversation_id=conversation_id, up_to_seq=up_to_seq, output=output
        )
        await events.publish_collected(pending)
        trace_mark("posted_published")
    finally:
        await events.publish_bot_activity(public_id=loaded.public_id, state=False, activity="thinking")
        trace_turn_end(trace, public_id=loaded.public_id, up_to_seq=up_to_seq)


async def _respond(loaded: TurnInput, turn: TurnState, texts: TurnTexts, vectors: dict[str, list[float]]) -> TurnOutput:
    # Stages 1 and 2: inbound guardrails, then understanding and retrieval (audience from identity).
    understanding: Understanding | Flagged = await turn_understand(loaded=loaded, texts=texts, vectors=vectors)
    if isinstance(understanding, Flagged):
        strikes = await db(abuse_strike)(conversation_id=loaded.conversation_id)
        handoff = Conversation.HandoffReason.USAGE_LIMIT if strikes >= settings.LIMIT_ABUSE_STRIKES else None
        return TurnOutput(
            text=str(REFUSAL),
            extras={"guardrail": "injection"},
            state=without_last_order(loaded.state),
            handoff_reason=handoff,
        )
    loaded.question_understood = understanding.understood
    guess, retrieval = understanding.guess, understanding.retrieval
    waiting = (
        await db(action_waiting)(conversation_id=loaded.conversation_id) if is_decision_reply(loaded.question) else None
    )
    if waiting:
        return TurnOutput(
            text=str(CARD_WAITING_REPLY), extras={"awaits_action": waiting}, state=without_last_order(loaded.state)
        )

    # Stage 3: respond. The model when configured and within budget; the offline responder otherwise.
    actor = Actor(conversation_id=loaded.conversation_id, customer_id=loaded.customer_id)
    if model_configured():
        exceeded = understanding.budget_exceeded
        if exceeded is None:
            try:
                return await _model_respond(loaded, turn, actor, retrieval, guess)
            except ModelUnavailable as error:
                logger.warning("model unavailable for a turn, answering offline: %s", error)
        else:
            await db(guardrail_event_record)(
                kind=GuardrailEvent.Kind.BUDGET_EXCEEDED,
                action=GuardrailEvent.Action.REJECTED,
                conversation_id=loaded.conversation_id,
                site_id=loaded.site_id,
                detail={"message": exceeded.message},
            )
    return await _offline_respond(loaded, turn, actor, retrieval, guess)


def _citations(chunks: list[RetrievedChunk], cited: list[int]) -> list[dict[str, str]]:
    seen: dict[int, dict[str, str]] = {}
    for n in cited:
        chunk = chunks[n - 1]
        seen.setdefault(chunk.article_id, {"title": chunk.article_title, "url": chunk.url})
    return list(seen.values())


async def _offline_respond(
    loaded: TurnInput, turn: TurnState, actor: Actor, retrieval: Retrieval, guess: IntentGuess | None
) -> TurnOutput:
    if retrieval.confident and retrieval.chunks and not retrieval.passage:
        # a fallback from the model path, which did not read what the offline answer quotes
        retrieval = await db(with_answer_passage)(retrieval=retrieval, audience=turn_audience(loaded))
    step: OfflineStep = offline_step(
        text=loaded.question_understood or loaded.question,
        state=loaded.state,
        verified=bool(actor.customer_id),
        retrieval=retrieval,
        guess=guess,
    )
    if not step.answered and step.tool is None and loaded.miss_streak + 1 >= MISSES_BEFORE_HANDOFF:
        step = offline_escalation(step)
    output = TurnOutput(text=step.text, answered=step.answered, state=step.state)
    if step.related:
        output.extras["related"] = step.related
    if step.citations_from:
        output.extras["citations"] = _citations(retrieval.chunks, list(range(1, step.citations_from + 1)))
    if step.tool is None:
        return output
    outcome = await _run_tool(loaded, actor, step.tool, json.dumps(step.args))
    output.text = offline_tool_reply(tool=step.tool, data=outcome.data)
    if step.state.pop("picking_order", False):
        return await _offline_continue_with_order(loaded, actor, retrieval, step, outcome, output)
    if outcome.verified_customer_id or (step.tool == "verify_identity" and outcome.data.get("verified")):
        # Verified (or signed in already): carry on with what the customer originally asked for.
        if outcome.verified_customer_id:
            actor.customer_id = output.verified_customer_id = outcome.verified_customer_id
        follow = offline_step(text="", state=step.state, verified=True, retrieval=retrieval)
        output.state = follow.state
        if follow.tool:
            outcome = await _run_tool(loaded, actor, follow.tool, json.dumps(follow.args))
            output.text += " " + offline_tool_reply(tool=follow.tool, data=outcome.data)
        elif follow.text:
            output.text += " " + follow.text
    return _apply_outcome(output, outcome)


async def _offline_continue_with_order(
    loaded: TurnInput, actor: Actor, retrieval: Retrieval, step: OfflineStep, listed: ToolOutcome, output: TurnOutput
) -> TurnOutput:
    """The customer asked to act on "my order" without a number: `listed` holds their orders."""
    output.state = step.state
    if "orders" not in listed.data:
        output.text = str(ASK_FOR_ORDER)  # the list failed: ask instead of giving up
        return output
    number, question = offline_order_pick(
        intent=step.state["intent"],
        orders=listed.data["orders"],
        description=OrderDescription.from_state(step.state.get("order_hint")),
        among_listed=bool(step.state.get("among_listed")),
    )
    if number is None:
        output.text = question
        return output
    follow = offline_step(text="", state={**step.state, "order_number": number}, verified=True, retrieval=retrieval)
    output.state = follow.state
    if not follow.tool:
        output.text = follow.text
        return output
    outcome = await _run_tool(loaded, actor, follow.tool, json.dumps(follow.args))
    output.text = offline_tool_reply(tool=follow.tool, data=outcome.data)
    return _apply_outcome(output, outcome)


def _apply_outcome(output: TurnOutput, outcome: ToolOutcome) -> TurnOutput:
    if outcome.proposal is not None:
        output.extras["action"] = action_card(outcome.proposal)
    if outcome.handoff_reason:
        output.handoff_reason = outcome.handoff_reason
        output.text = gettext("Of course. I'm bringing in a person from our team.")
    if outcome.failed:
        output.handoff_reason = Conversation.HandoffReason.TOOL_FAILURE
    return output


async def _run_tool(loaded: TurnInput, actor: Actor, name: str, arguments: str) -> ToolOutcome:
    await events.publish_bot_activity(public_id=loaded.public_id, state=True, activity="working")
    try:
        return await tool_run(actor=actor, name=name, raw_arguments=arguments)
    finally:
        await events.publish_bot_activity(public_id=loaded.public_id, state=True, activity="thinking")


def _model_messages(
    loaded: TurnInput, prompt_text: str, retrieval: Retrieval, guess: IntentGuess | None
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": prompt_text},
        {"role": "system", "content": sources_message([(c.article_title, c.text) for c in retrieval.chunks])},
    ]
    understood = loaded.question_understood or loaded.question
    if guess is not None and requested_action(text=understood, guess=guess, retrieval=retrieval) is None:
        # An action label overruled by the rules ("can I cancel my order after it ships?") is read
        # as the question it is.
        hint = reading_message(label="question" if guess.is_action else guess.label)
        if hint:
            messages.append({"role": "system", "content": hint})
    if (
        not retrieval.confident
        and loaded.miss_streak + 1 >= MISSES_BEFORE_HANDOFF
        # "ok thanks" after a miss is no second miss: no person is coming, so none is announced
        and asks_the_knowledge_base(text=understood, guess=guess, retrieval=retrieval)
    ):
        messages.append({"role": "system", "content": escalation_message()})
    if loaded.earlier_summary:
        messages.append({"role": "system", "content": summary_message(loaded.earlier_summary)})
    for role, text in loaded.history:
        if role == "customer":
            messages.append({"role": "user", "content": text})
        else:
            messages.append(
                {"role": "assistant", "content": text if role == "bot" else f"(A human agent wrote:) {text}"}
            )
    messages.append({"role": "user", "content": loaded.question})
    return messages


async def _model_respond(
    loaded: TurnInput, turn: TurnState, actor: Actor, retrieval: Retrieval, guess: IntentGuess | None
) -> TurnOutput:
    prompt = system_prompt(company=loaded.company, language=loaded.language)
    messages = _model_messages(loaded, prompt.text, retrieval, guess)
    stream = DeltaStream(public_id=loaded.public_id, turn=turn)
    gateway = get_gateway()
    texts: list[str] = []
    tool_context: list[str] = []
    output = TurnOutput(text="", state={})
    used_tools = False
    for _iteration in range(settings.BOT_MAX_TOOL_ITERATIONS):
        try:
            result = await gateway.stream_chat(messages=messages, tools=tool_schemas(), on_text=stream.feed)
        except ModelUnavailable as error:
            await db(_model_call_record)(
                loaded=loaded, turn=turn, model=settings.LLM_MODEL, result=None, error=str(error)
            )
            raise
        await stream.flush()
        turn.model_ms += result.total_ms
        turn.model = result.model
        turn.usage["prompt_tokens"] += result.prompt_tokens
        turn.usage["completion_tokens"] += result.completion_tokens
        turn.usage["cost_usd"] = round(turn.usage["cost_usd"] + result.cost_usd, 6)
        await db(_model_call_record)(loaded=loaded, turn=turn, model=result.model, result=result, error="")
        if result.text:
            texts.append(result.text)
        if not result.tool_calls:
            break
        used_tools = True
        messages.append(
            {
                "role": "assistant",
                "content": result.text or None,
                "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in result.tool_calls
                ],
            }
        )
        stop = False
        for n, call in enumerate(result.tool_calls):
            if n >= settings.BOT_MAX_TOOL_CALLS_PER_ROUND:
                # Every call needs an answer in the conversation the model sees; these are not run.
                skipped = json.dumps(
                    {
                        "error": "too_many_tool_calls",
                        "message": "Not run: too many tool calls at once. Call the tools you still need one at a time.",
                    }
                )
                tool_context.append(skipped)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": skipped})
                continue
            outcome = await _run_tool(loaded, actor, call.name, call.arguments)
            if outcome.verified_customer_id:
                actor.customer_id = output.verified_customer_id = outcome.verified_customer_id
            tool_context.append(outcome.to_model())
            messages.append({"role": "tool", "tool_call_id": call.id, "content": outcome.to_model()})
            _apply_outcome(output, outcome)
            if outcome.proposal is not None and not result.text:
                texts.append(offline_tool_reply(tool=call.name, data=outcome.data))
            stop = stop or outcome.proposal is not None or outcome.handoff_reason is not None
        if stop:
            break
    else:
        output.handoff_reason = output.handoff_reason or Conversation.HandoffReason.UNSUPPORTED_REQUEST
        texts.append(str(LOOP_CAP_REPLY))

    # Stage 4: output guardrails.
    if output.handoff_reason and not texts:
        texts.append(gettext("I'm bringing in a person from our team."))
    reply = " ".join(t.strip() for t in texts if t.strip()) or str(LOOP_CAP_REPLY)
    # The pattern scan (Presidio's phone recognizer is most of the check's CPU) runs in the model workers.
    pattern_spans = await text_patterns_async(text=reply)
    verdict = await db(reply_check)(
        loaded=loaded,
        turn=turn,
        reply=reply,
        retrieval=retrieval,
        tool_context=tool_context,
        prompt=prompt,
        pattern_spans=pattern_spans,
    )
    output.text = verdict.text
    if verdict.ok and verdict.cited_sources:
        output.extras["citations"] = _citations(retrieval.chunks, verdict.cited_sources)
    understood = loaded.question_understood or loaded.question
    output.answered = (
        used_tools
        or retrieval.confident
        or bool(output.handoff_reason)
        or bool(output.extras.get("citations"))  # it found the answer in a source it was given
        or not asks_the_knowledge_base(text=understood, guess=guess, retrieval=retrieval)
    )
    if not output.answered:
        # The model found nothing it could cite: the closest articles, as the offline "I don't
        # know" offers them.
        related = related_articles(retrieval)
        if related:
            output.extras["related"] = related
    return output


def _model_call_record(*, loaded: TurnInput, turn: TurnState, model: str, result: Any, error: str) -> None:
    ModelCall.objects.create(
        conversation_id=loaded.conversation_id,
        turn_id=turn.turn_id,
        model=model,
        prompt_version=PROMPT_VERSION,
        prompt_tokens=result.prompt_tokens if result else 0,
        completion_tokens=result.completion_tokens if result else 0,
        cost_usd=Decimal(str(result.cost_usd)) if result else Decimal(0),
        ttft_ms=result.ttft_ms if result else None,
        total_ms=result.total_ms if result else 0,
        outcome="ok" if result else "failed",
        error=error[:200],
    )
    if result:  # in the same trip to the thread pool
        token_budget_spend(
            conversation_id=loaded.conversation_id,
            site_id=loaded.site_id,
            tokens=result.prompt_tokens + result.completion_tokens,
        )


def reply_check(
    *,
    loaded: TurnInput,
    turn: TurnState,
    reply: str,
    retrieval: Retrieval,
    tool_context: list[str],
    prompt: SystemPrompt,
    pattern_spans: list[PiiSpan] | None = None,
) -> OutputVerdict:
    """Stage 4, output guardrails, in one trip to the thread pool; a blocked reply is recorded.
    `pattern_spans`: the reply's pattern scan, when the caller ran it (output_check)."""
    own = vault_values(conversation_id=loaded.conversation_id, placeholders=placeholders_in(reply))
    verdict = output_check(
        text=reply,
        source_count=len(retrieval.chunks),
        context_text="\n".join([c.text for c in retrieval.chunks] + tool_context),
        conversation_placeholders=set(own),
        canary=prompt.canary,
        system_prompt=prompt.text,
        max_chars=settings.BOT_MAX_REPLY_CHARS,
        pattern_spans=pattern_spans,
    )
    if not verdict.ok:
        guardrail_event_record(
            kind=GuardrailEvent.Kind.OUTPUT_BLOCKED,
            action=GuardrailEvent.Action.REPLACED,
            conversation_id=loaded.conversation_id,
            site_id=loaded.site_id,
            detail={"reasons": verdict.reasons, "turn_id": turn.turn_id},
        )
    return verdict
