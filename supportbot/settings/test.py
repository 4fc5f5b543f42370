"""Test settings: a data directory of its own, so tests never touch `make run`'s data.

Tests empty the Redis they use (tests/conftest.py flushes it before every test; worker tests purge
Celery's queue). So they run on the embedded Redis, or on the one TEST_REDIS_URL names; a
REDIS_URL exported for the app (the README's own-Redis setup) stops them before anything starts.
"""

import os
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from django.core.exceptions import ImproperlyConfigured

from supportbot.settings.environment import Env

os.environ.setdefault("SUPPORTBOT_DATA_DIR", str(Path(__file__).resolve().parent.parent.parent / ".data" / "test"))


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return urlunparse(parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)))


if Env().raw("TEST_REDIS_URL") is not None:
    os.environ["REDIS_URL"] = Env().redis_url("TEST_REDIS_URL")
elif Env().raw("REDIS_URL") is not None and not os.environ.get("SUPPORTBOT_EMBEDDED_REDIS"):
    # SUPPORTBOT_EMBEDDED_REDIS: the test session started the embedded Redis and hands its URL to
    # the servers and workers it starts; those may use it.
    raise ImproperlyConfigured(
        f"REDIS_URL is set ({_without_password(Env().raw('REDIS_URL') or '')}), but the tests delete everything in "
        "their Redis (a FLUSHDB before every test, Celery queue purges), so they refuse a Redis not named for "
        "them. Unset REDIS_URL to test on the embedded Redis under .data/test, or set TEST_REDIS_URL to a Redis "
        "database whose contents may be deleted."
    )

from supportbot.settings.base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; never used for real accounts

# Worker threads of the socket consumers must not keep connections open past a test: pytest-django
# drops the test database at the end and Postgres refuses while sessions remain.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# The test process's own threads (a test's thread pool, the executors of in-process socket
# tests) use the ORM and end without handing their connection back: from a pool, each such
# thread would keep a slot for good, and later tests would wait out DATABASE_POOL_TIMEOUT. So
# processes on these settings connect per thread unless DATABASE_POOL_MAX_SIZE is set. The tests
# of the pool itself, of Postgres and Redis restarts and of the scale-out topology run their
# servers with the pool as deployed (they set it, or use supportbot.settings.base).
if Env().raw("DATABASE_POOL_MAX_SIZE") is None:
    DATABASES["default"].get("OPTIONS", {}).pop("pool", None)  # noqa: F405
