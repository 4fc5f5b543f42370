"""The fast tier: tests of pure modules, with no database, Redis, socket or server.

The suite-wide autouse fixtures of tests/conftest.py need both (the test database is created for
`_close_stray_test_connections`, Redis is flushed by `_fresh_limits`); they are overridden here
with no-ops, so `pytest tests/unit` never creates the test database. pytest-django still blocks
database access: a unit test that queried would fail instead of quietly needing Postgres.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _close_stray_test_connections():
    yield


@pytest.fixture(autouse=True)
def _fresh_limits():
    yield
