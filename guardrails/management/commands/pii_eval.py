import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from guardrails.pii.engine import get_detector
from guardrails.pii.evaluation import pii_evaluate


class Command(BaseCommand):
    help = "Character-level recall and precision per type on a labelled file in presidio-research's JSON format."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--json", action="store_true", help="print the scores as JSON")

    def handle(self, *args, **options) -> None:
        try:
            samples = json.loads(options["file"].read_text(encoding="utf-8"))
            if not isinstance(samples, list) or not all("full_text" in s and "spans" in s for s in samples):
                raise ValueError("expected a list of {full_text, spans}")
        except (OSError, ValueError) as error:
            raise CommandError(f"{options['file']}: {error}") from None
        scores = pii_evaluate(detector=get_detector(), samples=samples)
        if options["json"]:
            self.stdout.write(json.dumps(scores.as_dict(), indent=1))
            return
        self.stdout.write(
            f"{scores.samples} samples   recall {scores.recall:.3f}   precision {scores.precision:.3f}   "
            f"p50 {scores.latency_ms.get('p50')} ms   p95 {scores.latency_ms.get('p95')} ms"
        )
        for label, recall in scores.recall_by_label.items():
            self.stdout.write(f"  {label:<16} recall {recall:.3f}   ({scores.labelled_chars_by_label[label]} chars)")
        if scores.untargeted_labels:
            listed = ", ".join(f"{k} {v}" for k, v in scores.untargeted_labels.items())
            self.stdout.write(f"  not redacted by design (spans): {listed}")
