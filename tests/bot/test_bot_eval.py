"""`manage.py bot_eval` plays the shipped demo-shop conversations through the chat protocol with
the offline responder and checks every turn; a subset runs here (the whole file in CI would take
minutes), on the demo knowledge base and the demo shop served over HTTP by the command itself."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command

from conversations.evaluation import run
from conversations.evaluation.scenarios import ScenarioError, scenarios_load
from conversations.models import Conversation, Customer
from demoshop.demo_accounts import demo_data_ensure
from demoshop.demo_articles import demo_articles_ensure
from demoshop.management.commands.bot_eval import DEFAULT_FILE
from demoshop.seed import demoshop_seed
from knowledge.indexing import article_index
from knowledge.models import Article
from tests.bot_support import open_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

SUBSET = [
    "pending verification",
    "pending order pick",
    "other customer: cancel",
    "anonymous: wrong email",
    "unanswerable twice",
    "small talk",
    "handoff: asks",
    "own order: return the only",
    "follow-up: express",
    "policy: Can I cancel after it ships?",
    "own-order hypothetical: cancel after it ships",
    "order described, signed in: which order?",
    "introductions: a customer who gives their name",
]


@pytest.fixture
def demo(db):
    demo_data_ensure(origins=["http://127.0.0.1:8000"])
    demo_articles_ensure()
    for pk in Article.objects.values_list("pk", flat=True):
        assert article_index(article_id=pk) == "indexed"
    demoshop_seed()


def test_the_shipped_conversations_load_and_there_are_at_least_sixty():
    assert len(scenarios_load(DEFAULT_FILE)) >= 60


def test_it_plays_a_subset_of_the_demo_conversations_and_every_turn_passes(demo, tmp_path, settings):
    settings.DEMO_MODE = True
    out = tmp_path / "report.json"
    only = [arg for name in SUBSET for arg in ("--only", name)]
    call_command("bot_eval", *only, "--json", str(out))
    report = json.loads(out.read_text())
    assert report["conversations"] >= len(SUBSET)
    assert report["turn_pass_rate"] == 1.0, [r for r in report["results"] if not r["passed"]]
    assert report["turns"] >= 2 * len(SUBSET) - 2  # multi-turn conversations, every turn checked


def test_a_failing_expectation_fails_the_run(demo, tmp_path, settings):
    settings.DEMO_MODE = True
    scenario = tmp_path / "wrong.json"
    scenario.write_text(
        json.dumps(
            {
                "conversations": [
                    {
                        "name": "wrong on purpose",
                        "turns": [{"say": "Do gift cards expire?", "expect": {"cites": "warranty"}}],
                    }
                ]
            }
        )
    )
    with pytest.raises(CommandError, match="pass rate 0.0%"):
        call_command("bot_eval", str(scenario))


def test_a_malformed_scenario_file_names_the_problem(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"conversations": [{"name": "x", "turns": [{"say": "hi", "expect": {"cite": "a"}}]}]}))
    with pytest.raises(ScenarioError, match=r"conversation 1 \(x\), turn 1: unknown expectation\(s\) \['cite'\]"):
        scenarios_load(broken)


def _scenario_file(path, *conversations):
    path.write_text(json.dumps({"conversations": list(conversations)}))
    return str(path)


def test_the_cleanup_deletes_the_evaluations_conversations_and_no_one_elses(bot_site, tmp_path, monkeypatch):
    """A customer who opens a conversation on the site while `bot_eval` runs (alongside `make run`)
    keeps it: the cleanup deletes the conversations the evaluation opened, not every newer one."""
    theirs = []
    play = run.scenario_play

    async def play_while_a_customer_arrives(scenario, **kwargs):
        theirs.append(await sync_to_async(open_session)(bot_site))
        return await play(scenario, **kwargs)

    monkeypatch.setattr(run, "scenario_play", play_while_a_customer_arrives)
    scenarios = _scenario_file(
        tmp_path / "two.json",
        {"name": "first", "turns": [{"say": "Hello there"}]},
        {"name": "second", "turns": [{"say": "Hi again"}]},
    )
    call_command("bot_eval", scenarios, "--site", bot_site.key, "--min-pass", "0")
    assert len(theirs) == 2
    assert sorted(Conversation.objects.filter(site=bot_site).values_list("pk", flat=True)) == sorted(
        s.conversation.pk for s in theirs
    )
    assert sorted(Customer.objects.filter(site=bot_site).values_list("pk", flat=True)) == sorted(
        s.conversation.customer_id for s in theirs
    )
