"""Filling a dev set's sentence shapes: each {slot} becomes a generated value, and the slots that
are personal data become labelled spans (Presidio's evaluation format), shared by every generator."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypedDict


class LabelledSpan(TypedDict):
    """One piece of personal data in a filled shape, as Presidio's evaluation format spells it."""

    entity_type: str
    entity_value: str
    start_position: int
    end_position: int


def shape_fill(
    shape: str, *, slots: dict[str, Callable[[], str]], labels: dict[str, str], lowercase: Callable[[], bool]
) -> dict:
    """`labels`: slot -> entity type; an unlabelled slot is text support keeps. `lowercase`: asked
    once the text is filled (generators draw from one random stream, so the order of draws is
    part of the frozen splits): whether the message was typed all in lower case (chat style),
    applied only when lowering keeps the length, so the offsets stay valid."""
    text, cursor = "", 0
    spans: list[LabelledSpan] = []
    for match in re.finditer(r"{(\w+)}", shape):
        text += shape[cursor : match.start()]
        slot = match.group(1)
        value = slots[slot]()
        if slot in labels:
            spans.append(
                {
                    "entity_type": labels[slot],
                    "entity_value": value,
                    "start_position": len(text),
                    "end_position": len(text) + len(value),
                }
            )
        text += value
        cursor = match.end()
    text += shape[cursor:]
    if lowercase() and len(text.lower()) == len(text):
        text = text.lower()
        for span in spans:
            span["entity_value"] = span["entity_value"].lower()
    return {"full_text": text, "spans": spans, "shape": shape}
