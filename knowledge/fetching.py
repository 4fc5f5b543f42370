"""Fetching a document from an http(s) URL for `kb_import`: one request, bounded in time and size."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx

FETCH_TIMEOUT_SECONDS = 20.0
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


def fetch_document(url: str, *, max_bytes: int) -> FetchedDocument:
    path = unquote(urlsplit(url).path)
    stem, path_suffix = posixpath.splitext(posixpath.basename(path.rstrip("/")))
    try:
        with httpx.Client(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True, max_redirects=5) as client:
            with client.stream("GET", url, headers={"Accept": "text/html, text/markdown, text/plain, application/json"}) as response:
                if response.status_code != 200:
                    raise ImportFailure(f"the server answered HTTP {response.status_code}")
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                data = bytearray()
                # Streamed so a huge or endless response is cut off at the limit, not buffered whole.
                for piece in response.iter_bytes():
                    data.extend(piece)
                    if len(data) > max_bytes:
                        raise ImportFailure(f"the document is larger than the {max_bytes:,}-byte limit")
    except httpx.HTTPError as error:
        raise ImportFailure(f"could not fetch it: {error.__class__.__name__}: {error}") from None
    suffix = _SUFFIX_BY_CONTENT_TYPE.get(content_type) or path_suffix.lower()
    if suffix not in {".html", ".htm", ".md", ".markdown", ".txt", ".json"}:
        raise ImportFailure(f"unsupported content type {content_type or '(none)'}; serve HTML, Markdown, text or JSON")
    if suffix == ".markdown":
        suffix = ".md"
    return FetchedDocument(name=stem or urlsplit(url).hostname or "page", suffix=suffix, data=bytes(data))
