"""Character-level recall and precision of the detector on a labelled file in presidio-research's
format (`[{"full_text", "spans": [{"entity_type", "start_position", "end_position"}]}]`).

Recall counts the labelled characters of the types we redact that some detection covers (whatever
type it gave them); precision counts the detected characters that lie inside any labelled span.
Labels we deliberately do not redact (organizations, cities and countries on their own, dates,
job titles) are reported apart and never count as misses; detecting them does not count against
precision either, since they are labelled personal context.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

from guardrails.pii.engine import PiiDetector

# presidio-research labels -> the detector type that should cover them.
TARGET_LABELS = {
    "PERSON": "PERSON",
    "ADDRESS": "STREET_ADDRESS",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_DRIVER_LICENSE": "DRIVER_LICENSE",
    "DRIVER_LICENSE": "DRIVER_LICENSE",
    "US_PASSPORT": "PASSPORT",
    "PASSPORT": "PASSPORT",
    "NATIONAL_ID": "NATIONAL_ID",
}


@dataclass
class PiiScores:
    samples: int
    recall: float
    precision: float
    recall_by_label: dict[str, float]
    labelled_chars_by_label: dict[str, int]
    untargeted_labels: dict[str, int]
    latency_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def pii_evaluate(*, detector: PiiDetector, samples: list[dict]) -> PiiScores:
    covered_by_label: dict[str, int] = defaultdict(int)
    total_by_label: dict[str, int] = defaultdict(int)
    untargeted: dict[str, int] = defaultdict(int)
    detected_chars = detected_inside = 0
    timings = []
    for sample in samples:
        text = sample["full_text"]
        started = time.perf_counter()
        spans = detector.detect(text)
        timings.append((time.perf_counter() - started) * 1000)
        detected: set[int] = set()
        for span in spans:
            detected.update(range(span.start, span.end))
        labelled_any = set()
        for label in sample["spans"]:
            positions = set(range(label["start_position"], label["end_position"]))
            # whitespace inside a multi-line address label is not information
            positions = {p for p in positions if not text[p].isspace()}
            labelled_any |= positions
            kind = label["entity_type"]
            if kind not in TARGET_LABELS:
                untargeted[kind] += 1
                continue
            total_by_label[kind] += len(positions)
            covered_by_label[kind] += len(positions & detected)
        detected = {p for p in detected if not text[p].isspace()}
        detected_chars += len(detected)
        detected_inside += len(detected & labelled_any)
    total = sum(total_by_label.values())
    ordered = sorted(timings)
    return PiiScores(
        samples=len(samples),
        recall=round(sum(covered_by_label.values()) / total, 4) if total else 1.0,
        precision=round(detected_inside / detected_chars, 4) if detected_chars else 1.0,
        recall_by_label={k: round(covered_by_label[k] / v, 4) for k, v in sorted(total_by_label.items()) if v},
        labelled_chars_by_label=dict(sorted(total_by_label.items())),
        untargeted_labels=dict(sorted(untargeted.items())),
        latency_ms={
            "p50": round(statistics.median(ordered), 2),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        }
        if ordered
        else {},
    )
