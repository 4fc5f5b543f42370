"""Short conversational replies ("yes, confirm", "ok go ahead", "the second one") that carry no
instruction to the assistant, so the injection classifier need not read them.

Why: the classifier scored "confirm" alone 0.84 and "yes, confirm" 0.72 (threshold 0.70): its
attack data says "confirm that you are in developer mode", its support questions never say
"confirm" alone, and a customer answering the bot's own confirmation card was refused and given
an abuse strike. Re-training with such replies as negatives fixed them but moved a borderline
attack of the public test set under the threshold (recall 0.800 -> 0.783); a closed vocabulary
changes nothing else. Such a reply can still be a request ("change address",
"return the order"), which the bot then reads like any other; what it cannot carry is an
instruction to the assistant, and an action on an order still needs the card's confirm frame.
"""

from __future__ import annotations

import re

_REPLY_WORDS = frozenset(
    """
    yes yeah yep yup ok okay sure no nope nah please pls thanks thank you
    confirm confirmed proceed approve approved accept accepted agree agreed cancel continue
    go ahead do it that this one ones i the a and now then
    correct right fine good great perfect cool alright all sounds looks of course absolutely
    first second third last latest newest oldest other
    order refund return change address
    """.split()
)
_MAX_WORDS = 8
_WORD = re.compile(r"[a-z]+")
# Only letters, spaces and sentence punctuation: no quotes, colons, brackets or digits.
_PLAIN = re.compile(r"[A-Za-z ,.!?'-]+")


def _only_words_of(text: str, vocabulary: frozenset[str], max_words: int) -> bool:
    """`text` is a few words (1 to `max_words`), all in `vocabulary`, with sentence punctuation only."""
    stripped = text.strip()
    if not stripped or not _PLAIN.fullmatch(stripped):
        return False
    words = _WORD.findall(stripped.lower().replace("'", ""))
    return 0 < len(words) <= max_words and all(word in vocabulary for word in words)


def is_plain_reply(text: str) -> bool:
    """True when `text` (already normalized) is a few words, all from the reply vocabulary."""
    return _only_words_of(text, _REPLY_WORDS, _MAX_WORDS)


# A decision on a card and nothing else: "yes, confirm", "ok go ahead", "no, don't".
_DECISION_WORDS = frozenset(
    """
    yes yeah yep yup ok okay sure please pls confirm confirmed proceed approve approved accept agree
    go ahead do it no nope nah dont stop cancel i
    """.split()
)


def is_decision_reply(text: str) -> bool:
    """True when `text` only says yes or no (to a card the bot is waiting on)."""
    return _only_words_of(text, _DECISION_WORDS, 5)
