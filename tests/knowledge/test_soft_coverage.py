"""Soft word coverage (knowledge/soft_coverage.py, `RetrievalOptions.soft_coverage`, off by default:
docs/performance.md, "soft word coverage"): in the confidence's word coverage, a question word the
best article lacks counts as covered when the article's retrieved text holds a word whose
single-word embedding is close enough ("the box came dented": dented ~ damaged 0.61). Its word
vectors: the knowledge base's vocabulary embedded once per process, only new words after that."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from django.core.management import call_command

from knowledge import soft_coverage
from knowledge.retrieval_options import DEFAULT_OPTIONS
from knowledge.selectors import Retrieval, knowledge_search
from knowledge.soft_coverage import QuestionWords, WordVectors, word_vectors
from knowledge.spelling import vocabulary_build
from tests.knowledge.conftest import demo_articles_index

# The lever as measured below its dev-chosen threshold (0.7), where the examples it was built
# for match: dented ~ damaged 0.61, faulty ~ fault 0.67.
SOFT = {"soft_coverage": True, "soft_threshold": 0.6, "soft_unknown_only": False}


@pytest.fixture
def damage_articles(db):
    """The demo's damaged-delivery, warranty, shipping and returns articles, indexed."""
    # the articles must lack "dented": one of the demo's alternative questions holds it
    demo_articles_index(
        {"damaged-delivery", "warranty", "shipping-options", "return-policy"}, without_questions_holding="dented"
    )


def _search(question: str, **options) -> Retrieval:
    return knowledge_search(
        question=question,
        audience="anonymous",
        k=3,
        max_per_article=1,
        threshold=1.0,
        options=replace(DEFAULT_OPTIONS, **options),
    )


def test_a_close_word_of_the_article_covers_a_question_word_it_lacks(damage_articles):
    off = _search("the box came dented")
    on = _search("the box came dented", **SOFT)
    assert off.article_slugs[0] == on.article_slugs[0] == "damaged-delivery"
    assert "dent" in off.chunks[0].missing_words and off.chunks[0].soft_matches == ()
    matches = {m.question_word: m for m in on.chunks[0].soft_matches}
    assert matches["dented"].article_word == "damaged" and matches["dented"].stem == "dent"
    assert 0.6 <= matches["dented"].cosine < 0.7 and matches["dented"].credit == 1.0
    assert on.chunks[0].coverage > off.chunks[0].coverage
    assert on.confidence > off.confidence
    # what the exact coverage lacks is still reported as missing; the ranking is unchanged
    assert on.chunks[0].missing_words == off.chunks[0].missing_words
    assert [c.score for c in on.chunks] == [c.score for c in off.chunks]

    # at the lever's own threshold (0.7) "dented" is not close enough: nothing changes
    default = _search("the box came dented", soft_coverage=True, soft_unknown_only=False)
    assert DEFAULT_OPTIONS.soft_threshold == 0.7
    assert "dented" not in {m.question_word for m in default.chunks[0].soft_matches}


def test_the_cosine_credit_counts_a_match_by_its_similarity(damage_articles):
    full = _search("the box came dented", **SOFT)
    scaled = _search("the box came dented", **SOFT, soft_credit="cosine")
    assert [m.credit for m in scaled.chunks[0].soft_matches] == [m.cosine for m in scaled.chunks[0].soft_matches]
    off = _search("the box came dented")
    assert off.chunks[0].coverage < scaled.chunks[0].coverage < full.chunks[0].coverage


def test_with_unknown_only_a_word_the_knowledge_base_uses_gets_no_soft_match(damage_articles):
    question = "the tent I got is faulty, can I send it back?"
    assert "faulti" in word_vectors().rows.stems  # the warranty article says "faulty"
    anyword = _search(question, **SOFT)
    unknown = _search(question, **{**SOFT, "soft_unknown_only": True})
    assert anyword.article_slugs[0] == unknown.article_slugs[0] == "damaged-delivery"
    assert "faulty" in {m.question_word for m in anyword.chunks[0].soft_matches}
    assert "faulty" not in {m.question_word for m in unknown.chunks[0].soft_matches}
    assert unknown.confidence < anyword.confidence


def test_the_rank_option_lets_soft_matches_count_in_the_ranking_share(damage_articles):
    plain = _search("the box came dented", **SOFT)
    ranked = _search("the box came dented", **SOFT, soft_coverage_rank=True)
    assert ranked.chunks[0].score > plain.chunks[0].score
    assert ranked.confidence == pytest.approx(plain.confidence)


class _CountingEmbedder:
    """Deterministic vectors (one axis per word) and a record of every batch embedded."""

    model_name = "counting"
    dimensions = 8

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(list(texts))
        return [
            [1.0 if n == sum(map(ord, t)) % self.dimensions else 0.1 for n in range(self.dimensions)] for t in texts
        ]


@pytest.mark.django_db
def test_word_vectors_embed_the_vocabulary_once_and_then_only_new_words(monkeypatch):
    embedder = _CountingEmbedder()
    monkeypatch.setattr(soft_coverage, "get_embedder", lambda: embedder)
    table = WordVectors(embedder.model_name)
    first = vocabulary_build(texts=["The tent zippers are covered for life", "We ship to Norway"], known=frozenset())
    table.vocabulary_ready(first)
    # stop words ("the", "are", "for", "we", "to") and two-letter words get no vector
    assert embedder.batches == [["covered", "life", "norway", "ship", "tent", "zippers"]]
    table.vocabulary_ready(first)  # the same vocabulary: nothing to do
    table.vocabulary_ready(
        vocabulary_build(texts=["tent zippers, covered for life; ship to Norway, Japan"], known=frozenset())
    )
    assert embedder.batches[1:] == [["japan"]]
    assert set(table.rows.index) == {"covered", "life", "norway", "ship", "tent", "zippers", "japan"}
    assert "zipper" in table.rows.stems

    # a question's words outside the vocabulary: one batch, then kept
    words = QuestionWords("the zip broke on my tent", table=table)
    words.embedded(["zip", "broke", "tent"])
    assert embedder.batches[2:] == [["broke", "zip"]]
    QuestionWords("zip broke again", table=table).embedded(["zip", "broke"])
    assert len(embedder.batches) == 3


def test_kb_eval_names_the_soft_coverage_levers(damage_articles, tmp_path):
    questions = tmp_path / "q.json"
    questions.write_text(
        json.dumps(
            [
                {"question": "the box came dented", "slug": "damaged-delivery", "split": "dev"},
                {"question": "Who painted the Mona Lisa?", "slug": None, "split": "dev"},
            ]
        )
    )
    out = tmp_path / "out.json"
    call_command("kb_eval", str(questions), "--levers", "soft coverage", "soft coverage rank", "--json", str(out))
    labels = set(json.loads(out.read_text())["results"]["dev"])
    assert {"+soft coverage", "hybrid +soft coverage", "hybrid +soft coverage rank", "hybrid"} <= labels
