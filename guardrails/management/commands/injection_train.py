import json
from pathlib import Path

from django.core.management.base import BaseCommand

from guardrails.injection.detector import ARTIFACT
from guardrails.injection.training import injection_train


class Command(BaseCommand):
    help = "Train the injection classifier from the dev data and write guardrails/injection/classifier.json."

    def add_arguments(self, parser) -> None:
        data = Path(__file__).resolve().parents[4] / "shared" / "data"
        parser.add_argument("--injections", type=Path, default=data / "prompt_injections_train.jsonl")
        parser.add_argument("--support-questions", type=Path, default=data / "stackfaq.json")
        parser.add_argument("--max-false-positive-rate", type=float, default=0.01)
        parser.add_argument("--output", type=Path, default=ARTIFACT)

    def handle(self, *args, **options) -> None:
        artifact = injection_train(
            injections=options["injections"],
            support_questions=options["support_questions"],
            max_false_positive_rate=options["max_false_positive_rate"],
        )
        options["output"].write_text(json.dumps(artifact, indent=1) + "\n")
        self.stdout.write(json.dumps(artifact["provenance"], indent=1))
