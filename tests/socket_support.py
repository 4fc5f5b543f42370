"""A widget socket as a browser opens it: channels' test communicator leaves out the peer address,
which the chat socket needs (per-network socket caps and limits refuse unknown clients)."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

from supportbot.asgi import application
from tests.conftest import ORIGIN

CLIENT_IP = "192.0.2.10"


def chat_communicator(
    path: str,
    *,
    origin: str | None = ORIGIN,
    client_ip: str | None = CLIENT_IP,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> WebsocketCommunicator:
    all_headers = [(b"origin", origin.encode())] if origin else []
    all_headers += headers or []
    comm = WebsocketCommunicator(application, path, headers=all_headers)
    if client_ip is not None:
        # The application has not run yet: it reads the scope on its first step.
        comm.scope["client"] = [client_ip, 50000]
    return comm
