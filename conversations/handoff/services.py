"""Handoff writes: open, claim, assign, transfer, hand back, resolve. Ownership lives here.

Every function takes the conversation's row lock first, so two agents clicking Claim at once, a
bot turn finishing while an agent takes over, or a trigger racing a resolve are ordered by the
database, not by luck. Customer-visible changes always post a system message: no silent transfer.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from conversations.chat.messages import agent_own_names, system_message_post
from conversations.core.message_store import ConversationState
from conversations.core.people import agent_check
from conversations.core.protocol import author_name
from conversations.handoff import tasks
from conversations.handoff.access import agent_can_serve, user_is_supervisor
from conversations.handoff.status import conversation_status_publish
from conversations.models import Conversation, Handoff, HandoffEvent, Queue
from guardrails.redaction import text_redact
from supportbot.errors import CodedError
from webhooks import payloads as webhook_payloads
from webhooks.services import webhook_events_enqueue

QUEUED_TEXT = gettext_noop("We've asked a member of our team to join. You'll get a reply right here.")
LIVE_CHAT_TEXT = gettext_noop("Thanks for your message. A member of our team will reply right here.")
RETURNED_TEXT = gettext_noop("You're chatting with our assistant again. You can ask for a person at any time.")


class HandoffError(CodedError):
    """The handoff cannot change this way (already claimed, no access, ...)."""


def _locked(conversation_id: int) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation_id)


def open_handoff(conversation_id: int, *, lock: bool = False) -> Handoff | None:
    queryset = Handoff.objects.filter(conversation_id=conversation_id, status__in=Handoff.OPEN_STATUSES)
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.select_related("queue", "assignee").first()


def _held_handoff(conversation_id: int, *, missing: str) -> Handoff:
    """Lock the conversation, then its open handoff; refuse when there is none."""
    _locked(conversation_id)
    handoff = open_handoff(conversation_id, lock=True)
    if handoff is None:
        raise HandoffError("no_handoff", missing)
    return handoff


NOT_WITH_THE_TEAM = "this conversation is not with the team; claim it first"


def _event(handoff: Handoff, kind: str, actor: Any = None, **detail: Any) -> None:
    HandoffEvent.objects.create(handoff=handoff, kind=kind, actor=actor, detail=detail)


def _enqueue(task: Task, *args: int) -> None:
    """Celery tasks go out only once the rows they read are committed."""
    transaction.on_commit(lambda: task.delay(*args))


def _publish(conversation_id: int) -> None:
    conversation_status_publish(conversation_id=conversation_id)


def handoff_open(*, conversation_id: int, reason: str, actor: Any = None, text: str = QUEUED_TEXT) -> Handoff:
    """Queue the conversation for a person and start the workflow. Idempotent: while a handoff is
    open, asking again returns it (the partial unique index backs this up across processes)."""
    with transaction.atomic():
        conversation = _locked(conversation_id)
        existing = open_handoff(conversation_id)
        if existing is not None:
            return existing
        handoff = Handoff.objects.create(conversation=conversation, reason=reason)
        _event(handoff, "created", actor, reason=reason)
        webhook_events_enqueue(
            conversation_id=conversation_id, event="handoff.opened", payload=webhook_payloads.handoff_opened(handoff)
        )
        Conversation.objects.filter(pk=conversation_id).update(
            status=Conversation.Status.QUEUED,
            handoff_reason=reason,
            resolved_at=None,
            resolution_reason="",
            assignee=None,
            updated_at=timezone.now(),
        )
        system_message_post(conversation_id=conversation_id, text=text)
        _publish(conversation_id)
        _enqueue(tasks.handoff_summarize, handoff.pk)
    return handoff


def conversation_request_human(
    *, conversation_id: int, reason: str = Conversation.HandoffReason.CUSTOMER_REQUEST
) -> Conversation:
    """Queue the conversation for a person (the handoff workflow takes it from there).
    Idempotent: asking while a handoff is open changes nothing."""
    handoff_open(conversation_id=conversation_id, reason=reason)
    return Conversation.objects.select_related("assignee").get(pk=conversation_id)


def _unattended(state: ConversationState) -> bool:
    # The same rule as the query in handoff_open_for_live_chat.
    return state.status == Conversation.Status.BOT and not state.site_bot_enabled and state.site_handoff_when_bot_off


def handoff_open_for_live_chat(*, conversation_id: int, appended: ConversationState | None = None) -> Handoff | None:
    """On a site with the bot off (and routing on), the team answers everything: a customer's
    message that nobody is handling goes through the same routing, assignment, notification and
    SLA as a handoff, so it cannot sit unseen in the inbox. Called once the message is stored.
    `appended`: the conversation as storing the message left it (message_post returns it); it
    answers the common case with no query, as the unlocked read would, a moment earlier."""
    if appended is not None and not _unattended(appended):
        return None
    unattended = Conversation.objects.filter(
        pk=conversation_id, status=Conversation.Status.BOT, site__bot_enabled=False, site__handoff_when_bot_off=True
    )
    if appended is None and not unattended.exists():  # one cheap read, no lock: the common path asks
        return None
    with transaction.atomic():
        _locked(conversation_id)  # a claim or a resolve racing this message waits or wins
        if not unattended.exists():
            return None
        return handoff_open(
            conversation_id=conversation_id, reason=Conversation.HandoffReason.CUSTOMER_REQUEST, text=LIVE_CHAT_TEXT
        )


def _take(*, handoff: Handoff, agent: Any, by: Any, kind: str) -> None:
    """Give the handoff and the conversation to `agent`; the customer sees who joined."""
    now = timezone.now()
    Handoff.objects.filter(pk=handoff.pk).update(
        status=Handoff.Status.ASSIGNED, assignee=agent, assigned_at=handoff.assigned_at or now
    )
    Conversation.objects.filter(pk=handoff.conversation_id).update(
        status=Conversation.Status.HUMAN, assignee=agent, resolved_at=None, updated_at=now
    )
    _event(handoff, kind, by, assignee=agent.pk)
    webhook_events_enqueue(
        conversation_id=handoff.conversation_id,
        event="handoff.assigned",
        payload=webhook_payloads.handoff_assigned(handoff, agent=agent, by=by, kind=kind),
    )
    name = author_name(agent)
    if by is not None and by != agent and handoff.assignee_id not in (None, agent.pk):
        text = gettext_noop("%(by)s passed your conversation to %(name)s, who has joined.")
    else:
        text = gettext_noop("%(name)s joined the conversation.")
    system_message_post(
        conversation_id=handoff.conversation_id, text=text, params={"by": author_name(by), "name": name}
    )
    _publish(handoff.conversation_id)


def _takeover_handoff(*, conversation: Conversation, by: Any) -> Handoff:
    """A person takes a conversation straight from the bot: a handoff that needs no routing."""
    now = timezone.now()
    handoff = Handoff.objects.create(
        conversation=conversation,
        reason=Conversation.HandoffReason.AGENT_TAKEOVER,
        queue=conversation.queue,
        routed_at=now,
        notified_at=now,
    )
    _event(handoff, "created", by, reason=handoff.reason)
    webhook_events_enqueue(
        conversation_id=conversation.pk, event="handoff.opened", payload=webhook_payloads.handoff_opened(handoff)
    )
    Conversation.objects.filter(pk=conversation.pk).update(handoff_reason=handoff.reason, resolution_reason="")
    _enqueue(tasks.handoff_summarize, handoff.pk)  # the agent still gets a summary of the bot's part
    return handoff


def _may_pass_on(handoff: Handoff, agent: Any, *, doing: str = "reassign") -> None:
    """Agents pass on (reassign, hand back, resolve) conversations they own or that nobody owns;
    supervisors any. Seeing a conversation is not enough: a colleague's customer stays theirs."""
    if handoff.assignee_id not in (None, agent.pk) and not user_is_supervisor(agent):
        raise HandoffError("forbidden", f"only the assignee or a supervisor can {doing} this conversation")


