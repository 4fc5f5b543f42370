"""Deployment settings: Secure cookies, HTTPS redirect and HSTS follow BEHIND_TLS_PROXY; `make
check` fails on deploy warnings (silenced only for the loopback demo); PII_VAULT_KEY is required
outside demo mode and rotates (MultiFernet); key files are created 0600."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured

from guardrails.models import PiiVaultEntry
from guardrails.pii import vault
from supportbot.settings.security import private_file_ensure, vault_keys_parse
from tests.conftest import PROJECT_ROOT, child_env

PRODUCTION = {
    "DEMO_MODE": "false",
    "ALLOWED_HOSTS": "support.example.com",
    "PII_VAULT_KEY": Fernet.generate_key().decode(),
}
PRINT_SETTINGS = (
    "import json; from django.conf import settings as s; print(json.dumps({name: getattr(s, name) for name in "
    "['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
    "'SECURE_PROXY_SSL_HEADER', 'SILENCED_SYSTEM_CHECKS']}))"
)


def _manage(*args: str, umask: int | None = None, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=child_env(**variables),
        capture_output=True,
        text=True,
        timeout=90,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def _settings(**variables: str) -> dict:
    result = _manage("shell", "-c", PRINT_SETTINGS, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_behind_a_tls_proxy_cookies_are_secure_http_redirects_and_hsts_is_sent(db):
    behind = _settings(**PRODUCTION, BEHIND_TLS_PROXY="true")
    assert behind["SESSION_COOKIE_SECURE"] is True and behind["CSRF_COOKIE_SECURE"] is True
    assert behind["SECURE_SSL_REDIRECT"] is True and behind["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert behind["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    plain = _settings(**PRODUCTION)
    assert (plain["SESSION_COOKIE_SECURE"], plain["SECURE_SSL_REDIRECT"], plain["SECURE_HSTS_SECONDS"]) == (
        False,
        False,
        0,
    )
    assert plain["SILENCED_SYSTEM_CHECKS"] == []  # outside the loopback demo nothing is silenced


def test_make_check_fails_on_deploy_warnings():
    recipe = re.search(r"^check:.*\n\t(.+)$", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    assert "check --deploy --fail-level WARNING" in recipe


def test_the_deploy_check_fails_a_deployment_without_tls_and_passes_one_behind_a_tls_proxy(db):
    without = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert without.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in without.stderr
    behind = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, BEHIND_TLS_PROXY="true")
    assert behind.returncode == 0, behind.stderr


def test_the_loopback_demo_passes_the_deploy_check_with_only_the_tls_checks_silenced(db):
    demo = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert demo.returncode == 0, demo.stderr
    assert "(4 silenced)" in demo.stdout
    assert _manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="true").returncode != 0  # W018 is not silenced


def test_outside_demo_mode_the_vault_key_is_required(db):
    result = _manage("check", DEMO_MODE="false", ALLOWED_HOSTS="support.example.com", PII_VAULT_KEY="")
    assert result.returncode != 0
    assert "ImproperlyConfigured: PII_VAULT_KEY: required when DEMO_MODE is off" in result.stderr


def test_every_listed_vault_key_must_be_a_fernet_key():
    good = Fernet.generate_key().decode()
    assert vault_keys_parse(f" {good} ", demo_mode=False) == [good]
    assert vault_keys_parse("", demo_mode=True) == []
    with pytest.raises(ImproperlyConfigured, match="PII_VAULT_KEY: key 2 of 2 is not a Fernet key"):
        vault_keys_parse(f"{good},not-a-key", demo_mode=True)
    with pytest.raises(ImproperlyConfigured, match="PII_VAULT_KEY: the same key is listed twice"):
        vault_keys_parse(f"{good},{good}", demo_mode=True)


@pytest.fixture
def vault_keys(settings):
    """Set PII_VAULT_KEYS for this test; the vault caches its ciphers, so clear that each time."""

    def use(*keys: bytes) -> None:
        settings.PII_VAULT_KEYS = [key.decode() for key in keys]
        vault._keys.cache_clear()

    yield use
    vault._keys.cache_clear()


def _decrypts_with(key: bytes, entry: PiiVaultEntry) -> bool:
    try:
        Fernet(key).decrypt(bytes(entry.ciphertext))
        return True
    except InvalidToken:
        return False


@pytest.mark.django_db
def test_a_new_vault_key_encrypts_while_the_old_one_still_decrypts_and_rotation_retires_it(widget_session, vault_keys):
    conversation_id = widget_session.conversation.pk
    old, new = Fernet.generate_key(), Fernet.generate_key()
    vault_keys(old)
    assert vault.vault_placeholders_assign(
        conversation_id=conversation_id, values=[("EMAIL_ADDRESS", "ann@example.com")]
    ) == ["<EMAIL_ADDRESS_1>"]

    vault_keys(new, old)  # the new key goes in front
    assert vault.vault_values(conversation_id=conversation_id) == {"<EMAIL_ADDRESS_1>": "ann@example.com"}
    # The same value keeps its placeholder (its digest is found under the old key); a new one is
    # encrypted under the new key only.
    assigned = vault.vault_placeholders_assign(
        conversation_id=conversation_id,
        values=[("EMAIL_ADDRESS", "Ann@Example.com"), ("EMAIL_ADDRESS", "bob@example.com")],
    )
    assert assigned == ["<EMAIL_ADDRESS_1>", "<EMAIL_ADDRESS_2>"]
    first, second = PiiVaultEntry.objects.order_by("placeholder")
    assert _decrypts_with(old, first) and not _decrypts_with(new, first)
    assert _decrypts_with(new, second) and not _decrypts_with(old, second)

    assert vault.vault_entries_rotate() == 1
    assert vault.vault_entries_rotate() == 0  # nothing left under the old key
    vault_keys(new)  # the old key is dropped
    assert vault.vault_values(conversation_id=conversation_id) == {
        "<EMAIL_ADDRESS_1>": "ann@example.com",
        "<EMAIL_ADDRESS_2>": "bob@example.com",
    }
    assert vault.vault_placeholders_assign(
        conversation_id=conversation_id, values=[("EMAIL_ADDRESS", "ann@example.com")]
    ) == ["<EMAIL_ADDRESS_1>"]


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_file_is_created_0600_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        created = private_file_ensure(path=tmp_path / "key", generate=lambda: "s3cret")
    finally:
        os.umask(previous)
    assert (created.value, created.created, _mode(tmp_path / "key")) == ("s3cret", True, 0o600)
    again = private_file_ensure(path=tmp_path / "key", generate=lambda: "other")
    assert (again.value, again.created) == ("s3cret", False)
    assert list(tmp_path.iterdir()) == [tmp_path / "key"]  # no temporary file left behind


def test_a_key_file_an_older_version_left_readable_is_narrowed(tmp_path):
    (tmp_path / "key").write_text("old")
    (tmp_path / "key").chmod(0o644)
    assert private_file_ensure(path=tmp_path / "key", generate=lambda: "new").value == "old"
    assert _mode(tmp_path / "key") == 0o600


def test_processes_creating_the_key_file_at_once_agree_on_one_value(tmp_path):
    counter = iter(range(100))

    def start(_: int):
        return private_file_ensure(path=tmp_path / "key", generate=lambda: f"v{next(counter)}")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(start, range(16)))
    assert len({result.value for result in results}) == 1
    assert sum(result.created for result in results) == 1


def test_the_generated_secret_key_and_demo_shop_key_files_are_0600(db, tmp_path):
    result = _manage("check", umask=0, SUPPORTBOT_DATA_DIR=str(tmp_path), SECRET_KEY="", DEMOSHOP_API_KEY="")
    assert result.returncode == 0, result.stderr
    assert _mode(tmp_path / "secret_key") == 0o600 and _mode(tmp_path / "demoshop_api_key") == 0o600
    assert len((tmp_path / "secret_key").read_text()) >= 50
    assert len((tmp_path / "demoshop_api_key").read_text()) >= 24


def test_a_live_server_behind_a_tls_proxy_redirects_plain_http_and_sends_hsts_and_secure_cookies(db, tmp_path):
    import httpx

    from tests.conftest import free_port, start_daphne, stop

    port = free_port()
    process = start_daphne(port, tmp_path / "daphne.log", BEHIND_TLS_PROXY="true", PRELOAD_MODELS="false")
    try:
        base = f"http://127.0.0.1:{port}"
        plain = httpx.get(f"{base}/inbox/login/")
        assert plain.status_code == 301 and plain.headers["location"] == f"https://127.0.0.1:{port}/inbox/login/"
        assert httpx.get(f"{base}/healthz").status_code in (200, 503)  # the load balancer's probe is not redirected
        proxied = httpx.get(f"{base}/inbox/login/", headers={"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 200
        assert proxied.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
        assert "secure" in proxied.headers["set-cookie"].lower().split("; ")
    finally:
        stop(process)
