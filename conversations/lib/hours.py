"""Business hours per queue, written the way people write them: "mon-fri 09:00-17:00, sat 10:00-14:00".

Hand-written rather than a library: the format is tiny, and the two questions asked of it (open
now? when next?) are a few lines over zoneinfo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.functional import lazy
from django.utils.translation import gettext

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")


@dataclass(frozen=True)
class Window:
    weekday: int  # Monday = 0
    start: time
    end: time


def _clock(text: str) -> time:
    hours, minutes = (int(n) for n in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    return time(hours, minutes)


def hours_parse(spec: str) -> list[Window]:
    """Raises ValueError with what is wrong; an empty spec means always open (no windows)."""
    windows: list[Window] = []
    for part in filter(None, (p.strip().lower() for p in spec.split(","))):
        match = _PART.match(part)
        if not match or match["first"] not in DAYS or (match["last"] and match["last"] not in DAYS):
            raise ValueError(f'"{part}" is not like "mon-fri 09:00-17:00"')
        try:
            start, end = _clock(match["start"]), _clock(match["end"])
        except ValueError:
            raise ValueError(f'"{part}" has an impossible time') from None
        if end <= start:
            raise ValueError(f'"{part}" ends before it starts')
        first = DAYS.index(match["first"])
        last = DAYS.index(match["last"] or match["first"])
        days = range(first, last + 1) if last >= first else [*range(first, 7), *range(0, last + 1)]
        windows.extend(Window(day, start, end) for day in days)
    return windows


def hours_validate(spec: str) -> None:
    try:
        hours_parse(spec)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def timezone_validate(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{name!r} is not a time zone name such as Europe/Berlin") from None


def is_open(spec: str, tz: str, at: datetime) -> bool:
    windows = hours_parse(spec)
    if not windows:
        return True
    local = at.astimezone(ZoneInfo(tz))
    return any(w.weekday == local.weekday() and w.start <= local.time() < w.end for w in windows)


def next_opening(spec: str, tz: str, at: datetime) -> datetime:
    """`at` itself when open now; otherwise the start of the next window (within a week)."""
    windows = hours_parse(spec)
    if not windows or is_open(spec, tz, at):
        return at
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    for day_offset in range(8):
        day = local.date() + timedelta(days=day_offset)
        for window in sorted((w for w in windows if w.weekday == day.weekday()), key=lambda w: w.start):
            opening = datetime.combine(day, window.start, tzinfo=zone)
            if opening > local:
                return opening
    return at  # unreachable with at least one window


def opening_describe(opening: datetime, now: datetime) -> str:
    """ "today at 09:00", "tomorrow at 09:00", "Monday at 09:00" in the queue's own time zone, in
    the language active when the text is rendered (lazy: the customer's, in system_message_post)."""
    return _describe_lazy(opening, now)


def _describe(opening: datetime, now: datetime) -> str:
    days = (opening.date() - now.astimezone(opening.tzinfo).date()).days
    clock = opening.strftime("%H:%M")
    if days == 0:
        return gettext("today at %(clock)s") % {"clock": clock}
    if days == 1:
        return gettext("tomorrow at %(clock)s") % {"clock": clock}
    # Django's own catalogs translate weekday names.
    return gettext("%(weekday)s at %(clock)s") % {"weekday": date_format(opening, "l"), "clock": clock}


_describe_lazy = lazy(_describe, str)
