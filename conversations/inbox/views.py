"""The agent inbox (htmx). Views check the agent, call one service and render."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from conversations.inbox import rendering
from conversations.models import Conversation
from conversations.selectors import INBOX_FILTERS, inbox_conversation
from conversations.services.agents import user_is_agent
from conversations.services.conversations import conversation_resolve
from conversations.services.messages import MessageRejected, agent_message_post


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not user_is_agent(request.user):
            return HttpResponseForbidden("Only members of the Support agents group can use the inbox.")
        return view(request, *args, **kwargs)

    return wrapper


def _conversation_or_404(public_id: UUID) -> Conversation:
    conversation = inbox_conversation(public_id=public_id)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _view_filter(request: HttpRequest) -> str:
    view = request.GET.get("view", "open")
    return view if view in INBOX_FILTERS else "open"


@require_GET
@agent_required
def inbox_home(request: HttpRequest, public_id: UUID | None = None) -> HttpResponse:
    view = _view_filter(request)
    conversation = None
    transcript = ""
    if public_id is not None:
        conversation = _conversation_or_404(public_id)
        transcript, _ = rendering.render_conversation_parts(public_id=public_id)
    context = {
        **rendering.list_context(agent=request.user, view=view, selected=public_id),
        "conversation": conversation,
        "conversation_html": transcript,
        "filters": INBOX_FILTERS,
    }
    return render(request, "inbox/inbox.html", context)


@require_POST
@agent_required
def inbox_reply(request: HttpRequest, public_id: UUID) -> HttpResponse:
    conversation = _conversation_or_404(public_id)
    try:
        agent_message_post(conversation_id=conversation.pk, agent=request.user, text=request.POST.get("text", ""))
    except MessageRejected as error:
        return HttpResponse(error.message, status=422)
    if request.htmx:
        # The message itself reaches this page over the inbox socket, like everyone else's.
        return HttpResponse(status=204)
    return redirect("inbox:conversation", public_id=public_id)


@require_POST
@agent_required
def inbox_resolve(request: HttpRequest, public_id: UUID) -> HttpResponse:
    conversation = _conversation_or_404(public_id)
    conversation_resolve(conversation_id=conversation.pk, agent=request.user)
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect("inbox:conversation", public_id=public_id)
