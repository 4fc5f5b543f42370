"""A terminal client for the widget protocol: talk to the bot (or an agent) from a shell.

    python manage.py chat [--as CUSTOMER_ID] [--site SITE_KEY] [--url http://127.0.0.1:8000]

It opens a conversation through POST /api/widget/conversations exactly like the widget (signing
--as with the site's identity secret, as a host site's server would), connects to the socket,
prints streamed replies as they arrive, shows action cards and lets you confirm them with
`/confirm N` or `/cancel N`. `/human` asks for a person, `/quit` leaves.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversations.lib.identity import identity_expiry_default, identity_signature
from conversations.models import WidgetSite


class Command(BaseCommand):
    help = "Chat with the bot from the terminal over the widget protocol (for developers and operators)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--as", dest="customer", help="sign in as this customer id (the host site's user id)")
        parser.add_argument("--site", default=settings.DEMO_SITE_KEY, help="site key (default: the demo site)")
        parser.add_argument("--url", default=f"http://127.0.0.1:{settings.PORT}", help="where supportbot runs")

    def handle(self, *args, **options) -> None:
        site = WidgetSite.objects.filter(key=options["site"]).first()
        if site is None:
            raise CommandError(f"no site with key {options['site']!r}")
        if not site.allowed_origins:
            raise CommandError(f"site {site.key!r} allows no origin; add one in the admin")
        body: dict = {"site_key": site.key}
        if options["customer"]:
            expires = identity_expiry_default()
            body["user"] = {
                "id": options["customer"],
                "expires": expires,
                "signature": identity_signature(
                    secret=site.identity_secret, user_id=options["customer"], expires=expires
                ),
            }
        origin = site.allowed_origins[0]
        try:
            response = httpx.post(
                f"{options['url']}/api/widget/conversations", json=body, headers={"Origin": origin}, timeout=10
            )
        except httpx.HTTPError as error:
            raise CommandError(f"cannot reach {options['url']}: {error}; is `make run` running?") from None
        if response.status_code >= 400:
            raise CommandError(f"the server refused the conversation: {response.text}")
        session = response.json()
        self.stdout.write(
            f"Connected to {site.name} as {options['customer'] or 'an anonymous visitor'}. "
            "Type a message; /confirm N, /cancel N, /human, /quit."
        )
        asyncio.run(self._talk(session["ws_url"], origin))

    async def _talk(self, ws_url: str, origin: str) -> None:
        import websockets
        from websockets.typing import Origin

        actions: list[str] = []
        async with websockets.connect(ws_url, origin=Origin(origin)) as socket:
            await socket.send(json.dumps({"type": "resume", "after_seq": 0}))
            receiver = asyncio.create_task(
                self._receive(socket, actions, base_url=ws_url.split("/ws/")[0].replace("ws", "http", 1))
            )
            loop = asyncio.get_running_loop()
            try:
                while True:
                    line = await loop.run_in_executor(None, sys.stdin.readline)
                    if not line or line.strip() == "/quit":
                        break
                    frame = self._frame(line.strip(), actions)
                    if frame:
                        await socket.send(json.dumps(frame))
            finally:
                receiver.cancel()

    def _frame(self, line: str, actions: list[str]) -> dict | None:
        if not line:
            return None
        if line == "/human":
            return {"type": "request_human"}
        for command, decision in (("/confirm", "confirm"), ("/cancel", "cancel")):
            if line.startswith(command):
                try:
                    return {"type": "action", "action_id": actions[int(line.split()[1]) - 1], "decision": decision}
                except (IndexError, ValueError):
                    self.stdout.write(f"usage: {command} N (N from the [action N] list)")
                    return None
        return {"type": "message", "client_id": str(uuid.uuid4()), "text": line}

    async def _receive(self, socket, actions: list[str], *, base_url: str) -> None:
        streamed = ""
        async for raw in socket:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "delta":
                if not streamed:
                    self.stdout.write("bot: ", ending="")
                streamed += frame["text"]
                self.stdout.write(frame["text"], ending="")
            elif kind == "message" and frame["role"] != "customer":
                if streamed:
                    # The stored message supersedes the streamed text; show it only if it differs.
                    self.stdout.write("" if frame["text"] == streamed else f"\n(revised) bot: {frame['text']}")
                    streamed = ""
                else:
                    self.stdout.write(f"{frame.get('author') or frame['role']}: {frame['text']}")
                for citation in frame.get("citations") or []:
                    url = citation.get("url") or ""
                    self.stdout.write(
                        f"    source: {citation['title']} {base_url + url if url.startswith('/') else url}"
                    )
                action = frame.get("action")
                if action:
                    if action["action_id"] not in actions:
                        actions.append(action["action_id"])
                    self.stdout.write(
                        f"    [action {actions.index(action['action_id']) + 1}] {action['summary']} "
                        f"({action['status']})"
                    )
            elif kind == "status":
                self.stdout.write(f"-- conversation is now {frame['conversation_status']}")
            elif kind == "error":
                self.stdout.write(f"-- error {frame['code']}: {frame['message']}")
            self.stdout.flush()  # piped output (scripts, tests) must not wait for a buffer to fill
