"""One uploaded file. The bytes live in the `attachments` storage (STORAGES in settings: local
files under the data directory unless configured otherwise) under random names; the customer's
file name is kept, cleaned, only for Content-Disposition."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Attachment(models.Model):
    class Uploader(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "Agent"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="attachments")
    # Set when a message carries it; until then only the uploader's next message may use it.
    message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    uploader = models.CharField(max_length=10, choices=Uploader.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=120, help_text="The uploader's file name, cleaned and redacted.")
    content_type = models.CharField(max_length=40, help_text="Sniffed from the content, never taken from the client.")
    size = models.PositiveIntegerField(help_text="Bytes stored (after re-encoding images).")
    storage_name = models.CharField(max_length=255)
    thumbnail_name = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["conversation", "created_at"], name="attachment_conversation_idx")]

    def __str__(self) -> str:
        return f"{self.content_type} {self.public_id}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
