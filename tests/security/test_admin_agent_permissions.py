"""Being a support agent opens the inbox, not the admin: the agents' group carries no model
permissions, so widget sites' identity secrets, other queues' conversations and the PII vault
stay out of reach of an agent's login."""

from __future__ import annotations

import uuid

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from conversations.core.people import SUPPORT_AGENTS_GROUP
from conversations.flows.messages import customer_message_post
from conversations.models import Conversation, Message
from demoshop.demo_accounts import DEMO_AGENT_USERNAME, support_agents_group_ensure

pytestmark = pytest.mark.django_db

EVERY_CHANGELIST = sorted(f"/admin/{model._meta.app_label}/{model._meta.model_name}/" for model in admin.site._registry)


def test_the_admin_registers_the_models_an_agent_must_not_reach():
    # Guards the parametrization below: an empty or renamed registry would make it vacuous.
    assert {
        "/admin/conversations/widgetsite/",
        "/admin/conversations/conversation/",
        "/admin/guardrails/piivaultentry/",
        "/admin/auth/user/",
    } <= set(EVERY_CHANGELIST)


@pytest.mark.parametrize("url", EVERY_CHANGELIST)
def test_an_agent_is_refused_every_admin_changelist(client, alice, site, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 403, f"{url} answered {response.status_code}"


def test_an_agent_cannot_open_a_widget_site_or_read_its_identity_secret(client, alice, site):
    client.force_login(alice)
    for url in (f"/admin/conversations/widgetsite/{site.pk}/change/", f"/admin/conversations/widgetsite/{site.pk}/"):
        response = client.get(url, follow=True)
        assert site.identity_secret not in response.content.decode()
    assert client.get(f"/admin/conversations/widgetsite/{site.pk}/change/").status_code == 403
    index = client.get("/admin/").content.decode()
    assert "/admin/conversations/" not in index and "/admin/guardrails/" not in index


def test_an_agent_still_works_the_inbox(client, alice, widget_session):
    conversation = widget_session.conversation
    customer_message_post(conversation_id=conversation.pk, text="Where is my parcel?", client_id=uuid.uuid4())
    client.force_login(alice)
    assert alice.get_all_permissions() == set()
    assert client.get("/inbox/").status_code == 200
    assert client.get(f"/inbox/c/{conversation.public_id}/").status_code == 200
    assert client.post(f"/inbox/c/{conversation.public_id}/claim").status_code == 302
    assert client.post(f"/inbox/c/{conversation.public_id}/reply", {"text": "On its way today."}).status_code == 302
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee) == (Conversation.Status.HUMAN, alice)
    assert Message.objects.filter(conversation=conversation, role="agent", text="On its way today.").exists()


def test_the_agents_group_loses_the_view_permissions_earlier_versions_granted():
    group, _ = Group.objects.get_or_create(name=SUPPORT_AGENTS_GROUP)
    granted_before = Permission.objects.filter(content_type__app_label="conversations", codename__startswith="view_")
    group.permissions.add(*granted_before)
    assert group.permissions.exists()
    assert not support_agents_group_ensure().permissions.exists()


def test_the_demo_agent_has_no_admin_permissions(client, settings, tmp_path):
    from django.contrib.auth import get_user_model

    settings.DEMO_PASSWORD_FILE = tmp_path / "demo_password"
    call_command("demo_setup", stdout=open("/dev/null", "w"))
    agent = get_user_model().objects.get(username=DEMO_AGENT_USERNAME)
    assert agent.get_all_permissions() == set()
    client.force_login(agent)
    assert client.get("/admin/conversations/widgetsite/").status_code == 403
    assert client.get("/inbox/").status_code == 200
