"""kb_import fetches only from hosts it may reach: no loopback, private or link-local targets
(cloud metadata) on any redirect hop, unless an intranet is allowed on purpose."""

from __future__ import annotations

import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.core.management import CommandError, call_command

from knowledge.fetching import ImportFailure, fetch_document
from knowledge.models import Article
from supportbot.fetch_targets import TargetPolicy, address_refusal

pytestmark = pytest.mark.django_db


@dataclass
class Site:
    """A real HTTP server answering from a route table and recording each request it gets."""

    base: str
    port: int
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def page(self, path: str, body: str, content_type: str = "text/markdown") -> None:
        self.routes[path] = (200, {"Content-Type": content_type}, body.encode())

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = (status, {"Location": location}, b"")


def _serve() -> Iterator[Site]:
    site: Site

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            site.requests.append((self.path, self.headers.get("Host", "")))
            status, headers, body = site.routes.get(self.path, (404, {}, b"not here"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    site = Site(base=f"http://127.0.0.1:{port}", port=port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def help_site() -> Iterator[Site]:
    yield from _serve()


@pytest.fixture
def internal_site() -> Iterator[Site]:
    """Stands for a service inside the network that must never be reached through an import."""
    yield from _serve()


def test_it_refuses_a_loopback_url_when_private_targets_are_not_allowed(help_site, settings, capsys):
    settings.KB_IMPORT_ALLOW_PRIVATE = False
    help_site.page("/returns.md", "# Returns\n\nThirty days.")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("kb_import", f"{help_site.base}/returns.md", f"http://localhost:{help_site.port}/returns.md")
    err = capsys.readouterr().err
    assert f"{help_site.base}/returns.md: refused to fetch from 127.0.0.1: 127.0.0.1 is a loopback address" in err
    assert f"localhost:{help_site.port}/returns.md: refused to fetch from localhost:" in err  # resolved, then refused
    assert help_site.requests == []
    assert not Article.objects.exists()


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{internal}/admin",
        "http://localhost:{internal}/admin",
        "http://[::ffff:127.0.0.1]:{internal}/admin",
        "http://[::ffff:7f00:1]:{internal}/admin",
    ],
)
def test_it_refuses_a_redirect_from_an_allowed_host_to_a_loopback_one(
    help_site, internal_site, settings, capsys, target
):
    settings.KB_IMPORT_ALLOW_PRIVATE = False
    settings.KB_IMPORT_PRIVATE_HOSTS = [f"127.0.0.1:{help_site.port}"]  # only the help site is allowed
    internal_site.page("/admin", "# Internal\n\nsecrets")
    location = target.format(internal=internal_site.port)
    help_site.redirect("/moved.md", location)

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("kb_import", f"{help_site.base}/moved.md")

    err = capsys.readouterr().err
    assert f"redirected to {location}: refused to fetch from" in err and "loopback address" in err
    assert help_site.requests == [("/moved.md", f"127.0.0.1:{help_site.port}")]
    assert internal_site.requests == []
    assert not Article.objects.exists()


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fe80::a9fe:a9fe]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://0.0.0.0:{internal}/admin",
    ],
)
def test_it_refuses_a_redirect_to_the_metadata_service_even_with_private_targets_allowed(
    help_site, internal_site, settings, capsys, location
):
    settings.KB_IMPORT_ALLOW_PRIVATE = True
    location = location.format(internal=internal_site.port)
    help_site.redirect("/faq.md", location, status=301)

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("kb_import", f"{help_site.base}/faq.md")

    err = capsys.readouterr().err
    assert f"redirected to {location}: refused to fetch from" in err
    assert "link-local address" in err or "unspecified address" in err
    assert internal_site.requests == []


def test_it_refuses_a_redirect_to_a_non_http_scheme(help_site, settings, capsys):
    settings.KB_IMPORT_ALLOW_PRIVATE = True
    help_site.redirect("/faq.md", "file:///etc/passwd")
    with pytest.raises(CommandError):
        call_command("kb_import", f"{help_site.base}/faq.md")
    err = capsys.readouterr().err
    assert "redirected to file:///etc/passwd: refused to fetch file:///etc/passwd: only http(s) URLs" in err


def test_it_follows_allowed_redirects_and_stops_at_the_hop_limit(help_site, settings, capsys):
    settings.KB_IMPORT_ALLOW_PRIVATE = True
    help_site.redirect("/old/returns.md", "/new/returns.md", status=301)
    help_site.redirect("/new/returns.md", f"{help_site.base}/returns.md", status=307)
    help_site.page("/returns.md", "# Returns\n\nThirty days.")
    for n in range(7):
        help_site.redirect(f"/loop{n}.md", f"/loop{n + 1}.md")

    call_command("kb_import", f"{help_site.base}/old/returns.md", f"{help_site.base}/loop0.md")

    article = Article.objects.get()
    assert article.title == "Returns" and article.status == Article.Status.DRAFT
    assert "loop0.md: more than 5 redirects" in capsys.readouterr().err
    assert [path for path, _ in help_site.requests if path.startswith("/loop")] == [f"/loop{n}.md" for n in range(6)]