def handoff_claim(*, conversation_id: int, agent: Any) -> Handoff:
    """The agent takes the conversation: from the queue, or straight from the bot."""
    agent_check(agent)
    with transaction.atomic():
        conversation = _locked(conversation_id)
        handoff = open_handoff(conversation_id, lock=True)
        if handoff is not None and handoff.assignee_id == agent.pk:
            return handoff
        if handoff is not None and handoff.assignee_id is not None:
            raise HandoffError("already_assigned", f"{author_name(handoff.assignee)} already has this conversation")
        if not agent_can_serve(agent, handoff.queue if handoff else conversation.queue):
            raise HandoffError("forbidden", "you are not in a team that serves this queue")
        if handoff is None:
            handoff = _takeover_handoff(conversation=conversation, by=agent)
        _take(handoff=handoff, agent=agent, by=agent, kind="claimed")
    return handoff


def handoff_assign_to(*, conversation_id: int, agent: Any, assignee: Any) -> Handoff:
    """Assign (or transfer) to an agent, who must serve the queue. A conversation the bot still
    has is taken over for them."""
    agent_check(agent)
    with transaction.atomic():
        conversation = _locked(conversation_id)
        handoff = open_handoff(conversation_id, lock=True)
        if handoff is None:
            handoff = _takeover_handoff(conversation=conversation, by=agent)
        _may_pass_on(handoff, agent)
        if not agent_can_serve(assignee, handoff.queue):
            raise HandoffError("forbidden", f"{author_name(assignee)} is not in a team that serves this queue")
        if handoff.assignee_id == assignee.pk:
            return handoff
        _take(handoff=handoff, agent=assignee, by=agent, kind="transferred" if handoff.assignee_id else "assigned")
    _enqueue_after_freeing()
    return handoff


