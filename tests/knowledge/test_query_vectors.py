"""The query-side levers measured for real customer wording (docs/performance.md, "query-side
levers for real wording"): the linear query adapter and pseudo-relevance feedback. Both are off by
default; these tests pin what they do when turned on."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import query_vectors
from knowledge.indexing import article_index
from knowledge.models import Article, Chunk
from knowledge.query_vectors import adapted, with_feedback
from knowledge.retrieval_options import DEFAULT_OPTIONS, RetrievalOptions
from knowledge.selectors import knowledge_search
from knowledge.services import article_save
from supportbot.llm.embeddings import get_embedder

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x)


def test_the_levers_are_off_by_default():
    assert not DEFAULT_OPTIONS.query_adapter and DEFAULT_OPTIONS.feedback == 0


def test_the_committed_adapter_is_a_small_step_from_identity_and_reads_only_its_models_vectors():
    stored = np.load(query_vectors.ADAPTER_PATH, allow_pickle=False)
    assert stored["U"].shape == stored["V"].shape == (384, 8)
    assert str(stored["model"]) == MODEL and "benchmarks/query_levers.py" in str(stored["made_by"])
    q = _unit(np.random.default_rng(1).normal(size=384)).tolist()
    out = np.asarray(adapted(q, model_name=MODEL))
    assert abs(np.linalg.norm(out) - 1) < 1e-5
    assert 0.9 < float(out @ np.asarray(q)) < 1.0  # moved, not replaced
    with pytest.raises(ValueError, match="trained on"):
        adapted(q, model_name="text-embedding-3-small")


def _article(slug: str, title: str, body: str) -> Article:
    article = article_save(article=Article(slug=slug, title=title, body=body, status="published"))
    assert article_index(article_id=article.pk) == "indexed"
    return article


def test_feedback_moves_the_vector_toward_the_mean_of_the_given_chunks(db):
    _article("sim", "How do I activate my SIM?", "Put the SIM in and switch the phone on.")
    _article("roam", "Can I use my plan abroad?", "Roaming is included in 47 destinations.")
    vectors = {c.pk: np.asarray(c.embedding) for c in Chunk.objects.all()}
    q = _unit(np.ones(384, dtype=np.float32)).tolist()
    out = np.asarray(with_feedback(q, chunk_ids=list(vectors), weight=0.5))
    expected = _unit(np.asarray(q) + 0.5 * np.mean(list(vectors.values()), axis=0))
    assert np.allclose(out, expected, atol=1e-5)
    assert with_feedback(q, chunk_ids=[], weight=0.5) == q


def test_both_levers_change_the_searched_vector_only_when_on(db):
    _article("sim", "How do I activate my SIM?", "Put the SIM in and switch the phone on.")
    _article("roam", "Can I use my plan abroad?", "Roaming is included in 47 destinations.")
    question = "new sim says no service"
    vector = get_embedder().embed([question])[0]

    def best_similarity(**options) -> float:
        retrieval = knowledge_search(
            question=question,
            audience="anonymous",
            k=2,
            max_per_article=1,
            threshold=1.0,
            query_vector=vector,
            options=RetrievalOptions(**options),
        )
        assert retrieval.article_slugs[0] == "sim"
        return retrieval.chunks[0].dense_score

    plain = best_similarity()
    assert best_similarity(query_adapter=True) != pytest.approx(plain, abs=1e-6)
    # the first search's best chunk pulls the question toward itself: closer on the second search
    assert best_similarity(feedback=1, feedback_weight=0.5) > plain
