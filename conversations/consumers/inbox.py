"""The agent inbox's socket: /ws/inbox/?view=<filter>&conversation=<uuid>

Speaks htmx's ws extension: every frame sent is HTML whose top-level elements are swapped in
out-of-band by id. On connect (and on every reconnect) it sends a fresh snapshot of the list and
the open conversation, so an inbox that missed broadcasts while offline catches up by itself.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

from conversations import events
from conversations.async_db import db
from conversations.consumers.base import LoopOnlyConsumer
from conversations.inbox import rendering
from conversations.protocol import author_name
from conversations.selectors import INBOX_FILTERS
from conversations.services.agents import user_is_agent

# Many conversations changing at once re-render the list once per this many seconds.
LIST_REFRESH_DELAY = 0.15


class InboxConsumer(LoopOnlyConsumer):
    agent: Any = None
    conversation_public_id: UUID | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not await db(user_is_agent)(user):
            await self.close(code=4401)
            return
        self.agent = user
        query = parse_qs(self.scope.get("query_string", b"").decode())
        view = query.get("view", ["open"])[0]
        self.view = view if view in INBOX_FILTERS else "open"
        try:
            self.conversation_public_id = UUID(query.get("conversation", [""])[0])
        except ValueError:
            self.conversation_public_id = None
        self.rendered_seqs: set[int] = set()
        self.list_refresh: asyncio.Task | None = None

        await self.channel_layer.group_add(events.INBOX_GROUP, self.channel_name)
        if self.conversation_public_id:
            await self.channel_layer.group_add(events.conversation_group(self.conversation_public_id), self.channel_name)
        await self.accept()
        await self._send_snapshot()

    async def disconnect(self, code: int) -> None:
        if self.agent is None:
            return
        await self.channel_layer.group_discard(events.INBOX_GROUP, self.channel_name)
        if self.conversation_public_id:
            await self.channel_layer.group_discard(
                events.conversation_group(self.conversation_public_id), self.channel_name
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The composer sends its form over the socket (htmx ws-send) as the agent types: that
        is the agent's typing signal. Replies themselves go over HTTP POST."""
        if not self.conversation_public_id or not text_data:
            return
        try:
            payload = json.loads(text_data)
        except json.JSONDecodeError:
            return
        if isinstance(payload, dict) and "text" in payload:
            await events.publish_typing(
                public_id=self.conversation_public_id,
                role="agent",
                state=bool((payload.get("text") or "").strip()),
                author=author_name(self.agent),
                sender_channel=self.channel_name,
            )

    async def _send_snapshot(self) -> None:
        html = await db(rendering.render_list)(
            agent=self.agent, view=self.view, selected=self.conversation_public_id, oob=True
        )
        if self.conversation_public_id:
            parts, seqs = await db(rendering.render_conversation_parts)(public_id=self.conversation_public_id, oob=True)
            self.rendered_seqs = seqs
            html += parts
        await self.send(text_data=html)

    # Group events -------------------------------------------------------------------------

    async def inbox_changed(self, event: events.InboxChangedEvent) -> None:
        if self.list_refresh is None or self.list_refresh.done():
            self.list_refresh = asyncio.create_task(self._refresh_list_soon())

    async def _refresh_list_soon(self) -> None:
        await asyncio.sleep(LIST_REFRESH_DELAY)
        html = await db(rendering.render_list)(
            agent=self.agent, view=self.view, selected=self.conversation_public_id, oob=True
        )
        await self.send(text_data=html)

    async def chat_message(self, event: events.ChatMessageEvent) -> None:
        frame = event["message"]
        if frame["seq"] in self.rendered_seqs:
            return
        self.rendered_seqs.add(frame["seq"])
        html = await db(rendering.render_message_append)(frame=frame)
        await self.send(text_data=html + await db(rendering.render_typing)(role="customer", state=False, author=""))

    async def chat_typing(self, event: events.ChatTypingEvent) -> None:
        if event["sender_channel"] == self.channel_name:
            return
        html = await db(rendering.render_typing)(role=event["role"], state=event["state"], author=event["author"])
        await self.send(text_data=html)

    async def chat_delta(self, event: events.ChatDeltaEvent) -> None:
        return None  # agents see the bot's final message, not its streamed pieces

    async def chat_activity(self, event: events.ChatActivityEvent) -> None:
        return None

    async def chat_status(self, event: events.ChatStatusEvent) -> None:
        if self.conversation_public_id:
            await self.send(text_data=await db(rendering.render_header)(public_id=self.conversation_public_id))
