"""The one place where files stored for conversations (attachments, thumbnails) leave with them.

Retention (conversations/privacy/retention.py) and erasure (conversations/privacy/erasure.py)
both call conversation_files_release inside the transaction that deletes or anonymises the
conversations. Nothing stores files yet; the attachments feature plugs in here: delete (or
detach) its rows now, in the caller's transaction, and remove the stored files from Django's
storage with transaction.on_commit, since a storage backend cannot roll back. A file removed
before the commit would be lost for good if the transaction then failed.
"""

from __future__ import annotations


def conversation_files_release(*, conversation_ids: list[int]) -> int:
    """Release every stored file of these conversations; returns how many were released."""
    return 0
