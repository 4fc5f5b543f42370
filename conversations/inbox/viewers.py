"""Who has a conversation open in the workspace, for the "Bob is also viewing" warning.

One cache entry (Redis) per conversation maps agent id -> (name, last seen). Updates are
read-modify-write, not atomic: two agents opening the same conversation in the same millisecond
may drop one entry until that tab's next heartbeat (VIEWER_HEARTBEAT_SECONDS) puts it back. For a
warning that is fine, and it avoids reaching past Django's cache API into Redis itself.
"""

from __future__ import annotations

import time

from django.core.cache import cache

VIEWER_HEARTBEAT_SECONDS = 20
VIEWER_TTL_SECONDS = 50


def _key(public_id: object) -> str:
    return f"inbox:viewers:{public_id}"


def _live(entries: dict) -> dict:
    cutoff = time.time() - VIEWER_TTL_SECONDS
    return {agent_id: (name, seen) for agent_id, (name, seen) in entries.items() if seen >= cutoff}


def viewer_seen(*, public_id: object, agent_id: int, name: str) -> None:
    entries = _live(cache.get(_key(public_id)) or {})
    entries[agent_id] = (name, time.time())
    cache.set(_key(public_id), entries, timeout=VIEWER_TTL_SECONDS)


def viewer_left(*, public_id: object, agent_id: int) -> None:
    entries = _live(cache.get(_key(public_id)) or {})
    entries.pop(agent_id, None)
    cache.set(_key(public_id), entries, timeout=VIEWER_TTL_SECONDS)


def other_viewers(*, public_id: object, agent_id: int) -> list[str]:
    entries = _live(cache.get(_key(public_id)) or {})
    return sorted(name for viewer_id, (name, _) in entries.items() if viewer_id != agent_id)
