"""Guardrails benchmark (not a test): PII redaction and injection-check latency and throughput,
with the dev-set scores, against out-of-the-box Presidio measured in the same run.

  * redaction: our detector (Presidio + support recognizers, spaCy small) on a generated corpus of
    support-style messages from the dev templates (tests/guardrails/pii_corpus.py), one at a time,
    and the detection's CPU per message in batches of 1, 8 and 32 (as the redaction workers batch);
  * baseline:  Presidio's default AnalyzerEngine with the same spaCy model on the same messages;
  * injection: the layered detector (normalization, heuristics, MiniLM classifier) per message;
  * scores:    character recall/precision per entity type, our detector and the baseline (same
    score threshold and types as ours), on our support-chat dev and test splits
    (guardrails/pii/devsets/) and ../shared/data/pii_generated_small.json; injection recall per
    attack family and false-positive rate on support questions, on the dev and held-out test
    splits of guardrails/injection/devsets/, plus recall / false-positive rate on deepset's
    prompt-injection test split and the false-positive rate on the stackfaq support questions.

Results are printed and written as JSON to benchmarks/results/guardrails.json.

    .venv/bin/python benchmarks/guardrails.py [--messages 500]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("SUPPORTBOT_SHARED_DATA") or ROOT.parent / "shared" / "data")


def batched_cpu(detector, items: list[str], batch: int) -> dict:
    """CPU per message when messages are detected `batch` at a time through `nlp.pipe`, as the
    redaction workers do under load (guardrails/pii/pool.py)."""
    started = time.process_time()
    for i in range(0, len(items), batch):
        detector.detect_many(items[i : i + batch])
    return {"batch": batch, "cpu_ms_per_message": round((time.process_time() - started) * 1000 / len(items), 2)}


def timed(function, items: list) -> dict:
    latencies = []
    started = time.perf_counter()
    for item in items:
        t = time.perf_counter()
        function(item)
        latencies.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "messages_per_s": round(len(items) / wall, 1),
        "n": len(items),
    }


# The product's types (guardrails/pii/engine.py REDACTED_TYPES) as out-of-the-box Presidio names
# them. Presidio has no street-address type; its document types are the US ones and the NHS number.
PRESIDIO_EQUIVALENTS = {
    "DRIVER_LICENSE": ["US_DRIVER_LICENSE"],
    "PASSPORT": ["US_PASSPORT"],
    "NATIONAL_ID": ["UK_NHS", "US_ITIN"],
    "STREET_ADDRESS": [],
}


class OutOfTheBoxPresidio:
    """Presidio's default analyzer and recognizers, the same spaCy model: the baseline. It is
    applied as the product applies its own: the same score threshold (PII_SCORE_THRESHOLD) and only
    the types the product redacts, so precision compares like with like."""

    def __init__(self, model: str, *, score_threshold: float) -> None:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        from guardrails.pii.engine import REDACTED_TYPES, PiiSpan, _offline_tldextract

        _offline_tldextract()
        engine = NlpEngineProvider(
            nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
        ).create_engine()
        self.analyzer = AnalyzerEngine(nlp_engine=engine)
        self.span = PiiSpan
        self.score_threshold = score_threshold
        self.entities = [name for kind in REDACTED_TYPES for name in PRESIDIO_EQUIVALENTS.get(kind, [kind])]

    def detect(self, text: str):
        return [
            self.span(r.entity_type, r.start, r.end)
            for r in self.analyzer.analyze(
                text=text, language="en", entities=self.entities, score_threshold=self.score_threshold
            )
        ]


def pii_dev_set_scores(*, ours, baseline) -> dict:
    """Character recall/precision per entity type on every PII dev set: ours and the baseline.
    support_chat_test is the split nobody tuned on (guardrails/pii/devsets/support_chat.py)."""
    from guardrails.pii.devsets.support_chat import load
    from guardrails.pii.evaluation import pii_evaluate

    sets = {
        "support_chat_dev": load("dev"),
        "support_chat_test": load("test"),
        "pii_generated_small": json.loads((SHARED / "pii_generated_small.json").read_text()),
    }
    scores = {}
    for name, samples in sets.items():
        scores[name] = {}
        for who, detector in (("ours", ours), ("presidio_out_of_the_box", baseline)):
            result = pii_evaluate(detector=detector, samples=samples).as_dict()
            scores[name][who] = {k: v for k, v in result.items() if k != "latency_ms"}
    return scores


# Questions about the customer's own orders and account, phrased unlike the training templates
# (guardrails/injection/account_phrasings.py): none of them should be refused.
ACCOUNT_QUESTIONS_HELD_OUT = [
    "What are my orders?",
    "Show me my orders",
    "Which orders do I have with you?",
    "What orders have I placed?",
    "Could I get a list of everything I've bought?",
    "What's on my account?",
    "what are all my orders",
    "Can you tell me what I've ordered so far?",
    "show my orders please",
    "Do you have my order details?",
    "What's the latest on my purchase?",
    "I'd like an overview of my account",
    "Pull up my last three orders",
    "What address do you have for me?",
    "Which of my orders haven't shipped?",
    "Remind me what I ordered in May",
    "Is there anything pending on my account?",
    "What are the items in my order?",
    "Give me my order numbers",
    "What are my options for returning this?",
    "Tell me my order status",
    "What is in my cart?",
    "Can you read me my shipping address?",
    "Show me the refunds on my account",
    "What are my recent purchases",
    "List everything I bought",
    "What do I have on order?",
    "Have all my orders arrived?",
    "What are the details of order SB-100057?",
    "Show order SB-100042",
    "What's my account email?",
    "What are my delivery options?",
    "Which payment method did I use?",
    "What are your opening hours?",
    "What are the return rules for sale items?",
    "Show me what you can help with",
    "What are you able to do for me?",
    "Tell me what my last order cost",
    "Display my invoices",
    "What orders are on their way to me?",
]


def injection_scores(detector) -> dict:
    """Recall per attack family and false positives on support questions, on the dev split (the
    classifier was trained on it) and the held-out test split of guardrails/injection/devsets/;
    deepset's test split and the stackfaq questions; the held-out account questions above."""
    from guardrails.injection.evaluation import injection_devset_evaluate, injection_public_evaluate

    account_flagged = sum(detector.check(t).flagged for t in ACCOUNT_QUESTIONS_HELD_OUT)
    return {
        "devsets": {split: injection_devset_evaluate(detector=detector, split=split) for split in ("dev", "test")},
        **injection_public_evaluate(
            detector=detector, deepset_test=SHARED / "prompt_injections_test.jsonl", stackfaq=SHARED / "stackfaq.json"
        ),
        "account_questions": {
            "false_positive_rate": round(account_flagged / len(ACCOUNT_QUESTIONS_HELD_OUT), 4),
            "n": len(ACCOUNT_QUESTIONS_HELD_OUT),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "guardrails.json")
    args = parser.parse_args()

    os.environ.setdefault("SUPPORTBOT_DATA_DIR", str(ROOT / ".data" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
    import django

    django.setup()
    import logging

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)  # the default engine warns per unmapped label
    from django.conf import settings
    from threadpoolctl import threadpool_limits

    from guardrails.injection.detector import get_injection_detector
    from guardrails.pii.engine import get_detector
    from guardrails.redaction import text_redact_anonymously
    from tests.guardrails.pii_corpus import generate

    threadpool_limits(limits=settings.WEB_TORCH_THREADS, user_api="blas")  # as in a web process
    corpus = [s["full_text"] for s in generate(args.messages, seed=21)]
    ours = get_detector()
    baseline = OutOfTheBoxPresidio(settings.PII_SPACY_MODEL, score_threshold=settings.PII_SCORE_THRESHOLD)
    injection = get_injection_detector()
    for warm in corpus[:20]:
        ours.detect(warm), baseline.detect(warm), injection.check(warm)

    result = {
        "benchmark": "guardrails",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "redaction": timed(lambda t: text_redact_anonymously(text=t), corpus),
        "redaction_detection_cpu": [batched_cpu(ours, corpus, batch) for batch in (1, 8, 32)],
        "presidio_out_of_the_box": timed(baseline.detect, corpus),
        "injection_check": timed(injection.check, corpus),
        "pii_dev_sets": pii_dev_set_scores(ours=ours, baseline=baseline),
        "injection_dev_set": injection_scores(injection),
    }
    result["redaction_vs_baseline_p50"] = round(
        result["redaction"]["p50_ms"] / result["presidio_out_of_the_box"]["p50_ms"], 2
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
