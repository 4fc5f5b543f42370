import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from knowledge.services import product_words_import


class Command(BaseCommand):
    help = (
        'Add product words from a JSON list of the words and short phrases the shop sells, e.g. ["tent", '
        '"sleeping bag", "headlamp"]; words already there are skipped. Edit them in the admin '
        "(Knowledge › Product words)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options) -> None:
        try:
            terms = json.loads(options["file"].read_text(encoding="utf-8"))
            added = product_words_import(terms=terms)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
            raise CommandError(f"{options['file']}: {error}") from None
        self.stdout.write(f"{added} product word{'' if added == 1 else 's'} added")
