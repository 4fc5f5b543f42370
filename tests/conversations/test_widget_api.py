"""POST /api/widget/conversations and GET /api/widget/config."""

from __future__ import annotations

import json

import pytest

from conversations.lib.identity import identity_expiry_default, identity_signature
from conversations.lib.tokens import conversation_token_verify
from conversations.models import Conversation, Customer
from tests.conftest import ORIGIN

pytestmark = pytest.mark.django_db


def post(client, body, origin=ORIGIN, raw=None):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    data = raw if raw is not None else json.dumps(body)
    return client.post("/api/widget/conversations", data=data, content_type="application/json", **headers)


def test_it_opens_a_conversation_with_a_signed_token(client, site):
    response = post(client, {"site_key": site.key})
    assert response.status_code == 201
    body = response.json()
    claims = conversation_token_verify(body["token"])
    assert str(claims.conversation_id) == body["conversation_id"] and claims.site_key == site.key
    assert body["ws_url"] == f"ws://testserver/ws/chat/{body['conversation_id']}/?token={body['token']}"
    assert body["socket_url"] == f"ws://testserver/ws/chat/{body['conversation_id']}/"
    assert body["site"] == {
        "name": "Test Co",
        "accent_color": "#4f46e5",
        "launcher_position": "right",
        "greeting": site.greeting,
    }
    assert "identity_secret" not in json.dumps(body)
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_it_resumes_the_conversation_a_valid_token_proves(client, site):
    first = post(client, {"site_key": site.key}).json()
    again = post(client, {"site_key": site.key, "conversation_id": first["conversation_id"], "token": first["token"]})
    assert again.status_code == 200 and again.json()["conversation_id"] == first["conversation_id"]
    assert again.json()["resumed"] is True


def test_it_starts_a_new_conversation_for_a_bad_token_without_saying_why(client, site):
    first = post(client, {"site_key": site.key}).json()
    response = post(client, {"site_key": site.key, "conversation_id": first["conversation_id"], "token": "forged"})
    assert response.status_code == 201 and response.json()["conversation_id"] != first["conversation_id"]


@pytest.mark.parametrize("origin", ["http://evil.test", None])
def test_it_refuses_an_origin_the_site_does_not_allow(client, site, origin):
    response = post(client, {"site_key": site.key}, origin=origin)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden_origin"
    assert "Access-Control-Allow-Origin" not in response
    assert Conversation.objects.count() == 0


def test_it_answers_404_for_an_unknown_site(client, site):
    assert post(client, {"site_key": "nope"}).status_code == 404


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        json.dumps({"no": "site"}),
        json.dumps({"site_key": "test-site", "user": "alice"}),
        json.dumps({"site_key": "test-site", "user": {"id": "42"}}),
    ],
)
def test_it_rejects_malformed_bodies_with_400(client, site, raw):
    response = post(client, None, raw=raw)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


def signed(site, user_id: str, secret: str | None = None) -> dict:
    expires = identity_expiry_default()
    return {
        "id": user_id,
        "expires": expires,
        "signature": identity_signature(secret=secret or site.identity_secret, user_id=user_id, expires=expires),
    }


def test_it_identifies_a_customer_by_a_valid_signature(client, site):
    response = post(client, {"site_key": site.key, "user": signed(site, "user-42")})
    assert response.status_code == 201
    conversation = Conversation.objects.get(public_id=response.json()["conversation_id"])
    assert conversation.customer.external_id == "user-42" and conversation.customer.is_verified


def test_it_refuses_a_forged_signature(client, site):
    response = post(client, {"site_key": site.key, "user": signed(site, "user-42", secret="not-the-secret")})
    assert response.status_code == 401
    assert not Customer.objects.filter(external_id="user-42").exists()


def test_it_does_not_hand_a_signed_in_users_conversation_to_an_anonymous_visitor(client, site):
    mine = post(client, {"site_key": site.key, "user": signed(site, "user-42")}).json()
    # Same browser after the user signed out of the host site: the stored token alone is not enough.
    response = post(client, {"site_key": site.key, "conversation_id": mine["conversation_id"], "token": mine["token"]})
    assert response.json()["conversation_id"] != mine["conversation_id"]


def test_a_signed_in_customer_finds_their_open_conversation_on_another_device(client, site):
    user = signed(site, "user-42")
    first = post(client, {"site_key": site.key, "user": user}).json()
    # A second browser: no stored conversation, the same signed identity.
    elsewhere = post(client, {"site_key": site.key, "user": user})
    assert elsewhere.status_code == 200 and elsewhere.json()["resumed"] is True
    assert elsewhere.json()["conversation_id"] == first["conversation_id"]
    # Someone else, or an anonymous visitor, never gets it.
    other = signed(site, "user-7")
    assert post(client, {"site_key": site.key, "user": other}).json()["conversation_id"] != first["conversation_id"]
    assert post(client, {"site_key": site.key}).json()["conversation_id"] != first["conversation_id"]
    # Once resolved, the next visit starts a new conversation.
    Conversation.objects.filter(public_id=first["conversation_id"]).update(status="resolved")
    assert post(client, {"site_key": site.key, "user": user}).json()["conversation_id"] != first["conversation_id"]


def test_it_answers_the_cors_preflight_for_allowed_origins_only(client, site):
    ok = client.options("/api/widget/conversations", HTTP_ORIGIN=ORIGIN)
    assert ok.status_code == 204 and ok["Access-Control-Allow-Origin"] == ORIGIN
    refused = client.options("/api/widget/conversations", HTTP_ORIGIN="http://evil.test")
    assert "Access-Control-Allow-Origin" not in refused


def test_it_serves_the_public_site_config(client, site):
    response = client.get(f"/api/widget/config?site_key={site.key}", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200 and response.json()["name"] == "Test Co"
    assert client.get(f"/api/widget/config?site_key={site.key}", HTTP_ORIGIN="http://evil.test").status_code == 403


def test_a_same_origin_page_gets_the_config_without_an_origin_header(client, site):
    """Browsers send no Origin on a same-origin GET; the request then counts as supportbot's own origin."""
    assert client.get(f"/api/widget/config?site_key={site.key}").status_code == 403
    site.allowed_origins = [*site.allowed_origins, "http://testserver"]
    site.save()
    assert client.get(f"/api/widget/config?site_key={site.key}").status_code == 200
