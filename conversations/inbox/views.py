"""The agent workspace (htmx): pages, replies, notes, resolve. Views check the agent, call one
service and render; access to a conversation goes through the scoped selector (404 outside the
agent's queues)."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh
from django_htmx.middleware import HtmxDetails

from conversations.chat.attachments import attachment_upload
from conversations.chat.conversations import ConversationStateError
from conversations.chat.messages import MessageRejected
from conversations.core.people import user_is_agent
from conversations.flows.messages import agent_message_post
from conversations.handoff.access import user_is_supervisor
from conversations.handoff.notes import note_add
from conversations.handoff.presence import agent_profile
from conversations.handoff.presence_selectors import effective_presence
from conversations.handoff.resolution import conversation_resolve
from conversations.handoff.services import HandoffError
from conversations.inbox import rendering
from conversations.inbox.selectors import (
    INBOX_FILTERS,
    ListQuery,
    canned_responses,
    customer_history,
    inbox_conversation,
)
from conversations.lib.attachment_files import REJECTED_STATUS, AttachmentRejected
from conversations.models import Attachment, Conversation


class HtmxHttpRequest(HttpRequest):
    """The requests the views get: django_htmx's HtmxMiddleware (settings.MIDDLEWARE) adds `.htmx`."""

    htmx: HtmxDetails


def agent_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not user_is_agent(request.user):
            return HttpResponseForbidden("Only members of the Support agents group can use the inbox.")
        return view(request, *args, **kwargs)

    return wrapper


def supervisor_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @agent_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not user_is_supervisor(request.user):
            return HttpResponseForbidden("Only supervisors can see this page.")
        return view(request, *args, **kwargs)

    return wrapper


def conversation_or_404(request: HttpRequest, public_id: UUID) -> Conversation:
    conversation = inbox_conversation(public_id=public_id, agent=request.user)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def done(request: HtmxHttpRequest, public_id: UUID, *, refresh: bool = False) -> HttpResponse:
    """htmx requests get their update over the socket (or a refresh); plain forms a redirect."""
    if request.htmx:
        return HttpResponseClientRefresh() if refresh else HttpResponse(status=204)
    return redirect("inbox:conversation", public_id=public_id)


@require_GET
@agent_required
def inbox_home(request: HttpRequest, public_id: UUID | None = None) -> HttpResponse:
    query = ListQuery.from_params(request.GET)
    conversation = None
    transcript = ""
    context: dict[str, Any] = {}
    if public_id is not None:
        conversation = conversation_or_404(request, public_id)
        transcript, _ = rendering.render_conversation_parts(public_id=public_id, agent=request.user)
        context = {
            "history": customer_history(conversation=conversation, agent=request.user),
            "canned": canned_responses(),
        }
    profile = agent_profile(request.user)
    context.update(
        {
            **rendering.list_context(agent=request.user, query=query, selected=public_id),
            "conversation": conversation,
            "conversation_html": transcript,
            "filters": INBOX_FILTERS,
            "profile": profile,
            "effective": effective_presence(profile),
            "is_supervisor": user_is_supervisor(request.user),
        }
    )
    return render(request, "inbox/inbox.html", context)


@require_POST
@agent_required
def inbox_reply(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    text = request.POST.get("text", "")
    upload = request.FILES.get("file")
    try:
        if request.POST.get("mode") == "note":
            if upload is not None:
                return HttpResponse("Internal notes cannot carry files.", status=422)
            note_add(conversation_id=conversation.pk, agent=request.user, text=text)
        else:
            attachment = None
            if upload is not None:
                attachment = attachment_upload(
                    conversation_id=conversation.pk,
                    stream=upload,
                    size=upload.size,
                    name=upload.name or "",
                    uploader=Attachment.Uploader.AGENT,
                    agent=request.user,
                )
            agent_message_post(
                conversation_id=conversation.pk,
                agent=request.user,
                text=text,
                attachment_id=attachment.public_id if attachment else None,
            )
    except AttachmentRejected as error:
        return HttpResponse(error.message, status=REJECTED_STATUS.get(error.code, 422))
    except MessageRejected as error:
        return HttpResponse(error.message, status=422)
    except HandoffError as error:  # e.g. the conversation moved to a queue this agent does not serve
        return HttpResponse(error.message, status=403)
    return done(request, public_id)


@require_POST
@agent_required
def inbox_resolve(request: HtmxHttpRequest, public_id: UUID) -> HttpResponse:
    conversation = conversation_or_404(request, public_id)
    try:
        conversation_resolve(
            conversation_id=conversation.pk,
            agent=request.user,
            reason=request.POST.get("reason") or Conversation.ResolutionReason.ANSWERED,
        )
    except ConversationStateError as error:
        return HttpResponse(error.message, status=422)
    except HandoffError as error:  # a colleague's conversation: only they or a supervisor resolve it
        return HttpResponse(error.message, status=403)
    return done(request, public_id, refresh=True)
