"""The admin's handle on the content-gap report. A proxy of Message (no table of its own): the
report is computed from bot replies, and the proxy gives it a place on the admin index and its
own view permission."""

from __future__ import annotations

from conversations.models.chat import Message


class ContentGap(Message):
    class Meta:
        proxy = True
        app_label = "conversations"
        verbose_name = "content gap"
        verbose_name_plural = "content gap report"
