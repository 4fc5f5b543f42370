import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from knowledge.services import glossary_import


class Command(BaseCommand):
    help = (
        'Add glossary entries from a JSON list of synonym groups, e.g. [["delivery", "shipping"], ["refund", '
        '"money back"]]; groups already there are skipped. Edit them in the admin (Knowledge › Glossary).'
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options) -> None:
        try:
            groups = json.loads(options["file"].read_text(encoding="utf-8"))
            added = glossary_import(groups=groups)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
            raise CommandError(f"{options['file']}: {error}") from None
        self.stdout.write(f"{added} glossary entr{'y' if added == 1 else 'ies'} added")
