"""Attachment endpoints: the widget's upload (cross-origin, the conversation token in the form)
and the file itself (customer token or agent session). Views check access, call one service and
answer; the inbox's upload goes through its reply form (conversations/inbox/views.py)."""

from __future__ import annotations

import logging
from uuid import UUID

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from conversations.chat.attachments import attachment_extras, attachment_storage, attachment_upload
from conversations.chat.selectors import ChatDenied, chat_access_resolve
from conversations.flows.attachment_access import AttachmentDenied, attachment_for_download
from conversations.lib.attachment_files import REJECTED_STATUS, AttachmentRejected
from conversations.lib.attachment_links import attachment_urls, attachments_for_customer
from conversations.models import Attachment
from conversations.widget.views import _cors, _error, _preflight
from guardrails.limits import message_limits_check
from supportbot.client_ip import request_client_ip

logger = logging.getLogger(__name__)

# The file is shown by the browser itself, never as part of a page: nothing in it may run or load.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@csrf_exempt
def widget_attachment_upload(request: HttpRequest) -> HttpResponse:
    """POST /api/widget/attachments (multipart: conversation_id, token, file) -> the upload's id."""
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method != "POST":
        return _error("method_not_allowed", "use POST", 405)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # Refused before the body is read: the site's own, smaller limit is checked once it is known.
    if length > settings.ATTACHMENTS_MAX_UPLOAD_MB * 1024 * 1024:
        return _cors(_error("too_large", "the file is too large", 413), origin, False)
    upload = request.FILES.get("file")
    try:
        public_id = UUID(request.POST.get("conversation_id", ""))
    except ValueError:
        return _cors(_error("bad_request", "conversation_id is required", 400), origin, False)
    access = chat_access_resolve(public_id=public_id, token=request.POST.get("token"), origin=origin)
    if isinstance(access, ChatDenied):
        if access.reason == "forbidden_origin":
            return _cors(_error("forbidden_origin", "this origin may not use the widget", 403), origin, False)
        return _cors(_error("unauthorized", "the token is not valid for this conversation", 401), origin, False)
    if upload is None:
        return _cors(_error("bad_request", "a file is required", 400), origin, True)
    exceeded = message_limits_check(conversation_id=access.conversation_id, client_ip=request_client_ip(request))
    if exceeded is not None:
        response = _error(exceeded.code, exceeded.message, 429)
        response["Retry-After"] = str(max(1, round(exceeded.retry_after)))
        return _cors(response, origin, True)
    try:
        attachment = attachment_upload(
            conversation_id=access.conversation_id,
            stream=upload,
            size=upload.size,
            name=upload.name or "",
            uploader=Attachment.Uploader.CUSTOMER,
        )
    except AttachmentRejected as error:
        return _cors(_error(error.code, error.message, REJECTED_STATUS.get(error.code, 400)), origin, True)
    info = attachment_info(attachment)
    [info] = attachments_for_customer([info], customer_key=access.customer_key)
    return _cors(JsonResponse(info, status=201), origin, True)


def attachment_info(attachment: Attachment) -> dict:
    """The protocol's attachment object (docs/protocol.md): id, name, content_type, size, urls."""
    extras = attachment_extras(attachment)
    info = {key: extras[key] for key in ("id", "name", "content_type", "size")}
    info.update(attachment_urls(attachment_id=extras["id"], thumbnail=extras["thumbnail"]))
    return info


@require_GET
def attachment_file(request: HttpRequest, public_id: UUID) -> HttpResponseBase:
    return _serve(request, public_id, thumbnail=False)


@require_GET
def attachment_thumbnail(request: HttpRequest, public_id: UUID) -> HttpResponseBase:
    return _serve(request, public_id, thumbnail=True)


def _serve(request: HttpRequest, public_id: UUID, *, thumbnail: bool) -> HttpResponseBase:
    found = attachment_for_download(public_id=public_id, token=request.GET.get("token", ""), user=request.user)
    if isinstance(found, AttachmentDenied):
        return HttpResponse(status=found.status)
    name = found.thumbnail_name if thumbnail else found.storage_name
    if not name:
        return HttpResponse(status=404)
    try:
        handle = attachment_storage().open(name, "rb")
    except FileNotFoundError:
        logger.warning("attachment %s has no file in storage", found.public_id)
        return HttpResponse(status=404)
    # Images open in the browser; anything else (PDF) is only ever downloaded.
    response = FileResponse(
        handle,
        content_type="image/webp" if thumbnail else found.content_type,
        as_attachment=not found.is_image,
        filename=found.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, max-age=3600"
    response["Vary"] = "Cookie"
    # The customer's page is on another origin: its <img> may embed this response.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
