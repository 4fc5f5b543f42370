"""Demo mode (published login names, the demo shop's API) runs on loopback by default and
anywhere else only on purpose: `make run` refuses a non-loopback bind or non-default
ALLOWED_HOSTS with a message naming the variables."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from supportbot.settings.security import demo_exposure_check, host_is_loopback
from tests.conftest import PROJECT_ROOT, child_env

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]", ".localhost", "app.localhost"]
)
def test_it_knows_loopback_names_and_addresses(host):
    assert host_is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "10.0.0.5",
        "192.168.1.20",
        "support.example.com",
        "*",
        ".example.com",
        "localhost.example.com",
        "",
    ],
)
def test_anything_else_is_not_loopback(host):
    assert not host_is_loopback(host)


def test_the_default_demo_on_loopback_starts():
    demo_exposure_check(demo_mode=True, demo_public=False, bind_host="127.0.0.1", allowed_hosts=LOOPBACK_HOSTS)


@pytest.mark.parametrize(
    ("bind_host", "allowed_hosts", "named"),
    [
        ("0.0.0.0", LOOPBACK_HOSTS, "BIND_HOST=0.0.0.0"),
        ("::", LOOPBACK_HOSTS, "BIND_HOST=::"),
        ("127.0.0.1", ["support.example.com"], "ALLOWED_HOSTS=support.example.com"),
        ("127.0.0.1", [*LOOPBACK_HOSTS, "*"], "ALLOWED_HOSTS=127.0.0.1,localhost,[::1],*"),
    ],
)
def test_the_demo_refuses_a_non_loopback_bind_or_host(bind_host, allowed_hosts, named):
    with pytest.raises(ImproperlyConfigured) as error:
        demo_exposure_check(demo_mode=True, demo_public=False, bind_host=bind_host, allowed_hosts=allowed_hosts)
    message = str(error.value)
    assert message.startswith("DEMO_MODE:")
    assert named in message and "DEMO_MODE=false" in message and "DEMO_PUBLIC=true" in message


@pytest.mark.parametrize(("demo_mode", "demo_public"), [(False, False), (True, True)])
def test_a_real_deployment_or_a_public_demo_on_purpose_may_bind_anywhere(demo_mode, demo_public):
    demo_exposure_check(
        demo_mode=demo_mode, demo_public=demo_public, bind_host="0.0.0.0", allowed_hosts=["support.example.com"]
    )


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"BIND_HOST": "0.0.0.0"}, "BIND_HOST=0.0.0.0"),
        ({"ALLOWED_HOSTS": "support.example.com"}, "ALLOWED_HOSTS=support.example.com"),
    ],
)
def test_make_run_refuses_to_start_the_demo_beyond_loopback(db, variables, named):
    """`make run` is `python -m supportbot.runtime`: it stops before migrating or starting anything."""
    result = subprocess.run(
        [sys.executable, "-m", "supportbot.runtime"],
        cwd=PROJECT_ROOT,
        env=child_env(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "[supportbot] cannot start: DEMO_MODE:" in result.stderr and named in result.stderr
    assert "database migrated" not in result.stdout


def test_manage_py_refuses_it_too(db):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT_ROOT,
        env=child_env(ALLOWED_HOSTS="support.example.com"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: DEMO_MODE:" in result.stderr and "ALLOWED_HOSTS=support.example.com" in result.stderr
