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

from conversations.flows.messages import agent_message_post, customer_message_post
from conversations.models import Message
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
    (
        "Ship it to 742 Evergreen Terrace, Springfield, IL 62704 instead",
        "742 Evergreen Terrace, Springfield, IL 62704",
        "STREET_ADDRESS",
    ),
    ("My name is Maria Gonzalez and I ordered a tent", "Maria Gonzalez", "PERSON"),
    ("hi, this is ms. wijtze from accounting", "wijtze", "PERSON"),
    # Shapes of the world_formats dev set: PO boxes, comma-less North American and Australian
    # addresses, French street order, a licence whose cue is two letters, the account owner.
    ("Please send it to PO Box 4412, Tucson, AZ 85701", "PO Box 4412, Tucson, AZ 85701", "STREET_ADDRESS"),
    ("new address 88 Queen St W Toronto ON M5H 2N2 thanks", "88 Queen St W Toronto ON M5H 2N2", "STREET_ADDRESS"),
    ("deliver to 4/17 Smith Street, Fitzroy VIC 3065", "4/17 Smith Street, Fitzroy VIC 3065", "STREET_ADDRESS"),
    (
        "Please deliver to 1450 rue Sainte-Catherine O, Montréal, QC H3G 1P1",
        "1450 rue Sainte-Catherine O, Montréal, QC H3G 1P1",
        "STREET_ADDRESS",
    ),
    ("my OH DL VZ132156", "VZ132156", "DRIVER_LICENSE"),
    ("name on the account is sharon aguilar", "sharon aguilar", "PERSON"),
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
    "change the shipping address of SB-100042",  # an address cue before an order number
    "what is the delivery address of order SB-100231?",
    "wen will my refund arrive",  # chat shorthand is not a name
    "Order SB-101115 was 548,12 € but I see £268 on my statement",  # a decimal comma is no address comma
    "my license key for the app doesn't work, order SB-100042",  # a licence, but no driver's licence
    "Box 2 of 3 for SB-100042 never arrived",
    "what is the delivery address for SB-100231?",
    "Unit price was $12.00, I ordered 4 units",
    "thanks, bye!",  # a farewell after a thanks is no signed name (it was <PERSON_1>)
    "Cheers,\ngoodnight",
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

    customer_message_post(
        conversation_id=conversation_id, text="I'm Ann Lee, call 415-555-0132", client_id=uuid.uuid4()
    )
    agent_message_post(conversation_id=conversation_id, agent=alice, text="Hi, Alice here. I'll call 415-555-0132.")
    texts = list(
        Message.objects.filter(conversation_id=conversation_id)
        .exclude(role="system")
        .order_by("seq")
        .values_list("text", "extras")
    )
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
    assert first == {
        "redacted": "Mail <EMAIL_ADDRESS_1> re order A1234",
        "entities": [{"type": "EMAIL_ADDRESS", "start": 5, "end": 25}],
    }
    assert "line 2" in bad["error"] and "line 3" in wrong["error"]


def test_pii_eval_reports_recall_and_precision(tmp_path):
    text = "Call Maria Gonzalez at (415) 555-0132, order A1234"
    sample = {
        "full_text": text,
        "spans": [
            {"entity_type": "PERSON", "entity_value": "Maria Gonzalez", "start_position": 5, "end_position": 19},
            {"entity_type": "PHONE_NUMBER", "entity_value": "(415) 555-0132", "start_position": 23, "end_position": 37},
        ],
    }
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

    order = {
        "number": "SB-100057",
        "customer": {"name": "Maya Okafor", "email": "maya@example.com"},
        "items": [{"sku": "TR-42", "name": "Trailrunner boots (EU 42)", "quantity": 1}],
        "shipping_address": "12 Harbour Street, Leith EH6 6QN",
    }
    redacted = tool_result_redact(conversation_id=widget_session.conversation.pk, data=order)
    assert redacted["customer"] == {"name": "<PERSON_1>", "email": "<EMAIL_ADDRESS_1>"}
    assert redacted["items"][0]["name"] == "Trailrunner boots (EU 42)"
    assert redacted["shipping_address"] == "<STREET_ADDRESS_1>" and redacted["number"] == "SB-100057"


