"""The agent workspace's socket: /ws/inbox/?view=<filter>&queue=<id>&q=<search>&conversation=<uuid>

Speaks htmx's ws extension: every frame sent is HTML whose top-level elements are swapped in
out-of-band by id. On connect (and on every reconnect) it sends a fresh snapshot of the list and
the open conversation, so a workspace that missed broadcasts while offline catches up by itself.
While open it is also the agent's presence heartbeat and marks the conversation as being viewed.

Access is re-checked on every event, not only on connect: an agent removed from the team (or
deactivated) is disconnected, and one who may no longer see the open conversation (it moved to a
queue they do not serve, or to a colleague) leaves its groups and gets no more of its events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

from django.contrib.auth import get_user_model

from conversations.core import events
from conversations.core.async_db import db
from conversations.core.people import user_is_agent
from conversations.core.protocol import author_name
from conversations.core.realtime_recovery import INFRASTRUCTURE_ERRORS, retry_until_done
from conversations.core.sockets import LoopOnlyConsumer
from conversations.handoff.presence import agent_heartbeat
from conversations.inbox import rendering, viewers
from conversations.inbox.selectors import ListQuery, inbox_conversation, visible_conversations

# Many conversations changing at once re-render the list once per this many seconds.
LIST_REFRESH_DELAY = 0.15
CLOSE_NOT_AN_AGENT = 4401
# Static text, no user data: replaces the transcript of a conversation the agent lost access to.
NO_LONGER_VISIBLE_HTML = (
    '<div id="transcript" class="transcript" role="log" hx-swap-oob="true">'
    '<p class="empty">You can no longer see this conversation.</p></div>'
)


def agent_access_now(*, agent_id: int, public_id: UUID | None) -> tuple[Any | None, bool]:
    """The agent as they are now (None once they are no longer an active agent), and whether
    they may see the conversation `public_id`."""
    agent = get_user_model().objects.filter(pk=agent_id).first()
    if agent is None or not user_is_agent(agent):
        return None, False
    visible = public_id is not None and visible_conversations(agent=agent).filter(public_id=public_id).exists()
    return agent, visible


class InboxConsumer(LoopOnlyConsumer):
    agent: Any = None
    conversation_public_id: UUID | None = None
    revoked: bool = False  # no longer an agent: closed, every further event is ignored
    catch_up: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not await db(user_is_agent)(user):
            await self.close(code=4401)
            return
        self.agent = user
        query = {k: v[0] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        self.list_query = ListQuery.from_params(query)
        try:
            public_id = UUID(query.get("conversation", ""))
        except ValueError:
            public_id = None
        # An agent outside the conversation's queues gets the list, never the conversation.
        if public_id and await db(inbox_conversation)(public_id=public_id, agent=user) is not None:
            self.conversation_public_id = public_id
        self.rendered_seqs: set[int] = set()
        self.list_refresh: asyncio.Task | None = None

        await self.channel_layer.group_add(events.INBOX_GROUP, self.channel_name)
        if self.conversation_public_id:
            await self.channel_layer.group_add(
                events.conversation_group(self.conversation_public_id), self.channel_name
            )
            await self.channel_layer.group_add(
                events.agent_conversation_group(self.conversation_public_id), self.channel_name
            )
        await self.accept()
        await self._send_snapshot()
        self.closing = asyncio.Event()
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def dispatch(self, message: dict[str, Any]) -> None:
        try:
            await super().dispatch(message)
        except INFRASTRUCTURE_ERRORS:
            if message["type"].startswith("websocket."):
                raise  # connecting or leaving: the client's reconnect (and its snapshot) covers it
            # An event this tab could not render while Postgres was away: the socket stays, and
            # a fresh snapshot follows once the database answers.
            self._catch_up()

    def _catch_up(self) -> None:
        if self.catch_up is None or self.catch_up.done():
            self.catch_up = asyncio.create_task(retry_until_done(self._send_snapshot, what="inbox catch-up"))

    async def disconnect(self, code: int) -> None:
        if self.catch_up is not None:
            self.catch_up.cancel()
        if self.agent is None:
            return
        if getattr(self, "heartbeat", None):
            # Let a beat in progress finish first: cancelling would leave its database write
            # running in a thread, and it could mark this tab as viewing after we said it left.
            self.closing.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.heartbeat, timeout=5)
        await self.channel_layer.group_discard(events.INBOX_GROUP, self.channel_name)
        if self.conversation_public_id:
            await self.channel_layer.group_discard(
                events.conversation_group(self.conversation_public_id), self.channel_name
            )
            await self.channel_layer.group_discard(
                events.agent_conversation_group(self.conversation_public_id), self.channel_name
            )
            await db(viewers.viewer_left)(public_id=self.conversation_public_id, agent_id=self.agent.pk)
            await events.publish_viewers_changed(public_id=self.conversation_public_id)

    async def _heartbeat(self) -> None:
        """Presence and "viewing" stay fresh while the tab is open; they go stale by themselves
        when the tab (or the whole process) goes away."""
        first = True
        while not self.closing.is_set():
            with contextlib.suppress(Exception):  # a missed beat only delays presence; never kill the socket
                if await db(agent_heartbeat)(agent=self.agent):
                    await self.send(text_data=await db(rendering.render_presence)(agent=self.agent))
                if self.conversation_public_id:
                    await db(viewers.viewer_seen)(
                        public_id=self.conversation_public_id, agent_id=self.agent.pk, name=author_name(self.agent)
                    )
                    if first:
                        await events.publish_viewers_changed(public_id=self.conversation_public_id)
                first = False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.closing.wait(), timeout=viewers.VIEWER_HEARTBEAT_SECONDS)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The composer sends its form over the socket (htmx ws-send) as the agent types: that
        is the agent's typing signal (not in note mode). Replies themselves go over HTTP POST."""
        if not self.conversation_public_id or not text_data:
            return
        try:
            payload = json.loads(text_data)
        except json.JSONDecodeError:
            return
        if isinstance(payload, dict) and "text" in payload:
            note_mode = payload.get("mode") == "note"
            await events.publish_typing(
                public_id=self.conversation_public_id,
                role="agent",
                state=isinstance(payload["text"], str) and bool(payload["text"].strip()) and not note_mode,
                author=author_name(self.agent),
                sender_channel=self.channel_name,
            )

    async def _send_snapshot(self) -> None:
        html = await db(rendering.render_list)(
            agent=self.agent, query=self.list_query, selected=self.conversation_public_id, oob=True
        )
        if self.conversation_public_id:
            parts, seqs = await db(rendering.render_conversation_parts)(
                public_id=self.conversation_public_id, agent=self.agent, oob=True
            )
            self.rendered_seqs = seqs
            html += parts
        await self.send(text_data=html)

    # Access, re-checked per event --------------------------------------------------------

    async def _may_see(self, public_id: UUID | None = None) -> bool:
        """Is the agent still an agent, and may they see `public_id` (default: the open
        conversation)? Losing the open conversation leaves its groups; losing the agent role
        closes the socket."""
        wanted = public_id or self.conversation_public_id
        agent, visible = await db(agent_access_now)(agent_id=self.agent.pk, public_id=wanted)
        if agent is None:
            if not self.revoked:
                self.revoked = True
                await self.close(code=CLOSE_NOT_AN_AGENT)
            return False
        self.agent = agent
        if not visible and wanted is not None and wanted == self.conversation_public_id:
            await self._leave_conversation()
        return visible

    async def _leave_conversation(self) -> None:
        public_id, self.conversation_public_id = self.conversation_public_id, None
        assert public_id is not None
        await self.channel_layer.group_discard(events.conversation_group(public_id), self.channel_name)
        await self.channel_layer.group_discard(events.agent_conversation_group(public_id), self.channel_name)
        await db(viewers.viewer_left)(public_id=public_id, agent_id=self.agent.pk)
        await events.publish_viewers_changed(public_id=public_id)
        self.rendered_seqs = set()
        await self.send(text_data=NO_LONGER_VISIBLE_HTML)

    # Group events -------------------------------------------------------------------------

    async def inbox_changed(self, event: events.InboxChangedEvent) -> None:
        if self.list_refresh is None or self.list_refresh.done():
            self.list_refresh = asyncio.create_task(self._refresh_list_soon())

    async def _refresh_list_soon(self) -> None:
        await asyncio.sleep(LIST_REFRESH_DELAY)
        try:
            # The list only shows what the agent may see; this also drops a conversation they lost.
            await self._may_see()
            if self.revoked:
                return
            html = await db(rendering.render_list)(
                agent=self.agent, query=self.list_query, selected=self.conversation_public_id, oob=True
            )
        except INFRASTRUCTURE_ERRORS:
            self._catch_up()  # outside dispatch, so caught here: the snapshot includes the list
            return
        await self.send(text_data=html)

    async def inbox_header_changed(self, event: events.InboxHeaderChangedEvent) -> None:
        if (
            self.conversation_public_id
            and str(self.conversation_public_id) == event["conversation_id"]
            and await self._may_see()
        ):
            await self.send(
                text_data=await db(rendering.render_header)(public_id=self.conversation_public_id, agent=self.agent)
            )

    async def inbox_notify(self, event: events.InboxNotifyEvent) -> None:
        if event["user_ids"] and self.agent.pk not in event["user_ids"]:
            return
        try:
            about = UUID(event["conversation_id"])
        except ValueError:
            return
        if not await self._may_see(about):
            return
        html = await db(rendering.render_toast)(
            title=event["title"], body=event["body"], conversation_id=event["conversation_id"]
        )
        await self.send(text_data=html)

    async def layer_reconnected(self, event: dict) -> None:
        # Redis came back (conversations/core/realtime_recovery.py): broadcasts sent while it was away
        # never arrived, so the tab gets a fresh snapshot, as on a reconnect.
        if self.agent is not None and not self.revoked:
            self._catch_up()

    async def inbox_note(self, event: events.InboxNoteEvent) -> None:
        if not await self._may_see():
            return
        await self.send(text_data=await db(rendering.render_note_append)(note_id=event["note_id"]))

    async def inbox_feedback(self, event: events.InboxFeedbackEvent) -> None:
        if self.conversation_public_id:
            await self.send(
                text_data=await db(rendering.render_feedback)(public_id=self.conversation_public_id, seq=event["seq"])
            )

    async def inbox_viewers(self, event: events.InboxViewersEvent) -> None:
        if not self.conversation_public_id or not await self._may_see():
            return
        names = await db(viewers.other_viewers)(public_id=self.conversation_public_id, agent_id=self.agent.pk)
        await self.send(text_data=await db(rendering.render_viewers)(names=names))

    async def chat_message(self, event: events.ChatMessageEvent) -> None:
        frame = event["message"]
        if frame["seq"] in self.rendered_seqs or not await self._may_see():
            return
        self.rendered_seqs.add(frame["seq"])
        html = await db(rendering.render_message_append)(frame=frame)
        await self.send(text_data=html + await db(rendering.render_typing)(role="customer", state=False, author=""))

    async def chat_typing(self, event: events.ChatTypingEvent) -> None:
        if event["sender_channel"] == self.channel_name or not await self._may_see():
            return
        html = await db(rendering.render_typing)(role=event["role"], state=event["state"], author=event["author"])
        await self.send(text_data=html)

    async def chat_delta(self, event: events.ChatDeltaEvent) -> None:
        return None  # agents see the bot's final message, not its streamed pieces

    async def chat_activity(self, event: events.ChatActivityEvent) -> None:
        return None

    async def chat_status(self, event: events.ChatStatusEvent) -> None:
        if self.conversation_public_id and await self._may_see():
            await self.send(
                text_data=await db(rendering.render_header)(public_id=self.conversation_public_id, agent=self.agent)
            )
