"""The two levers measured on real customer wording (docs/performance.md, "Real customer
wording"): the article title as its own row, and a long message searched sentence by sentence."""

from __future__ import annotations

import pytest

from knowledge import indexing
from knowledge.indexing import article_index
from knowledge.models import Article, Chunk
from knowledge.question_pieces import message_sentences, question_pieces
from knowledge.retrieval_options import RetrievalOptions
from knowledge.selectors import answer_confidence, knowledge_search
from knowledge.services import article_save
from supportbot.llm.embeddings import get_embedder

KEEP_NUMBER = (
    "Ask your current provider for a number transfer code, which they must give you free within one "
    "working day. Enter the code when you order. The transfer happens on the next working day."
)
NEW_NUMBER = "Choose a new number in the app under Account. The first change is free and later ones cost 10 pounds."
ROAMING = "Roam Like Home is included on all monthly plans in 47 European destinations at no extra charge."


def _article(slug: str, title: str, body: str) -> Article:
    article = article_save(article=Article(slug=slug, title=title, body=body, status="published"))
    assert article_index(article_id=article.pk) == "indexed"
    return article


@pytest.fixture
def carrier(db, monkeypatch):
    monkeypatch.setattr(indexing, "INDEX_TITLES", True)  # off by default: the lever lost
    _article("port-in", "Can I keep my phone number when I switch to you?", KEEP_NUMBER)
    _article("change-number", "Can I change my phone number?", NEW_NUMBER)
    _article("roaming", "Can I use my plan in Europe?", ROAMING)


def test_it_indexes_no_title_row_while_the_titles_lever_is_off(db):
    assert not indexing.INDEX_TITLES
    _article("port-in", "Can I keep my phone number when I switch to you?", KEEP_NUMBER)
    assert list(Chunk.objects.values_list("kind", flat=True)) == [Chunk.Kind.SECTION]


def test_it_indexes_the_title_alone_and_ranks_by_it_only_with_the_titles_lever(carrier):
    assert list(Chunk.objects.filter(kind=Chunk.Kind.TITLE).values_list("text", flat=True).order_by("ordinal")) == [
        "Can I keep my phone number when I switch to you?",
        "Can I change my phone number?",
        "Can I use my plan in Europe?",
    ]
    question = "will my number come with me if I move over from another network?"
    on = knowledge_search(
        question=question,
        audience="anonymous",
        k=3,
        max_per_article=1,
        options=RetrievalOptions(titles=True),
        threshold=1.0,
    )
    off = knowledge_search(
        question=question,
        audience="anonymous",
        k=3,
        max_per_article=1,
        options=RetrievalOptions(titles=False),
        threshold=1.0,
    )
    best = on.chunks[0]
    assert best.article_slug == "port-in"
    assert best.matched_question == "Can I keep my phone number when I switch to you?"
    # the title ranks the article; what is cited is still its section
    assert best.text == KEEP_NUMBER and Chunk.objects.get(pk=best.chunk_id).kind == Chunk.Kind.SECTION
    assert all(c.matched_question == "" for c in off.chunks)


def _search(question: str, vector: list[float], **options) -> list:
    return knowledge_search(
        question=question,
        audience="anonymous",
        k=3,
        max_per_article=1,
        threshold=1.0,
        query_vector=vector,
        piece_vectors=options.pop("piece_vectors", None),
        options=RetrievalOptions(spelling=False, **options),
    ).chunks


def test_a_long_message_is_searched_by_its_sentences_too_and_each_chunk_keeps_its_best_similarity(carrier):
    message = (
        "Hi there! I've been with another network for six years and I'm fed up with their prices. "
        "I'm off to Spain in the summer too. Can I bring my number over to you?"
    )
    pieces = question_pieces(message)
    assert len(pieces) == 3
    whole_vector, *piece_vectors = get_embedder().embed([message, *pieces])  # one model call for the test
    searched = _search(message, whole_vector, pieces=True, piece_vectors=piece_vectors)
    scores = [
        {c.article_slug: c.dense_score for c in _search(text, vector)}
        for text, vector in zip([message, *pieces], [whole_vector, *piece_vectors])
    ]
    for chunk in searched:
        assert chunk.dense_score == pytest.approx(max(s.get(chunk.article_slug, -1.0) for s in scores), abs=1e-5)
    assert searched[0].article_slug == "port-in"


def test_it_splits_a_message_into_sentences_without_greetings_questions_last_first():
    message = "Hi there, I got my SIM today. It says No Service!\nHow do I activate it? Is it free? Thanks!"
    assert message_sentences(message) == [
        "I got my SIM today.",
        "It says No Service!",
        "How do I activate it?",
        "Is it free?",
    ]
    assert question_pieces(message) == ["Is it free?", "How do I activate it?", "It says No Service!"]
    assert question_pieces("hello, how do I activate my sim?") == []  # one sentence: the whole is enough


def test_the_confidence_counts_at_most_seven_words_of_a_long_message_and_the_ranking_is_unchanged(carrier):
    message = (
        "Hi, we are moving house to a little village in Cornwall next month with the kids and the dog, and "
        "the reception of my current network there is terrible. Can I bring my number over to you?"
    )
    short = "can I keep my number?"  # fewer than seven words: nothing changes
    long_vector, short_vector = get_embedder().embed([message, short])
    capped = _search(message, long_vector)
    plain = _search(message, long_vector, coverage_words=0)
    assert RetrievalOptions().coverage_words == 7
    assert [c.article_slug for c in capped] == [c.article_slug for c in plain]
    assert capped[0].coverage > plain[0].coverage
    assert answer_confidence(capped[0]) > answer_confidence(plain[0])
    assert _search(short, short_vector)[0].coverage == _search(short, short_vector, coverage_words=0)[0].coverage
