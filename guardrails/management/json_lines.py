"""The JSON-lines input shared by the guardrail commands: `{"text": str}` per line on stdin."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator


def texts_from_json_lines(lines: Iterable[str]) -> Iterator[tuple[str | None, dict | None]]:
    """(text, None) for each good line, (None, error object) for a bad one; blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            text = json.loads(line)["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            text = None
        if isinstance(text, str):
            yield text, None
        else:
            yield None, {"error": f"line {number}: expected a JSON object with a string 'text'"}