def test_it_connects_to_the_address_it_checked_and_sends_the_host_name(help_site):
    """The host is resolved once per hop and the request goes to that address, so a second,
    different DNS answer (rebinding) never gets a connection; the server still sees its name."""
    help_site.page("/returns.md", "# Returns\n\nThirty days.")
    lookups: list[str] = []

    def rebinding_resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"] if len(lookups) == 1 else ["169.254.169.254"]

    document = fetch_document(
        f"http://help.intranet.test:{help_site.port}/returns.md",
        max_bytes=10_000,
        policy=TargetPolicy(private_hosts=frozenset({"help.intranet.test"})),
        resolve=rebinding_resolver,
    )

    assert document.data == b"# Returns\n\nThirty days."
    assert lookups == ["help.intranet.test"]
    assert help_site.requests == [("/returns.md", f"help.intranet.test:{help_site.port}")]


def test_it_refuses_a_host_when_any_of_its_addresses_is_private():
    refusal = r"refused to fetch from help\.example\.com: 10\.0\.0\.5 is a private address"
    with pytest.raises(ImportFailure, match=refusal):
        fetch_document(
            "https://help.example.com/faq.html",
            max_bytes=10_000,
            policy=TargetPolicy(),
            resolve=lambda host, port: ["93.184.216.34", "10.0.0.5"],
        )


@pytest.mark.parametrize(
    ("address", "refused", "refused_when_private_allowed"),
    [
        ("93.184.216.34", None, None),
        ("2606:4700:4700::1111", None, None),
        ("::ffff:8.8.8.8", None, None),
        ("127.0.0.1", "loopback", None),
        ("127.8.9.10", "loopback", None),
        ("::1", "loopback", None),
        ("10.1.2.3", "private", None),
        ("172.16.0.1", "private", None),
        ("192.168.1.1", "private", None),
        ("100.64.0.1", "private", None),
        ("fc00::1", "private", None),
        ("fd12:3456::1", "private", None),
        ("::ffff:127.0.0.1", "loopback", None),
        ("::ffff:10.0.0.1", "private", None),
        ("2002:7f00:1::1", "loopback", None),
        ("169.254.169.254", "link-local", "link-local"),
        ("fe80::1", "link-local", "link-local"),
        ("::ffff:169.254.169.254", "link-local", "link-local"),
        ("0.0.0.0", "unspecified", "unspecified"),
        ("::", "unspecified", "unspecified"),
        ("224.0.0.1", "multicast", "multicast"),
        ("ff02::1", "multicast", "multicast"),
        ("240.0.0.1", "reserved", "reserved"),
        ("255.255.255.255", "reserved", "reserved"),
    ],
)
def test_it_classifies_addresses_ipv4_ipv6_and_mapped(address, refused, refused_when_private_allowed):
    ip = ipaddress.ip_address(address)
    for allow_private, expected in ((False, refused), (True, refused_when_private_allowed)):
        reason = address_refusal(address=ip, allow_private=allow_private)
        if expected is None:
            assert reason is None, (address, allow_private, reason)
        else:
            assert reason is not None and f"{expected} address" in reason, (address, allow_private, reason)


@pytest.mark.parametrize(
    ("entry", "host", "port", "allowed"),
    [
        ("wiki.intranet", "wiki.intranet", 443, True),
        ("wiki.intranet", "WIKI.intranet", 8080, True),
        ("wiki.intranet:8080", "wiki.intranet", 8080, True),
        ("wiki.intranet:8080", "wiki.intranet", 8081, False),
        ("[fd00::5]:8443", "fd00::5", 8443, True),
        ("[fd00::5]:8443", "[fd00::5]", 8443, True),
        ("fd00::5", "fd00::5", 80, True),
        ("wiki.intranet", "other.intranet", 443, False),
    ],
)
def test_it_lets_only_the_listed_private_hosts_through(entry, host, port, allowed):
    assert TargetPolicy(private_hosts=frozenset({entry})).allows_private(host=host, port=port) is allowed


@pytest.fixture
def tls_help_site(tmp_path) -> Iterator[tuple[int, ssl.SSLContext]]:
    """An HTTPS server on 127.0.0.1 whose certificate names help.intranet.test only, and a client
    context that trusts that certificate."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "help.intranet.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("help.intranet.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    site = Site(base="", port=0)
    site.page("/returns.md", "# Returns\n\nThirty days.")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    server = _https_server(site, server_context)
    client_context = ssl.create_default_context(cafile=str(cert_file))
    yield server.server_address[1], client_context
    server.shutdown()
    server.server_close()


def _https_server(site: Site, context: ssl.SSLContext) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            status, headers, body = site.routes.get(self.path, (404, {}, b"not here"))
            self.send_response(status)
            for header, value in headers.items():
                self.send_header(header, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_it_checks_the_certificate_against_the_host_name_while_connecting_to_the_address(tls_help_site):
    port, trust = tls_help_site
    policy = TargetPolicy(private_hosts=frozenset({"help.intranet.test", "impostor.intranet.test"}))
    to_loopback = lambda host, port: ["127.0.0.1"]  # noqa: E731

    document = fetch_document(
        f"https://help.intranet.test:{port}/returns.md",
        max_bytes=10_000,
        policy=policy,
        resolve=to_loopback,
        verify=trust,
    )
    assert document.data == b"# Returns\n\nThirty days."

    with pytest.raises(ImportFailure, match="could not fetch it: ConnectError: .*(certificate|hostname|match)"):
        fetch_document(
            f"https://impostor.intranet.test:{port}/returns.md",
            max_bytes=10_000,
            policy=policy,
            resolve=to_loopback,
            verify=trust,
        )
