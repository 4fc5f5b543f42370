import json
import sys

from django.core.management.base import BaseCommand

from guardrails.management.json_lines import texts_from_json_lines
from guardrails.redaction import text_redact_anonymously


class Command(BaseCommand):
    help = (
        'Read JSON lines {"text": str} on stdin; write {"redacted": str, "entities": [{"type", "start", "end"}]} '
        "per line (offsets into the original text). Nothing is stored."
    )

    def handle(self, *args, **options) -> None:
        for text, error in texts_from_json_lines(sys.stdin):
            if text is None:  # the line was bad; `error` says why
                self.stdout.write(json.dumps(error))
                continue
            redaction = text_redact_anonymously(text=text)
            self.stdout.write(
                json.dumps(
                    {
                        "redacted": redaction.text,
                        "entities": [{"type": s.type, "start": s.start, "end": s.end} for s in redaction.entities],
                    },
                    ensure_ascii=False,
                )
            )
