"""Language detection benchmark (not a test): py3langid on short support-chat messages in English,
German, French and Spanish (conversations/lib/language_devset.jsonl, written for this; every third
message held out as the test split).

For each split: how many messages get a language at all (coverage; the rest keep the widget's
language), how many of those are right, and how many are wrong (a wrong detection overrides a
widget language that was probably right, so it is the number to keep near zero). The grid over
the two thresholds is evaluated on the dev split only; the chosen pair (detection.py's
MIN_LETTERS, MIN_CONFIDENCE) is then reported on both splits.

    .venv/bin/python benchmarks/languages.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.test")

import django  # noqa: E402

django.setup()

from conversations.lib import language_detection as detection  # noqa: E402

DEVSET = ROOT / "conversations" / "lib" / "language_devset.jsonl"


def score(rows: list[dict], *, min_letters: int, min_confidence: float) -> dict:
    detected = right = 0
    for row in rows:
        found = detection.language_detect(text=row["text"], min_letters=min_letters, min_confidence=min_confidence)
        if found.language is not None:
            detected += 1
            right += found.language == row["language"]
    return {
        "messages": len(rows),
        "coverage": round(detected / len(rows), 3),
        "precision": round(right / detected, 3) if detected else None,
        "wrong": detected - right,
    }


def main() -> None:
    rows = [json.loads(line) for line in DEVSET.read_text().splitlines() if line.strip()]
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    started = time.perf_counter()
    detection.language_detect(text="warming up the model once")
    print(f"model load: {time.perf_counter() - started:.2f} s")
    print("dev-split grid (min_letters, min_confidence): coverage, precision, wrong")
    for letters in (0, 6, 9, 12, 16, 20):
        cells = []
        for confidence in (0.5, 0.8, 0.9, 0.95, 0.99):
            s = score(dev, min_letters=letters, min_confidence=confidence)
            cells.append(f"{confidence}: {s['coverage']:.2f}/{s['precision'] or 0:.2f}/{s['wrong']}")
        print(f"  {letters:>2}  " + "  ".join(cells))
    chosen = {"min_letters": detection.MIN_LETTERS, "min_confidence": detection.MIN_CONFIDENCE}
    results = {
        "chosen": chosen,
        "dev": score(dev, **chosen),
        "test": score(test, **chosen),
        "test_without_thresholds": score(test, min_letters=0, min_confidence=0.0),
    }
    started = time.perf_counter()
    for row in rows:
        detection.language_detect(text=row["text"])
    results["ms_per_message"] = round((time.perf_counter() - started) * 1000 / len(rows), 3)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
