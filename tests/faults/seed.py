"""Run as `python -m tests.faults.seed` against the fault tests' own Postgres: a site, the agent
Alice with a logged-in session, and a customer's conversation. Prints them as one JSON line."""

from __future__ import annotations

import json

import django


def main() -> None:
    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from conversations.chat.widget_sessions import widget_session_open
    from conversations.models import WidgetSite
    from demoshop.demo_accounts import support_agents_group_ensure
    from tests.conftest import ORIGIN, PASSWORD

    site = WidgetSite.objects.create(
        key="faults-site", name="Faults Co", allowed_origins=[ORIGIN], bot_enabled=False, handoff_when_bot_off=False
    )
    alice = get_user_model().objects.create_user(username="alice", password=PASSWORD, first_name="Alice", is_staff=True)
    alice.groups.add(support_agents_group_ensure())
    session = SessionStore()
    session[SESSION_KEY] = str(alice.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = alice.get_session_auth_hash()
    session.create()
    opened = widget_session_open(site_key=site.key, origin=ORIGIN)
    print(
        json.dumps(
            {
                "conversation_id": str(opened.conversation.public_id),
                "conversation_pk": opened.conversation.pk,
                "token": opened.token,
                "sessionid": session.session_key,
            }
        )
    )


if __name__ == "__main__":
    main()
