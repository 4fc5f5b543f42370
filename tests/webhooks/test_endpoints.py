"""Webhook endpoints without a worker: the documented snippet against the real signer, secrets
(shown once, encrypted at rest, rotated with a grace period), URL rules, the hot path's cost,
and the admin's retry."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from conversations.chat.messages import system_message_post
from conversations.chat.widget_sessions import widget_session_open
from conversations.handoff.services import handoff_open
from conversations.handoff.workflow import handoff_assign_step
from conversations.models import Handoff, Message, Queue, Team
from conversations.privacy.erasure import customer_data_erase
from conversations.privacy.subjects import data_subject_for_customer
from supportbot.celery import app as celery_app
from tests.conftest import ORIGIN
from tests.handoff.conftest import online
from tests.webhooks.conftest import documented_verify
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.selectors import endpoint_signing_secrets
from webhooks.services import webhook_endpoint_create, webhook_endpoint_secret_rotate, webhook_events_enqueue
from webhooks.signing import signature_header
from webhooks.targets import endpoint_url_validate
from webhooks.transport import webhook_post

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/webhooks/webhookendpoint/"


@pytest.fixture
def allow_loopback(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True


def signed(secrets_: list[str], body: bytes, *, timestamp: int | None = None) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "timestamp": str(timestamp),
        "signatures": signature_header(secrets_=secrets_, timestamp=timestamp, body=body),
    }


def test_the_documented_snippet_accepts_a_signed_body_and_rejects_tampering_other_secrets_and_replays():
    verify = documented_verify()
    secret, body = "whsec_test-secret", b'{"id":"evt_1","type":"csat.created"}'
    verify(secret=secret, body=body, **signed([secret], body))
    with pytest.raises(ValueError, match="no valid signature"):
        verify(secret=secret, body=body.replace(b"csat", b"cSat"), **signed([secret], body))
    with pytest.raises(ValueError, match="no valid signature"):
        verify(secret="whsec_someone-else", body=body, **signed([secret], body))
    with pytest.raises(ValueError, match="replay window"):
        verify(secret=secret, body=body, **signed([secret], body, timestamp=int(time.time()) - 301))
    with pytest.raises(ValueError, match="no valid signature"):  # the timestamp is part of what is signed
        headers = signed([secret], body)
        verify(secret=secret, body=body, timestamp=str(int(headers["timestamp"]) + 1), signatures=headers["signatures"])
    with pytest.raises(ValueError, match="Webhook-Timestamp"):
        verify(secret=secret, body=body, timestamp="", signatures="")


def test_it_refuses_urls_that_are_not_http_or_point_inside_unless_allowed(settings):
    for url in ("ftp://hooks.example.com/in", "http:///nohost", "https://user:pw@hooks.example.com/in"):
        with pytest.raises(ValidationError):
            endpoint_url_validate(url)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    for url in ("http://127.0.0.1:9000/in", "http://localhost/in", "http://10.1.2.3/in", "http://[::1]:8080/in"):
        with pytest.raises(ValidationError, match="WEBHOOK_ALLOW_PRIVATE_TARGETS"):
            endpoint_url_validate(url)
    endpoint_url_validate("https://hooks.example.com/in")  # names are resolved and checked at send time
    # Sent anyway (a name that resolves inside): refused before anything is sent.
    refused = webhook_post(url="http://localhost:9/in", body=b"{}", headers={})
    assert refused.status_code is None and "loopback" in refused.error
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint_url_validate("http://127.0.0.1:9000/in")
    with pytest.raises(ValidationError, match="link-local"):  # the cloud metadata service, always
        endpoint_url_validate("http://169.254.169.254/latest/meta-data/")


def test_an_event_nobody_subscribed_to_costs_no_query_and_a_new_endpoint_is_seen_at_once(
    widget_session, allow_loopback, django_assert_num_queries
):
    conversation = widget_session.conversation
    payload = {"seq": 1, "role": "system", "text": "hello"}
    webhook_events_enqueue(conversation_id=conversation.pk, event="message.created", payload=payload)  # fills the cache
    with django_assert_num_queries(0):
        assert webhook_events_enqueue(conversation_id=conversation.pk, event="message.created", payload=payload) == []
    endpoint, _secret = webhook_endpoint_create(
        site_id=conversation.site_id, url="http://127.0.0.1:9/in", events=["message.created"]
    )
    system_message_post(conversation_id=conversation.pk, text="An agent will join shortly.")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    message = Message.objects.get(conversation=conversation, text="An agent will join shortly.")
    assert delivery.payload["type"] == "message.created" and delivery.payload["data"]["seq"] == message.seq
    assert delivery.payload["conversation_id"] == str(conversation.public_id)
    assert delivery.payload["id"] == delivery.event_id and delivery.status == "pending"
    # Subscribed to another event only: still nothing for this one.
    assert webhook_events_enqueue(conversation_id=conversation.pk, event="csat.created", payload={}) == []


def test_the_secret_is_shown_once_on_creation_and_stored_encrypted(client, admin_user, site, allow_loopback):
    client.force_login(admin_user)
    response = client.post(
        f"{CHANGELIST}add/",
        {
            "site": site.pk,
            "url": "http://127.0.0.1:9/in",
            "events": ["message.created", "csat.created"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200, response.content[:500]
    page = response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    [secret] = endpoint_signing_secrets(endpoint)
    assert secret.startswith("whsec_") and secret in page and "no-cache" in response["Cache-Control"]
    assert secret.encode() not in bytes(endpoint.secret_ciphertext)
    assert sorted(endpoint.events) == ["csat.created", "message.created"]
    change_page = client.get(f"{CHANGELIST}{endpoint.pk}/change/").content.decode()
    assert secret not in change_page and endpoint.secret_fingerprint in change_page


def test_rotation_shows_the_new_secret_once_and_both_sign_until_the_grace_period_ends(
    client, admin_user, charlie, site, allow_loopback, settings
):
    endpoint, old = webhook_endpoint_create(site_id=site.pk, url="http://127.0.0.1:9/in", events=["csat.created"])
    charlie.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_webhookendpoint", "change_webhookendpoint"])
    )
    client.force_login(charlie)  # may edit endpoints, may not rotate their secrets
    client.post(CHANGELIST, {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    assert endpoint_signing_secrets(WebhookEndpoint.objects.get()) == [old]

    client.force_login(admin_user)
    page = client.post(CHANGELIST, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}).content.decode()
    endpoint = WebhookEndpoint.objects.get()
    new, previous = endpoint_signing_secrets(endpoint)
    assert previous == old and new != old and new in page and old not in page
    body = b'{"id":"evt_2"}'
    headers = signed(endpoint_signing_secrets(endpoint), body)
    verify = documented_verify()
    verify(secret=old, body=body, **headers)  # a receiver not yet switched
    verify(secret=new, body=body, **headers)  # a receiver already switched
    later = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_GRACE_HOURS, seconds=1)
    assert endpoint_signing_secrets(endpoint, now=later) == [new]
    with pytest.raises(PermissionDenied):
        webhook_endpoint_secret_rotate(endpoint_id=endpoint.pk, actor=charlie)


def test_the_admin_retry_action_queues_another_attempt_of_a_given_up_delivery(
    client, admin_user, widget_session, allow_loopback, django_capture_on_commit_callbacks
):
    conversation = widget_session.conversation
    endpoint, _ = webhook_endpoint_create(
        site_id=conversation.site_id, url="http://127.0.0.1:9/in", events=["message.created"]
    )
    with django_capture_on_commit_callbacks():  # not sent: this test plays a delivery that gave up
        system_message_post(conversation_id=conversation.pk, text="Hello")
    WebhookDelivery.objects.update(status="failed", attempts=12, last_status_code=500, last_error="HTTP 500")
    delivery = WebhookDelivery.objects.get()
    celery_app.control.purge()
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/webhooks/webhookdelivery/", {"action": "retry", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at <= timezone.now()
    assert delivery.attempts == 12  # the log keeps its history
    with celery_app.connection_for_write() as connection:
        assert connection.default_channel.client.llen("webhooks") == 1


def test_the_routing_workflow_assigning_an_agent_emits_handoff_assigned_by_nobody(
    widget_session, alice, allow_loopback, django_capture_on_commit_callbacks
):
    conversation = widget_session.conversation
    webhook_endpoint_create(site_id=conversation.site_id, url="http://127.0.0.1:9/in", events=["handoff.assigned"])
    team = Team.objects.create(name="Front line")
    team.members.add(alice)
    queue = Queue.objects.create(name="General", is_default=True)
    queue.teams.add(team)
    online(alice)
    with django_capture_on_commit_callbacks():  # the workflow's own tasks are not run here
        handoff = handoff_open(conversation_id=conversation.pk, reason="customer_request")
        Handoff.objects.filter(pk=handoff.pk).update(queue=queue)  # what the route step does
        assignment = handoff_assign_step(handoff_id=handoff.pk)
    assert assignment is not None and assignment.agent == alice
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.payload["type"] == "handoff.assigned"
    assert delivery.payload["data"] == {
        "handoff_id": handoff.pk,
        "reason": "customer_request",
        "agent": {"id": alice.pk, "name": "Alice"},
        "by": None,
        "kind": "assigned",
    }


def test_erasing_a_customer_deletes_the_deliveries_about_their_conversations_sent_or_waiting(
    widget_session, site, allow_loopback, django_capture_on_commit_callbacks
):
    conversation = widget_session.conversation
    other = widget_session_open(site_key=site.key, origin=ORIGIN).conversation
    webhook_endpoint_create(site_id=conversation.site_id, url="http://127.0.0.1:9/in", events=["message.created"])
    with django_capture_on_commit_callbacks():  # not sent: one delivery stays waiting
        system_message_post(conversation_id=conversation.pk, text="Hello")
        system_message_post(conversation_id=conversation.pk, text="Still there?")
        system_message_post(conversation_id=other.pk, text="Hello")
    WebhookDelivery.objects.filter(payload__data__text="Hello").update(status="succeeded")
    customer_data_erase(subject=data_subject_for_customer(customer=conversation.customer))
    assert [d.payload["conversation_id"] for d in WebhookDelivery.objects.all()] == [str(other.public_id)]
