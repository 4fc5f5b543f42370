"""Attachments: upload (sniff, clean, store), attach to a message, delete with their conversations."""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from typing import IO, Any
from uuid import UUID

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction

from conversations.lib.attachment_files import EXTENSIONS, AttachmentRejected, file_inspect
from conversations.models import Attachment, Conversation, Message
from guardrails.redaction import text_redact

logger = logging.getLogger(__name__)

NAME_MAX_CHARS = 100


def attachment_storage() -> Any:
    return storages["attachments"]


def attachment_upload(
    *, conversation_id: int, stream: IO[bytes], size: int | None, name: str, uploader: str, agent: Any = None
) -> Attachment:
    """Check an upload against its site's limits, sniff its type, strip image metadata, store it
    under a random name and record it. Raises AttachmentRejected (`attachments_disabled`,
    `too_large`, `unsupported_type`, `bad_file`); nothing is stored then. `size` is the upload's
    declared size (None when unknown): it refuses a large file before reading it, and the stored
    content is checked against the limit either way."""
    conversation = Conversation.objects.select_related("site").get(pk=conversation_id)
    site = conversation.site
    if not site.attachments_allowed_types:
        raise AttachmentRejected("attachments_disabled", "this site does not accept attachments")
    limit = site.attachments_max_mb * 1024 * 1024
    if size is not None and size > limit:
        raise AttachmentRejected("too_large", f"files can be at most {site.attachments_max_mb} MB")
    clean = file_inspect(stream=stream, allowed_types=list(site.attachments_allowed_types))
    if len(clean.content) > limit:  # a re-encoded image can come out larger than it went in
        raise AttachmentRejected("too_large", f"files can be at most {site.attachments_max_mb} MB")
    storage = attachment_storage()
    extension = EXTENSIONS[clean.content_type]
    stored = storage.save(f"{secrets.token_hex(16)}.{extension}", ContentFile(clean.content))
    thumbnail = storage.save(f"{secrets.token_hex(16)}.webp", ContentFile(clean.thumbnail)) if clean.thumbnail else ""
    try:
        return Attachment.objects.create(
            conversation_id=conversation_id,
            uploader=uploader,
            agent=agent,
            name=attachment_name_clean(conversation_id=conversation_id, name=name, extension=extension),
            content_type=clean.content_type,
            size=len(clean.content),
            storage_name=stored,
            thumbnail_name=thumbnail,
        )
    except BaseException:
        _files_delete([stored, thumbnail])
        raise


_UNSAFE = re.compile(r"[\\/]")


def attachment_name_clean(*, conversation_id: int, name: str, extension: str) -> str:
    """The name shown and offered for download: no path, no control or format characters, personal
    data replaced by placeholders like any stored text, and the extension of what the file is."""
    base = _UNSAFE.split(name or "")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().strip(".")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = " ".join(stem.split())[: NAME_MAX_CHARS - len(extension) - 1] or "file"
    stem = text_redact(conversation_id=conversation_id, text=stem).text[: NAME_MAX_CHARS - len(extension) - 1]
    return f"{stem}.{extension}"


def attachment_for_message(
    *, conversation_id: int, attachment_id: UUID, uploader: str, client_id: UUID | None = None
) -> Attachment:
    """The upload a new message may carry: this conversation's, by this side, not yet sent with
    another message (a retry of the same message, same client_id, may carry it again)."""
    attachment = (
        Attachment.objects.filter(public_id=attachment_id, conversation_id=conversation_id, uploader=uploader)
        .select_related("message")
        .first()
    )
    if attachment is None:
        raise AttachmentRejected("not_found", "no such attachment in this conversation")
    if attachment.message is not None and (client_id is None or attachment.message.client_id != client_id):
        raise AttachmentRejected("bad_frame", "this attachment was already sent")
    return attachment


def attachment_extras(attachment: Attachment) -> dict[str, Any]:
    """What a message stores about its attachment, so frames are built without a query."""
    return {
        "id": str(attachment.public_id),
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "thumbnail": bool(attachment.thumbnail_name),
    }


def attachment_link(*, attachment: Attachment, message: Message) -> None:
    Attachment.objects.filter(pk=attachment.pk, message__isnull=True).update(message=message)


def attachments_delete(*, conversation_ids: list[int]) -> int:
    """Delete these conversations' attachments: rows now, files from storage once the transaction
    commits (a rollback keeps both). For retention and erasure. Returns the number deleted."""
    rows = Attachment.objects.filter(conversation_id__in=conversation_ids)
    names = [name for pair in rows.values_list("storage_name", "thumbnail_name") for name in pair if name]
    deleted, _ = rows.delete()
    transaction.on_commit(lambda: _files_delete(names))
    return deleted


def _files_delete(names: list[str]) -> None:
    storage = attachment_storage()
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except OSError:
            # The row is gone; a leftover file holds no reference to anyone and is logged for cleanup.
            logger.warning("attachment file could not be deleted: %s", name)
