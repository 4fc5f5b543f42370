import json
import sys

from django.core.management.base import BaseCommand

from guardrails.injection.detector import get_injection_detector
from guardrails.management.json_lines import texts_from_json_lines


class Command(BaseCommand):
    help = 'Read JSON lines {"text": str} on stdin; write {"flagged": bool, "score": float, "reasons": [str]} per line.'

    def handle(self, *args, **options) -> None:
        detector = get_injection_detector()
        for text, error in texts_from_json_lines(sys.stdin):
            if text is None:  # the line was bad; `error` says why
                self.stdout.write(json.dumps(error))
                continue
            self.stdout.write(json.dumps(detector.check(text).as_dict()))