# Found only since the context-gated document recognizers and the chat cues (missed, or wrongly
# redacted, at d045156).
MUST_REDACT_IN_CHAT = [
    # A UK postcode ends in letters: the part ended there only before punctuation or the end, so
    # "London NW1 6XE" stayed in the text (and out of the card's new address).
    (
        "please send my pending order to 221B Baker Street, London NW1 6XE instead",
        "221B Baker Street, London NW1 6XE",
        "STREET_ADDRESS",
    ),
    ("my driver's license number is D1234567", "D1234567", "DRIVER_LICENSE"),
    ("DL# 902330681, exp 6/12/2026", "902330681", "DRIVER_LICENSE"),
    ("customs asked for my passport number, it's C01X00T47. order SB-100042", "C01X00T47", "PASSPORT"),
    ("my national insurance number is QQ 12 34 56 C", "QQ 12 34 56 C", "NATIONAL_ID"),
    (
        "I'm at Industristigen 30, 77507 Sundsvall now, will it still arrive?",
        "Industristigen 30, 77507 Sundsvall",
        "STREET_ADDRESS",
    ),
    (
        "the courier left it at 665 Anderson Ridge, Douglasville which is my old place",
        "665 Anderson Ridge, Douglasville",
        "STREET_ADDRESS",
    ),
    (
        "billing address is 180 Clare Corners\nNorth Amber\nHU11 2WR, shipping stays the same",
        "180 Clare Corners\nNorth Amber\nHU11 2WR",
        "STREET_ADDRESS",
    ),
    ("hi, this is gillian mccabe, my order SB-100042 still hasn't shipped", "gillian mccabe", "PERSON"),
    ("ok thanks, that works.\n\nBest,\nrhonda", "rhonda", "PERSON"),
    ("Could you send the invoice for SB107696 to Hamza Takkelenburg, our accountant?", "Hamza Takkelenburg", "PERSON"),
    ("refund to iban nl55 zkwg 7373 7848 97 please", "nl55 zkwg 7373 7848 97", "IBAN_CODE"),
    ("call me on +31 6 98657227 after 5pm", "+31 6 98657227", "PHONE_NUMBER"),
]


@pytest.mark.parametrize(("text", "value", "kind"), MUST_REDACT_IN_CHAT)
def test_it_redacts_documents_addresses_and_names_as_chat_writes_them(text, value, kind):
    redaction = text_redact_anonymously(text=text)
    assert [text[s.start : s.end] for s in redaction.entities if s.type == kind] == [value], redaction


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("here's my driving licence no. 344 601 282 for the age check on order sb-103385", "sb-103385"),
        ("Order WEB-36894 is a gift for Justin Yates, please don't include the receipt", "Order WEB-36894"),
        ("my licence number is D1234567, and the order is D7654321", "D7654321"),
        ("billing address is 3789 Lee Views, Michealhaven, shipping stays the same", "shipping stays the same"),
        ("brenda price ordered jkt-m-red twice by mistake, order a2103", "jkt-m-red"),
    ],
)
def test_order_numbers_skus_and_the_rest_of_the_sentence_stay_next_to_personal_data(text, kept):
    redacted = text_redact_anonymously(text=text)
    assert redacted.entities and kept in redacted.text, redacted


def test_a_document_number_without_its_context_words_stays():
    for text in ("Where is order D1234567?", "I have 2 orders: 90233068 and A1234", "passport holder, order C01X00T47"):
        assert text_redact_anonymously(text=text).text == text


def test_detection_meets_its_targets_on_the_split_nobody_tuned_on():
    from guardrails.pii.devsets.support_chat import load
    from guardrails.pii.engine import get_detector
    from guardrails.pii.evaluation import pii_evaluate

    scores = pii_evaluate(detector=get_detector(), samples=load("test"))
    assert scores.recall >= 0.93 and scores.precision >= 0.95, scores
    assert scores.recall_by_label["STREET_ADDRESS"] >= 0.9 and scores.recall_by_label["PERSON"] >= 0.9, scores


def test_detection_meets_its_targets_on_the_second_sets_split_nobody_tuned_on():
    # world_formats: comma-less and international addresses, PO boxes, signatures, international
    # phones, a dozen states' licence formats (0.804 recall, addresses 0.748, before it existed).
    from guardrails.pii.devsets.world_formats import load
    from guardrails.pii.engine import get_detector
    from guardrails.pii.evaluation import pii_evaluate

    scores = pii_evaluate(detector=get_detector(), samples=load("test"))
    assert scores.recall >= 0.94 and scores.precision >= 0.97, scores
    assert scores.recall_by_label["STREET_ADDRESS"] >= 0.94 and scores.recall_by_label["PERSON"] >= 0.9, scores
    assert scores.recall_by_label["US_DRIVER_LICENSE"] >= 0.9, scores


@pytest.mark.parametrize("devset", ["support_chat", "world_formats"])
def test_the_frozen_dev_splits_are_what_their_generator_makes(devset):
    import importlib

    module = importlib.import_module(f"guardrails.pii.devsets.{devset}")
    for split, (_, seed) in module.SPLITS.items():
        assert module.generate(module.SAMPLES_PER_SPLIT, seed=seed, held_out_shapes=split == "test") == module.load(
            split
        ), f"{split}: regenerate with `python -m guardrails.pii.devsets.{devset}`"


def test_the_template_corpus_fails_loudly_without_the_shared_templates(monkeypatch, tmp_path):
    from tests.guardrails import pii_corpus

    monkeypatch.setattr(pii_corpus, "TEMPLATES", tmp_path / "pii_templates.txt")
    with pytest.raises(FileNotFoundError, match="pii_templates.txt"):
        pii_corpus.generate(3)
