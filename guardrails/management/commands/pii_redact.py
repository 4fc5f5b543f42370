import json
import sys

from django.core.management.base import BaseCommand

from guardrails.redaction import text_redact_anonymously


class Command(BaseCommand):
    help = ('Read JSON lines {"text": str} on stdin; write {"redacted": str, "entities": [{"type", "start", "end"}]} '
            "per line (offsets into the original text). Nothing is stored.")

    def handle(self, *args, **options) -> None:
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
                if not isinstance(text, str):
                    raise TypeError
            except (json.JSONDecodeError, KeyError, TypeError):
                self.stdout.write(json.dumps({"error": f"line {number}: expected a JSON object with a string 'text'"}))
                continue
            redaction = text_redact_anonymously(text=text)
            self.stdout.write(json.dumps({
                "redacted": redaction.text,
                "entities": [{"type": s.type, "start": s.start, "end": s.end} for s in redaction.entities],
            }, ensure_ascii=False))
