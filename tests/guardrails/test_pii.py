"""PII redaction: what must and must not be redacted, the vault, re-hydration for the customer's
own socket only, the commands, and no network at runtime."""

from __future__ import annotations

import io
import json
import socket
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations.models import Message
from conversations.services.messages import agent_message_post, customer_message_post
from guardrails.models import PiiVaultEntry
from guardrails.pii.vault import vault_purge_expired, vault_values
from guardrails.redaction import text_redact, text_redact_anonymously

pytestmark = pytest.mark.django_db

MUST_REDACT = [
    ("Email me at jane.roe@example.org please", "jane.roe@example.org", "EMAIL_ADDRESS"),
    ("Call me on (415) 555-0132 after 5", "(415) 555-0132", "PHONE_NUMBER"),
    ("My card 4111 1111 1111 1111 was charged twice", "4111 1111 1111 1111", "CREDIT_CARD"),
    ("Refund to IBAN DE89370400440532013000 please", "DE89370400440532013000", "IBAN_CODE"),
    ("My SSN is 536-22-8726", "536-22-8726", "US_SSN"),
    ("I was logged in from 203.0.113.42", "203.0.113.42", "IP_ADDRESS"),
    ("Ship it to 742 Evergreen Terrace, Springfield, IL 62704 instead", "742 Evergreen Terrace, Springfield, IL 62704",
     "STREET_ADDRESS"),
    ("My name is Maria Gonzalez and I ordered a tent", "Maria Gonzalez", "PERSON"),
    ("hi, this is ms. wijtze from accounting", "wijtze", "PERSON"),
]
MUST_KEEP = [
    "Where is order A1234?",
    "My order SB-100042 hasn't arrived",
    "Tracking number 1Z999AA10123456784 shows no movement",
    "I bought SKU TENT-2P for $249.00 on 2026-11-20",
    "The Ridgeline 2-person tent arrived on November 3rd, order 100045",
    "Can I return the Summit 30L daypack?",
    "Tracking Number\n1Z999AA10123456784",
    "Thanks, I will wait for the parcel.",
    "Standard Shipping\n3-5 business days, $4.95",
]


@pytest.mark.parametrize(("text", "value", "kind"), MUST_REDACT)
def test_it_redacts_personal_data_of_every_supported_type(text, value, kind):
    redacted = text_redact_anonymously(text=text)
    assert value not in redacted.text and f"<{kind}_1>" in redacted.text, redacted


@pytest.mark.parametrize("text", MUST_KEEP)
def test_it_keeps_what_support_needs(text):
    assert text_redact_anonymously(text=text).text == text


def test_the_same_value_gets_the_same_placeholder_within_a_conversation(widget_session):
    conversation_id = widget_session.conversation.pk
    first = text_redact(conversation_id=conversation_id, text="I'm Ann Lee, ann.lee@example.com")
    second = text_redact(conversation_id=conversation_id, text="again: ANN.LEE@example.com and bob@example.com")
    assert first.text == "I'm <PERSON_1>, <EMAIL_ADDRESS_1>"
    assert second.text == "again: <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    assert vault_values(conversation_id=conversation_id)["<EMAIL_ADDRESS_2>"] == "bob@example.com"
    assert not any(b"example.com" in bytes(c) for c in PiiVaultEntry.objects.values_list("ciphertext", flat=True))


def test_messages_are_stored_redacted_and_an_agent_keeps_their_own_name(widget_session, alice):
    conversation_id = widget_session.conversation.pk
    import uuid

    customer_message_post(conversation_id=conversation_id, text="I'm Ann Lee, call 415-555-0132", client_id=uuid.uuid4())
    agent_message_post(conversation_id=conversation_id, agent=alice, text="Hi, Alice here. I'll call 415-555-0132.")
    texts = list(Message.objects.filter(conversation_id=conversation_id).exclude(role="system").order_by("seq")
                 .values_list("text", "extras"))
    assert texts[0] == ("I'm <PERSON_1>, call <PHONE_NUMBER_1>", {"pii": {"PERSON": 1, "PHONE_NUMBER": 1}})
    assert texts[1][0] == "Hi, Alice here. I'll call <PHONE_NUMBER_1>."


