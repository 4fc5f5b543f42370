"""GET /healthz: is each backing service reachable? 200 only when all are (cached for a few seconds)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

WORKER_PING_TIMEOUT = 1.0
# A down database must show as down at once: through Django, a pooled connection would be waited
# for up to DATABASE_POOL_TIMEOUT while the pool retries in the background.
DATABASE_CHECK_TIMEOUT = 2.0


def check_database() -> str:
    try:
        pool = getattr(connection, "pool", None)  # the PostgreSQL backend's, when pooling is on
        if pool is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        else:
            pool.open()
            with pool.connection(timeout=DATABASE_CHECK_TIMEOUT) as pooled:
                pooled.execute("SELECT 1")
        return "ok"
    except Exception as error:  # any failure is reported, not raised: this is a health probe
        return f"error: {type(error).__name__}"


def check_redis() -> str:
    from django.core.cache import cache

    try:
        cache.set("healthz", "1", timeout=5)
        return "ok" if cache.get("healthz") == "1" else "error: read back failed"
    except Exception as error:
        return f"error: {type(error).__name__}"


def check_worker() -> str:
    from supportbot.celery import app

    try:
        replies = app.control.ping(timeout=WORKER_PING_TIMEOUT)
    except Exception as error:
        return f"error: {type(error).__name__}"
    return "ok" if replies else "error: no worker answered"


@dataclass
class _Cached:
    checks: dict[str, str]
    at: float


_cached: _Cached | None = None
_lock = threading.Lock()


def health_checks() -> tuple[dict[str, str], float]:
    """The checks, run at most once per HEALTHZ_CACHE_SECONDS per process (concurrent probes wait
    for the one in flight): an unauthenticated endpoint that pings every worker must not let a
    flood of requests turn into a flood of database queries and broadcasts. Returns the checks and
    their age in seconds."""
    global _cached
    with _lock:
        now = time.monotonic()
        if _cached is None or now - _cached.at >= settings.HEALTHZ_CACHE_SECONDS:
            checks = {"database": check_database(), "redis": check_redis()}
            checks["worker"] = check_worker() if checks["redis"] == "ok" else "error: redis unavailable"
            _cached = _Cached(checks=checks, at=time.monotonic())
        return dict(_cached.checks), time.monotonic() - _cached.at


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks, age = health_checks()
    healthy = all(value == "ok" for value in checks.values())
    response = JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)
    response["Age"] = str(int(age))
    return response
