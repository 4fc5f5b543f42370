"""Scoring the injection detector on the shipped dev sets (devsets/) and the public data beside the
project: recall per attack family and false positives on support questions, per split.

Customer-side families go through `InjectionDetector.check`; the indirect family (article passages
and tool results) goes through `untrusted_text_check`, as it does in the product, and its false
positives are measured on ordinary articles and tool results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from guardrails.injection.detector import InjectionDetector, untrusted_text_check

DEVSETS = Path(__file__).with_name("devsets")
FAMILIES = ("jailbreak_roleplay", "instruction_hijacking", "say_x", "obfuscated", "indirect")
Split = Literal["dev", "test"]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def devset_attacks(*, split: Split, family: str | None = None) -> list[str]:
    return [r["text"] for r in _jsonl(DEVSETS / "attacks.jsonl")
            if r["split"] == split and (family is None or r["family"] == family)]


def devset_support_questions(*, split: Split) -> list[str]:
    return [r["text"] for r in _jsonl(DEVSETS / "support_questions.jsonl") if r["split"] == split]


def devset_untrusted_benign(*, split: Split) -> list[str]:
    return [r["text"] for r in _jsonl(DEVSETS / "untrusted_benign.jsonl") if r["split"] == split]


def stackfaq_questions(*, path: Path) -> list[str]:
    pairs = json.loads(path.read_text())["root"]["qapair"]
    return [q.strip() for pair in pairs for q in pair.get("rephr", []) if isinstance(q, str) and len(q.strip()) > 3]


def _rate(hits: int, n: int) -> float:
    return round(hits / n, 4) if n else 0.0


def injection_devset_evaluate(*, detector: InjectionDetector, split: Split) -> dict:
    result: dict = {"families": {}}
    for family in FAMILIES:
        texts = devset_attacks(split=split, family=family)
        check = untrusted_text_check if family == "indirect" else detector.check
        hits = sum(check(text).flagged for text in texts)
        result["families"][family] = {"recall": _rate(hits, len(texts)), "n": len(texts)}
    support = devset_support_questions(split=split)
    result["support_questions"] = {"false_positive_rate": _rate(sum(detector.check(t).flagged for t in support),
                                                                len(support)), "n": len(support)}
    untrusted = devset_untrusted_benign(split=split)
    result["untrusted_benign"] = {"false_positive_rate": _rate(sum(untrusted_text_check(t).flagged for t in untrusted),
                                                               len(untrusted)), "n": len(untrusted)}
    return result


def injection_public_evaluate(*, detector: InjectionDetector, deepset_test: Path, stackfaq: Path) -> dict:
    rows = _jsonl(deepset_test)
    attacks = [r["text"] for r in rows if r["label"] == 1]
    benign = [r["text"] for r in rows if r["label"] == 0]
    support = stackfaq_questions(path=stackfaq)
    flagged = lambda texts: sum(detector.check(t).flagged for t in texts)  # noqa: E731
    return {"deepset_test": {"recall": _rate(flagged(attacks), len(attacks)), "attacks": len(attacks),
                             "false_positive_rate": _rate(flagged(benign), len(benign)), "benign": len(benign)},
            "stackfaq_questions": {"false_positive_rate": _rate(flagged(support), len(support)), "n": len(support)}}
