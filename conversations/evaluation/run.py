"""One `bot_eval` run: every scenario against a site, results summarized."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async

from conversations.evaluation.judge import rubric_judge
from conversations.evaluation.player import ShopFacts, TurnResult, scenario_cleanup, scenario_play
from conversations.evaluation.scenarios import Scenario
from conversations.models import WidgetSite


@dataclass
class EvalReport:
    results: list[TurnResult]
    conversations: int
    conversations_passed: int

    @property
    def turns_passed(self) -> int:
        return sum(r.passed for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        judged = [r.judge for r in self.results if r.judge and "error" not in r.judge]
        return {
            "conversations": self.conversations,
            "conversations_passed": self.conversations_passed,
            "conversation_pass_rate": round(self.conversations_passed / max(1, self.conversations), 4),
            "turns": len(self.results),
            "turns_passed": self.turns_passed,
            "turn_pass_rate": round(self.turns_passed / max(1, len(self.results)), 4),
            "judge": {
                "turns": len(judged),
                "errors": sum(1 for r in self.results if r.judge and "error" in r.judge),
                "grounded_mean": round(sum(j["grounded"] for j in judged) / len(judged), 3) if judged else None,
                "answers_mean": round(sum(j["answers"] for j in judged) / len(judged), 3) if judged else None,
            },
            "results": [r.as_dict() for r in self.results],
        }


async def bot_eval_run(
    *, scenarios: list[Scenario], site: WidgetSite, facts: ShopFacts, judge: bool = False, keep: bool = False
) -> EvalReport:
    """`facts` fill the scenarios' {order:...}/{email:...} slots and map article titles to slugs."""
    opened: list[int] = []  # the conversations the evaluation opened, deleted after it unless `keep`
    results: list[TurnResult] = []
    passed = 0
    try:
        for n, scenario in enumerate(scenarios):
            # Each scripted customer gets an address of their own, as real customers would: the
            # per-address limits are not what a conversation test measures.
            client_ip = f"127.0.{n // 250}.{n % 250 + 1}"
            turns = await scenario_play(
                scenario,
                site=site,
                facts=facts,
                client_ip=client_ip,
                judge=rubric_judge if judge else None,
                opened=opened,
            )
            results += turns
            passed += all(t.passed for t in turns)
    finally:
        if not keep:
            await sync_to_async(scenario_cleanup)(site=site, conversation_ids=opened)
    return EvalReport(results=results, conversations=len(scenarios), conversations_passed=passed)
