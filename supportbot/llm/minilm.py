"""all-MiniLM-L6-v2's forward pass on onnxruntime: the same fp32 weights and the same tokenizer as
sentence-transformers on torch, without torch.

No package ships an fp32 ONNX export of this model, so the graph is written here, at load time,
from the weights package's own safetensors: the standard BERT encoder (Devlin et al.) as
transformers' BertModel computes it in eval mode, followed by sentence-transformers' mean pooling
(L2 normalisation after it, in numpy). onnxruntime fuses it (attention, GELU, layer norm) and runs
it faster than the numpy forward pass it replaced, on one thread (a question 2.6x, a 64-chunk
batch 1.6x: docs/performance.md, "Embedding runtime"), with the same vectors (cosine 0.9999999 to
it; tests/knowledge/test_embeddings.py holds it to vectors computed with torch, >= 0.999). Tokenization is Hugging Face's `tokenizers` reading the model's own tokenizer.json,
truncating at the model's max_seq_length (256) as sentence-transformers does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

# Opset 17 has LayerNormalization; the IR version is pinned to 8 (readable by every onnxruntime
# this project allows) so an `onnx` newer than the runtime cannot stamp a version it refuses.
_OPSET = 17
_IR_VERSION = 8


class MiniLMEncoder:
    def __init__(self, model_dir: Path) -> None:
        import onnxruntime
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        max_length = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{model_dir}: not the BERT variant this encoder computes")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=config["pad_token_id"])  # to the longest text of each batch
        self.dimensions: int = config["hidden_size"]
        graph = _encoder_graph(load_file(str(model_dir / "model.safetensors")), config)
        options = onnxruntime.SessionOptions()
        # One thread: the model workers are the parallelism (one process per core's share).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about the graph go nowhere useful at runtime
        # No memory arena: the arena keeps the peak of the largest batch for the process's life (an
        # indexing batch of 64 long chunks left a model worker at 1.2 GB RSS instead of 0.4 GB);
        # without it a question costs ~3% more (docs/performance.md, "Embedding runtime").
        options.enable_cpu_mem_arena = False
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

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
        feed = {
            "input_ids": ids,
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.float32),
            "position_ids": np.tile(np.arange(ids.shape[1], dtype=np.int64), (ids.shape[0], 1)),
        }
        (pooled,) = self.session.run(["pooled"], feed)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def _encoder_graph(weights: dict[str, np.ndarray], config: dict) -> bytes:
    """The serialized ONNX graph: embeddings, `num_hidden_layers` encoder layers, mean pooling over
    the attention mask. Inputs (batch, length): input_ids, token_type_ids, position_ids (int64),
    attention_mask (float 0/1); output `pooled` (batch, hidden). `weights` is consumed (emptied)."""
    from onnx import TensorProto, helper, numpy_helper

    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head = hidden // heads
    initializers: list = []
    nodes: list = []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(kind: str, inputs: list[str], **attributes: Any) -> str:
        output = f"n{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [output], **attributes))
        return output

    def dense(x: str, name: str) -> str:  # x @ W.T + b, W.T stored contiguous
        return op(
            "Add",
            [
                op("MatMul", [x, const(f"{name}.wt", weights[f"{name}.weight"].T)]),
                const(f"{name}.b", weights[f"{name}.bias"]),
            ],
        )

    def layer_norm(x: str, name: str) -> str:
        return op(
            "LayerNormalization",
            [x, const(f"{name}.weight", weights[f"{name}.weight"]), const(f"{name}.bias", weights[f"{name}.bias"])],
            axis=-1,
            epsilon=config["layer_norm_eps"],
        )

    def scalar(name: str, value: float) -> str:
        return const(name, np.array(value, dtype=np.float32))

    def axes(name: str, *values: int) -> str:
        return const(name, np.array(values, dtype=np.int64))

    def embedding(table: str, ids: str) -> str:
        return op("Gather", [const(table, weights[f"embeddings.{table}.weight"]), ids])

    x = op(
        "Add",
        [
            op("Add", [embedding("word_embeddings", "input_ids"), embedding("position_embeddings", "position_ids")]),
            embedding("token_type_embeddings", "token_type_ids"),
        ],
    )
    x = layer_norm(x, "embeddings.LayerNorm")
    one = scalar("one", 1.0)
    # Padding keys get the most negative float, as transformers does: exp() of it is exactly 0.
    key_bias = op(
        "Unsqueeze",
        [
            op("Mul", [op("Sub", [one, "attention_mask"]), scalar("lowest", float(np.finfo(np.float32).min))]),
            axes("heads_and_queries", 1, 2),
        ],
    )
    split_heads = axes("split_heads", 0, 0, heads, head)
    join_heads = axes("join_heads", 0, 0, hidden)
    scale = scalar("scale", 1 / np.sqrt(head))
    half, root_half = scalar("half", 0.5), scalar("root_half", 1 / np.sqrt(2.0))
    for n in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{n}."

        def per_head(name: str, perm: list[int], p: str = p) -> str:
            return op("Transpose", [op("Reshape", [dense(x, p + f"attention.self.{name}"), split_heads])], perm=perm)

        query, key, value = (
            per_head("query", [0, 2, 1, 3]),
            per_head("key", [0, 2, 3, 1]),
            per_head("value", [0, 2, 1, 3]),
        )
        scores = op("Add", [op("Mul", [op("MatMul", [query, key]), scale]), key_bias])
        context = op("MatMul", [op("Softmax", [scores], axis=-1), value])
        context = op("Reshape", [op("Transpose", [context], perm=[0, 2, 1, 3]), join_heads])
        x = layer_norm(op("Add", [x, dense(context, p + "attention.output.dense")]), p + "attention.output.LayerNorm")
        inner = dense(x, p + "intermediate.dense")
        # BERT's exact (erf) GELU
        inner = op("Mul", [op("Mul", [inner, half]), op("Add", [op("Erf", [op("Mul", [inner, root_half])]), one])])
        x = layer_norm(op("Add", [x, dense(inner, p + "output.dense")]), p + "output.LayerNorm")
    mask = op("Unsqueeze", ["attention_mask", axes("feature_axis", 2)])
    tokens = axes("token_axis", 1)
    summed = op("ReduceSum", [op("Mul", [x, mask]), tokens], keepdims=0)
    nodes.append(helper.make_node("Div", [summed, op("ReduceSum", [mask, tokens], keepdims=0)], ["pooled"]))

    def batch_input(name: str, kind: int) -> Any:
        return helper.make_tensor_value_info(name, kind, ["batch", "length"])

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            batch_input("input_ids", TensorProto.INT64),
            batch_input("token_type_ids", TensorProto.INT64),
            batch_input("position_ids", TensorProto.INT64),
            batch_input("attention_mask", TensorProto.FLOAT),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    # Each step below copies the ~90 MB of weights (the graph, the model, its bytes): drop every
    # copy as soon as the next exists, so loading peaks lower in each model worker.
    initializers.clear()
    weights.clear()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], ir_version=_IR_VERSION)
    del graph
    return model.SerializeToString()
