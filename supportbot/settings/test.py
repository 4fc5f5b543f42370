"""Test settings: a data directory of its own, so tests never touch `make run`'s data."""

import os
from pathlib import Path

os.environ.setdefault(
    "SUPPORTBOT_DATA_DIR", str(Path(__file__).resolve().parent.parent.parent / ".data" / "test")
)

from supportbot.settings.base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; never used for real accounts

# Worker threads of the socket consumers must not keep connections open past a test: pytest-django
# drops the test database at the end and Postgres refuses while sessions remain.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
