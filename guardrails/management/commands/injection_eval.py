import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from guardrails.injection.evaluation import (
    injection_detector_batched,
    injection_devset_evaluate,
    injection_evaluation_texts,
    injection_public_evaluate,
)


class Command(BaseCommand):
    help = (
        "Score the injection detector: recall per attack family and false positives on support questions, on the "
        "dev and test splits of guardrails/injection/devsets/, deepset's test split and the stackfaq questions."
    )

    def add_arguments(self, parser) -> None:
        data = Path(__file__).resolve().parents[4] / "shared" / "data"
        parser.add_argument("--deepset-test", type=Path, default=data / "prompt_injections_test.jsonl")
        parser.add_argument("--support-questions", type=Path, default=data / "stackfaq.json")

    def handle(self, *args, **options) -> None:
        deepset, stackfaq = options["deepset_test"], options["support_questions"]
        for path in (deepset, stackfaq):
            if not path.is_file():
                raise CommandError(f"{path} not found (pass --deepset-test / --support-questions)")
        detector = injection_detector_batched(texts=injection_evaluation_texts(deepset_test=deepset, stackfaq=stackfaq))
        result = {split: injection_devset_evaluate(detector=detector, split=split) for split in ("dev", "test")}
        result.update(injection_public_evaluate(detector=detector, deepset_test=deepset, stackfaq=stackfaq))
        self.stdout.write(json.dumps(result, indent=1))
