"""The web process's model workers (supportbot/llm/workers.py), as this project starts them: each
worker loads the PII detector (spaCy + Presidio) and MiniLM once, and takes three jobs:

  * `detect_batch`: full PII detection of customer messages (the chat socket's, before storing);
  * `patterns_batch`: the pattern recognizers only, for the bot's reply check;
  * `supportbot.llm.embeddings.embed_batches`: MiniLM vectors of the bot turn's texts.

One pool for all three rather than one per model: every worker can take whichever job is
waiting, so a burst of messages or of turns uses every worker, and a web process pays for one set
of processes (each about 200 MB with both models, docs/performance.md) instead of two.
"""

from __future__ import annotations

from django.conf import settings

from guardrails.pii.engine import PiiDetector, PiiSpan
from supportbot.llm.embeddings import embedding_worker_load
from supportbot.llm.workers import ModelWorkers, WorkersConfig, workers_start

# Worker side ------------------------------------------------------------------------------

_worker_detector: PiiDetector | None = None


def model_worker_load(
    spacy_model: str, score_threshold: float, allow_patterns: tuple[str, ...], embedding_batch_size: int
) -> None:
    """Each worker's initializer. Workers read no Django settings: everything comes as arguments."""
    global _worker_detector
    from threadpoolctl import threadpool_limits

    # One BLAS thread per worker: the workers are the parallelism (OpenBLAS's default, a
    # spin-waiting thread per core, would have them fight each other and the web process).
    threadpool_limits(limits=1, user_api="blas")
    _worker_detector = PiiDetector(
        spacy_model=spacy_model, score_threshold=score_threshold, allow_patterns=list(allow_patterns)
    )
    embedding_worker_load(embedding_batch_size)


def detect_batch(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    assert _worker_detector is not None
    return [[(s.type, s.start, s.end) for s in spans] for spans in _worker_detector.detect_many(texts)]


def patterns_batch(texts: list[str]) -> list[list[tuple[str, int, int]]]:
    assert _worker_detector is not None
    return [[(s.type, s.start, s.end) for s in _worker_detector.detect_patterns(text)] for text in texts]


def spans_from(rows: list[tuple[str, int, int]]) -> list[PiiSpan]:
    return [PiiSpan(*row) for row in rows]


# Web process side -------------------------------------------------------------------------


def model_workers_start() -> ModelWorkers | None:
    """This web process's model workers (started on the first call); None when
    PII_REDACTION_PROCESSES is 0 (detection and embedding run in the calling process)."""
    if settings.PII_REDACTION_PROCESSES <= 0:
        return None
    return workers_start(
        WorkersConfig(
            processes=settings.PII_REDACTION_PROCESSES,
            initializer=model_worker_load,
            initargs=(
                settings.PII_SPACY_MODEL,
                settings.PII_SCORE_THRESHOLD,
                tuple(settings.PII_ALLOW_PATTERNS),
                settings.EMBEDDING_BATCH_SIZE,
            ),
        )
    )


def model_workers_warm(pool: ModelWorkers) -> None:
    """Start every worker now (each loads both models) rather than on the first messages."""
    pool.warm(detect_batch, "warm up, Jane Doe, 12 Main Street")
