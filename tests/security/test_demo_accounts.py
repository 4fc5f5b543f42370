"""The demo's logins: a random password generated once into a 0600 file and shown once, demo
accounts disabled when demo mode is off, and the demo shop's API not mounted outside demo mode."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from demoshop.demo_accounts import DEMO_ACCOUNTS_GROUP, PUBLISHED_DEMO_PASSWORD
from supportbot.runtime.__main__ import banner, demo_prepare
from tests.conftest import PASSWORD, PROJECT_ROOT, child_env

pytestmark = pytest.mark.django_db


@pytest.fixture
def password_file(settings, tmp_path):
    settings.DEMO_PASSWORD_FILE = tmp_path / "demo_password"
    return settings.DEMO_PASSWORD_FILE


def _demo_setup() -> str:
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    return out.getvalue()


def test_the_demo_logins_get_a_random_password_kept_0600_and_shown_once(password_file):
    first = _demo_setup()
    password = password_file.read_text().strip()
    assert len(password) >= 16 and password != PUBLISHED_DEMO_PASSWORD
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert f"demo password (shown once; kept in {password_file}): {password}" in first
    for username in ("agent", "admin"):
        assert authenticate(username=username, password=password).username == username
        assert authenticate(username=username, password=PUBLISHED_DEMO_PASSWORD) is None

    second = _demo_setup()
    assert password not in second and f"demo password: in {password_file}" in second
    assert authenticate(username="agent", password=password) is not None  # unchanged by a second run


def test_each_install_gets_its_own_password(password_file, tmp_path, settings):
    _demo_setup()
    first = password_file.read_text()
    settings.DEMO_PASSWORD_FILE = tmp_path / "elsewhere"
    _demo_setup()  # a new file (deleted, or another data dir) resets the demo logins to its password
    second = settings.DEMO_PASSWORD_FILE.read_text()
    assert first != second
    assert authenticate(username="agent", password=second) is not None
    assert authenticate(username="agent", password=first) is None


def test_demo_logins_an_older_version_created_lose_the_published_password(password_file):
    users = get_user_model()
    users.objects.create_user(username="agent", password=PUBLISHED_DEMO_PASSWORD, is_staff=True)
    _demo_setup()
    assert authenticate(username="agent", password=PUBLISHED_DEMO_PASSWORD) is None
    assert authenticate(username="agent", password=password_file.read_text()) is not None
    assert users.objects.get(username="agent").groups.filter(name=DEMO_ACCOUNTS_GROUP).exists()


def test_a_real_account_named_admin_keeps_its_password_and_is_never_disabled(password_file, settings):
    get_user_model().objects.create_superuser(username="admin", password=PASSWORD)
    _demo_setup()
    assert authenticate(username="admin", password=PASSWORD) is not None
    assert authenticate(username="admin", password=password_file.read_text()) is None
    settings.DEMO_MODE = False
    assert demo_prepare(settings, call_command) is None
    assert get_user_model().objects.get(username="admin").is_active


def test_turning_demo_mode_off_disables_the_demo_logins_and_on_again_restores_them(
    password_file, settings, alice, capsys
):
    _demo_setup()
    settings.DEMO_MODE = False
    demo_prepare(settings, call_command)
    users = get_user_model().objects
    assert list(users.filter(username__in=["agent", "admin"]).values_list("is_active", flat=True)) == [False, False]
    assert users.get(username="alice").is_active  # only the demo accounts
    assert "DEMO_MODE is off: disabled the demo logins admin, agent" in capsys.readouterr().out
    assert authenticate(username="agent", password=password_file.read_text()) is None

    settings.DEMO_MODE = True
    assert demo_prepare(settings, call_command) is None  # not a new password: nothing to show
    assert authenticate(username="agent", password=password_file.read_text()) is not None


def test_make_run_shows_the_password_only_when_it_was_created(password_file, settings, capsys):
    health = {"status": "ok"}
    password = demo_prepare(settings, call_command)
    assert password == password_file.read_text().strip()
    banner("http://127.0.0.1:8000", health, settings, demo_password=password)
    assert f"password {password}  (shown once; kept in {password_file})" in capsys.readouterr().out

    assert demo_prepare(settings, call_command) is None
    banner("http://127.0.0.1:8000", health, settings, demo_password=None)
    shown = capsys.readouterr().out
    assert password not in shown and f"password in {password_file}" in shown


RESOLVE = (
    "import json; from django.urls import resolve, Resolver404\n"
    "def mounted(path):\n"
    "    try:\n        resolve(path); return True\n"
    "    except Resolver404:\n        return False\n"
    "print(json.dumps({p: mounted(p) for p in ['/', '/demoshop/api/verifications', '/inbox/', '/healthz']}))"
)


@pytest.mark.parametrize(
    ("variables", "demo_mounted"),
    [
        ({}, True),
        ({"DEMO_MODE": "false", "PII_VAULT_KEY": Fernet.generate_key().decode()}, False),
    ],
)
def test_the_demo_shop_and_host_page_are_mounted_only_in_demo_mode(variables, demo_mounted):
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", RESOLVE],
        cwd=PROJECT_ROOT,
        env=child_env(**variables),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    mounted = json.loads(result.stdout.strip().splitlines()[-1])
    assert mounted == {
        "/": demo_mounted,
        "/demoshop/api/verifications": demo_mounted,
        "/inbox/": True,
        "/healthz": True,
    }


def test_the_old_password_variable_is_refused_rather_than_silently_ignored():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT_ROOT,
        env=child_env(DEMO_AGENT_PASSWORD="supportbot-demo"),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: DEMO_AGENT_PASSWORD: no longer read" in result.stderr
