"""Websocket routes. The widget's socket checks its site's origins itself; the inbox's socket is
same-origin only and authenticated by the Django session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.urls import path

from conversations.core.echo import EchoConsumer
from conversations.inbox.consumer import InboxConsumer
from conversations.widget.consumer import ChatConsumer

if TYPE_CHECKING:
    from channels.routing import URLRouter, _ExtendedURLPattern
    from channels.utils import _ChannelApplication


def _socket(route: str, app: _ChannelApplication) -> _ExtendedURLPattern:
    """Channels routes ASGI apps through Django's path(), which django-stubs types for views only;
    the route list is typed as what channels' URLRouter takes."""
    return path(route, app)  # type: ignore[arg-type,return-value]


websocket_urlpatterns: list[_ExtendedURLPattern | URLRouter] = [
    _socket("ws/chat/<uuid:conversation_id>/", ChatConsumer.as_asgi()),
    _socket("ws/inbox/", AllowedHostsOriginValidator(AuthMiddlewareStack(InboxConsumer.as_asgi()))),
]

if settings.BENCHMARK_ECHO_ENDPOINT:
    websocket_urlpatterns.append(_socket("ws/echo/", EchoConsumer.as_asgi()))
