"""Websocket routes. The widget's socket checks its site's origins itself; the inbox's socket is
same-origin only and authenticated by the Django session."""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.urls import path

from conversations.core.echo import EchoConsumer
from conversations.inbox.consumer import InboxConsumer
from conversations.widget.consumer import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<uuid:conversation_id>/", ChatConsumer.as_asgi()),
    path("ws/inbox/", AllowedHostsOriginValidator(AuthMiddlewareStack(InboxConsumer.as_asgi()))),
]

if settings.BENCHMARK_ECHO_ENDPOINT:
    websocket_urlpatterns.append(path("ws/echo/", EchoConsumer.as_asgi()))
