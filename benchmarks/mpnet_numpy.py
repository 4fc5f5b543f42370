"""all-mpnet-base-v2's forward pass in numpy, for benchmarks/embedding_models.py only (768-d: the
chunk column holds 384-d vectors, so it cannot be the bot's model without a migration).

Hand-written like supportbot/llm/minilm.py (no torch here): transformers' MPNetModel in eval mode
(RoBERTa-style position ids from the padding index, a T5-style relative position bias shared by
every layer, post-LayerNorm BERT layers), then sentence-transformers' mean pooling and L2
normalisation. Not checked against torch (torch is not installed); its recall on the demo set is
the only check.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from supportbot.llm.minilm import _erf


class MPNetEncoder:
    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        max_length = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.heads: int = config["num_attention_heads"]
        self.layers: int = config["num_hidden_layers"]
        self.eps: float = config["layer_norm_eps"]
        self.pad: int = config["pad_token_id"]
        self.buckets: int = config["relative_attention_num_buckets"]
        self.dimensions: int = config["hidden_size"]
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json pads to a fixed 128 and truncates there; sentence-transformers pads to
        # the longest text and truncates at max_seq_length.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=self.pad, pad_token="<pad>")
        weights = load_file(str(model_dir / "model.safetensors"))
        self.w = {name: value for name, value in weights.items() if not name.startswith("pooler.")}
        for name in list(self.w):  # x @ W.T as x @ Wt with Wt contiguous
            if name.endswith(("dense.weight", "attn.q.weight", "attn.k.weight", "attn.v.weight", "attn.o.weight")):
                self.w[name] = np.ascontiguousarray(self.w[name].T)

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._encode_batch([texts[i] for i in chosen])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        hidden = self._forward(ids, mask)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def _position_bias(self, length: int) -> np.ndarray:
        """(heads, length, length): transformers' MPNetEncoder.relative_position_bucket, bidirectional."""
        context = np.arange(length)[:, None]
        memory = np.arange(length)[None, :]
        n = -(memory - context)
        half = self.buckets // 2
        bucket = (n < 0).astype(np.int64) * half
        n = np.abs(n)
        max_exact = half // 2
        with np.errstate(divide="ignore"):
            large = max_exact + (
                np.log(np.maximum(n, 1) / max_exact) / np.log(128 / max_exact) * (half - max_exact)
            ).astype(np.int64)
        large = np.minimum(large, half - 1)
        bucket = bucket + np.where(n < max_exact, n, large)
        return self.w["encoder.relative_attention_bias.weight"][bucket].transpose(2, 0, 1)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        batch, length = ids.shape
        not_pad = (ids != self.pad).astype(np.int64)
        positions = np.cumsum(not_pad, axis=1) * not_pad + self.pad
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
        x = self._layer_norm(x, "embeddings.LayerNorm").reshape(batch * length, self.dimensions)
        head = self.dimensions // self.heads
        bias = self._position_bias(length)[None] + ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            split = [
                (x @ w[p + f"attention.attn.{t}.weight"] + w[p + f"attention.attn.{t}.bias"])
                .reshape(batch, length, self.heads, head)
                .transpose(0, 2, 1, 3)
                for t in "qkv"
            ]
            q, k, v = split
            scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1 / np.sqrt(head)) + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probabilities = np.exp(scores)
            probabilities /= probabilities.sum(axis=-1, keepdims=True)
            context = (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.dimensions)
            attended = context @ w[p + "attention.attn.o.weight"] + w[p + "attention.attn.o.bias"]
            x = self._layer_norm(x + attended, p + "attention.LayerNorm")
            inner = x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"]
            inner = 0.5 * inner * (1.0 + _erf(inner * np.float32(1 / np.sqrt(2.0))))
            out = inner @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = self._layer_norm(x + out, p + "output.LayerNorm")
        return x.reshape(batch, length, self.dimensions)

    def _layer_norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + np.float32(self.eps)) * self.w[name + ".weight"] + self.w[name + ".bias"]
