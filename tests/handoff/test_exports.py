"""Conversation exports (conversations/inbox/exports.py): the rows for a seeded mix of
conversations, CSV that spreadsheets cannot run, bounded memory over 5,000 conversations, the
metrics page's streamed download under ASGI, who may download, and bad dates."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import uuid
import warnings
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.utils import timezone

from conversations.chat.conversations import conversation_rate
from conversations.chat.messages import message_post
from conversations.chat.widget_sessions import widget_session_open
from conversations.flows.messages import agent_message_post, customer_message_post
from conversations.handoff import workflow
from conversations.handoff.inactivity import idle_conversations_resolve
from conversations.handoff.resolution import conversation_resolve
from conversations.handoff.services import handoff_claim, handoff_open
from conversations.inbox.exports import EXPORT_COLUMNS
from conversations.models import Conversation, Customer, Handoff, Message, ModelCall, WidgetSite
from tests.conftest import ORIGIN

pytestmark = pytest.mark.django_db


def _conversation(
    site: WidgetSite, text: str = "How do returns work?", *, external_id: str | None = None
) -> Conversation:
    conversation = widget_session_open(site_key=site.key, origin=ORIGIN).conversation
    if external_id is not None:  # as if the host site had signed this user in
        Customer.objects.filter(pk=conversation.customer_id).update(external_id=external_id)
    customer_message_post(conversation_id=conversation.pk, text=text, client_id=uuid.uuid4())
    return conversation


def _model_call(conversation: Conversation, cost: str) -> None:
    ModelCall.objects.create(
        conversation=conversation,
        turn_id=uuid.uuid4(),
        model="test-model",
        prompt_version="v1",
        cost_usd=Decimal(cost),
        total_ms=100,
        outcome="ok",
    )


def _export(*args: str) -> str:
    out = io.StringIO()
    call_command("conversations_export", *args, stdout=out)
    return out.getvalue()


def _today() -> str:
    return timezone.localdate().isoformat()


@pytest.fixture
def mix(site, billing, alice):
    """Bot-only and contained; handed off, answered and resolved by Alice; still open; too old."""
    contained = _conversation(site, external_id="u-1001")
    message_post(conversation_id=contained.pk, role=Message.Role.BOT, text="Here is how.", extras={"answered": True})
    _model_call(contained, "0.001200")
    _model_call(contained, "0.000300")
    Conversation.objects.filter(pk=contained.pk).update(last_message_at=timezone.now() - timedelta(hours=2))
    assert idle_conversations_resolve() == 1
    conversation_rate(conversation_id=contained.pk, score=5)

    handed_off = _conversation(site, "I want a refund, I was charged twice")
    message_post(conversation_id=handed_off.pk, role=Message.Role.BOT, text="Let me get someone.", extras={})
    _model_call(handed_off, "0.002000")
    handoff = handoff_open(conversation_id=handed_off.pk, reason=Conversation.HandoffReason.CUSTOMER_REQUEST)
    assert workflow.handoff_route_step(handoff_id=handoff.pk)  # "refund": the Billing queue
    handoff_claim(conversation_id=handed_off.pk, agent=alice)
    Handoff.objects.filter(pk=handoff.pk).update(created_at=F("created_at") - timedelta(seconds=90))
    agent_message_post(conversation_id=handed_off.pk, agent=alice, text="Refunded, sorry about that.")
    conversation_resolve(conversation_id=handed_off.pk, agent=alice, reason=Conversation.ResolutionReason.ORDER_FIXED)
    conversation_rate(conversation_id=handed_off.pk, score=2)

    still_open = _conversation(site)
    too_old = _conversation(site)
    Conversation.objects.filter(pk=too_old.pk).update(created_at=timezone.now() - timedelta(days=40))
    widget_session_open(site_key=site.key, origin=ORIGIN)  # opened, never written in: not a conversation
    return {"contained": contained, "handed_off": handed_off, "still_open": still_open, "handoff": handoff}


def test_it_exports_one_row_per_conversation_with_the_metrics_definitions(mix, site):
    lines = _export(
        "--from", (timezone.localdate() - timedelta(days=7)).isoformat(), "--to", _today(), "--format", "jsonl"
    ).splitlines()
    rows = {row["conversation"]: row for row in map(json.loads, lines)}
    assert list(rows) == [str(mix[name].public_id) for name in ("contained", "handed_off", "still_open")]

    contained = rows[str(mix["contained"].public_id)]
    assert {
        key: contained[key]
        for key in (
            "site",
            "channel",
            "customer",
            "queue",
            "agent",
            "first_human_response_at",
            "first_response_seconds",
            "resolution_reason",
            "handoff_reason",
            "handoffs",
            "contained",
            "csat",
            "messages",
            "bot_turns",
            "model_cost_usd",
        )
    } == {
        "site": "test-site",
        "channel": "web",
        "customer": "u-1001",
        "queue": "",
        "agent": "",
        "first_human_response_at": None,
        "first_response_seconds": None,
        "resolution_reason": "no_response",
        "handoff_reason": "",
        "handoffs": 0,
        "contained": True,
        "csat": 5,
        "messages": 2,
        "bot_turns": 1,
        "model_cost_usd": 0.0015,
    }
    assert contained["started_at"] == mix["contained"].created_at.isoformat()
    assert contained["resolved_at"] is not None

    handed_off = rows[str(mix["handed_off"].public_id)]
    handoff = Handoff.objects.get(pk=mix["handoff"].pk)
    assert {
        key: handed_off[key]
        for key in (
            "customer",
            "queue",
            "agent",
            "first_human_response_at",
            "resolution_reason",
            "handoff_reason",
            "handoffs",
            "contained",
            "csat",
            "messages",
            "bot_turns",
            "model_cost_usd",
        )
    } == {
        "customer": "",
        "queue": "Billing",
        "agent": "alice",
        "first_human_response_at": handoff.first_response_at.isoformat(),
        "resolution_reason": "order_fixed",
        "handoff_reason": "customer_request",
        "handoffs": 1,
        "contained": False,
        "csat": 2,
        "messages": 3,
        "bot_turns": 1,
        "model_cost_usd": 0.002,
    }
    assert 90 <= handed_off["first_response_seconds"] < 120  # the handoff waited 90 s, plus the test's own time

    still_open = rows[str(mix["still_open"].public_id)]
    assert (
        still_open["resolved_at"],
        still_open["contained"],
        still_open["messages"],
        still_open["model_cost_usd"],
    ) == (None, False, 1, 0.0)

    other = WidgetSite.objects.create(key="other-site", name="Other", allowed_origins=[ORIGIN])
    _conversation(other)
    only_other = _export("--from", _today(), "--to", _today(), "--format", "jsonl", "--site", "other-site")
    assert [json.loads(line)["site"] for line in only_other.splitlines()] == ["other-site"]


def test_it_writes_csv_a_spreadsheet_cannot_run_and_without_customer_emails(site, tmp_path):
    _conversation(site, external_id='=HYPERLINK("http://evil.test","click")')
    _conversation(site, external_id="-2+3")
    _conversation(site, external_id="jane.doe@example.com")
    target = tmp_path / "export.csv"
    out = io.StringIO()
    call_command("conversations_export", "--from", _today(), "--to", _today(), "--output", str(target), stderr=out)

    assert "3 conversations written" in out.getvalue()
    assert not (tmp_path / "export.csv.partial").exists()
    raw = target.read_bytes()
    assert raw.count(b"\r\n") == 4  # a header and three rows, RFC 4180 line ends
    rows = list(csv.DictReader(io.StringIO(raw.decode(), newline="")))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [row["customer"] for row in rows] == ['\'=HYPERLINK("http://evil.test","click")', "'-2+3", ""]
    assert "example.com" not in raw.decode()
    assert rows[0]["contained"] == "false" and rows[0]["model_cost_usd"] == "0.000000"


def _copies(conversation: Conversation, count: int) -> None:
    """`count` copies of the conversation in one INSERT ... SELECT: seconds faster than creating
    them through the ORM, and every column (whatever later migrations add) is copied."""
    table = Conversation._meta.db_table
    columns = ", ".join(
        connection.ops.quote_name(field.column)
        for field in Conversation._meta.concrete_fields
        if field.column not in ("id", "public_id") and not field.generated
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (public_id, {columns}) SELECT gen_random_uuid(), {columns} "
            f"FROM {table}, generate_series(1, %s) WHERE id = %s",
            [count, conversation.pk],
        )


def _traced_peak(*args: str) -> int:
    tracemalloc.start()
    try:
        call_command("conversations_export", "--from", _today(), "--to", _today(), *args, stderr=io.StringIO())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_it_keeps_memory_bounded_while_streaming_5000_conversations(site, tmp_path):
    small = WidgetSite.objects.create(key="small-site", name="Small", allowed_origins=[ORIGIN])
    _copies(_conversation(small, external_id="u-1"), 1999)
    _copies(_conversation(site, external_id="u-2"), 4999)
    out = tmp_path / "export.jsonl"
    _export("--from", "2000-01-01", "--to", "2000-01-01")  # imports and query compilation, outside the traces

    small_peak = _traced_peak("--site", "small-site", "--format", "jsonl", "--output", str(out))
    assert sum(1 for _ in out.open()) == 2000
    large_peak = _traced_peak("--site", "test-site", "--format", "jsonl", "--output", str(out))
    assert sum(1 for _ in out.open()) == 5000

    # Streaming holds at most two cursor chunks of 1,000 rows (the next is fetched while the last
    # is let go), whatever the total: 2.5 times the rows, about the same peak. Loading the rows
    # grows with them (measured: 1.5 MB for 2,000, 2.7 MB for 5,000).
    assert large_peak < 1.3 * small_peak, (small_peak, large_peak)
    assert large_peak < out.stat().st_size, (large_peak, out.stat().st_size)


def _download(client: AsyncClient, url: str) -> tuple[StreamingHttpResponse, bytes]:
    async def fetch() -> tuple[StreamingHttpResponse, bytes]:
        response = await client.get(url)
        body = b"".join([part async for part in response.streaming_content]) if response.streaming else b""
        return response, body

    return async_to_sync(fetch)()


def test_it_streams_the_download_from_the_metrics_page_under_asgi(mix, client, dana):
    client.force_login(dana)
    page = client.get("/inbox/metrics/?days=7").content.decode()
    assert 'action="/inbox/metrics/export"' in page and 'name="from"' in page and 'value="jsonl"' in page

    asgi = AsyncClient()
    asgi.force_login(dana)
    with warnings.catch_warnings():
        # Django warns, then reads everything into a list, when ASGI gets a plain iterator.
        warnings.simplefilter("error")
        response, body = _download(asgi, f"/inbox/metrics/export?from={_today()}&to={_today()}&format=csv")
    assert isinstance(response, StreamingHttpResponse) and response.is_async
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="conversations-{_today()}-{_today()}.csv"'
    rows = list(csv.DictReader(io.StringIO(body.decode(), newline="")))
    assert [row["conversation"] for row in rows] == [
        str(mix[name].public_id) for name in ("contained", "handed_off", "still_open")
    ]
    assert rows[1]["agent"] == "alice" and rows[1]["queue"] == "Billing"


def test_it_lets_only_supervisors_download(client, site, alice, charlie, dana):
    url = f"/inbox/metrics/export?from={_today()}&to={_today()}&format=csv"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/inbox/login/")
    for user in (alice, charlie):  # an agent who does not supervise; staff who is no agent
        client.force_login(user)
        assert client.get(url).status_code == 403
    client.force_login(dana)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01&to=2026-12-31", "from: Enter a date as YYYY-MM-DD."),
        ("from=2026-12-01&to=yesterday", "to: Enter a date as YYYY-MM-DD."),
        ("to=2026-12-31", "from: This field is required."),
        ("from=2026-12-02&to=2026-12-01", "range: The 'to' date is before the 'from' date."),
        ("from=2026-12-01&to=2026-12-01&format=xlsx", "format: Select a valid choice."),
    ],
)
def test_it_answers_bad_parameters_with_a_400_naming_them(client, dana, query, message):
    client.force_login(dana)
    response = client.get(
        f"/inbox/metrics/export?format=csv&{query}" if "format" not in query else f"/inbox/metrics/export?{query}"
    )
    assert response.status_code == 400
    assert message in response.content.decode()


def test_it_stops_the_command_on_a_bad_date_or_site_and_writes_nothing(site, tmp_path):
    target = tmp_path / "x.csv"
    with pytest.raises(CommandError, match="from: Enter a date as YYYY-MM-DD"):
        call_command("conversations_export", "--from", "01/12/2026", "--to", _today(), "--output", str(target))
    with pytest.raises(CommandError, match="site: Select a valid choice"):
        call_command(
            "conversations_export", "--from", _today(), "--to", _today(), "--site", "nope", "--output", str(target)
        )
    assert list(tmp_path.iterdir()) == []
