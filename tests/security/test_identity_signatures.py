"""Signed identities carry an expiry: HMAC(secret, f"{id}:{expires}"); plain signatures over the id
alone only behind the site's migration switch; malformed signatures are a 401, never a 500."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.conf import settings

from conversations.lib.identity import identity_expiry_default, identity_signature, identity_signature_verify
from conversations.models import Conversation, Customer, WidgetSite
from demoshop.models import ShopCustomer
from tests.conftest import ORIGIN

pytestmark = pytest.mark.django_db


def open_as(client, site, user: dict):
    return client.post(
        "/api/widget/conversations",
        data=json.dumps({"site_key": site.key, "user": user}),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )


def signed_user(site, user_id: str = "user-42", *, expires: int | None = None) -> dict:
    expires = identity_expiry_default() if expires is None else expires
    return {
        "id": user_id,
        "expires": expires,
        "signature": identity_signature(secret=site.identity_secret, user_id=user_id, expires=expires),
    }


def test_it_identifies_a_customer_whose_signature_covers_the_id_and_an_unexpired_expiry(client, site):
    response = open_as(client, site, signed_user(site, expires=int(time.time()) + 600))
    assert response.status_code == 201
    assert Conversation.objects.get(public_id=response.json()["conversation_id"]).customer.external_id == "user-42"


def test_it_refuses_an_expired_signature(client, site):
    response = open_as(client, site, signed_user(site, expires=int(time.time()) - 1))
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert not Customer.objects.filter(external_id="user-42").exists()


def test_it_refuses_an_expiry_further_ahead_than_the_maximum_lifetime(client, site):
    too_far = int(time.time()) + settings.IDENTITY_SIGNATURE_MAX_LIFETIME_SECONDS + 120
    assert open_as(client, site, signed_user(site, expires=too_far)).status_code == 401


def test_it_refuses_a_signature_whose_expiry_was_pushed_back_by_the_page(client, site):
    user = signed_user(site, expires=int(time.time()) + 60)
    user["expires"] += 3600  # the signature was made for the earlier time
    assert open_as(client, site, user).status_code == 401


def test_plain_signatures_over_the_id_alone_need_the_sites_migration_switch(client, site):
    plain = {"id": "user-42", "signature": identity_signature(secret=site.identity_secret, user_id="user-42")}
    assert not site.accept_unexpiring_signatures  # new sites start with the switch off
    assert open_as(client, site, plain).status_code == 401
    WidgetSite.objects.filter(pk=site.pk).update(accept_unexpiring_signatures=True)
    assert open_as(client, site, plain).status_code == 201


@pytest.mark.parametrize("signature", ["é" * 64, "ünïcödé", "🙂", "0" * 63 + "é", " " * 3])
def test_a_non_ascii_or_malformed_signature_answers_401_not_500(client, site, signature):
    user = {"id": "user-42", "expires": identity_expiry_default(), "signature": signature}
    response = open_as(client, site, user)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert not Customer.objects.filter(external_id="user-42").exists()


def test_a_non_ascii_signature_is_a_401_with_the_switch_on_too(client, site):
    WidgetSite.objects.filter(pk=site.pk).update(accept_unexpiring_signatures=True)
    response = open_as(client, site, {"id": "user-42", "signature": "ß" * 64})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("expires", ["soon", True, -1, 1.5, [1]])
def test_a_malformed_expiry_is_a_400_naming_the_field(client, site, expires):
    user = signed_user(site)
    user["expires"] = expires
    response = open_as(client, site, user)
    assert response.status_code == 400 and "user.expires" in response.json()["error"]["message"]


def test_verification_accepts_the_signature_of_the_current_secret_only_unless_in_grace(site):
    expires = identity_expiry_default()
    other = identity_signature(secret="f" * 64, user_id="user-42", expires=expires)
    assert not identity_signature_verify(site=site, user_id="user-42", signature=other, expires=expires)
    upper = identity_signature(secret=site.identity_secret, user_id="user-42", expires=expires).upper()
    assert identity_signature_verify(site=site, user_id="user-42", signature=upper, expires=expires)


def test_the_demo_host_page_signs_the_user_with_an_expiry(client, settings):
    settings.DEMO_MODE = True
    site = WidgetSite.objects.create(key=settings.DEMO_SITE_KEY, name="Acme", allowed_origins=[ORIGIN])
    ShopCustomer.objects.create(external_id="C-1001", name="Dana", email="dana@example.com", address="1 Main St")
    page = client.get("/?as=C-1001").content.decode()
    expires = int(re.search(r'data-user-expires="(\d+)"', page).group(1))
    signature = re.search(r'data-user-signature="([0-9a-f]+)"', page).group(1)
    assert time.time() < expires <= time.time() + settings.IDENTITY_SIGNATURE_MAX_LIFETIME_SECONDS
    assert identity_signature_verify(site=site, user_id="C-1001", signature=signature, expires=expires)
    assert signature != identity_signature(secret=site.identity_secret, user_id="C-1001")
