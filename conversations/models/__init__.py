"""The conversations app's tables, one module per domain; the app's code imports them from here.

Layer: models (above lib, below everything else in conversations). Models hold fields,
constraints and small derived properties; the logic that changes them lives in services.
"""

from conversations.models.attachments import Attachment
from conversations.models.chat import (
    ATTACHMENT_TYPE_CHOICES,
    MESSAGE_SEARCH_CONFIG,
    ActionAttempt,
    ActionCall,
    Conversation,
    CsatRating,
    Customer,
    HandoffReason,
    Message,
    MessageFeedback,
    ModelCall,
    WidgetSite,
    handoff_reason_label,
)
from conversations.models.gaps import ContentGap, GapReplyHandled
from conversations.models.handoff import AgentProfile, CannedResponse, Handoff, HandoffEvent, InternalNote, Queue, Team
from conversations.models.privacy import ArchivedMetricsDay

__all__ = [
    "ATTACHMENT_TYPE_CHOICES",
    "MESSAGE_SEARCH_CONFIG",
    "ActionAttempt",
    "ActionCall",
    "AgentProfile",
    "ArchivedMetricsDay",
    "Attachment",
    "CannedResponse",
    "ContentGap",
    "GapReplyHandled",
    "Conversation",
    "CsatRating",
    "Customer",
    "Handoff",
    "HandoffEvent",
    "HandoffReason",
    "InternalNote",
    "Message",
    "MessageFeedback",
    "ModelCall",
    "Queue",
    "Team",
    "WidgetSite",
    "handoff_reason_label",
]
