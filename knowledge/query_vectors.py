"""Query-side transforms of the question's vector, measured for real customer wording (issue 12;
docs/performance.md, "query-side levers for real wording"). Both are `RetrievalOptions` levers,
off by default: neither won on a domain it was not tuned or trained on.

- A linear query adapter, W = I + U V^T (rank 8), trained on the repo's own written questions
  (`benchmarks/query_levers.py --save-adapter`, which reproduces knowledge/adapters/query_adapter.npz):
  it learns the knowledge bases it was trained on, not customer wording in general.
- Pseudo-relevance feedback: the question's vector moved toward the mean of its first search's top
  chunks (Rocchio), then searched again.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from django.db import connection

from knowledge.models import Chunk

ADAPTER_PATH = Path(__file__).resolve().parent / "adapters" / "query_adapter.npz"


@cache
def _adapter() -> tuple[np.ndarray, np.ndarray, str]:
    stored = np.load(ADAPTER_PATH, allow_pickle=False)
    return stored["U"], stored["V"], str(stored["model"])


def adapted(vector: list[float], *, model_name: str) -> list[float]:
    """`vector` through the adapter, unit length again. The adapter belongs to the embedding model
    it was trained on; for another model's vectors it would be noise, so that is an error."""
    U, V, model = _adapter()
    if model != model_name or len(vector) != U.shape[0]:
        raise ValueError(f"the query adapter was trained on {model} vectors, not {model_name}'s")
    q = np.asarray(vector, dtype=np.float32)
    out = q + U @ (V.T @ q)
    return (out / np.linalg.norm(out)).tolist()


def with_feedback(vector: list[float], *, chunk_ids: list[int], weight: float) -> list[float]:
    """The question's vector plus `weight` times the mean of these chunks' vectors (pgvector's avg,
    one indexed read by primary key), unit length again."""
    if not chunk_ids:
        return vector
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT avg(embedding)::text FROM {Chunk._meta.db_table} WHERE id = ANY(%s)", [chunk_ids])
        (mean,) = cursor.fetchone()
    if mean is None:
        return vector
    out = np.asarray(vector, dtype=np.float32) + weight * np.asarray(mean.strip("[]").split(","), dtype=np.float32)
    return (out / np.linalg.norm(out)).tolist()
