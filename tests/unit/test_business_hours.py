"""Business hours per queue (conversations/lib/hours.py): parsing what people write, open
now, the next opening, in the queue's time zone across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from conversations.lib.hours import (
    Window,
    hours_parse,
    hours_validate,
    is_open,
    next_opening,
    opening_describe,
    timezone_validate,
)

WEEKDAYS = "mon-fri 09:00-17:00"
BERLIN = "Europe/Berlin"  # UTC+1 in winter, UTC+2 from 29 March 2026 to 25 October 2026


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_it_parses_day_ranges_and_single_days():
    windows = hours_parse("mon-fri 09:00-17:00, sat 10:00-14:00")
    assert [w.weekday for w in windows] == [0, 1, 2, 3, 4, 5]
    assert windows[5] == Window(5, time(10), time(14))


def test_a_day_range_may_wrap_over_the_weekend():
    assert [w.weekday for w in hours_parse("fri-mon 10:00-12:00")] == [4, 5, 6, 0]


def test_it_ignores_case_spacing_and_stray_commas():
    assert hours_parse(" MON-Tue 09:00-17:00 ,, ") == hours_parse("mon-tue 09:00-17:00")


def test_24_00_means_until_midnight():
    (window,) = hours_parse("sun 20:00-24:00")
    assert window.end == time.max
    assert is_open("sun 20:00-24:00", "UTC", utc(2026, 3, 1, 23, 59, 59))  # a Sunday


@pytest.mark.parametrize(
    "spec, complaint",
    [
        ("mon 17:00-09:00", "ends before it starts"),  # overnight ranges are two windows, not one
        ("mon 09:00-09:00", "ends before it starts"),
        ("mon 25:00-26:00", "impossible time"),
        ("mon 09:60-10:00", "impossible time"),
        ("xyz 09:00-10:00", "is not like"),
        ("mon-xyz 09:00-10:00", "is not like"),
        ("monday 9-5", "is not like"),
        ("mon 09:00-17:00, tue", "is not like"),
    ],
)
def test_it_refuses_what_it_cannot_read_and_names_the_part(spec, complaint):
    with pytest.raises(ValueError, match=complaint) as raised:
        hours_parse(spec)
    assert '"' in str(raised.value)  # quotes the offending part back
    with pytest.raises(ValidationError):
        hours_validate(spec)


def test_an_overnight_shift_is_written_as_two_windows():
    spec = "fri 22:00-24:00, sat 00:00-06:00"
    assert is_open(spec, "UTC", utc(2026, 3, 6, 23, 0))  # Friday night
    assert is_open(spec, "UTC", utc(2026, 3, 7, 5, 59))  # Saturday early morning
    assert not is_open(spec, "UTC", utc(2026, 3, 7, 6, 0))


def test_an_empty_spec_is_always_open():
    at = utc(2026, 3, 8, 3, 0)  # Sunday night
    assert hours_parse("") == [] and is_open("", BERLIN, at) and next_opening("", BERLIN, at) == at


def test_opening_is_inclusive_and_closing_exclusive_in_local_time():
    # 2 March 2026 is a Monday; Berlin is UTC+1 in winter.
    assert not is_open(WEEKDAYS, BERLIN, utc(2026, 3, 2, 7, 59))
    assert is_open(WEEKDAYS, BERLIN, utc(2026, 3, 2, 8, 0))
    assert is_open(WEEKDAYS, BERLIN, utc(2026, 3, 2, 15, 59))
    assert not is_open(WEEKDAYS, BERLIN, utc(2026, 3, 2, 16, 0))


def test_the_same_utc_instant_is_open_in_winter_and_closed_in_summer():
    # 15:30 UTC: 16:30 in Berlin before the spring change (open), 17:30 after it (closed).
    assert is_open(WEEKDAYS, BERLIN, utc(2026, 3, 27, 15, 30))  # Friday, CET: 16:30 local
    assert not is_open(WEEKDAYS, BERLIN, utc(2026, 4, 3, 15, 30))  # Friday, CEST: 17:30 local


def test_the_weekday_is_the_local_one_not_the_utc_one():
    # Friday 23:30 UTC is already Saturday 00:30 in Berlin; Sunday 23:30 UTC is Monday there.
    spec = "fri 00:00-24:00"
    assert is_open(spec, "UTC", utc(2026, 3, 6, 23, 30))
    assert not is_open(spec, BERLIN, utc(2026, 3, 6, 23, 30))
    assert is_open("mon 00:00-01:00", BERLIN, utc(2026, 3, 8, 23, 30))


def test_next_opening_is_now_while_open():
    at = utc(2026, 3, 3, 10, 0)
    assert next_opening(WEEKDAYS, BERLIN, at) == at


def test_next_opening_after_friday_closing_is_monday_morning_local():
    opening = next_opening(WEEKDAYS, BERLIN, utc(2026, 3, 6, 17, 0))
    assert opening.astimezone(UTC) == utc(2026, 3, 9, 8, 0)
    assert (opening.weekday(), opening.hour) == (0, 9)


def test_next_opening_over_the_spring_forward_weekend_keeps_the_local_hour():
    # Closed on Saturday 28 March 2026; Monday opens at 09:00 CEST, which is 07:00 UTC, not 08:00.
    opening = next_opening(WEEKDAYS, BERLIN, utc(2026, 3, 28, 12, 0))
    assert opening.astimezone(UTC) == utc(2026, 3, 30, 7, 0)


def test_next_opening_over_the_fall_back_weekend_keeps_the_local_hour():
    opening = next_opening(WEEKDAYS, BERLIN, utc(2026, 10, 24, 12, 0))
    assert opening.astimezone(UTC) == utc(2026, 10, 26, 8, 0)


def test_a_window_that_starts_in_the_spring_forward_gap_opens_when_the_clocks_jump():
    # 02:00 does not exist in Berlin on 29 March 2026 (01:59 CET is followed by 03:00 CEST).
    spec = "sun 02:00-04:00"
    opening = next_opening(spec, BERLIN, utc(2026, 3, 29, 0, 30))
    assert opening.astimezone(UTC) == utc(2026, 3, 29, 1, 0)
    assert is_open(spec, BERLIN, opening)
    assert not is_open(spec, BERLIN, utc(2026, 3, 29, 0, 59))


def test_the_repeated_hour_of_fall_back_is_open_both_times():
    spec = "sun 02:00-03:00"  # on 25 October 2026 Berlin lives 02:00-03:00 twice
    assert is_open(spec, BERLIN, utc(2026, 10, 25, 0, 30))  # 02:30 CEST
    assert is_open(spec, BERLIN, utc(2026, 10, 25, 1, 30))  # 02:30 CET
    assert not is_open(spec, BERLIN, utc(2026, 10, 25, 2, 0))  # 03:00 CET


def test_after_the_only_window_of_the_week_it_opens_a_week_later():
    opening = next_opening("wed 09:00-10:00", "UTC", utc(2026, 3, 4, 11, 0))  # a Wednesday
    assert opening == utc(2026, 3, 11, 9, 0)


def test_the_opening_is_described_relative_to_the_queues_own_day():
    with translation.override("en"):
        monday_nine = next_opening(WEEKDAYS, BERLIN, utc(2026, 3, 8, 12, 0))  # from Sunday noon
        assert str(opening_describe(monday_nine, utc(2026, 3, 8, 12, 0))) == "tomorrow at 09:00"
        # Sunday 23:30 UTC is already Monday in Berlin: the opening is today there.
        assert str(opening_describe(monday_nine, utc(2026, 3, 8, 23, 30))) == "today at 09:00"
        assert str(opening_describe(monday_nine, utc(2026, 3, 6, 18, 0))) == "Monday at 09:00"


def test_the_description_follows_the_language_active_when_rendered():
    opening = next_opening(WEEKDAYS, BERLIN, utc(2026, 3, 6, 18, 0))
    text = opening_describe(opening, utc(2026, 3, 6, 18, 0))
    with translation.override("de"):
        assert str(text) == "am Montag um 09:00"


def test_it_refuses_an_unknown_time_zone_by_name():
    timezone_validate(BERLIN)
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        timezone_validate("Mars/Olympus")
