"""The sentences of a long customer message, for the `pieces` retrieval lever.

Customers write "hi, I bought a jacket from you last month and ... anyway how do I ...": one
embedding of the whole message mixes the backstory with the question. The lever embeds the
message's sentences as well (greetings and thanks dropped) and scores each article by the best of
the whole message and its pieces. Sentence splitting and the greeting patterns are hand-written
(a regular expression on sentence ends): no sentence splitter is installed, and the messages are
short enough that abbreviations ("e.g.") rarely matter.
"""

from __future__ import annotations

import re

# At most this many pieces besides the whole message: the turn embeds its texts in one batch, and
# the brief for the lever keeps a turn to four texts.
MAX_PIECES = 3

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|morning|good (morning|afternoon|evening)|evening|dear \w+)"
    r"( there| all| team)?\s*[,.!:;-]*\s*",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(thanks?( you)?( so much| in advance)?|many thanks|cheers|please help|help|any ideas|quick question"
    r"|sorry( to bother you)?)[.!?]*$",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^(how|what|when|where|why|who|which|can|could|do|does|did|is|are|will|would|should|am|may)\b", re.IGNORECASE
)


def message_sentences(text: str) -> list[str]:
    """The message's sentences without greetings and thanks ("Hi there," "Cheers!")."""
    parts = (_GREETING.sub("", part).strip() for part in _SENTENCE_END.split(text))
    return [part for part in parts if part and not _FILLER.match(part)]


def question_pieces(text: str, *, limit: int = MAX_PIECES) -> list[str]:
    """Up to `limit` sentences of a multi-sentence message, questions first and the last ones
    first (customers ask at the end); nothing for a one-sentence message."""
    sentences = message_sentences(text)
    if len(sentences) < 2:
        return []
    asking = [s for s in sentences if s.endswith("?") or _QUESTION_START.match(s)]
    telling = [s for s in sentences if s not in asking]
    return [*reversed(asking), *reversed(telling)][:limit]
