"""The widget's HTTP endpoints, called cross-origin from customer sites.

CORS is hand-written here rather than taken from django-cors-headers: the allowed origins are
per site and live in the database, and only these two endpoints are cross-origin.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from conversations.chat.selectors import (
    widget_origin_allowed_by_any_site,
    widget_site_public_config,
)
from conversations.chat.widget_sessions import (
    WidgetAccessError,
    parse_signed_user,
    widget_session_open,
    widget_site_for_origin,
)
from conversations.lib.languages import DEFAULT_LANGUAGE, language_from_tag
from conversations.lib.widget_texts import widget_greeting, widget_texts
from guardrails.limits import UNKNOWN_CLIENT
from supportbot.client_ip import request_client_ip

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16_384


def _cors(response: HttpResponse, origin: str | None, allowed: bool) -> HttpResponse:
    response["Vary"] = "Origin"
    if origin and allowed:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
    return response


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _localized(config: dict[str, Any], language: str) -> dict[str, Any]:
    """The site's config with the widget's texts in `language` (docs/protocol.md)."""
    return {
        **config,
        "greeting": widget_greeting(greeting=config["greeting"], language=language),
        "language": language,
        "texts": widget_texts(language=language),
    }


def _preflight(request: HttpRequest) -> HttpResponse:
    origin = request.headers.get("Origin")
    # A preflight carries no body, so the site is unknown: allow the origin only if some site
    # allows it. The real request is checked against its own site.
    return _cors(HttpResponse(status=204), origin, widget_origin_allowed_by_any_site(origin=origin))


@csrf_exempt
def widget_conversations(request: HttpRequest) -> HttpResponse:
    """POST /api/widget/conversations: open a conversation or resume the one the token proves."""
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method != "POST":
        return _error("method_not_allowed", "use POST", 405)
    if len(request.body) > MAX_BODY_BYTES:
        return _cors(_error("too_large", "request body is too large", 413), origin, False)
    try:
        body: Any = json.loads(request.body or b"{}")
    # RecursionError: "[[[[…" nested deeper than Python's parser allows, well within 16 KB.
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return _cors(_error("bad_request", "body must be JSON", 400), origin, False)
    if not isinstance(body, dict) or not isinstance(body.get("site_key"), str):
        return _cors(_error("bad_request", "site_key is required", 400), origin, False)
    client_ip = request_client_ip(request)
    if client_ip is None:  # per-IP limits cannot count this client: fail closed (conversations/client_ip.py)
        logger.warning("widget request refused: client address unknown (check TRUSTED_PROXY_COUNT)")
        return _cors(_error(UNKNOWN_CLIENT.code, UNKNOWN_CLIENT.message, 429), origin, False)
    try:
        session = widget_session_open(
            site_key=body["site_key"],
            origin=origin,
            conversation_id=body.get("conversation_id") if isinstance(body.get("conversation_id"), str) else None,
            token=body.get("token") if isinstance(body.get("token"), str) else None,
            user=parse_signed_user(body.get("user")),
            client_ip=client_ip,
            language=language_from_tag(body.get("language")) if body.get("language") is not None else None,
        )
    except WidgetAccessError as error:
        allowed = error.code not in ("forbidden_origin", "unknown_site")
        return _cors(_error(error.code, error.message, error.status), origin, allowed)

    conversation = session.conversation
    widget_language = conversation.widget_language or DEFAULT_LANGUAGE
    site = _localized(widget_site_public_config(site=conversation.site), widget_language)
    texts = site.pop("texts")
    site.pop("language")
    scheme = "wss" if request.is_secure() else "ws"
    socket_url = f"{scheme}://{request.get_host()}/ws/chat/{conversation.public_id}/"
    payload = {
        "conversation_id": str(conversation.public_id),
        "token": session.token,
        # v1 clients open ws_url as is; clients that send an `auth` first frame open socket_url, so
        # the token stays out of URLs (and out of proxies' access logs).
        "ws_url": f"{socket_url}?token={session.token}",
        "socket_url": socket_url,
        "resumed": session.resumed,
        "status": conversation.status,
        "site": site,
        # The widget's texts follow the page's language; the customer's language (the bot's and the
        # system messages') may differ once it is detected from what they write.
        "widget_language": widget_language,
        "language": conversation.language or widget_language,
        "texts": texts,
        "limits": {"max_message_chars": settings.CHAT_MAX_MESSAGE_CHARS},
    }
    return _cors(JsonResponse(payload, status=200 if session.resumed else 201), origin, True)


@csrf_exempt
def widget_config(request: HttpRequest) -> HttpResponse:
    """GET /api/widget/config?site_key=...: the launcher's look, before any conversation exists."""
    # Browsers leave Origin out of a same-origin GET: a page served by supportbot itself (the demo
    # host page, the help center) asks as supportbot's own origin.
    origin = request.headers.get("Origin") or f"{request.scheme}://{request.get_host()}"
    if request.method == "OPTIONS":
        return _preflight(request)
    try:
        site = widget_site_for_origin(site_key=request.GET.get("site_key", ""), origin=origin)
    except WidgetAccessError as error:
        return _cors(_error(error.code, error.message, error.status), origin, False)
    language = language_from_tag(request.GET.get("language"))
    return _cors(JsonResponse(_localized(widget_site_public_config(site=site), language)), origin, True)
