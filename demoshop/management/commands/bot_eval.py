"""Play scripted multi-turn conversations through the chat protocol and check every bot reply.

python manage.py bot_eval demoshop/evaluation/demo_conversations.json [--json OUT]
    [--site KEY] [--only TEXT] [--judge] [--keep] [--min-pass 1.0]
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversations.evaluation.run import bot_eval_run
from conversations.evaluation.scenarios import ScenarioError, scenarios_load
from conversations.models import WidgetSite
from demoshop.shop_facts import shop_facts_load
from supportbot.llm.gateway import model_configured

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "evaluation" / "demo_conversations.json"


class Command(BaseCommand):
    help = "Play scripted conversations with the configured responder (offline or model) and check each turn."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
        parser.add_argument("--json", type=Path, help="write every turn's result here")
        parser.add_argument("--site", default=settings.DEMO_SITE_KEY, help="site key (default: the demo site)")
        parser.add_argument(
            "--only",
            action="append",
            help="run the conversations whose name or tags contain this text (repeatable: any of them)",
        )
        parser.add_argument("--judge", action="store_true", help="also grade each reply with the configured model")
        parser.add_argument("--keep", action="store_true", help="keep the conversations (default: delete them after)")
        parser.add_argument(
            "--no-demoshop",
            action="store_true",
            help="in demo mode, use COMMERCE_API_URL as configured instead of serving the demo shop's "
            "API from this process (the default, so no running server is needed)",
        )
        parser.add_argument(
            "--min-pass",
            type=float,
            default=1.0,
            help="exit with an error below this share of passing turns (default 1.0)",
        )

    def handle(self, *args, **options) -> None:
        try:
            scenarios = scenarios_load(options["file"])
        except ScenarioError as error:
            raise CommandError(str(error)) from None
        if options["only"]:
            needles = [needle.lower() for needle in options["only"]]
            scenarios = [
                s for s in scenarios if any(n in s.name.lower() or any(n in t for t in s.tags) for n in needles)
            ]
        site = WidgetSite.objects.filter(key=options["site"]).first()
        if site is None:
            raise CommandError(f"no site with key {options['site']!r} (run `manage.py demo_setup` for the demo site)")
        if not site.allowed_origins:
            raise CommandError(f"site {site.key!r} allows no origin; add one in the admin")
        if options["judge"] and not model_configured():
            raise CommandError("--judge needs a model endpoint (LLM_BASE_URL and LLM_MODEL)")
        if settings.DEMO_MODE and not options["no_demoshop"]:
            from demoshop.local_server import demoshop_serve_in_thread

            settings.COMMERCE_API_URL = demoshop_serve_in_thread()
        responder = f"model {settings.LLM_MODEL}" if model_configured() else "offline responder"
        self.stdout.write(f"{len(scenarios)} conversation(s) on {site.key} with the {responder}")
        try:
            report = asyncio.run(
                bot_eval_run(
                    scenarios=scenarios,
                    site=site,
                    facts=shop_facts_load(),
                    judge=options["judge"],
                    keep=options["keep"],
                )
            )
        except ScenarioError as error:
            raise CommandError(str(error)) from None
        for r in report.results:
            mark = "ok  " if r.passed else "FAIL"
            judged = ""
            if r.judge:
                judged = " judge error" if "error" in r.judge else f" judge {r.judge['grounded']}/{r.judge['answers']}"
            self.stdout.write(f"{mark} {r.conversation[:44]:44} #{r.turn} {r.said[:40]!r:44} {r.ms:7.0f} ms{judged}")
            for failure in r.failures:
                self.stdout.write(f"       - {failure}; reply: {r.reply[:160]!r}")
        summary = report.as_dict()
        self.stdout.write(
            f"turns {summary['turns_passed']}/{summary['turns']} ({summary['turn_pass_rate']:.1%}), "
            f"conversations {summary['conversations_passed']}/{summary['conversations']} "
            f"({summary['conversation_pass_rate']:.1%})"
        )
        if options["judge"]:
            judge = summary["judge"]
            self.stdout.write(
                f"judge (not part of pass/fail): {judge['turns']} turn(s) scored, grounded mean "
                f"{judge['grounded_mean']}, answers mean {judge['answers_mean']}, {judge['errors']} error(s)"
            )
        if options["json"]:
            options["json"].write_text(json.dumps(summary, indent=1))
        if summary["turn_pass_rate"] < options["min_pass"]:
            raise CommandError(f"turn pass rate {summary['turn_pass_rate']:.1%} is below {options['min_pass']:.0%}")
