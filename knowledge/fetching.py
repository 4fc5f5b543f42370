"""Fetching a document from an http(s) URL for `kb_import`: bounded in time and size, and only
from hosts the target policy allows, checked again on every redirect hop."""

from __future__ import annotations

import ipaddress
import posixpath
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from django.conf import settings

from supportbot.fetch_targets import (
    IPAddress,
    Resolver,
    TargetPolicy,
    TargetRefused,
    is_ip_literal,
    system_resolve,
    target_addresses_check,
    url_at_address,
)

FETCH_TIMEOUT_SECONDS = 20.0
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SUFFIX_BY_CONTENT_TYPE = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/plain": ".txt",
    "application/json": ".json",
}


class ImportFailure(ValueError):
    """One file, URL or JSON item that cannot be imported, with a reason fit for the operator."""


@dataclass(frozen=True)
class FetchedDocument:
    name: str
    suffix: str
    data: bytes


def fetch_policy() -> TargetPolicy:
    return TargetPolicy(
        allow_private=settings.KB_IMPORT_ALLOW_PRIVATE,
        private_hosts=frozenset(h.lower() for h in settings.KB_IMPORT_PRIVATE_HOSTS),
    )


def fetch_document(
    url: str,
    *,
    max_bytes: int,
    policy: TargetPolicy | None = None,
    resolve: Resolver = system_resolve,
    verify: ssl.SSLContext | None = None,
) -> FetchedDocument:
    """GET the URL, following up to MAX_REDIRECTS redirects by hand so each hop's host is
    resolved and checked before anything is sent to it. `verify`: the trust store for https
    (default: SSL_CERT_FILE / SSL_CERT_DIR if set, else certifi's, as httpx does)."""
    policy = policy or fetch_policy()
    path = unquote(urlsplit(url).path)
    stem, path_suffix = posixpath.splitext(posixpath.basename(path.rstrip("/")))
    current = url
    try:
        # trust_env=False: a proxy from the environment would resolve and connect on its own,
        # past the address check. The CA bundle variables still count (an intranet's own CA).
        with httpx.Client(
            timeout=FETCH_TIMEOUT_SECONDS,
            follow_redirects=False,
            trust_env=False,
            verify=verify or httpx.create_ssl_context(trust_env=True),
        ) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                response = _send_checked(client, url=current, policy=policy, resolve=resolve)
                try:
                    if response.status_code in _REDIRECT_STATUSES:
                        location = response.headers.get("location")
                        if not location:
                            raise ImportFailure(f"the server answered HTTP {response.status_code} without a Location")
                        current = urljoin(current, location)
                        continue
                    if response.status_code != 200:
                        raise ImportFailure(f"the server answered HTTP {response.status_code}")
                    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    data = bytearray()
                    # Streamed so a huge or endless response is cut off at the limit, not buffered whole.
                    for piece in response.iter_bytes():
                        data.extend(piece)
                        if len(data) > max_bytes:
                            raise ImportFailure(f"the document is larger than the {max_bytes:,}-byte limit")
                    break
                finally:
                    response.close()
            else:
                raise ImportFailure(f"more than {MAX_REDIRECTS} redirects")
    except TargetRefused as error:
        raise ImportFailure(str(error) if current == url else f"redirected to {current}: {error}") from None
    except httpx.HTTPError as error:
        raise ImportFailure(f"could not fetch it: {error.__class__.__name__}: {error}") from None
    suffix = _SUFFIX_BY_CONTENT_TYPE.get(content_type) or path_suffix.lower()
    if suffix not in {".html", ".htm", ".md", ".markdown", ".txt", ".json"}:
        raise ImportFailure(f"unsupported content type {content_type or '(none)'}; serve HTML, Markdown, text or JSON")
    if suffix == ".markdown":
        suffix = ".md"
    return FetchedDocument(name=stem or urlsplit(url).hostname or "page", suffix=suffix, data=bytes(data))


def _send_checked(client: httpx.Client, *, url: str, policy: TargetPolicy, resolve: Resolver) -> httpx.Response:
    """Send the GET to an address that passed the check, not to the host name: a second DNS
    lookup by the HTTP library could answer differently (DNS rebinding). The Host header and TLS
    server name (certificate check included) stay the URL's host."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise TargetRefused(f"refused to fetch {url[:200]}: only http(s) URLs with a host are fetched")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise TargetRefused(f"refused to fetch {url[:200]}: invalid port") from None
    host = parts.hostname
    addresses = target_addresses_check(host=host, port=port, policy=policy, resolve=resolve)
    default_port = parts.port in (None, _DEFAULT_PORTS[parts.scheme])
    host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
    extensions = {"sni_hostname": host} if parts.scheme == "https" and not is_ip_literal(host) else {}
    last_error: httpx.ConnectError | None = None
    for address in addresses:
        request = client.build_request(
            "GET",
            url_at_address(parts, address=address, port=port),
            headers={"Host": host_header, "Accept": "text/html, text/markdown, text/plain, application/json"},
            extensions=extensions,
        )
        try:
            response = client.send(request, stream=True)
        except httpx.ConnectError as error:
            last_error = error  # another of the host's addresses may answer
            continue
        _peer_check(response, expected=address)
        return response
    assert last_error is not None
    raise last_error


def _peer_check(response: httpx.Response, *, expected: IPAddress) -> None:
    """The socket really went to the checked address (httpcore reports the peer it connected to)."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and ipaddress.ip_address(str(peer[0]).split("%")[0]) != expected:
        response.close()
        raise TargetRefused(f"connected to {peer[0]}, not the checked address {expected}")
