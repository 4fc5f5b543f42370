"""Celery tasks of the chat layer: the transcript mail. conversations/chat/transcripts.py enqueues it;
it runs conversations/chat/transcript_mail.py, which imports neither.

Names are pinned to where these tasks were first defined (conversations.tasks): beat entries and
messages already queued name tasks by these strings, and a moved module must not rename them."""

from __future__ import annotations

from celery import shared_task

from conversations.chat.transcript_mail import transcript_email_send


@shared_task(
    name="conversations.tasks.send_transcript_email",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=6,
)
def send_transcript_email(conversation_id: int, email_placeholder: str) -> bool:
    """Mail servers fail transiently (OSError covers SMTP and socket errors): retried with backoff."""
    return transcript_email_send(conversation_id=conversation_id, email_placeholder=email_placeholder)
