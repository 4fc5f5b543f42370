"""Workspace actions on ownership: claim, assign or transfer, hand back to the bot, presence."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from conversations.handoff.presence import agent_presence_set
from conversations.handoff.services import (
    HandoffError,
    handoff_assign_to,
    handoff_claim,
    handoff_return_to_bot,
    handoff_transfer_to_queue,
)
from conversations.inbox import rendering
from conversations.inbox.views import HtmxHttpRequest, agent_required, conversation_or_404, done
from conversations.models import Queue


def _refused(error: HandoffError) -> HttpResponse:
    return HttpResponse(error.message, status=409 if error.code == "already_assigned" else 403)


@require_POST
@agent_required
def inbox_claim(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    try:
        handoff_claim(conversation_id=conversation.pk, agent=request.user)
    except HandoffError as error:
        return _refused(error)
    # No page refresh: the status event re-renders the header live, and a reply the agent has
    # started typing stays in the composer.
    return done(request, public_id)


@require_POST
@agent_required
def inbox_assign(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    """Assign or transfer: to an agent (`agent` = user id) or to a queue (`queue` = queue id)."""
    conversation = conversation_or_404(request, public_id)
    try:
        if request.POST.get("queue"):
            queue = get_object_or_404(Queue, pk=request.POST["queue"])
            handoff_transfer_to_queue(conversation_id=conversation.pk, agent=request.user, queue=queue)
        else:
            assignee = get_object_or_404(get_user_model(), pk=request.POST.get("agent") or 0)
            handoff_assign_to(conversation_id=conversation.pk, agent=request.user, assignee=assignee)
    except HandoffError as error:
        return _refused(error)
    return done(request, public_id, refresh=True)


@require_POST
@agent_required
def inbox_hand_back(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    try:
        handoff_return_to_bot(
            conversation_id=conversation.pk, agent=request.user, note=request.POST.get("note", "")[:2000]
        )
    except HandoffError as error:
        return _refused(error)
    return done(request, public_id, refresh=True)


@require_POST
@agent_required
def inbox_presence(request: HttpRequest) -> HttpResponse:
    try:
        agent_presence_set(agent=request.user, presence=request.POST.get("presence", ""))
    except ValueError as error:
        return HttpResponse(str(error), status=422)
    return HttpResponse(rendering.render_presence(agent=request.user))
