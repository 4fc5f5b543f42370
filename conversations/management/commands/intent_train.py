import json
from pathlib import Path

from django.core.management.base import BaseCommand

from conversations.bot.understanding.intent import ARTIFACT
from conversations.bot.understanding.intent_training import intent_train


class Command(BaseCommand):
    help = (
        "Train the bot's intent classifier from conversations/bot/understanding/phrasings.py, write "
        "intent_classifier.json and print its accuracy on the hand-written eval set (dev and test splits)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--regularization", type=float, default=2.0, help="LogisticRegression C")
        parser.add_argument("--output", type=Path, default=ARTIFACT)

    def handle(self, *args, **options) -> None:
        artifact = intent_train(regularization=options["regularization"])
        options["output"].write_text(json.dumps(artifact) + "\n")
        self.stdout.write(json.dumps(artifact["provenance"], indent=1))
