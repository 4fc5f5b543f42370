"""/healthz is unauthenticated and pings every worker: a flood of probes within a few seconds is
answered from one check."""

from __future__ import annotations

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


def test_healthz_answers_from_one_check_for_a_few_seconds(client, settings):
    settings.HEALTHZ_CACHE_SECONDS = 0
    client.get("/healthz")  # any answer cached by an earlier test has now been replaced
    settings.HEALTHZ_CACHE_SECONDS = 60
    first = client.get("/healthz")
    # The Redis check writes this key each time it runs: while cached, nothing runs.
    cache.delete("healthz")
    for _ in range(20):
        again = client.get("/healthz")
        assert again.json() == first.json() and again.status_code == first.status_code
    assert cache.get("healthz") is None
    assert int(again["Age"]) >= 0 and "no-cache" in again["Cache-Control"]

    settings.HEALTHZ_CACHE_SECONDS = 0
    client.get("/healthz")
    assert cache.get("healthz") == "1"
