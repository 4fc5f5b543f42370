"""Running bot turns: one at a time per conversation, decoupled from the socket.

A customer message schedules `turn_drive` as a task on the process's event loop (Daphne's), so a
disconnect cancels nothing. The task claims the conversation's lease with a conditional UPDATE,
so across all processes and machines only one runs its turns; it answers every unanswered
customer message up to the newest, then loops for messages that arrived meanwhile, and releases
the lease. If the process dies mid-turn, the lease expires and the Celery beat task
`recover_stalled_turns` re-runs the turn in a worker: nothing is silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from conversations.bot.context import TurnOutput, turn_output_post
from conversations.bot.turn import turn_run
from conversations.bot.turn_understanding import TurnStart, turn_start
from conversations.chat.languages import conversation_language_get
from conversations.core.async_db import call_service, db
from conversations.core.events import publish_collected
from conversations.models import Conversation, Message, WidgetSite
from supportbot.runtime.trace import trace_schedule_context

logger = logging.getLogger(__name__)

OWNER = f"{socket.gethostname()}:{os.getpid()}"
_running: set[asyncio.Task] = set()
TURN_FAILED_REPLY = gettext_lazy("Sorry, something went wrong on my side. I'm bringing in a person from our team.")


def _unanswered() -> Exists:
    return Exists(
        Message.objects.filter(
            conversation=OuterRef("pk"), role=Message.Role.CUSTOMER, seq__gt=OuterRef("bot_answered_seq")
        )
    )


_CLAIM_SQL = f"""
UPDATE {Conversation._meta.db_table} AS c
SET bot_lease_owner = %(owner)s, bot_lease_until = %(now)s + make_interval(secs => %(lease)s)
FROM {WidgetSite._meta.db_table} AS s
WHERE c.id = %(id)s AND c.status = 'bot' AND s.id = c.site_id AND s.bot_enabled
  AND (c.bot_lease_until IS NULL OR c.bot_lease_until < %(now)s)
  AND EXISTS (SELECT 1 FROM {Message._meta.db_table} m
              WHERE m.conversation_id = c.id AND m.role = 'customer' AND m.seq > c.bot_answered_seq)
RETURNING (SELECT max(m.seq) FROM {Message._meta.db_table} m WHERE m.conversation_id = c.id AND m.role = 'customer')
"""


def turn_lease_claim(*, conversation_id: int, owner: str = OWNER) -> int | None:
    """Claim the conversation's turn lease (one statement, the hottest query of a turn); return
    the newest customer seq to answer, or None when there is nothing to answer or another process
    holds the lease."""
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {"owner": owner, "now": timezone.now(), "lease": settings.BOT_LEASE_SECONDS, "id": conversation_id},
        )
        row = cursor.fetchone()
    return row[0] if row else None


def turn_lease_release(*, conversation_id: int, owner: str = OWNER) -> None:
    Conversation.objects.filter(pk=conversation_id, bot_lease_owner=owner).update(
        bot_lease_owner="", bot_lease_until=None
    )


_RELEASE_SQL = f"""
UPDATE {Conversation._meta.db_table} SET bot_lease_owner = '', bot_lease_until = NULL
WHERE id = %(id)s AND bot_lease_owner = %(owner)s
"""


def turn_lease_pass(*, conversation_id: int, owner: str = OWNER) -> int | None:
    """After a turn: release the lease and claim it again when more messages wait, in one round
    trip. The two statements run as one implicit transaction but each with its own snapshot, so
    the claim sees every message committed before it; another process whose claim ran while we
    held the lease (and failed) finds nothing left to answer or waits on our row lock: no message
    is left unanswered between the two. Returns what `turn_lease_claim` returns."""
    with connection.cursor() as cursor:
        # Client-side parameter binding (Django's default for psycopg) sends both statements in
        # one simple query.
        cursor.execute(
            f"{_RELEASE_SQL};{_CLAIM_SQL}",
            {"owner": owner, "now": timezone.now(), "lease": settings.BOT_LEASE_SECONDS, "id": conversation_id},
        )
        cursor.nextset()
        row = cursor.fetchone()
    return row[0] if row else None


def turn_schedule(conversation_id: int) -> None:
    """Start answering on this process's loop; returns at once."""
    task = asyncio.get_running_loop().create_task(turn_drive(conversation_id), context=trace_schedule_context())
    _running.add(task)
    task.add_done_callback(_running.discard)


