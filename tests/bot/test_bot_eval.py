"""`manage.py bot_eval` plays the shipped demo-shop conversations through the chat protocol with
the offline responder and checks every turn; a subset runs here (the whole file in CI would take
minutes), on the demo knowledge base and the demo shop served over HTTP by the command itself."""

from __future__ import annotations

import io
import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command

from conversations.evaluation import run
from conversations.evaluation.judge import rubric_judge
from conversations.evaluation.scenarios import ScenarioError, scenarios_load
from conversations.models import Conversation, Customer
from demoshop.demo_accounts import demo_data_ensure
from demoshop.demo_articles import demo_articles_ensure
from demoshop.management.commands.bot_eval import DEFAULT_FILE
from demoshop.seed import demoshop_seed
from knowledge.indexing import article_index
from knowledge.models import Article
from tests.bot_support import open_session
from tests.fakes.model_server import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

SUBSET = [
    # the "done when": a new visitor's first questions get cited answers that answer them
    "policy: What is your return policy?",
    "policy: How long does delivery take?",
    "policy: Can I return worn boots?",
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


def test_a_signed_in_customers_open_conversation_is_never_written_into(bot_site, tmp_path):
    """A signed-in scenario whose customer already has a conversation open on the site (a real
    customer, alongside `make run`) fails without a word sent, and the conversation stays open."""
    theirs = open_session(bot_site, customer_id="cust_real")
    scenarios = _scenario_file(
        tmp_path / "signed.json", {"name": "signed in", "as": "cust_real", "turns": [{"say": "Hello there"}]}
    )
    out = tmp_path / "report.json"
    call_command("bot_eval", scenarios, "--site", bot_site.key, "--json", str(out), "--min-pass", "0")
    report = json.loads(out.read_text())
    assert report["conversations_passed"] == 0
    assert "has an open conversation on this site: not played" in report["results"][0]["failures"][0]
    conversation = Conversation.objects.get(pk=theirs.conversation.pk)
    assert conversation.status == Conversation.Status.BOT  # not resolved by the end of play
    assert not conversation.messages.filter(role="customer").exists()


_PLACEHOLDER = re.compile(r"<EMAIL_ADDRESS_\d+>")


def test_the_judge_grades_the_redacted_texts_and_reports_its_scores_and_unreadable_verdicts(
    bot_site, model_server, tmp_path, settings
):
    """`--judge` against the fake model: the rubric request carries the stored, redacted texts
    (the placeholder, not the customer's email), the verdict's scores land in the turn and the
    summary, and a verdict that is not the rubric's JSON is an error, never a score."""
    settings.DEMO_MODE = True
    demoshop_seed()
    verdicts = iter(['{"grounded": 4, "answers": 5, "why": "fine"}', "The reply looks good to me."])

    def reply(body):
        system = body["messages"][0]["content"]
        if system.startswith("You grade"):
            return Reply(text=next(verdicts))
        # The bot's model sees the placeholder and answers with it; the widget shows the real email.
        said = " ".join(str(m.get("content") or "") for m in body["messages"] if m["role"] == "user")
        placeholder = _PLACEHOLDER.findall(said)
        return Reply(text=f"I will send the details to {placeholder[-1] if placeholder else 'you'}.")

    model_server.default_reply = reply
    say = "Please send the receipt for {order:cust_1001:pending} to {email:cust_1001}, what is your return policy?"
    scenarios = _scenario_file(
        tmp_path / "judged.json",
        {"name": "judged", "turns": [{"say": say}]},
        {"name": "judged again", "turns": [{"say": say}]},
    )
    out = tmp_path / "report.json"
    printed = io.StringIO()
    call_command(
        "bot_eval", scenarios, "--site", bot_site.key, "--judge", "--json", str(out), "--min-pass", "0", stdout=printed
    )
    report = json.loads(out.read_text())
    email = re.search(r"\S+@example\.com", report["results"][0]["said"]).group(0)
    assert email in report["results"][0]["reply"]  # the customer's socket shows the real email

    requests = model_server.chat_requests()
    judged = [r for r in requests if r["messages"][0]["content"].startswith("You grade")]
    assert len(judged) == 2
    # What the bot's own model calls were given as the customer's words (redacted as stored). The
    # order number stays in both: PII_ALLOW_PATTERNS keeps order numbers out of the redaction.
    bot_saw = [str(m.get("content")) for r in requests if r not in judged for m in r["messages"] if m["role"] == "user"]
    for request in judged:
        sent = json.dumps(request)
        assert email not in sent
        customer, bot_reply = re.search(
            r"Customer message:\n(.*)\n\nCited.*Reply:\n(.*)", request["messages"][1]["content"], re.S
        ).groups()
        assert _PLACEHOLDER.search(customer) and _PLACEHOLDER.search(bot_reply), request["messages"][1]["content"]
        assert any(customer in text for text in bot_saw), (customer, bot_saw)

    first, second = report["results"]
    assert first["judge"] == {"grounded": 4, "answers": 5, "why": "fine"}
    assert set(second["judge"]) == {"error"} and "unreadable verdict" in second["judge"]["error"]
    assert report["judge"] == {"turns": 1, "errors": 1, "grounded_mean": 4.0, "answers_mean": 5.0}
    assert " judge 4/5" in printed.getvalue() and " judge error" in printed.getvalue()
    assert "1 turn(s) scored, grounded mean 4.0, answers mean 5.0, 1 error(s)" in printed.getvalue()


@pytest.mark.parametrize(
    "verdict",
    [
        '{"grounded": 9, "answers": 5}',
        '{"grounded": true, "answers": 5}',
        '{"grounded": "high", "answers": 5}',
        '{"answers": 5}',
        "[1, 2]",
    ],
)
async def test_a_verdict_outside_the_rubric_is_an_error_not_a_score(model_server, verdict):
    model_server.script(Reply(text=f"Verdict: {verdict}"))
    result = await rubric_judge(question="Where is <EMAIL_ADDRESS_1>'s order?", reply="On its way.", cited_titles=[])
    assert set(result) == {"error"} and "unreadable verdict" in result["error"]
