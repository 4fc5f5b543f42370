"""The one module that sends webhook requests (the seam tests replace with a real local receiver).

The request goes to an address that passed webhooks/targets.py, not to the host name: a second
DNS lookup by the HTTP library could answer differently (DNS rebinding). The Host header and the
TLS server name (certificate check included) stay the URL's host. Redirects are not followed (a
3xx is a failed attempt): following one would send the signed body somewhere nobody configured.
Hand-written after knowledge/fetching.py's GET, since httpx has no hook to pin the address.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from dataclasses import dataclass
from functools import lru_cache

import httpx
from django.conf import settings

from supportbot.fetch_targets import IPAddress, TargetRefused, is_ip_literal, url_at_address
from webhooks.targets import DEFAULT_PORTS, target_resolve

USER_AGENT = "supportbot-webhooks/1"
# Enough of the answer to log why a receiver refused; the rest is never read.
_MAX_RESPONSE_BYTES = 2048


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_post(*, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
    """POST the body; never raises for network trouble or a refused target (the result says why)."""
    started = time.monotonic()

    def result(status: int | None, error: str) -> SendResult:
        return SendResult(status_code=status, error=error[:300], duration_ms=(time.monotonic() - started) * 1000)

    try:
        target = target_resolve(url)
    except TargetRefused as error:
        return result(None, str(error))
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    default_port = target.parts.port in (None, DEFAULT_PORTS[target.parts.scheme])
    host_header = (f"[{target.host}]" if ":" in target.host else target.host) + (
        "" if default_port else f":{target.port}"
    )
    extensions = (
        {"sni_hostname": target.host} if target.parts.scheme == "https" and not is_ip_literal(target.host) else {}
    )
    last_error = "no address answered"
    # trust_env=False: a proxy from the environment would resolve and connect on its own, past the check.
    with httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        verify=_ssl_context() if target.parts.scheme == "https" else False,
    ) as client:
        for address in target.addresses:
            request = client.build_request(
                "POST",
                url_at_address(target.parts, address=address, port=target.port),
                content=body,
                headers={**headers, "Host": host_header, "Content-Type": "application/json", "User-Agent": USER_AGENT},
                extensions=extensions,
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError as error:
                last_error = f"connection failed: {error}"
                continue  # another of the host's addresses may answer
            except httpx.TimeoutException:
                return result(None, f"no answer within {timeout:g} s")
            except httpx.HTTPError as error:
                return result(None, f"{error.__class__.__name__}: {error}")
            try:
                if not _peer_is(response, expected=address):
                    return result(None, f"connected to another address than the checked {address}")
                _drain(response, deadline=started + timeout)
                if 200 <= response.status_code < 300:
                    return result(response.status_code, "")
                return result(response.status_code, f"HTTP {response.status_code}")
            except httpx.HTTPError as error:
                return result(response.status_code, f"HTTP {response.status_code}, then {error.__class__.__name__}")
            finally:
                response.close()
    return result(None, last_error)


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """Loaded once per process (reading the CA bundle costs more than a request). The CA bundle
    variables (SSL_CERT_FILE / SSL_CERT_DIR) still count, for a receiver behind an intranet CA."""
    return httpx.create_ssl_context(trust_env=True)


def _drain(response: httpx.Response, *, deadline: float) -> None:
    """Read a little of the answer so the connection closes cleanly; a receiver that streams forever is cut off."""
    read = 0
    for piece in response.iter_raw():
        read += len(piece)
        if read >= _MAX_RESPONSE_BYTES or time.monotonic() > deadline:
            return


def _peer_is(response: httpx.Response, *, expected: IPAddress) -> bool:
    """The socket really went to the checked address (httpcore reports the peer it connected to)."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    return not peer or ipaddress.ip_address(str(peer[0]).split("%")[0]) == expected
