"""The admin's handle on the content-gap report. A proxy of Message (no table of its own): the
report is computed from bot replies, and the proxy gives it a place on the admin index and its
own view permission."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from conversations.models.chat import Message


class ContentGap(Message):
    class Meta:
        proxy = True
        app_label = "conversations"
        verbose_name = "content gap"
        verbose_name_plural = "content gap report"


class GapReplyHandled(models.Model):
    """A bot reply of the report that staff have dealt with: it leaves the report, and the gap
    comes back only if customers ask again afterwards (new replies are not handled)."""

    class How(models.TextChoices):
        QUESTION_ADDED = "question_added", "Added as a question to an article"
        MARKED = "marked", "Marked as handled"

    reply = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="gap_handled")
    how = models.CharField(max_length=20, choices=How.choices)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    handled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "conversations"
