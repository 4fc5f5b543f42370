"""Content-gap grouping benchmark (not a test): how well conversations/gaps/clustering.py puts
questions that mean the same into one group, by threshold.

Data: the StackExchange FAQ set (../shared/data/stackfaq.json: ~1,250 user rephrasings of 125
questions; each FAQ is a true group), split by FAQ with a fixed seed into a dev half (thresholds
are chosen there) and a test half (reported, never tuned on); plus SHOP below, paraphrases of
demo-shop questions written for this benchmark and used only as a second test set. SHOP is the
harder one: every group is about the same shop, where stackfaq's groups span unrelated topics.

Scores are B-cubed precision (how much of a question's group means the same as it), recall (how
much of what means the same ended up in its group) and F1, averaged over questions; questions
are fed newest-first in the report, here in a seeded random order.

    .venv/bin/python benchmarks/gap_clustering.py [--stackfaq ../shared/data/stackfaq.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

THRESHOLDS = [round(0.50 + 0.05 * i, 2) for i in range(9)]  # 0.50 .. 0.90

SHOP = [
    [
        "Do you sell gift cards?",
        "can i buy a gift card",
        "Is there a gift voucher I can get for my sister?",
        "gift certificates available?",
    ],
    ["Can I pay with PayPal?", "Do you accept paypal", "paypal ok as payment?", "Is PayPal a payment option?"],
    [
        "Do you ship to Canada?",
        "can you deliver to canada",
        "Shipping to Toronto possible?",
        "do u send orders to canada",
    ],
    [
        "Is there a store I can visit?",
        "Do you have a physical shop?",
        "where is your shop located",
        "can i try the boots on in a store",
    ],
    [
        "Do you offer student discounts?",
        "student discount?",
        "Is there a discount for students",
        "any deals for college students",
    ],
    [
        "How do I change my password?",
        "reset password",
        "I forgot my password, how do I get a new one?",
        "cant log in, need a new password",
    ],
    [
        "Can I price match a cheaper offer?",
        "do you match competitor prices",
        "price match policy?",
        "found it cheaper elsewhere, will you match it",
    ],
    [
        "Are your tents waterproof?",
        "is the tent water proof",
        "will the tent keep rain out",
        "does the tent leak in heavy rain",
    ],
    [
        "Do you have a loyalty program?",
        "is there a rewards program",
        "do I earn points on purchases",
        "loyalty points?",
    ],
    [
        "How do I unsubscribe from your emails?",
        "stop sending me newsletters",
        "unsubscribe from marketing mail",
        "how to opt out of promo emails",
    ],
    [
        "Can I pick up my order in store?",
        "click and collect?",
        "is in-store pickup available",
        "can i collect the order myself",
    ],
    [
        "Do you sell refurbished gear?",
        "any second hand or used equipment?",
        "refurbished items available?",
        "do you have used tents for sale",
    ],
]


def stackfaq_groups(path: Path) -> list[list[str]]:
    pairs = json.loads(path.read_text())["root"]["qapair"]
    return [[r for r in pair["rephr"] if r and r.strip() not in ("", "*")] for pair in pairs]


def bcubed(labels: list[int], truth: list[int]) -> tuple[float, float, float]:
    labels_a, truth_a = np.asarray(labels), np.asarray(truth)
    precision = recall = 0.0
    for i in range(len(labels)):
        same_cluster = labels_a == labels_a[i]
        same_truth = truth_a == truth_a[i]
        both = np.sum(same_cluster & same_truth)
        precision += both / np.sum(same_cluster)
        recall += both / np.sum(same_truth)
    precision, recall = precision / len(labels), recall / len(labels)
    return precision, recall, 2 * precision * recall / (precision + recall)


def flatten(groups: list[list[str]], seed: int) -> tuple[list[str], list[int]]:
    items = [(text, g) for g, texts in enumerate(groups) for text in texts]
    random.Random(seed).shuffle(items)
    return [t for t, _ in items], [g for _, g in items]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stackfaq", type=Path, default=ROOT.parent.parent / "shared" / "data" / "stackfaq.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.stackfaq.exists():
        args.stackfaq = Path("/work/shared/data/stackfaq.json")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
    os.environ.setdefault("SUPPORTBOT_DATA_DIR", str(ROOT / ".data" / "bench"))
    import django

    django.setup()
    from conversations.gaps.clustering import SAME_QUESTION_COSINE, greedy_labels
    from supportbot.llm.embeddings import local_minilm

    groups = stackfaq_groups(args.stackfaq)
    random.Random(args.seed).shuffle(groups)
    half = len(groups) // 2
    sets = {"stackfaq dev": groups[:half], "stackfaq test": groups[half:], "shop test": SHOP}
    embedded = {}
    for name, data in sets.items():
        texts, truth = flatten(data, args.seed)
        started = time.perf_counter()
        vectors = np.asarray(local_minilm().embed(texts), dtype=np.float32)
        embedded[name] = (vectors, truth, (time.perf_counter() - started) * 1000 / len(texts))
        print(f"{name}: {len(data)} groups, {len(texts)} questions, embedding {embedded[name][2]:.1f} ms/question")

    scores: dict[str, dict[float, tuple[float, float, float, int, float]]] = {}
    for name, (vectors, truth, _) in embedded.items():
        scores[name] = {}
        for threshold in THRESHOLDS:
            started = time.perf_counter()
            labels = greedy_labels(vectors, threshold=threshold)
            elapsed = (time.perf_counter() - started) * 1000
            scores[name][threshold] = (*bcubed(labels, truth), len(set(labels)), elapsed)
    best = max(THRESHOLDS, key=lambda t: scores["stackfaq dev"][t][2])

    print(f"\n{'threshold':>9} | " + " | ".join(f"{name:^26}" for name in sets))
    print(f"{'':>9} | " + " | ".join(f"{'P':>5} {'R':>5} {'F1':>5} {'groups':>6}" for _ in sets))
    for threshold in THRESHOLDS:
        marks = ("*" if threshold == best else "") + ("d" if threshold == SAME_QUESTION_COSINE else "")
        cells = [f"{p:5.3f} {r:5.3f} {f:5.3f} {n:6d}" for p, r, f, n, _ in (scores[name][threshold] for name in sets)]
        print(f"{threshold:>7.2f}{marks:>2} | " + " | ".join(f"{c:^26}" for c in cells))
    print(
        f"\n* best B-cubed F1 on stackfaq dev: {best}; d = the report's SAME_QUESTION_COSINE ({SAME_QUESTION_COSINE})"
    )
    for name in ("stackfaq test", "shop test"):
        p, r, f, n, ms = scores[name][best]
        print(
            f"{name} at {best}: P {p:.3f} R {r:.3f} F1 {f:.3f} ({n} groups for {len(sets[name])}); "
            f"grouping {ms:.0f} ms for {len(embedded[name][1])} questions"
        )


if __name__ == "__main__":
    main()
