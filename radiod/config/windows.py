# -*- test-case-name: tests.library.test_schedule -*-
"""
Time windows as a configuration writes them, such as
C{"Mon-Fri 06:00-10:00"}, and the time zone they are read in: the text
read into values (L{parse_window}, L{parse_schedule}, L{load_zone}), so
that a malformed schedule is a configuration error.  When a window is
open, and which playlist has the air, is L{radiod.library.schedule}'s
business; its documentation describes the forms of days and times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ScheduleError", "Window", "load_zone", "parse_schedule", "parse_window"]

_DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DAYS = {name: number for number, name in enumerate(_DAY_NAMES)}
_DAYS.update({name[:3]: number for number, name in enumerate(_DAY_NAMES)})
_DAYS.update({"tues": 1, "thur": 3, "thurs": 3})
_ALL_WEEK = frozenset(range(7))
_GROUPS = {
    "daily": _ALL_WEEK,
    "every day": _ALL_WEEK,
    "everyday": _ALL_WEEK,
    "weekdays": frozenset(range(5)),
    "weekday": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
    "weekend": frozenset({5, 6}),
}
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_SPACES = re.compile(r"\s+")


class ScheduleError(ValueError):
    """
    A schedule, window or time zone that cannot be read; the message is one
    line naming the problem and quoting the text.
    """


@dataclass(frozen=True, slots=True)
class Window:
    """
    A weekly time window, in local wall-clock time.

    @ivar days: the weekdays the window starts on, Monday 0 to Sunday 6.
    @ivar start: the local time it opens.
    @ivar end: the local time it closes; an end not after C{start} is on
        the next day, and an end equal to C{start} makes a 24-hour window.
    @ivar text: the text the window was read from.
    """

    days: frozenset[int]
    start: time
    end: time
    text: str


def _quote(text: str, mark: str = '"') -> str:
    """
    C{text} in quotes, with anything that is not printable escaped so that
    an error message stays on one line.
    """
    return mark + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text) + mark


def _days(text: str, whole: str) -> frozenset[int]:
    """
    Read the days part of a window.

    @param text: the days part.
    @param whole: the window's text, for error messages.
    """
    days: set[int] = set()
    for raw in text.split(","):
        item = _SPACES.sub(" ", raw.strip().lower())
        if not item:
            raise ScheduleError(f"empty day in list in {_quote(whole)}")
        if item in _GROUPS:
            days |= _GROUPS[item]
            continue
        first, dash, last = (part.strip() for part in item.partition("-"))
        if dash and not (first and last):
            raise ScheduleError(f"incomplete day range {_quote(item)} in {_quote(whole)}")
        for name in (first, last) if dash else (first,):
            if name not in _DAYS:
                raise ScheduleError(f"unknown day {_quote(name)} in {_quote(whole)}")
        if not dash:
            days.add(_DAYS[first])
            continue
        begin, finish = _DAYS[first], _DAYS[last]
        if begin == finish:
            raise ScheduleError(
                f"day range {_quote(item)} starts and ends on the same day in {_quote(whole)}"
            )
        days.update(day % 7 for day in range(begin, begin + (finish - begin) % 7 + 1))
    return frozenset(days)


def _time(text: str, whole: str, which: str) -> time:
    """
    Read the start or end time of a window.

    @param text: the time, with no spaces.
    @param whole: the window's text, for error messages.
    @param which: C{"start"} or C{"end"}.
    """
    if not text:
        raise ScheduleError(f"missing {which} time in {_quote(whole)}")
    match = _TIME.fullmatch(text)
    if match is None:
        raise ScheduleError(f"{which} time {_quote(text)} is not HH:MM in {_quote(whole)}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute > 59:
        raise ScheduleError(f"minute {minute} is not a time of day in {_quote(whole)}")
    if hour == 24 and minute == 0:
        if which == "start":
            raise ScheduleError(f"24:00 can only be an end time in {_quote(whole)}")
        return time(0, 0)
    if hour > 23:
        raise ScheduleError(f"hour {hour} is not a time of day in {_quote(whole)}")
    return time(hour, minute)


def parse_window(text: str) -> Window:
    """
    Read one window, such as C{"Mon-Fri 06:00-10:00"} (see the module
    documentation for the forms of days and times).

    @param text: the window.
    @return: the window, with C{text} as its text.
    @raise ScheduleError: if C{text} is not a window.
    """
    stripped = text.strip()
    if not stripped:
        raise ScheduleError(f"empty window {_quote(text)}")
    digit = re.search(r"\d", stripped)
    if digit is None:
        raise ScheduleError(f"missing times (HH:MM-HH:MM) in {_quote(text)}")
    days_text, times = stripped[: digit.start()], _SPACES.sub("", stripped[digit.start() :])
    if not days_text.strip():
        raise ScheduleError(f"missing days before the times in {_quote(text)}")
    if days_text.rstrip().endswith("-") and "-" not in times:
        raise ScheduleError(f"missing start time in {_quote(text)}")
    days = _days(days_text, text)
    if "-" not in times:
        raise ScheduleError(f'missing "-" between start and end times in {_quote(text)}')
    start_text, _, end_text = times.partition("-")
    start = _time(start_text, text, "start")
    end = _time(end_text, text, "end")
    if start == end and start != time(0, 0):
        raise ScheduleError(
            f"window starts and ends at {start:%H:%M} (00:00-00:00 is a whole day) "
            f"in {_quote(text)}"
        )
    return Window(days, start, end, text)


def parse_schedule(text: str | Sequence[str]) -> tuple[Window, ...]:
    """
    Read a schedule: one window, several separated by C{";"}, or a list of
    them.  Blank entries between semicolons are skipped.

    @param text: the schedule's text, or a list of windows' texts.
    @return: the windows, in the order given.
    @raise ScheduleError: if any window cannot be read, or there is none.
    """
    entries: Iterable[object] = [text] if isinstance(text, str) else text
    windows: list[Window] = []
    for entry in entries:
        if not isinstance(entry, str):
            raise ScheduleError(f"a schedule window must be a string, not {type(entry).__name__}")
        pieces = entry.split(";")
        if not isinstance(text, str) and not entry.strip():
            raise ScheduleError(f"empty window {_quote(entry)}")
        windows.extend(parse_window(piece) for piece in pieces if piece.strip())
    if not windows:
        shown = _quote(text) if isinstance(text, str) else "[]"
        raise ScheduleError(f"empty schedule {shown}")
    return tuple(windows)


def load_zone(name: str) -> tzinfo:
    """
    The time zone of an IANA name, such as C{"Europe/Paris"}.

    @param name: the name; C{"UTC"} (in any case) or an empty name is UTC.
    @return: the zone.
    @raise ScheduleError: if there is no such zone.
    """
    key = name.strip()
    if key.upper() in ("", "UTC"):
        return UTC
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"unknown time zone {_quote(name, chr(39))}") from None
