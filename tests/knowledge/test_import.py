"""kb_import: good files import, each bad one is reported on its own, nothing is half-written."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Article

pytestmark = pytest.mark.django_db


def test_it_imports_the_good_and_reports_each_bad_file(tmp_path, capsys):
    (tmp_path / "returns.md").write_text("# Returns\n\nReturn within 30 days.")
    (tmp_path / "notes.txt").write_text("Plain text about gift cards.")
    (tmp_path / "empty.md").write_text("")
    (tmp_path / "latin1.md").write_bytes("Caf\xe9 menu".encode("latin-1"))
    (tmp_path / "broken.json").write_text("[{")
    (tmp_path / "many.json").write_text(
        json.dumps(
            [
                {"title": "Warranty", "body": "Two years.", "audience": "public", "tags": ["policy"]},
                {"title": "No body"},
                {"title": "Playbook", "body": "Escalate to tier 2.", "audience": "internal", "slug": "playbook"},
                {"title": "Again", "body": "dup", "slug": "warranty"},
                {"title": "Bad audience", "body": "x", "audience": "everyone"},
                {"title": "Bad link", "body": "x", "url": "javascript:alert(1)"},
            ]
        )
    )
    (tmp_path / "image.png").write_bytes(b"\x89PNG")

    call_command("kb_import", str(tmp_path), str(tmp_path / "image.png"))
    captured = capsys.readouterr()

    assert set(Article.objects.values_list("slug", flat=True)) == {"returns", "notes", "warranty", "playbook"}
    assert Article.objects.get(slug="playbook").audience == "internal"
    assert Article.objects.get(slug="returns").title == "Returns"
    for expected in [
        "the file is empty",
        "not UTF-8",
        "invalid JSON",
        "item 1: 'title' and 'body'",
        "duplicate slug 'warranty'",
        "item 4: audience",
        "item 5: url must be an http(s) URL",
        "unsupported file type .png",
    ]:
        assert expected in captured.err, expected


def test_it_fails_when_nothing_could_be_imported(tmp_path):
    (tmp_path / "empty.md").write_text("")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("kb_import", str(tmp_path / "empty.md"))


def test_it_imports_html_with_its_headings_and_without_scripts(tmp_path):
    (tmp_path / "warranty.html").write_text(
        "<html><head><title>Warranty terms</title><script>alert(1)</script></head><body><nav>Home | Shop</nav>"
        "<h2>Coverage</h2><p>Two years on <b>all</b> tents.<p>Unclosed paragraph"
        "<h2>Claims</h2><ul><li>Keep the receipt</li><li>Email us</li></ul></body></html>"
    )
    (tmp_path / "blank.html").write_text("<html><script>x()</script></html>")
    call_command("kb_import", str(tmp_path))
    article = Article.objects.get(slug="warranty")
    assert article.title == "Warranty terms"
    assert "## Coverage" in article.body and "## Claims" in article.body and "- Keep the receipt" in article.body
    assert "Two years on all tents." in article.body
    assert "alert" not in article.body and "Home | Shop" not in article.body
    assert not Article.objects.filter(slug="blank").exists()


@pytest.fixture
def static_http_server(tmp_path):
    """A real HTTP server over a temporary folder, like a company's help-centre site."""
    import functools
    import http.server
    import threading

    root = tmp_path / "site"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_it_imports_from_urls_as_drafts_and_reports_each_failing_one(static_http_server, capsys, settings):
    settings.KB_IMPORT_ALLOW_PRIVATE = True  # the test site is on 127.0.0.1, like an intranet help centre
    root, base = static_http_server
    (root / "shipping-times.html").write_text(
        "<html><head><title>Shipping times</title></head><body><h2>Europe</h2><p>Three to five days.</p></body></html>"
    )
    (root / "gift-cards.md").write_text("# Gift cards\n\nGift cards never expire.")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n")

    call_command(
        "kb_import",
        f"{base}/shipping-times.html",
        f"{base}/gift-cards.md",
        f"{base}/missing.html",
        f"{base}/logo.png",
        "http://127.0.0.1:9/unreachable.html",
    )
    captured = capsys.readouterr()

    shipping = Article.objects.get(slug="shipping-times")
    assert shipping.title == "Shipping times" and "## Europe" in shipping.body
    assert shipping.source_url == f"{base}/shipping-times.html"
    assert shipping.status == Article.Status.DRAFT  # fetched text waits for an editor
    assert Article.objects.get(slug="gift-cards").title == "Gift cards"
    assert Article.objects.count() == 2
    assert "missing.html: the server answered HTTP 404" in captured.err
    assert "logo.png: unsupported content type image/png" in captured.err
    assert "unreachable.html: could not fetch it: ConnectError" in captured.err
    assert "2 article(s) from URLs imported as drafts" in captured.out
