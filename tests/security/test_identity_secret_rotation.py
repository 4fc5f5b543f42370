"""The site identity secret in the admin: never shown, rotated only with its own permission, shown
once on rotation, and the previous secret still verifies during the grace period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from conversations.chat.site_identity import site_identity_secret_rotate
from conversations.lib.identity import identity_expiry_default, identity_signature, identity_signature_verify
from conversations.models import WidgetSite

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/conversations/widgetsite/"


def grant(user, *codenames: str):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="conversations", codename__in=codenames)
    )
    return type(user).objects.get(pk=user.pk)  # a fresh instance: permissions are cached per object


def signs(site: WidgetSite, secret: str) -> bool:
    expires = identity_expiry_default()
    signature = identity_signature(secret=secret, user_id="user-42", expires=expires)
    return identity_signature_verify(
        site=WidgetSite.objects.get(pk=site.pk), user_id="user-42", signature=signature, expires=expires
    )


def rotate_in_admin(client, site):
    return client.post(CHANGELIST, {"action": "rotate_identity_secret", "_selected_action": [site.pk]})


def test_the_admin_change_page_never_shows_the_identity_secret(client, admin_user, site):
    client.force_login(admin_user)
    page = client.get(f"{CHANGELIST}{site.pk}/change/").content.decode()
    assert site.identity_secret not in page and "fingerprint" in page
    assert 'name="identity_secret"' not in page


def test_the_admin_form_cannot_set_the_identity_secret(client, admin_user, site):
    client.force_login(admin_user)
    before = site.identity_secret
    client.post(
        f"{CHANGELIST}{site.pk}/change/",
        {
            "name": site.name,
            "key": site.key,
            "allowed_origins": ",".join(site.allowed_origins),
            "greeting": site.greeting,
            "accent_color": site.accent_color,
            "launcher_position": site.launcher_position,
            "identity_secret": "attacker-chosen",
        },
    )
    assert WidgetSite.objects.get(pk=site.pk).identity_secret == before


def test_changing_sites_does_not_allow_rotating_their_secret(client, charlie, site):
    charlie = grant(charlie, "view_widgetsite", "change_widgetsite")
    client.force_login(charlie)
    before = site.identity_secret
    page = client.get(CHANGELIST).content.decode()
    assert "rotate_identity_secret" not in page
    rotate_in_admin(client, site)
    assert WidgetSite.objects.get(pk=site.pk).identity_secret == before
    with pytest.raises(PermissionDenied):
        site_identity_secret_rotate(site_id=site.pk, actor=charlie)
    assert WidgetSite.objects.get(pk=site.pk).identity_secret == before


def test_rotation_shows_the_new_secret_once_and_the_old_one_verifies_during_the_grace_period(
    client, charlie, site, settings
):
    settings.IDENTITY_SECRET_GRACE_HOURS = 6
    charlie = grant(charlie, "view_widgetsite", "change_widgetsite", "rotate_identity_secret")
    client.force_login(charlie)
    old = site.identity_secret

    response = rotate_in_admin(client, site)
    rotated = WidgetSite.objects.get(pk=site.pk)
    assert response.status_code == 200 and rotated.identity_secret != old
    assert rotated.identity_secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert rotated.previous_identity_secret == old
    grace_end = timezone.now() + timedelta(hours=6)
    assert abs((rotated.previous_identity_secret_valid_until - grace_end).total_seconds()) < 60
    # Shown once: the change page afterwards shows neither secret.
    page = client.get(f"{CHANGELIST}{site.pk}/change/").content.decode()
    assert rotated.identity_secret not in page and old not in page

    assert signs(site, rotated.identity_secret) and signs(site, old)
    WidgetSite.objects.filter(pk=site.pk).update(previous_identity_secret_valid_until=timezone.now())
    assert signs(site, rotated.identity_secret) and not signs(site, old)


def test_a_second_rotation_retires_the_first_secret_at_once(charlie, site):
    charlie = grant(charlie, "rotate_identity_secret")
    first = site.identity_secret
    second = site_identity_secret_rotate(site_id=site.pk, actor=charlie)
    third = site_identity_secret_rotate(site_id=site.pk, actor=charlie)
    assert signs(site, third) and signs(site, second) and not signs(site, first)


def test_a_site_added_in_the_admin_gets_a_secret_nobody_typed(client, admin_user):
    client.force_login(admin_user)
    assert client.get(f"{CHANGELIST}add/").status_code == 200
    response = client.post(
        f"{CHANGELIST}add/",
        {
            "name": "New Co",
            "key": "new-co",
            "allowed_origins": "https://new.example",
            "greeting": "Hi",
            "accent_color": "#4f46e5",
            "launcher_position": "right",
            "bot_enabled": "on",
            "handoff_when_bot_off": "on",
            "identity_secret": "typed-by-someone",
            "retention_days": "0",
            "attachments_max_mb": "10",
            "attachments_allowed_types": "image/png,application/pdf",
        },
    )
    assert response.status_code == 302
    site = WidgetSite.objects.get(key="new-co")
    assert len(site.identity_secret) == 64 and site.identity_secret != "typed-by-someone"
    assert not site.accept_unexpiring_signatures