def test_expired_originals_are_purged_and_stay_placeholders(widget_session):
    conversation_id = widget_session.conversation.pk
    text_redact(conversation_id=conversation_id, text="mail ann@example.com")
    PiiVaultEntry.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert vault_values(conversation_id=conversation_id) == {}
    assert vault_purge_expired() == 1 and not PiiVaultEntry.objects.exists()


def test_detection_never_touches_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("outbound connection attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # Email and URL recognition call tldextract, whose default would download the suffix list.
    redacted = text_redact_anonymously(text="write to someone@mail.example.co.uk or visit https://shop.example.com")
    assert "<EMAIL_ADDRESS_1>" in redacted.text


def test_pii_redact_reads_and_writes_json_lines(monkeypatch):
    lines = [json.dumps({"text": "Mail jane.roe@example.org re order A1234"}), "not json", json.dumps({"text": 5})]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    out = io.StringIO()
    call_command("pii_redact", stdout=out)
    first, bad, wrong = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first == {"redacted": "Mail <EMAIL_ADDRESS_1> re order A1234",
                     "entities": [{"type": "EMAIL_ADDRESS", "start": 5, "end": 25}]}
    assert "line 2" in bad["error"] and "line 3" in wrong["error"]


def test_pii_eval_reports_recall_and_precision(tmp_path):
    text = "Call Maria Gonzalez at (415) 555-0132, order A1234"
    sample = {"full_text": text, "spans": [
        {"entity_type": "PERSON", "entity_value": "Maria Gonzalez", "start_position": 5, "end_position": 19},
        {"entity_type": "PHONE_NUMBER", "entity_value": "(415) 555-0132", "start_position": 23, "end_position": 37},
    ]}
    path = tmp_path / "labelled.json"
    path.write_text(json.dumps([sample]))
    out = io.StringIO()
    call_command("pii_eval", str(path), "--json", stdout=out)
    scores = json.loads(out.getvalue())
    assert scores["recall"] == 1.0 and scores["precision"] == 1.0
    assert scores["recall_by_label"] == {"PERSON": 1.0, "PHONE_NUMBER": 1.0}


def test_revealing_vault_values_needs_the_permission_and_is_audited(client, admin_user, alice, widget_session):
    from django.contrib.auth.models import Permission

    from guardrails.models import GuardrailEvent

    text_redact(conversation_id=widget_session.conversation.pk, text="mail ann@example.com")
    entry = PiiVaultEntry.objects.get()
    form = {"action": "reveal", "_selected_action": [entry.pk]}
    alice.user_permissions.add(Permission.objects.get(codename="view_piivaultentry"))
    client.force_login(alice)
    denied = client.post("/admin/guardrails/piivaultentry/", form)
    assert b"ann@example.com" not in denied.content and not GuardrailEvent.objects.exists()

    client.force_login(admin_user)
    listing = client.get("/admin/guardrails/piivaultentry/").content
    assert b"<EMAIL_ADDRESS_1>" in listing or b"&lt;EMAIL_ADDRESS_1&gt;" in listing
    assert b"ann@example.com" not in listing
    revealed = client.post("/admin/guardrails/piivaultentry/", form)
    assert b"ann@example.com" in revealed.content
    event = GuardrailEvent.objects.get(kind="pii_revealed")
    assert event.actor == admin_user and event.detail == {"placeholders": ["<EMAIL_ADDRESS_1>"]}


def test_tool_results_redact_the_customer_but_keep_product_names(widget_session):
    from guardrails.services import tool_result_redact

    order = {"number": "SB-100057", "customer": {"name": "Maya Okafor", "email": "maya@example.com"},
             "items": [{"sku": "TR-42", "name": "Trailrunner boots (EU 42)", "quantity": 1}],
             "shipping_address": "12 Harbour Street, Leith EH6 6QN"}
    redacted = tool_result_redact(conversation_id=widget_session.conversation.pk, data=order)
    assert redacted["customer"] == {"name": "<PERSON_1>", "email": "<EMAIL_ADDRESS_1>"}
    assert redacted["items"][0]["name"] == "Trailrunner boots (EU 42)"
    assert redacted["shipping_address"] == "<STREET_ADDRESS_1>" and redacted["number"] == "SB-100057"
