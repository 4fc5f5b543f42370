"""all-MiniLM-L6-v2's forward pass in numpy: the same fp32 weights and the same tokenizer as
sentence-transformers on torch, without torch.

Hand-written (no library runs a BERT from safetensors without torch or an ONNX export, and no
package ships an fp32 ONNX export of this model). It is the standard BERT encoder (Devlin et al.)
as transformers' BertModel computes it in eval mode, followed by sentence-transformers' mean
pooling and L2 normalisation; tests/knowledge/test_embeddings.py holds it to vectors computed
with torch (cosine >= 0.999). Tokenization is Hugging Face's `tokenizers` reading the model's own
tokenizer.json, truncating at the model's max_seq_length (256) as sentence-transformers does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class MiniLMEncoder:
    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        max_length = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.heads: int = config["num_attention_heads"]
        self.layers: int = config["num_hidden_layers"]
        self.eps: float = config["layer_norm_eps"]
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{model_dir}: not the BERT variant this encoder computes")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=config["pad_token_id"])  # to the longest text of each batch
        weights = load_file(str(model_dir / "model.safetensors"))
        self.w = {name: weights[name] for name in weights if not name.startswith("pooler.")}
        # x @ W.T as x @ Wt with Wt contiguous, and query, key and value as one matmul.
        for name in list(self.w):
            if name.endswith("dense.weight"):
                self.w[name] = np.ascontiguousarray(self.w[name].T)
        for n in range(self.layers):
            p = f"encoder.layer.{n}.attention.self."
            parts = ("query", "key", "value")
            self.w[p + "qkv.weight"] = np.ascontiguousarray(
                np.concatenate([self.w.pop(p + f"{t}.weight") for t in parts]).T
            )
            self.w[p + "qkv.bias"] = np.concatenate([self.w.pop(p + f"{t}.bias") for t in parts])
        self.dimensions: int = config["hidden_size"]

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """L2-normalised sentence vectors, one row per text, in the order given."""
        # Longest first, as sentence-transformers batches: similar lengths pad least.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._encode_batch([texts[i] for i in chosen])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        hidden = self._forward(ids, types, mask)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def _forward(self, ids: np.ndarray, types: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._layer_norm(x, "embeddings.LayerNorm").reshape(batch * length, self.dimensions)
        head = self.dimensions // self.heads
        # padding keys get the most negative float, as transformers does: exp() of it is exactly 0
        key_bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            qkv = x @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
            # (batch, length, 3, heads, head) -> three (batch, heads, length, head) arrays
            q, k, v = qkv.reshape(batch, length, 3, self.heads, head).transpose(2, 0, 3, 1, 4)
            scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1 / np.sqrt(head)) + key_bias
            scores -= scores.max(axis=-1, keepdims=True)
            probabilities = np.exp(scores, out=scores)
            probabilities /= probabilities.sum(axis=-1, keepdims=True)
            context = (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.dimensions)
            attended = context @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = self._layer_norm(x + attended, p + "attention.output.LayerNorm")
            inner = x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"]
            inner = 0.5 * inner * (1.0 + _erf(inner * np.float32(1 / np.sqrt(2.0))))  # BERT's exact (erf) GELU
            x = self._layer_norm(
                x + inner @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"], p + "output.LayerNorm"
            )
        return x.reshape(batch, length, self.dimensions)

    def _layer_norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + np.float32(self.eps)) * self.w[name + ".weight"] + self.w[name + ".bias"]


# Abramowitz and Stegun 7.1.26: |error| <= 1.5e-7, float32's own resolution near 1. numpy has no
# erf and scipy's (a scalar loop) took three quarters of the forward pass.
_P = np.float32(0.3275911)
_A = [np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)]


def _erf(x: np.ndarray) -> np.ndarray:
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + _P * x)
    poly = _A[0] * t + _A[1]
    for a in _A[2:]:
        poly = poly * t + a
    return sign * (1.0 - poly * t * np.exp(-x * x))
