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

from guardrails.injection.detector import ARTIFACT, InjectionDetector, untrusted_text_check
from guardrails.injection.normalize import normalize

DEVSETS = Path(__file__).with_name("devsets")
FAMILIES = ("jailbreak_roleplay", "instruction_hijacking", "say_x", "obfuscated", "indirect")
Split = Literal["dev", "test"]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def devset_attacks(*, split: Split, family: str | None = None) -> list[str]:
    return [
        r["text"]
        for r in _jsonl(DEVSETS / "attacks.jsonl")
        if r["split"] == split and (family is None or r["family"] == family)
    ]


def devset_support_questions(*, split: Split) -> list[str]:
    return [r["text"] for r in _jsonl(DEVSETS / "support_questions.jsonl") if r["split"] == split]


def devset_untrusted_benign(*, split: Split) -> list[str]:
    return [r["text"] for r in _jsonl(DEVSETS / "untrusted_benign.jsonl") if r["split"] == split]


def stackfaq_questions(*, path: Path) -> list[str]:
    pairs = json.loads(path.read_text())["root"]["qapair"]
    return [q.strip() for pair in pairs for q in pair.get("rephr", []) if isinstance(q, str) and len(q.strip()) > 3]


def injection_detector_batched(*, texts: list[str]) -> InjectionDetector:
    """The product's detector, with the embeddings of `texts` computed in one batch up front (an
    evaluation of a thousand messages takes seconds instead of minutes); any other text is
    embedded on demand by the same local model."""
    from supportbot.llm.embeddings import local_minilm

    model = local_minilm()
    inputs = list(dict.fromkeys(normalize(text).text[:2000] for text in texts))
    vectors = dict(zip(inputs, model.embed(inputs)))

    def embed(batch: list[str]) -> list[list[float]]:
        missing = [text for text in batch if text not in vectors]
        vectors.update(zip(missing, model.embed(missing)))
        return [vectors[text] for text in batch]

    artifact = json.loads(ARTIFACT.read_text())
    if artifact["embedding_model"] != model.model_name:
        raise RuntimeError(f"{ARTIFACT.name} was trained on {artifact['embedding_model']}, not {model.model_name}")
    return InjectionDetector(artifact=artifact, embed=embed)


def injection_evaluation_texts(*, deepset_test: Path, stackfaq: Path) -> list[str]:
    """Every customer-side text the two evaluations below check."""
    texts = [r["text"] for r in _jsonl(deepset_test)] + stackfaq_questions(path=stackfaq)
    for split in ("dev", "test"):
        texts += devset_attacks(split=split) + devset_support_questions(split=split)
    return texts


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
    result["support_questions"] = {
        "false_positive_rate": _rate(sum(detector.check(t).flagged for t in support), len(support)),
        "n": len(support),
    }
    untrusted = devset_untrusted_benign(split=split)
    result["untrusted_benign"] = {
        "false_positive_rate": _rate(sum(untrusted_text_check(t).flagged for t in untrusted), len(untrusted)),
        "n": len(untrusted),
    }
    return result


def injection_public_evaluate(*, detector: InjectionDetector, deepset_test: Path, stackfaq: Path) -> dict:
    rows = _jsonl(deepset_test)
    attacks = [r["text"] for r in rows if r["label"] == 1]
    benign = [r["text"] for r in rows if r["label"] == 0]
    support = stackfaq_questions(path=stackfaq)
    flagged = lambda texts: sum(detector.check(t).flagged for t in texts)  # noqa: E731
    return {
        "deepset_test": {
            "recall": _rate(flagged(attacks), len(attacks)),
            "attacks": len(attacks),
            "false_positive_rate": _rate(flagged(benign), len(benign)),
            "benign": len(benign),
        },
        "stackfaq_questions": {"false_positive_rate": _rate(flagged(support), len(support)), "n": len(support)},
    }
