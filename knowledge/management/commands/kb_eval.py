import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from knowledge.evaluation import calibrate_threshold, evaluate, parse_questions


class Command(BaseCommand):
    help = "Recall@k and MRR of retrieval on a file of [{question, expected: [slug, ...]}], for hybrid, dense-only and text-only."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--k", type=int, nargs="+", default=[1, 5, 10])
        parser.add_argument("--audience", choices=["anonymous", "verified", "agent"], default="agent")
        parser.add_argument("--text-weight", type=float, action="append", help="hybrid weights to compare (repeatable)")
        parser.add_argument("--json", type=Path, help="also write the results here")
        parser.add_argument("--calibrate", action="store_true", help="also choose KB_ANSWER_THRESHOLD by leave-one-out")

    def handle(self, *args, **options) -> None:
        try:
            questions = parse_questions(json.loads(options["file"].read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
            raise CommandError(f"{options['file']}: {error}") from None
        runs = [("dense", None), ("text", None)] + [
            (f"hybrid w={w:g}" if options["text_weight"] else "hybrid", w) for w in (options["text_weight"] or [None])
        ]
        results = {}
        for label, weight in runs:
            mode = label.split()[0]
            results[label] = evaluate(questions, ks=options["k"], mode=mode, audience=options["audience"], text_weight=weight)
        metrics = list(next(iter(results.values())))
        self.stdout.write(f"{len(questions)} questions")
        self.stdout.write(f"{'mode':<16}" + "".join(f"{m:>11}" for m in metrics))
        for label, values in results.items():
            self.stdout.write(f"{label:<16}" + "".join(f"{values[m]:>11.3f}" for m in metrics))
        report = {"questions": len(questions), "results": results}
        if options["calibrate"]:
            calibration = calibrate_threshold(questions, audience=options["audience"])
            report["calibration"] = {
                "threshold": calibration.threshold,
                "answerable_kept": calibration.answerable_kept,
                "unanswerable_refused": calibration.unanswerable_refused,
            }
            self.stdout.write(
                f"KB_ANSWER_THRESHOLD={calibration.threshold:.3f}: keeps {calibration.answerable_kept:.1%} of answerable "
                f"questions, refuses {calibration.unanswerable_refused:.1%} when the right article is missing "
                f"(current setting {settings.KB_ANSWER_THRESHOLD})"
            )
        if options["json"]:
            options["json"].write_text(json.dumps(report, indent=2))
