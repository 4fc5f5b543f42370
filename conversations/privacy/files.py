"""The one place where files stored for conversations (attachments, thumbnails) leave with them.

Retention (conversations/privacy/retention.py) and erasure (conversations/privacy/erasure.py)
both call conversation_files_release inside the transaction that deletes or anonymises the
conversations: the attachment rows go now, in the caller's transaction, and the stored files are
removed from Django's storage on commit, since a storage backend cannot roll back (a file removed
before the commit would be lost for good if the transaction then failed). Deleting a
conversation by cascade alone would drop the rows and leave the files behind.
"""

from __future__ import annotations

from conversations.chat.attachments import attachments_delete


def conversation_files_release(*, conversation_ids: list[int]) -> int:
    """Release every stored file of these conversations; returns how many were released."""
    return attachments_delete(conversation_ids=conversation_ids)
