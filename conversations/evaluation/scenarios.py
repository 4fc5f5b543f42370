"""Scripted conversations for `manage.py bot_eval`: what the customer says, turn by turn, and what
each bot reply must do.

File format (JSON):

    {"conversations": [
      {"name": "return policy is answered, not acted on",
       "as": "cust_1001",                # optional: sign in as this shop customer; omitted = anonymous
       "turns": [
         {"say": "What is your return policy?",
          "expect": {"cites": "return-policy", "not_contains": ["check it's you"]}},
         {"say": "cancel {order:cust_1001:pending}", "expect": {"proposes": {"action": "cancel_order",
                                                                           "order": "{order:cust_1001:pending}"}}},
         {"decide": "cancel", "expect": {"contains": ["won't make that change"]}}
       ]}
    ]}

`{order:<customer>:<status>}` and `{email:<customer>}` are filled in from the commerce data, so
the file does not depend on generated order numbers. A turn either says something or decides
on the last proposed action ("confirm" or "cancel").

Expectations (all that are given must hold):
- cites: an article slug the reply cites (any of a list), or cites_nothing: true
- asks_to_verify: true/false (the reply asks for an order number and email)
- proposes: {"action": tool name, "order"?: order number} (an action card for it)
- proposes_nothing: true
- handoff: a handoff reason (the conversation is queued for a person with that reason)
- refused: true (the guardrails refused the message)
- contains / not_contains: substrings, case-insensitive
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPECTATIONS = {
    "cites",
    "cites_nothing",
    "asks_to_verify",
    "proposes",
    "proposes_nothing",
    "handoff",
    "refused",
    "contains",
    "not_contains",
}
_SLOT = re.compile(r"\{(order|email):([\w-]+)(?::(\w+))?\}")


class ScenarioError(ValueError):
    """The scenario file is malformed; the message says where."""


@dataclass
class Turn:
    say: str | None
    decide: str | None
    expect: dict[str, Any]


@dataclass
class Scenario:
    name: str
    customer: str | None
    turns: list[Turn] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def scenarios_load(path: Path) -> list[Scenario]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ScenarioError(f"{path}: cannot read the scenarios: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("conversations"), list):
        raise ScenarioError(f"{path}: expected an object with a 'conversations' list")
    scenarios: list[Scenario] = []
    for n, raw in enumerate(data["conversations"], 1):
        label = raw.get("name", "unnamed") if isinstance(raw, dict) else repr(raw)
        where = f"{path}: conversation {n} ({label})"
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not isinstance(raw.get("turns"), list):
            raise ScenarioError(f"{where}: needs a 'name' and a 'turns' list")
        scenario = Scenario(name=raw["name"], customer=raw.get("as"), tags=list(raw.get("tags", [])))
        for t, turn in enumerate(raw["turns"], 1):
            if not isinstance(turn, dict) or (("say" in turn) == ("decide" in turn)):
                raise ScenarioError(f"{where}, turn {t}: give exactly one of 'say' or 'decide'")
            if "decide" in turn and turn["decide"] not in ("confirm", "cancel"):
                raise ScenarioError(f"{where}, turn {t}: 'decide' is 'confirm' or 'cancel'")
            expect = turn.get("expect", {})
            unknown = set(expect) - EXPECTATIONS
            if unknown:
                raise ScenarioError(f"{where}, turn {t}: unknown expectation(s) {sorted(unknown)}")
            scenario.turns.append(Turn(say=turn.get("say"), decide=turn.get("decide"), expect=expect))
        scenarios.append(scenario)
    return scenarios


def slots_fill(value: Any, *, orders: dict[tuple[str, str], str], emails: dict[str, str]) -> Any:
    """Replace {order:customer:status} and {email:customer} in strings, recursively."""
    if isinstance(value, str):

        def fill(match: re.Match[str]) -> str:
            kind, customer, status = match.groups()
            try:
                return orders[(customer, status)] if kind == "order" else emails[customer]
            except KeyError:
                raise ScenarioError(f"no {kind} for {match.group(0)} in the commerce data") from None

        return _SLOT.sub(fill, value)
    if isinstance(value, list):
        return [slots_fill(v, orders=orders, emails=emails) for v in value]
    if isinstance(value, dict):
        return {k: slots_fill(v, orders=orders, emails=emails) for k, v in value.items()}
    return value
