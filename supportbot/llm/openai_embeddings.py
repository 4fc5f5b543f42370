"""Embeddings from any OpenAI-compatible `/embeddings` endpoint (EMBEDDING_PROVIDER=openai)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class OpenAICompatibleEmbedder:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model_name: str,
        dimensions: int,
        batch_size: int,
        send_dimensions: bool,
        timeout_seconds: float,
        max_retries: int,
    ) -> None:
        from openai import OpenAI

        self.model_name = model_name
        self.dimensions = dimensions
        self.batch_size = batch_size
        self._send_dimensions = send_dimensions
        # Local servers (vLLM, Ollama, llama.cpp) accept any key; the SDK insists on one.
        self._client = OpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout_seconds, max_retries=max_retries
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        from openai import omit

        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            response = self._client.embeddings.create(
                model=self.model_name, input=batch, dimensions=self.dimensions if self._send_dimensions else omit
            )
            ordered = sorted(response.data, key=lambda item: item.index)
            for item in ordered:
                if len(item.embedding) != self.dimensions:
                    raise ImproperlyConfigured(
                        f"EMBEDDING_MODEL: {self.model_name} returned {len(item.embedding)}-d vectors but the chunk "
                        f"column holds {self.dimensions}-d ones. Pick a model of that size (or one that takes a "
                        "`dimensions` argument); a different size needs a migration and `manage.py kb_reindex --all`."
                    )
                vectors.append(_normalized(item.embedding))
        return vectors


def _normalized(vector: list[float]) -> list[float]:
    # Cosine distance does not need it, but the answer threshold compares raw similarities, and
    # some servers return unnormalized vectors.
    norm = sum(x * x for x in vector) ** 0.5 or 1.0
    return [x / norm for x in vector]


def openai_embedder(*, dimensions: int) -> OpenAICompatibleEmbedder:
    return OpenAICompatibleEmbedder(
        base_url=settings.EMBEDDING_BASE_URL or settings.LLM_BASE_URL,
        api_key=settings.EMBEDDING_API_KEY or settings.LLM_API_KEY,
        model_name=settings.EMBEDDING_MODEL,
        dimensions=dimensions,
        batch_size=settings.EMBEDDING_BATCH_SIZE,
        send_dimensions=settings.EMBEDDING_SEND_DIMENSIONS,
        timeout_seconds=settings.LLM_TIMEOUT_SECONDS,
        max_retries=settings.LLM_MAX_RETRIES,
    )