def _started(conversation_id: int, up_to_seq: int | None) -> tuple[int | None, TurnStart | None]:
    """The claimed turn's input and texts, read in the claim's own trip to the thread pool (one
    trip fewer before the model's first token). Should reading fail, the turn reads them again
    itself, where a failure gets the turn's own handling (an apology and a handoff)."""
    if up_to_seq is None:
        return None, None
    try:
        return up_to_seq, turn_start(conversation_id=conversation_id, up_to_seq=up_to_seq)
    except Exception as error:
        # The type only: a database error's text may quote the row it failed on.
        logger.info(
            "reading the claimed turn of conversation %s failed (%s); read again", conversation_id, type(error).__name__
        )
        return up_to_seq, None


def turn_lease_claim_and_start(*, conversation_id: int, owner: str = OWNER) -> tuple[int | None, TurnStart | None]:
    return _started(conversation_id, turn_lease_claim(conversation_id=conversation_id, owner=owner))


def turn_lease_pass_and_start(*, conversation_id: int, owner: str = OWNER) -> tuple[int | None, TurnStart | None]:
    return _started(conversation_id, turn_lease_pass(conversation_id=conversation_id, owner=owner))


async def turn_drive(conversation_id: int, *, owner: str = OWNER) -> None:
    up_to_seq, start = await db(turn_lease_claim_and_start)(conversation_id=conversation_id, owner=owner)
    while up_to_seq is not None:
        try:
            await asyncio.wait_for(
                turn_run(conversation_id=conversation_id, up_to_seq=up_to_seq, start=start),
                timeout=settings.BOT_TURN_TIMEOUT_SECONDS,
            )
        except Exception:
            logger.exception("bot turn failed for conversation %s", conversation_id)
            await _fail_turn(conversation_id, up_to_seq)
        except BaseException:  # cancelled (the process is stopping): let another process take over
            await db(turn_lease_release)(conversation_id=conversation_id, owner=owner)
            raise
        up_to_seq, start = await db(turn_lease_pass_and_start)(conversation_id=conversation_id, owner=owner)


async def _fail_turn(conversation_id: int, up_to_seq: int) -> None:
    """A turn that crashed or ran out of time still answers, and hands off: never a silent drop."""
    language = await db(conversation_language_get)(conversation_id=conversation_id)
    with translation.override(language):
        text = str(TURN_FAILED_REPLY)
    output = TurnOutput(text=text, handoff_reason=Conversation.HandoffReason.TOOL_FAILURE)
    try:
        _, pending = await call_service(
            turn_output_post, conversation_id=conversation_id, up_to_seq=up_to_seq, output=output
        )
        await publish_collected(pending)
    except Exception:
        logger.exception("could not record the failed turn of conversation %s", conversation_id)


def stalled_conversations(*, older_than_seconds: int = 20, limit: int = 20) -> list[int]:
    """Conversations whose customer waits for the bot with nobody holding the lease."""
    now = timezone.now()
    return list(
        Conversation.objects.filter(status=Conversation.Status.BOT, site__bot_enabled=True)
        .filter(Q(bot_lease_until__isnull=True) | Q(bot_lease_until__lt=now))
        .filter(last_customer_message_at__lt=now - timedelta(seconds=older_than_seconds))
        .filter(_unanswered())
        .order_by("last_customer_message_at")
        .values_list("pk", flat=True)[:limit]
    )
