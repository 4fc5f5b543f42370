import json
import sys

from django.core.management.base import BaseCommand

from guardrails.injection.detector import get_injection_detector


class Command(BaseCommand):
    help = 'Read JSON lines {"text": str} on stdin; write {"flagged": bool, "score": float, "reasons": [str]} per line.'

    def handle(self, *args, **options) -> None:
        detector = get_injection_detector()
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
            self.stdout.write(json.dumps(detector.check(text).as_dict()))