def handoff_transfer_to_queue(*, conversation_id: int, agent: Any, queue: Queue) -> Handoff:
    agent_check(agent)
    with transaction.atomic():
        handoff = _held_handoff(conversation_id, missing=NOT_WITH_THE_TEAM)
        _may_pass_on(handoff, agent)
        Handoff.objects.filter(pk=handoff.pk).update(
            status=Handoff.Status.QUEUED,
            queue=queue,
            assignee=None,
            assigned_at=None,
            sla_stage=0,
            sla_due_at=None,
            notified_at=None,
        )
        Conversation.objects.filter(pk=conversation_id).update(
            status=Conversation.Status.QUEUED, assignee=None, queue=queue, updated_at=timezone.now()
        )
        _event(handoff, "transferred_to_queue", agent, queue=queue.pk)
        system_message_post(
            conversation_id=conversation_id,
            text=gettext_noop("%(agent)s passed your conversation to our %(queue)s team. Someone will join shortly."),
            params={"agent": author_name(agent), "queue": queue.name},
        )
        _publish(conversation_id)
        _enqueue(tasks.handoff_assign, handoff.pk)
    return handoff


def handoff_return_to_bot(*, conversation_id: int, agent: Any, note: str = "") -> None:
    """Hand the conversation back to the bot, which resumes knowing what the agent did: the
    note (or, without one, the agent's last reply) becomes part of its context."""
    from conversations.handoff.summary import agent_work_summary

    agent_check(agent)
    with transaction.atomic():
        handoff = _held_handoff(conversation_id, missing="the bot already has this conversation")
        _may_pass_on(handoff, agent, doing="hand back")
        conversation = Conversation.objects.get(pk=conversation_id)
        # A typed note is agent text like a reply: personal data becomes vault placeholders
        # before it reaches the handoff row or the bot's state (the fallback summary is built
        # from stored messages, already redacted).
        note = note.strip()[:2000]
        if note:
            summary = text_redact(conversation_id=conversation_id, text=note, keep=agent_own_names(agent)).text
        else:
            summary = agent_work_summary(handoff=handoff)
        Handoff.objects.filter(pk=handoff.pk).update(
            status=Handoff.Status.RETURNED, closed_at=timezone.now(), return_note=summary[:2000]
        )
        _event(handoff, "returned", agent)
        # Everything up to now counts as answered (the agent handled it); the miss streak restarts
        # so one unanswered question does not bounce the conversation straight back.
        Conversation.objects.filter(pk=conversation_id).update(
            status=Conversation.Status.BOT,
            assignee=None,
            handoff_reason="",
            bot_miss_streak=0,
            bot_answered_seq=conversation.last_seq,
            updated_at=timezone.now(),
            bot_state={
                **{k: v for k, v in conversation.bot_state.items() if k != "intent"},
                "agent_summary": summary[:2000],
            },
        )
        system_message_post(conversation_id=conversation_id, text=RETURNED_TEXT)
        _publish(conversation_id)
    _enqueue_after_freeing()


def handoff_close_on_resolve(*, conversation_id: int, agent: Any, reason: str) -> None:
    """Called inside conversation_resolve's transaction, after the conversation row is updated:
    the HandoffError an agent who may not resolve gets rolls that update back. `agent` is None
    when the system resolves an idle conversation."""
    handoff = open_handoff(conversation_id, lock=True)
    if handoff is None:
        return
    if agent is not None:
        _may_pass_on(handoff, agent, doing="resolve")
    Handoff.objects.filter(pk=handoff.pk).update(
        status=Handoff.Status.RESOLVED, closed_at=timezone.now(), resolution_reason=reason
    )
    _event(handoff, "resolved", agent, resolution_reason=reason)
    _enqueue_after_freeing()


def handoff_agent_replied(*, conversation_id: int, agent: Any) -> bool:
    """An agent's reply takes the conversation: claims it if nobody has it, and records the
    first human response. Returns True when ownership changed. Runs in the reply's transaction."""
    handoff = open_handoff(conversation_id, lock=True)
    if handoff is None or handoff.assignee_id is None:
        handoff_claim(conversation_id=conversation_id, agent=agent)
        handoff = open_handoff(conversation_id, lock=True)
        changed = True
    else:
        changed = False
    if handoff is not None and handoff.first_response_at is None:
        Handoff.objects.filter(pk=handoff.pk, first_response_at__isnull=True).update(first_response_at=timezone.now())
    return changed


def handoff_follow_up_capture(*, conversation_id: int, email_placeholder: str) -> bool:
    """Outside business hours the customer may leave an email address; keep the first one."""
    with transaction.atomic():
        handoff = open_handoff(conversation_id, lock=True)
        if handoff is None or not handoff.after_hours or handoff.follow_up_email:
            return False
        Handoff.objects.filter(pk=handoff.pk).update(follow_up_email=email_placeholder)
        _event(handoff, "follow_up_email_left")
        system_message_post(
            conversation_id=conversation_id,
            text=gettext_noop("Thanks! If you've left by the time we reply, we'll write to %(email)s."),
            params={"email": email_placeholder},
        )
    return True


def _enqueue_after_freeing() -> None:
    """An agent's capacity was freed: waiting handoffs may now be assignable."""
    _enqueue(tasks.handoff_assign_waiting)
