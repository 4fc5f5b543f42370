"""Startup checks and secret files the settings need: where the demo may run, the vault's keys,
and files only this user may read.

Kept out of base.py so each rule is a plain function the tests call with the values they want,
without reloading the settings.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DEFAULT_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

# Deploy checks that cannot apply to the loopback demo, silenced there only: it is plain HTTP
# on this machine, so there is no TLS to redirect to or to mark cookies for, and an HSTS header
# would pin 127.0.0.1 to https in the browser for every other local app.
LOOPBACK_DEMO_SILENCED_CHECKS = ["security.W004", "security.W008", "security.W012", "security.W016"]


def host_is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine reaches: localhost, 127.0.0.0/8, ::1.
    An ALLOWED_HOSTS entry may carry brackets ([::1]) or a leading dot (.localhost)."""
    name = host.strip().lower().lstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def demo_is_loopback_only(*, bind_host: str, allowed_hosts: list[str]) -> bool:
    return host_is_loopback(bind_host) and all(host_is_loopback(host) for host in allowed_hosts)


def demo_exposure_check(*, demo_mode: bool, demo_public: bool, bind_host: str, allowed_hosts: list[str]) -> None:
    """Demo mode creates logins whose names are published and serves the demo shop's API: it may
    run on loopback by default, anywhere else only when DEMO_PUBLIC says so on purpose."""
    if not demo_mode or demo_public or demo_is_loopback_only(bind_host=bind_host, allowed_hosts=allowed_hosts):
        return
    exposed = []
    if not host_is_loopback(bind_host):
        exposed.append(f"BIND_HOST={bind_host}")
    outside = [host for host in allowed_hosts if not host_is_loopback(host)]
    if outside:
        exposed.append(f"ALLOWED_HOSTS={','.join(allowed_hosts)}")
    raise ImproperlyConfigured(
        f"DEMO_MODE: demo mode (on by default) with {' and '.join(exposed)} would expose the demo accounts "
        "and the demo shop beyond this machine. For a real deployment set DEMO_MODE=false (and PII_VAULT_KEY); "
        f"for the local demo keep BIND_HOST=127.0.0.1 and ALLOWED_HOSTS={','.join(DEFAULT_ALLOWED_HOSTS)}; "
        "to show the demo to other machines on purpose set DEMO_PUBLIC=true."
    )


def vault_keys_parse(value: str | None, *, demo_mode: bool) -> list[str]:
    """PII_VAULT_KEY: comma-separated Fernet keys, newest first (it encrypts; all of them decrypt,
    so a key can be rotated without losing what the older one encrypted). Required outside demo
    mode: a key derived from SECRET_KEY would make rotating SECRET_KEY lose every vaulted value."""
    from cryptography.fernet import Fernet

    keys = [key.strip() for key in (value or "").split(",") if key.strip()]
    if not keys:
        if demo_mode:
            return []
        raise ImproperlyConfigured(
            "PII_VAULT_KEY: required when DEMO_MODE is off. Generate one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            raise ImproperlyConfigured(
                f"PII_VAULT_KEY: key {position} of {len(keys)} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    if len(set(keys)) != len(keys):
        raise ImproperlyConfigured("PII_VAULT_KEY: the same key is listed twice")
    return keys


@dataclass(frozen=True)
class PrivateFile:
    value: str
    created: bool


def private_file_ensure(*, path: Path, generate: Callable[[], str]) -> PrivateFile:
    """Read a secret kept in a file, creating it first when missing.

    The value is written to a temporary file opened with mode 0600 (no window in which the
    umask's mode applies), then linked into place: link fails if the file exists, so two
    processes starting at once agree on one value and neither reads a half-written file. An
    existing file that an older version left readable to others is narrowed to 0600.
    """
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            value = generate()
            with os.fdopen(descriptor, "w") as file:
                file.write(value)
            try:
                os.link(temporary, path)
                return PrivateFile(value=value, created=True)
            except FileExistsError:
                pass  # another process won the race: use its value
        finally:
            temporary.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return PrivateFile(value=path.read_text().strip(), created=False)
