"""Retention and data-subject requests on real Postgres (docs/privacy.md).

Erin is the customer who asks to see and then erase her data; Frank, another customer of the
same site, must keep his. Alice is the agent who served them, Dana the supervisor reading the
metrics page, Charlie staff without the data-subject permissions.

The erasure test scans every text, JSON and array column of every model in the app registry, so
a table added later is covered without touching this file. demoshop is left out of the scan: it
stands in for the company's own order system, reached over HTTP, which supportbot does not own.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, models, transaction
from django.db.models import F
from django.db.models.functions import Cast
from django.utils import timezone

from conversations.chat.conversations import conversation_open, conversation_rate
from conversations.chat.feedback import message_feedback_record
from conversations.chat.messages import message_post
from conversations.flows.messages import agent_message_post, customer_message_post
from conversations.gaps.selectors import gap_questions
from conversations.handoff.inactivity import idle_conversations_resolve
from conversations.handoff.notes import note_add
from conversations.handoff.resolution import conversation_resolve
from conversations.models import (
    ActionCall,
    ArchivedMetricsDay,
    Conversation,
    CsatRating,
    Customer,
    Handoff,
    HandoffEvent,
    InternalNote,
    Message,
    MessageFeedback,
    ModelCall,
    WidgetSite,
)
from conversations.privacy.erasure import customer_data_erase
from conversations.privacy.subjects import data_subject_for_customer
from conversations.privacy.tasks import purge_expired_conversations
from conversations.reports.metrics import metrics_compute
from guardrails.models import GuardrailEvent, PiiVaultEntry
from guardrails.pii.vault import vault_values
from supportbot.celery import app as celery_app
from tests.conftest import ORIGIN, PASSWORD, start_celery_worker, stop

pytestmark = pytest.mark.django_db

ERIN = {
    "name": "Erin Walsh",
    "email": "erin.walsh@example.org",
    "phone": "+44 20 7946 0958",
    "street": "12 Harbour Lane",
    "order": "ORD-77123",
    "user_id": "erin-4821",
    "shop_customer": "cus_erin_5521",
}
FRANK_TEXT = "Frank Moreau here, frank.moreau@example.net, where is order ORD-55012?"
CITATION = [{"title": "Returns", "url": "/help/returns/"}]


def _say(conversation: Conversation, text: str) -> Message:
    return customer_message_post(conversation_id=conversation.pk, text=text, client_id=uuid.uuid4()).message


def _bot(conversation: Conversation, text: str, **extras) -> Message:
    return message_post(conversation_id=conversation.pk, role=Message.Role.BOT, text=text, extras=extras).message


def _served_conversation(site: WidgetSite, customer: Customer, agent, *, person: dict[str, str]) -> Conversation:
    """A conversation that touches every table: messages, vault, thumbs, a proposed action, a
    model call, a handoff answered by an agent with a note, a resolution and a rating."""
    conversation = conversation_open(site=site, customer=customer)
    _say(
        conversation,
        f"Hi, I'm {person['name']} ({person['email']}, {person['phone']}). Please send order "
        f"{person['order']} to {person['street']}, Bristol BS1 4RN.",
    )
    reply = _bot(
        conversation,
        f"Order {person['order']} is on its way.",
        answered=True,
        citations=CITATION,
        action={"summary": f"Send {person['order']} to {person['street']}"},
    )
    message_feedback_record(
        conversation_id=conversation.pk,
        seq=reply.seq,
        rating="down",
        comment=f"Wrong, {person['name']} moved to {person['street']}",
    )
    _bot(conversation, "I don't know that one.", answered=False)
    ActionCall.objects.create(
        conversation=conversation,
        tool="address_change",
        customer_id=person["shop_customer"],
        arguments={"order_number": person["order"], "address": f"{person['street']}, Bristol"},
        summary=f"Ship {person['order']} to {person['street']}",
        result={"name": person["name"]},
        idempotency_key=f"supportbot-{uuid.uuid4()}",
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    ModelCall.objects.create(
        conversation=conversation,
        turn_id=uuid.uuid4(),
        model="m",
        prompt_version="v1",
        cost_usd=Decimal("0.001250"),
        total_ms=800,
        outcome="ok",
    )
    GuardrailEvent.objects.create(
        kind=GuardrailEvent.Kind.INJECTION,
        action=GuardrailEvent.Action.REFUSED,
        conversation=conversation,
        site=site,
        detail={"text": f"{person['order']} now"},
    )
    from conversations.handoff.services import handoff_open

    handoff = handoff_open(conversation_id=conversation.pk, reason="customer_request")
    Handoff.objects.filter(pk=handoff.pk).update(
        summary=f"{person['name']} wants {person['order']} redirected", return_note=f"call {person['phone']}"
    )
    agent_message_post(conversation_id=conversation.pk, agent=agent, text=f"On it, {person['order']} is rerouted.")
    note_add(conversation_id=conversation.pk, agent=agent, text=f"Checked {person['order']} for {person['name']}")
    conversation_resolve(conversation_id=conversation.pk, agent=agent)
    conversation_rate(conversation_id=conversation.pk, score=2, comment=f"Slow. {person['name']}, {person['phone']}")
    # Verified again after the resolution (order number + email), the offline bot mid-question.
    Conversation.objects.filter(pk=conversation.pk).update(
        verified_customer_id=person["shop_customer"],
        verified_order_number=person["order"],
        bot_state={"order_number": person["order"]},
    )
    return Conversation.objects.get(pk=conversation.pk)


def _bot_only_conversation(site: WidgetSite) -> Conversation:
    """Answered by the bot, closed when the customer walked away: contained and AI-resolved."""
    conversation = conversation_open(site=site, customer=Customer.objects.create(site=site))
    _say(conversation, "How do returns work?")
    reply = _bot(conversation, "Here is how.", answered=True, citations=CITATION)
    message_feedback_record(conversation_id=conversation.pk, seq=reply.seq, rating="up")
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=timezone.now() - timedelta(hours=2))
    assert idle_conversations_resolve() == 1
    return conversation


@pytest.fixture
def erin(site) -> Customer:
    return Customer.objects.create(site=site, external_id=ERIN["user_id"])


@pytest.fixture
def dana(db):
    from django.contrib.auth.models import Group

    from conversations.handoff.access import SUPERVISORS_GROUP
    from demoshop.demo_accounts import support_agents_group_ensure

    user = get_user_model().objects.create_user(username="dana", password=PASSWORD, first_name="Dana", is_staff=True)
    user.groups.add(support_agents_group_ensure(), Group.objects.get_or_create(name=SUPERVISORS_GROUP)[0])
    return user


def _scannable_columns() -> list[tuple[type[models.Model], str, bool]]:
    """(model, column, needs a cast to text) for every text-bearing column of every table."""
    columns = []
    for model in apps.get_models():
        if model._meta.app_label == "demoshop" or model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            kind = field.get_internal_type()
            if kind in {"CharField", "TextField", "SlugField", "EmailField", "URLField"}:
                columns.append((model, field.name, False))
            elif kind in {"JSONField", "ArrayField", "SearchVectorField", "GeneratedField"}:
                columns.append((model, field.name, True))
    return columns


def _where_found(values: list[str]) -> list[str]:
    """Every column holding any of `values` (case-insensitive), with what it holds."""
    pattern = "|".join(re.escape(value) for value in values)
    found = []
    for model, column, cast in _scannable_columns():
        rows = model._base_manager.all()
        if cast:
            rows = rows.annotate(_as_text=Cast(column, models.TextField()))
        name = "_as_text" if cast else column
        for text in rows.filter(**{f"{name}__iregex": pattern}).values_list(name, flat=True)[:3]:
            found.append(f"{model._meta.label}.{column}: {text[:200]!r}")
    return found


def _erin_values() -> list[str]:
    # The email's and name's parts too: a tsvector or a half-redacted text keeps words, not strings.
    return [*ERIN.values(), "walsh", "harbour lane"]


def _snapshot() -> dict[str, list]:
    return {
        model._meta.label: sorted(map(repr, model._base_manager.values_list()))
        for model in apps.get_models()
        if not model._meta.proxy and model is not GuardrailEvent
    }


def test_it_erases_every_value_of_the_person_everywhere_and_keeps_the_counts(site, erin, alice):
    erins = _served_conversation(site, erin, alice, person=ERIN)
    # Erin also wrote once without signing in: the vault's digest of her email finds that visit too.
    visit = conversation_open(site=site, customer=Customer.objects.create(site=site))
    _say(visit, f"It's {ERIN['name']} again, {ERIN['email']}, about {ERIN['order']}.")
    frank = conversation_open(site=site, customer=Customer.objects.create(site=site, external_id="frank-1"))
    _say(frank, FRANK_TEXT)
    LogEntry.objects.create(
        user=alice,
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(erin.pk),
        object_repr=str(erin),
        action_flag=CHANGE,
    )
    assert _where_found(_erin_values()), "the scan must see Erin's values before the erasure"
    metrics_before = metrics_compute(days=14)
    assert erins.pk in {question.conversation_id for question in gap_questions()}
    counts_before = {
        model: model.objects.count()
        for model in (Conversation, Message, Handoff, CsatRating, MessageFeedback, ActionCall, Customer)
    }

    call_command("customer_erase", site.key, ERIN["email"].upper())

    assert _where_found(_erin_values()) == []
    assert not PiiVaultEntry.objects.filter(conversation__in=[erins, visit]).exists()
    assert {model: model.objects.count() for model in counts_before} == counts_before
    assert metrics_compute(days=14) == metrics_before
    assert erins.pk not in {question.conversation_id for question in gap_questions()}  # no "[erased...]" gaps
    erased = Customer.objects.get(pk=erin.pk)
    assert erased.external_id is None and erased.erased_at is not None and erased.anonymous_id != erin.anonymous_id
    assert Customer.objects.get(pk=visit.customer_id).erased_at is not None
    texts = set(Message.objects.filter(conversation=erins).values_list("text", flat=True))
    assert "[erased at the customer's request]" in texts and "This conversation has been resolved." in texts
    # Frank, on the same site, keeps everything.
    assert Message.objects.get(conversation=frank, role="customer").text != "[erased at the customer's request]"
    assert vault_values(conversation_id=frank.pk)
    event = GuardrailEvent.objects.get(kind="data_subject_erase")
    assert event.detail["customers"] == sorted([erin.pk, visit.customer_id]) and event.detail["vault_entries"] > 0

    snapshot = _snapshot()
    call_command("customer_erase", site.key, ERIN["email"])  # by email: nothing left to find
    call_command("customer_erase", site.key, ERIN["user_id"])  # by id: cleared, nothing to find
    customer_data_erase(subject=data_subject_for_customer(customer=erased))  # the shell itself, as the admin would
    assert _snapshot() == snapshot
    assert GuardrailEvent.objects.filter(kind="data_subject_erase").count() == 4


def test_it_exports_everything_stored_about_the_person_with_the_values_put_back(site, erin, alice, tmp_path):
    _served_conversation(site, erin, alice, person=ERIN)
    frank = conversation_open(site=site, customer=Customer.objects.create(site=site, external_id="frank-1"))
    _say(frank, FRANK_TEXT)
    output = tmp_path / "erin.json"

    call_command("customer_export", site.key, ERIN["user_id"], "--output", str(output))

    assert stat.S_IMODE(os.stat(output).st_mode) == 0o600
    document = json.loads(output.read_text())
    assert document["matched_by"] == ["external_id"] and len(document["customers"]) == 1
    customer = document["customers"][0]
    assert customer["external_id"] == ERIN["user_id"]
    [conversation] = customer["conversations"]
    first = conversation["messages"][0]
    assert first["role"] == "customer" and ERIN["email"] in first["text"] and ERIN["phone"] in first["text"]
    assert "<EMAIL_ADDRESS_" not in json.dumps(conversation["messages"])
    assert ERIN["email"] in conversation["personal_data"].values()
    assert conversation["feedback"][0]["rating"] == "down" and ERIN["street"] in conversation["feedback"][0]["comment"]
    assert conversation["csat_ratings"][0]["score"] == 2 and ERIN["phone"] in conversation["csat_ratings"][0]["comment"]
    assert conversation["notes"][0]["author"] == "Alice" and ERIN["order"] in conversation["notes"][0]["text"]
    assert conversation["handoffs"][0]["reason"] == "customer_request" and conversation["handoffs"][0]["events"]
    assert conversation["action_calls"][0]["arguments"]["order_number"] == ERIN["order"]
    assert conversation["verified_order_number"] == ERIN["order"] and conversation["model_calls"] == 1
    assert "Frank" not in output.read_text() and "frank" not in output.read_text()

    event = GuardrailEvent.objects.get(kind="data_subject_export")
    assert event.detail == {"customers": [erin.pk], "matched_by": ["external_id"], "conversations": 1}
    assert not any(value in json.dumps(event.detail) for value in ERIN.values())

    # A second export is the same document (it changes nothing), and is audited again.
    again = tmp_path / "again.json"
    call_command("customer_export", site.key, ERIN["email"], "--output", str(again))
    first_run, second_run = json.loads(output.read_text()), json.loads(again.read_text())
    for document in (first_run, second_run):
        document.pop("exported_at"), document.pop("matched_by")
    assert first_run == second_run
    assert GuardrailEvent.objects.filter(kind="data_subject_export").count() == 2


def test_it_refuses_an_unknown_site_and_says_so_for_an_unknown_person(site, capsys):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no site has the key or name 'nope'"):
        call_command("customer_export", "nope", ERIN["user_id"])
    call_command("customer_erase", site.key, "nobody-here")
    assert "nothing is stored about this person" in capsys.readouterr().out


def test_the_customer_page_exports_and_erases_for_staff_with_the_permission_only(client, site, erin, alice, charlie):
    _served_conversation(site, erin, alice, person=ERIN)
    page = f"/admin/conversations/customer/{erin.pk}/change/"

    client.force_login(charlie)  # staff, but neither data-subject permission
    assert client.get(f"/admin/conversations/customer/{erin.pk}/export-data/").status_code == 403
    assert client.post(f"/admin/conversations/customer/{erin.pk}/erase-data/").status_code == 403
    assert Customer.objects.get(pk=erin.pk).erased_at is None

    admin = get_user_model().objects.create_superuser("olga", password=PASSWORD)
    client.force_login(admin)
    assert 'name="retention_days"' in client.get(f"/admin/conversations/widgetsite/{site.pk}/change/").content.decode()
    change_page = client.get(page).content.decode()
    assert 'id="export-data"' in change_page and 'id="erase-data"' in change_page
    export = client.get(f"/admin/conversations/customer/{erin.pk}/export-data/")
    assert export["Content-Disposition"].startswith("attachment") and "no-store" in export["Cache-Control"]
    assert ERIN["email"] in export.content.decode()
    confirm = client.get(f"/admin/conversations/customer/{erin.pk}/erase-data/").content.decode()
    assert 'id="confirm-erase"' in confirm and Customer.objects.get(pk=erin.pk).erased_at is None

    assert client.post(f"/admin/conversations/customer/{erin.pk}/erase-data/").status_code == 302
    assert Customer.objects.get(pk=erin.pk).erased_at is not None
    assert _where_found(_erin_values()) == []
    assert list(GuardrailEvent.objects.filter(kind__startswith="data_subject").values_list("kind", "actor")) == [
        ("data_subject_erase", admin.pk),
        ("data_subject_export", admin.pk),
    ]


def _age(conversation: Conversation, *, days: float) -> None:
    """Move the conversation and everything hanging off it `days` into the past."""
    delta = timedelta(days=days)

    def shift(rows) -> None:
        stamps = [f.name for f in rows.model._meta.concrete_fields if isinstance(f, models.DateTimeField)]
        rows.update(**{name: F(name) - delta for name in stamps})

    shift(Conversation.objects.filter(pk=conversation.pk))
    shift(Customer.objects.filter(pk=conversation.customer_id))
    for model in apps.get_models():
        fields = {f.name: f for f in model._meta.concrete_fields}
        if "conversation" in fields and fields["conversation"].related_model is Conversation:
            shift(model._base_manager.filter(conversation=conversation))
    shift(HandoffEvent.objects.filter(handoff__conversation=conversation))


def _figures(client) -> tuple:
    """The metrics over a window with only live conversations and one reaching the purged ones,
    and the page as shown for the latter."""
    page = client.get("/inbox/metrics/?days=90").content.decode()
    return metrics_compute(days=30), metrics_compute(days=90), page[page.index('<div class="metrics">') :]


def test_retention_purges_only_the_sites_old_conversations_and_the_metrics_page_keeps_its_numbers(
    client, site, erin, alice, dana
):
    kept_forever = WidgetSite.objects.create(key="forever", name="Forever Co", allowed_origins=[ORIGIN])
    WidgetSite.objects.filter(pk=site.pk).update(retention_days=30)
    old = [_served_conversation(site, erin, alice, person=ERIN), _bot_only_conversation(site)]
    old_other_site = _bot_only_conversation(kept_forever)
    for conversation in (*old, old_other_site):
        _age(conversation, days=40)
    recent = _bot_only_conversation(site)
    _age(recent, days=29)  # inside the period, by a day
    client.force_login(dana)
    before = _figures(client)
    assert before[1].conversations == 4 and before[1].csat_by_agent and before[1].median_first_response_seconds
    assert before[1].ai_resolved == 3 and before[1].thumbs_up == 3 and before[0].conversations == 1

    assert purge_expired_conversations.apply().get() == 2

    assert set(Conversation.objects.values_list("pk", flat=True)) == {old_other_site.pk, recent.pk}
    for model in (Message, PiiVaultEntry, MessageFeedback, CsatRating, ActionCall, ModelCall, Handoff, InternalNote):
        assert not model._base_manager.filter(conversation__in=old).exists(), model
    assert not GuardrailEvent.objects.filter(conversation__in=old).exists()
    assert not Customer.objects.filter(pk=erin.pk).exists()  # her last conversation went, and so does her id
    assert _figures(client) == before
    event = GuardrailEvent.objects.get(kind="retention_purge")
    assert event.site_id == site.pk and event.detail == {"retention_days": 30, "conversations": 2, "customers": 2}

    archived = list(ArchivedMetricsDay.objects.values_list())
    assert purge_expired_conversations.apply().get() == 0  # a second run finds nothing and changes nothing
    assert list(ArchivedMetricsDay.objects.values_list()) == archived and _figures(client) == before


@pytest.mark.django_db(transaction=True)
def test_a_purge_skips_a_conversation_someone_holds_and_the_next_run_on_a_worker_takes_it(site, tmp_path, settings):
    WidgetSite.objects.filter(pk=site.pk).update(retention_days=30)
    held, free = (conversation_open(site=site, customer=Customer.objects.create(site=site)) for _ in range(2))
    for conversation in (held, free):
        _say(conversation, "Hello?")
        _age(conversation, days=31)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # another transaction (a message being posted, a second purge) has the row
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        assert purge_expired_conversations.apply().get() == 1
        assert list(Conversation.objects.values_list("pk", flat=True)) == [held.pk]
    finally:
        release.set()
        holder.join()
    # The next run is the hourly beat entry, executed by a real worker.
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == purge_expired_conversations.name)
    log = tmp_path / "worker.log"
    # A queue of the test's own: no purge of the shared queues, and no task another test left there runs here.
    worker = start_celery_worker(log, name="retention", queue="test-retention")
    try:
        celery_app.send_task(entry["task"], queue="test-retention")
        deadline = time.monotonic() + 60
        while Conversation.objects.exists():
            assert time.monotonic() < deadline, log.read_text()[-3000:] if log.exists() else "no worker log"
            time.sleep(0.2)
    finally:
        stop(worker)
    assert GuardrailEvent.objects.filter(kind="retention_purge").count() == 2
