"""Fuzzing the widget's HTTP API (POST /api/widget/conversations, GET /api/widget/config, their
preflights) with generated bodies, query strings and headers: every answer is a documented status
with the documented error shape, never a 500 or an exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ORIGIN
from tests.fuzz.strategies import fuzz_settings, nasty_text, no_surrogates, widget_bodies

pytestmark = pytest.mark.django_db

# docs/protocol.md, section 1 (405 for another method is Django's ordinary answer).
DOCUMENTED_STATUSES = {200, 201, 204, 400, 401, 403, 404, 405, 413, 429}
origins = st.one_of(st.just(ORIGIN), st.none(), nasty_text.filter(lambda s: s.isprintable() and s.isascii()))


def _assert_documented(response) -> None:
    assert response.status_code in DOCUMENTED_STATUSES, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        error = json.loads(response.content)["error"]
        assert set(error) == {"code", "message"} and all(isinstance(v, str) for v in error.values())


@fuzz_settings(max_examples=40)
@given(body=widget_bodies(), origin=origins)
def test_any_body_to_open_a_conversation_gets_a_documented_answer(client, site, body, origin):
    headers = {"HTTP_ORIGIN": origin} if origin is not None else {}
    response = client.post("/api/widget/conversations", data=body, content_type="application/json", **headers)
    _assert_documented(response)


@fuzz_settings(max_examples=25)
# A URL carries UTF-8 bytes, so no unpaired surrogate can reach a query string (NUL can: %00).
@given(site_key=nasty_text.filter(no_surrogates), origin=origins, method=st.sampled_from(["get", "options", "post"]))
def test_any_config_request_gets_a_documented_answer(client, site, site_key, origin, method):
    headers = {"HTTP_ORIGIN": origin} if origin is not None else {}
    response = getattr(client, method)("/api/widget/config", {"site_key": site_key}, **headers)
    _assert_documented(response)
