"""Generated input for the fuzz tests: JSON values of every shape, protocol frames with the right
`type` and wrong fields, and strings with what breaks naive code (NUL, lone surrogates, huge
numbers, non-ASCII)."""

from __future__ import annotations

import json
import os
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

CHAT_FRAME_TYPES = ["message", "resume", "typing", "request_human", "csat", "action", "transcript"]
CHAT_FIELDS = ["type", "text", "client_id", "after_seq", "state", "score", "comment", "action_id", "decision", "email"]

# Characters that databases, encoders and parsers treat specially.
nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(
        alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "é", "😀", "<", "'", "\\", " "]),
        max_size=12,
    ),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\ud800",
            "SB-100042",
            "00000000-0000-0000-0000-000000000000",
            "<script>alert(1)</script>",
            "%00",
            "../../etc/passwd",
            "null",
            "1e999",
        ]
    ),
)
nasty_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.integers(max_value=-(2**63), min_value=-(2**70)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1, 5, 6, 2**31, 2**63, 10**30]),
)
json_scalars = st.one_of(st.none(), st.booleans(), nasty_numbers, nasty_text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(nasty_text, children, max_size=4),
    max_leaves=12,
)


def no_surrogates(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


# What a well-formed frame of each type may carry: the right shape, awkward content. Lone
# surrogates arrive JSON-escaped ("\ud800"), which is valid UTF-8 on the wire.
_well_shaped = {
    "message": lambda: st.fixed_dictionaries({"client_id": st.uuids().map(str), "text": nasty_text}),
    "resume": lambda: st.fixed_dictionaries({"after_seq": nasty_numbers}),
    "typing": lambda: st.fixed_dictionaries({"state": st.booleans()}),
    "request_human": lambda: st.just({}),
    "csat": lambda: st.fixed_dictionaries({"score": st.integers(1, 5)}, optional={"comment": nasty_text}),
    "action": lambda: st.fixed_dictionaries(
        {"action_id": nasty_text | st.uuids().map(str), "decision": st.sampled_from(["confirm", "cancel"])}
    ),
    "transcript": lambda: st.fixed_dictionaries({"email": nasty_text | st.emails()}),
}


@st.composite
def chat_frames(draw) -> str:
    """A text frame for /ws/chat/: raw garbage, any JSON, a frame of a known type with the right
    shape and awkward content, or one whose fields have any value at all."""
    kind = draw(st.sampled_from(["raw", "json", "well_shaped", "well_shaped", "typed"]))
    if kind == "raw":
        return draw(nasty_text.filter(no_surrogates) | st.just("[" * 5000 + "]" * 5000))
    if kind == "json":
        return json.dumps(draw(json_values))
    if kind == "well_shaped":
        frame_type = draw(st.sampled_from(CHAT_FRAME_TYPES))
        return json.dumps({"type": frame_type, **draw(_well_shaped[frame_type]())})
    frame = {"type": draw(st.sampled_from(CHAT_FRAME_TYPES) | nasty_text)}
    for field in draw(st.lists(st.sampled_from(CHAT_FIELDS[1:]), max_size=4, unique=True)):
        frame[field] = draw(json_values | st.just(str(uuid.uuid4())))
    return json.dumps(frame)


def widget_bodies() -> st.SearchStrategy[bytes]:
    """Bodies for POST /api/widget/conversations."""
    user = st.one_of(
        json_values,
        st.fixed_dictionaries(
            {}, optional={"id": json_values, "signature": json_values, "email": json_values, "name": json_values}
        ),
    )
    shaped = st.fixed_dictionaries(
        {},
        optional={
            "site_key": st.just("test-site") | json_values,
            "conversation_id": json_values | st.just(str(uuid.uuid4())),
            "token": json_values,
            "user": user,
        },
    )
    return st.one_of(
        st.binary(max_size=64),
        st.just(b"[" * 5000 + b"]" * 5000),
        json_values.map(lambda v: json.dumps(v).encode()),
        shaped.map(lambda v: json.dumps(v).encode()),
    )


def fuzz_settings(*, max_examples: int) -> settings:
    """Bounded runs (all fuzz tests together well under a minute), no example database in the
    work tree (a failure prints a reproduction blob instead), the same examples on every CI run."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        print_blob=True,
        derandomize=bool(os.environ.get("CI")),
        # One site, agent and test database per test function, shared by its examples on purpose;
        # each example opens its own conversation.
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
