"""The metrics page's export download: the rows of conversations/inbox/exports.py, streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from conversations.inbox.exports import EXPORT_FORMATS, ExportForm, export_lines
from conversations.inbox.views import supervisor_required

# Lines joined into one body chunk: a few hundred rows per write instead of one tiny write each.
LINES_PER_CHUNK = 500


def _next_chunk(lines: Iterator[str]) -> bytes:
    parts = []
    for line in lines:
        parts.append(line)
        if len(parts) == LINES_PER_CHUNK:
            break
    return "".join(parts).encode()


def _sync_chunks(lines: Iterator[str]) -> Iterator[bytes]:
    """For WSGI (Django's test client): production serves HTTP through ASGI only."""
    while chunk := _next_chunk(lines):
        yield chunk


async def _async_chunks(lines: Iterator[str]) -> AsyncIterator[bytes]:
    # Under ASGI, Django reads a plain iterator into a list before sending it, which would load the
    # whole export. Each chunk is pulled in the request's thread (thread_sensitive), where the
    # database connection holding the server-side cursor lives.
    pull = sync_to_async(_next_chunk, thread_sensitive=True)
    while chunk := await pull(lines):
        yield chunk


@require_GET
@supervisor_required
def metrics_export_view(request: HttpRequest) -> HttpResponseBase:
    form = ExportForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(f"Cannot export: {form.error_text()}", content_type="text/plain; charset=utf-8")
    export = form.export_request()
    lines = export_lines(export)
    body = _async_chunks(lines) if isinstance(request, ASGIRequest) else _sync_chunks(lines)
    response = StreamingHttpResponse(body, content_type=EXPORT_FORMATS[export.format])
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
