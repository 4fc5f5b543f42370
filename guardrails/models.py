"""Guardrail records: the encrypted PII vault and the guardrail event log.

Neither holds personal data in clear text: vault values are Fernet ciphertext in a binary column
(looked up by a keyed hash), and events carry redacted details only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PiiVaultEntry(models.Model):
    """One personal value a conversation's text referred to, replaced there by `placeholder`."""

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="pii_entries")
    placeholder = models.CharField(max_length=64)
    entity_type = models.CharField(max_length=32)
    # HMAC of the normalized value, keyed by the vault key: finds "the same value" again without
    # storing or decrypting it, and is useless to anyone without the key.
    digest = models.CharField(max_length=64)
    ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "PII vault entry"
        verbose_name_plural = "PII vault entries"
        constraints = [
            models.UniqueConstraint(fields=["conversation", "digest"], name="pii_unique_value_per_conversation"),
            models.UniqueConstraint(
                fields=["conversation", "placeholder"], name="pii_unique_placeholder_per_conversation"
            ),
        ]
        permissions = [("reveal_pii", "Can reveal redacted personal data (audited)")]

    def __str__(self) -> str:
        return f"{self.placeholder} in conversation {self.conversation_id}"


class GuardrailEvent(models.Model):
    class Kind(models.TextChoices):
        PII_REVEALED = "pii_revealed", "Personal data revealed to staff"
        INJECTION = "injection", "Prompt injection or jailbreak"
        CONTEXT_DROPPED = "context_dropped", "Untrusted content dropped from a prompt"
        OUTPUT_BLOCKED = "output_blocked", "Bot reply replaced"
        RATE_LIMITED = "rate_limited", "Rate limited"
        BUDGET_EXCEEDED = "budget_exceeded", "Model budget exceeded"
        VERIFICATION_FAILED = "verification_failed", "Order number and email did not match"
        VERIFICATION_LOCKED = "verification_locked", "Verification locked after repeated failures"
        DATA_SUBJECT_EXPORT = "data_subject_export", "Customer data exported"
        DATA_SUBJECT_ERASE = "data_subject_erase", "Customer data erased"
        RETENTION_PURGE = "retention_purge", "Old conversations deleted (retention)"

    class Action(models.TextChoices):
        REFUSED = "refused", "Refused politely"
        DROPPED = "dropped", "Dropped from context"
        REPLACED = "replaced", "Replaced with a safe message"
        REJECTED = "rejected", "Rejected with an error"
        REVEALED = "revealed", "Revealed"
        HANDED_OFF = "handed_off", "Handed to a human"
        LOCKED = "locked", "Locked out"
        EXPORTED = "exported", "Exported"
        ERASED = "erased", "Erased"
        DELETED = "deleted", "Deleted"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    action = models.CharField(max_length=32, choices=Action.choices)
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="guardrail_events"
    )
    site = models.ForeignKey("conversations.WidgetSite", null=True, blank=True, on_delete=models.CASCADE)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Redacted text and scores only (placeholders, reasons), never raw customer input.
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "-created_at"], name="guardrail_event_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_action_display()})"
