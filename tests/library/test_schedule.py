"""
Tests for L{radiod.library.schedule}.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo

from twisted.trial.unittest import SynchronousTestCase

from radiod.library.schedule import (
    ScheduleError,
    Window,
    is_open,
    load_zone,
    next_change,
    open_windows,
    parse_schedule,
    parse_window,
    pick,
)

PARIS = load_zone("Europe/Paris")
NEW_YORK = load_zone("America/New_York")
MINUTE = timedelta(minutes=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """
    An aware UTC datetime.
    """
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def brute_open(text: str, weekday: int, hour: int, minute: int) -> bool:
    """
    Whether a window of the simple form C{"DAY[,DAY...] HH:MM-HH:MM"} (three
    letter English day names, no ranges) is open at a local minute of the
    week, computed in minutes of the week independently of the module.
    """
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    days, times = text.split()
    start, end = times.split("-")
    start_minute = int(start[:2]) * 60 + int(start[3:])
    end_minute = int(end[:2]) * 60 + int(end[3:])
    length = (end_minute - start_minute) % 1440 or 1440
    now = weekday * 1440 + hour * 60 + minute
    for day in days.lower().split(","):
        opens = names.index(day) * 1440 + start_minute
        if (now - opens) % (7 * 1440) < length:
            return True
    return False


def brute_next(
    windows: Sequence[Window], at: datetime, zone: tzinfo, minutes: int
) -> datetime | None:
    """
    The first whole minute after C{at}, within C{minutes}, at which the
    open windows differ from those at C{at}, by scanning every minute.
    """
    state = open_windows(windows, at, zone)
    moment = at.replace(second=0, microsecond=0)
    for _ in range(minutes):
        moment += MINUTE
        if open_windows(windows, moment, zone) != state:
            return moment
    return None


class ParseWindowTests(SynchronousTestCase):
    """
    Tests for L{parse_window}.
    """

    def test_day_forms(self) -> None:
        """
        A day, a full day name, a range (wrapping or not), a comma list,
        "daily", "every day", "weekdays" and "weekends", in any case and
        spacing, give the days they name.
        """
        cases = {
            "Mon": {0},
            "monday": {0},
            "SUNDAY": {6},
            "Mon-Fri": {0, 1, 2, 3, 4},
            "Mon - Fri": {0, 1, 2, 3, 4},
            "Fri-Mon": {4, 5, 6, 0},
            "Sun-Tue": {6, 0, 1},
            "Mon,Wed,Fri": {0, 2, 4},
            "mon , wed,  Friday": {0, 2, 4},
            "Mon-Tue,Sat": {0, 1, 5},
            "daily": set(range(7)),
            "Every  Day": set(range(7)),
            "weekdays": {0, 1, 2, 3, 4},
            "Weekends": {5, 6},
            "weekends,Wed": {2, 5, 6},
            "Tues,Thurs": {1, 3},
        }
        for days, expected in cases.items():
            text = f"{days} 06:00-10:00"
            self.assertEqual(
                parse_window(text), Window(frozenset(expected), time(6), time(10), text)
            )

    def test_time_forms(self) -> None:
        """
        Times are HH:MM (or H:MM) from 00:00 to 23:59, with flexible spaces
        around the dash; an end of 24:00 is midnight; an end not after the
        start crosses midnight; 00:00-00:00 and 00:00-24:00 are whole days.
        """
        cases = {
            "Mon 06:00-10:00": (time(6), time(10)),
            "Mon 6:00-9:30": (time(6), time(9, 30)),
            "Mon 06:00 - 10:00": (time(6), time(10)),
            "  Mon   06:00 -10:00  ": (time(6), time(10)),
            "Mon06:00-10:00": (time(6), time(10)),
            "Mon 00:00-23:59": (time(0), time(23, 59)),
            "Mon 22:00-24:00": (time(22), time(0)),
            "Fri 22:00-02:00": (time(22), time(2)),
            "Mon 00:00-00:00": (time(0), time(0)),
            "Mon 00:00-24:00": (time(0), time(0)),
        }
        for text, (start, end) in cases.items():
            window = parse_window(text)
            self.assertEqual((window.start, window.end, window.text), (start, end, text))

    def test_errors(self) -> None:
        """
        Anything else is a L{ScheduleError} whose one-line message names the
        problem and quotes the text.
        """
        cases = {
            "Mon-Fri 25:00-10:00": "hour 25 is not a time of day",
            "Mon-Fri 06:00-24:30": "hour 24 is not a time of day",
            "Mon 06:60-10:00": "minute 60 is not a time of day",
            "Mon 24:00-02:00": "24:00 can only be an end time",
            "Fun 06:00-10:00": 'unknown day "fun"',
            "Mon-Fir 06:00-10:00": 'unknown day "fir"',
            "Mon,,Wed 06:00-10:00": "empty day in list",
            "Mon-Mon 06:00-10:00": "starts and ends on the same day",
            "Mon 06:00 10:00": 'missing "-"',
            "Mon 06:00-": "missing end time",
            "Mon -10:00": "missing start time",
            "Mon- 06:00-10:00": 'incomplete day range "mon-"',
            "-Fri 06:00-10:00": 'incomplete day range "-fri"',
            "06:00-10:00": "missing days",
            "Mon-Fri": "missing times",
            "Mon 6h-10h": 'start time "6h" is not HH:MM',
            "Mon 06:00-10:00 extra": 'end time "10:00extra" is not HH:MM',
            "Mon 06:00-10:00-12:00": 'end time "10:00-12:00" is not HH:MM',
            "Mon 06:00-06:00": "starts and ends at 06:00",
            "": "empty window",
            "   ": "empty window",
            "Mon\n06:00-25:00": "hour 25",
        }
        for text, reason in cases.items():
            with self.assertRaises(ScheduleError) as caught:
                parse_window(text)
            message = str(caught.exception)
            self.assertIn(reason, message)
            self.assertNotIn("\n", message)
            if text.isprintable():
                self.assertIn(f'"{text}"', message)

    def test_error_is_value_error(self) -> None:
        """
        L{ScheduleError} is a C{ValueError}, so configuration loading can
        report it like any other bad value.
        """
        self.assertIsInstance(ScheduleError("x"), ValueError)
        self.assertEqual(
            str(self.assertRaises(ScheduleError, parse_window, "Mon-Fri 25:00-10:00")),
            'hour 25 is not a time of day in "Mon-Fri 25:00-10:00"',
        )


class ParseScheduleTests(SynchronousTestCase):
    """
    Tests for L{parse_schedule}.
    """

    def test_one(self) -> None:
        """
        A single window gives a one-window schedule.
        """
        self.assertEqual(parse_schedule("Mon 06:00-10:00"), (parse_window("Mon 06:00-10:00"),))

    def test_semicolons(self) -> None:
        """
        Windows separated by semicolons are read in order; blank pieces are
        skipped.
        """
        self.assertEqual(
            [window.text for window in parse_schedule("Mon 06:00-10:00; Tue 07:00-08:00;")],
            ["Mon 06:00-10:00", " Tue 07:00-08:00"],
        )

    def test_list(self) -> None:
        """
        A list gives one or more windows per entry.
        """
        self.assertEqual(
            [
                w.text
                for w in parse_schedule(["Mon 06:00-10:00", "Tue 07:00-08:00;Wed 09:00-10:00"])
            ],
            ["Mon 06:00-10:00", "Tue 07:00-08:00", "Wed 09:00-10:00"],
        )

    def test_errors(self) -> None:
        """
        An empty schedule, a blank list entry, a non-string entry or a bad
        window is a L{ScheduleError}.
        """
        cases: list[tuple[str | Sequence[str], str]] = [
            ("", 'empty schedule ""'),
            (" ; ", 'empty schedule " ; "'),
            ([], "empty schedule []"),
            (["Mon 06:00-10:00", " "], 'empty window " "'),
            (["Mon 06:00-10:00", 5], "must be a string, not int"),  # type: ignore[list-item]
            ("Mon 06:00-10:00; Tue 25:00-10:00", 'hour 25 is not a time of day in " Tue'),
        ]
        for text, reason in cases:
            with self.assertRaises(ScheduleError) as caught:
                parse_schedule(text)
            self.assertIn(reason, str(caught.exception))


class LoadZoneTests(SynchronousTestCase):
    """
    Tests for L{load_zone}.
    """

    def test_utc(self) -> None:
        """
        "UTC", in any case, and an empty name are UTC.
        """
        for name in ("UTC", "utc", "", " "):
            self.assertIs(load_zone(name), UTC)

    def test_named(self) -> None:
        """
        An IANA name gives that zone.
        """
        zone = load_zone("Europe/Paris")
        self.assertEqual(utc(2026, 1, 5, 12).astimezone(zone).utcoffset(), timedelta(hours=1))
        self.assertEqual(utc(2026, 7, 5, 12).astimezone(zone).utcoffset(), timedelta(hours=2))

    def test_unknown(self) -> None:
        """
        An unknown or malformed name is a L{ScheduleError} naming it.
        """
        for name in ("Mars/Olympus_Mons", "Europe", "../etc/passwd", "Europe/"):
            with self.assertRaises(ScheduleError) as caught:
                load_zone(name)
            self.assertEqual(str(caught.exception), f"unknown time zone '{name}'")


class IsOpenTests(SynchronousTestCase):
    """
    Tests for L{is_open} and L{open_windows}.
    """

    def test_simulated_week(self) -> None:
        """
        Over a week at 15-minute steps, in Paris in winter (UTC+1), each
        window is open exactly when a minute-of-the-week computation says.
        """
        texts = [
            "Mon,Tue,Wed,Thu,Fri 06:00-10:00",
            "Fri 22:00-02:00",
            "Sun 23:00-01:00",
            "Sat,Sun 10:30-12:15",
            "Wed 00:00-00:00",
            "Tue,Thu 23:45-00:15",
        ]
        windows = [parse_window(text) for text in texts]
        start = utc(2026, 1, 4, 23)  # Monday 5 January 2026, 00:00 in Paris.
        for step in range(7 * 24 * 4 + 8):
            at = start + step * timedelta(minutes=15)
            local = at + timedelta(hours=1)
            for text, window in zip(texts, windows, strict=True):
                expected = brute_open(text, local.weekday(), local.hour, local.minute)
                self.assertEqual(is_open(window, at, PARIS), expected, (text, local))
            self.assertEqual(
                open_windows(windows, at, PARIS),
                [w for w in windows if is_open(w, at, PARIS)],
            )

    def test_crossing_midnight(self) -> None:
        """
        A window crossing midnight belongs to the day it starts: "Fri
        22:00-02:00" is open late Friday and early Saturday, but not late
        Saturday nor early Friday; its end is excluded.
        """
        window = parse_window("Fri 22:00-02:00")
        # 9 January 2026 is a Friday.
        self.assertFalse(is_open(window, utc(2026, 1, 9, 1), UTC))
        self.assertFalse(is_open(window, utc(2026, 1, 9, 21, 59), UTC))
        self.assertTrue(is_open(window, utc(2026, 1, 9, 22), UTC))
        self.assertTrue(is_open(window, utc(2026, 1, 10, 1), UTC))
        self.assertFalse(is_open(window, utc(2026, 1, 10, 2), UTC))
        self.assertFalse(is_open(window, utc(2026, 1, 10, 22, 30), UTC))

    def test_sunday_to_monday(self) -> None:
        """
        "Sun 23:00-01:00" wraps into Monday.
        """
        window = parse_window("Sun 23:00-01:00")
        self.assertTrue(is_open(window, utc(2026, 1, 11, 23, 30), UTC))
        self.assertTrue(is_open(window, utc(2026, 1, 12, 0, 59), UTC))
        self.assertFalse(is_open(window, utc(2026, 1, 12, 1), UTC))
        self.assertFalse(is_open(window, utc(2026, 1, 12, 23, 30), UTC))
        self.assertFalse(is_open(window, utc(2026, 1, 11, 0, 30), UTC))

    def test_always(self) -> None:
        """
        "daily 00:00-00:00" is always open.
        """
        window = parse_window("daily 00:00-00:00")
        at = utc(2026, 3, 1)
        for step in range(8 * 24 * 4):
            self.assertTrue(is_open(window, at + step * timedelta(minutes=15), PARIS))

    def test_zone(self) -> None:
        """
        Windows are read on the zone's wall clock.
        """
        window = parse_window("Mon 06:00-10:00")
        self.assertTrue(is_open(window, utc(2026, 1, 5, 5), PARIS))
        self.assertFalse(is_open(window, utc(2026, 1, 5, 5), UTC))
        self.assertTrue(is_open(window, utc(2026, 1, 5, 14), NEW_YORK))

    def test_naive(self) -> None:
        """
        A naive instant is refused.
        """
        window = parse_window("Mon 06:00-10:00")
        self.assertRaises(ValueError, is_open, window, datetime(2026, 1, 5, 7), UTC)

    def assertOpenings(
        self, window: Window, zone: tzinfo, start: datetime, expected: list[bool]
    ) -> None:
        """
        Assert whether C{window} is open at each quarter hour from C{start}.
        """
        actual = [is_open(window, start + n * timedelta(minutes=15), zone) for n in range(12)]
        self.assertEqual(actual, expected)

    def test_paris_spring_forward(self) -> None:
        """
        On 29 March 2026 Paris skips from 02:00 to 03:00: "Sun 01:30-02:30"
        is open from 01:30 until the jump (30 minutes), and "Sun
        02:00-03:00" is never open.
        """
        start = utc(2026, 3, 29, 0)  # 01:00 CET.
        self.assertOpenings(
            parse_window("Sun 01:30-02:30"),
            PARIS,
            start,
            [False, False, True, True, False, False, False, False, False, False, False, False],
        )
        self.assertOpenings(parse_window("Sun 02:00-03:00"), PARIS, start, [False] * 12)

    def test_paris_fall_back(self) -> None:
        """
        On 25 October 2026 Paris goes back from 03:00 to 02:00: "Sun
        01:30-02:30" is open 01:30-02:30 summer time, then again for both
        occurrences of 02:00-02:30, winter time.
        """
        start = utc(2026, 10, 24, 23)  # 01:00 CEST.
        self.assertOpenings(
            parse_window("Sun 01:30-02:30"),
            PARIS,
            start,
            [False, False, True, True, True, True, False, False, True, True, False, False],
        )

    def test_new_york_spring_forward(self) -> None:
        """
        On 8 March 2026 New York skips from 02:00 to 03:00: "Sun 01:30-02:30"
        is open from 01:30 until the jump.
        """
        start = utc(2026, 3, 8, 6)  # 01:00 EST.
        self.assertOpenings(
            parse_window("Sun 01:30-02:30"),
            NEW_YORK,
            start,
            [False, False, True, True, False, False, False, False, False, False, False, False],
        )

    def test_new_york_fall_back(self) -> None:
        """
        On 1 November 2026 New York goes back from 02:00 to 01:00: "Sun
        01:30-02:30" is open 01:30-02:00 daylight time, closed during
        01:00-01:30 standard time, then open 01:30-02:30 standard time.
        """
        start = utc(2026, 11, 1, 5)  # 01:00 EDT.
        self.assertOpenings(
            parse_window("Sun 01:30-02:30"),
            NEW_YORK,
            start,
            [False, False, True, True, False, False, True, True, True, True, False, False],
        )


class NextChangeTests(SynchronousTestCase):
    """
    Tests for L{next_change}.
    """

    def assertMatchesScan(
        self, texts: str, zone: tzinfo, instants: list[datetime], minutes: int = 3 * 1440
    ) -> None:
        """
        Assert that L{next_change} agrees with a minute-by-minute scan from
        each instant, and is in UTC.
        """
        windows = parse_schedule(texts)
        for at in instants:
            expected = brute_next(windows, at, zone, minutes)
            actual = next_change(windows, at, zone)
            if expected is None:
                self.assertTrue(actual is None or actual > at + minutes * MINUTE, (at, actual))
            else:
                self.assertEqual(actual, expected, at)
                assert actual is not None
                self.assertIs(actual.tzinfo, UTC)

    def test_midnight(self) -> None:
        """
        Changes across midnight, including a window crossing it.
        """
        self.assertMatchesScan(
            "Fri 22:00-02:00; Sat 01:00-03:00; daily 23:30-00:30",
            PARIS,
            [
                utc(2026, 1, 9, 20, 7, 13),
                utc(2026, 1, 9, 21),
                utc(2026, 1, 9, 23, 59),
                utc(2026, 1, 10, 0, 45),
            ],
        )

    def test_week_boundary(self) -> None:
        """
        Changes across the end of the week, with a Sunday-to-Monday window.
        """
        self.assertMatchesScan(
            "Sun 23:00-01:00; Mon 00:30-02:00; Sat,Sun 20:00-21:00",
            UTC,
            [utc(2026, 1, 11, 12), utc(2026, 1, 11, 23, 15), utc(2026, 1, 12, 0, 40)],
        )

    def test_dst(self) -> None:
        """
        Changes across the daylight saving changes of Paris and New York,
        including a window open in the skipped or repeated hour.
        """
        texts = "Sun 01:30-02:30; Sun 02:00-03:00; Sat 23:00-01:00; Sun 03:00-04:00"
        for zone, day in [
            (PARIS, utc(2026, 3, 28, 20)),
            (PARIS, utc(2026, 10, 24, 20)),
            (NEW_YORK, utc(2026, 3, 8, 3)),
            (NEW_YORK, utc(2026, 11, 1, 3)),
        ]:
            instants = [day + n * timedelta(minutes=10) for n in range(0, 9 * 6)]
            self.assertMatchesScan(texts, zone, instants, minutes=12 * 60)

    def test_values(self) -> None:
        """
        A few changes spelled out: the skipped and repeated hours of Paris.
        """
        windows = parse_schedule("Sun 01:30-02:30")
        self.assertEqual(next_change(windows, utc(2026, 3, 29, 0, 45), PARIS), utc(2026, 3, 29, 1))
        self.assertEqual(
            next_change(windows, utc(2026, 10, 25, 0, 45), PARIS), utc(2026, 10, 25, 1)
        )
        self.assertEqual(
            next_change(windows, utc(2026, 10, 25, 1), PARIS), utc(2026, 10, 25, 1, 30)
        )

    def test_week_ahead(self) -> None:
        """
        A weekly window's next opening is found up to a week ahead.
        """
        windows = parse_schedule("Mon 06:00-10:00")
        self.assertEqual(next_change(windows, utc(2026, 1, 5, 10), UTC), utc(2026, 1, 12, 6))

    def test_never(self) -> None:
        """
        Without windows, or with one that is always open, nothing changes.
        """
        self.assertIsNone(next_change([], utc(2026, 1, 5), PARIS))
        self.assertIsNone(next_change(parse_schedule("daily 00:00-00:00"), utc(2026, 3, 27), PARIS))
        self.assertIsNone(next_change(parse_schedule("daily 00:00-24:00"), utc(2026, 1, 5), UTC))

    def test_handover(self) -> None:
        """
        One window closing as another opens is a change, even if some
        window is open throughout.
        """
        windows = parse_schedule("weekdays 00:00-24:00; weekends 00:00-00:00")
        self.assertEqual(next_change(windows, utc(2026, 1, 5), UTC), utc(2026, 1, 10))


class PickTests(SynchronousTestCase):
    """
    Tests for L{pick}.
    """

    def test_overlap(self) -> None:
        """
        A show starting inside another's window takes over until it ends,
        then the other resumes.
        """
        candidates = [
            ("mornings", parse_schedule("Mon-Fri 06:00-10:00")),
            ("special", parse_schedule("Wed 08:00-09:00")),
        ]
        # 7 January 2026 is a Wednesday; Paris is UTC+1.
        self.assertEqual(pick(candidates, utc(2026, 1, 7, 6, 30), PARIS), "mornings")
        self.assertEqual(pick(candidates, utc(2026, 1, 7, 7, 30), PARIS), "special")
        self.assertEqual(pick(candidates, utc(2026, 1, 7, 8, 30), PARIS), "mornings")
        self.assertEqual(pick(candidates, utc(2026, 1, 8, 7, 30), PARIS), "mornings")
        self.assertIsNone(pick(candidates, utc(2026, 1, 7, 9, 30), PARIS))
        self.assertEqual(pick(list(reversed(candidates)), utc(2026, 1, 7, 7, 30), PARIS), "special")

    def test_ties(self) -> None:
        """
        Windows opening at the same moment go to the one listed first.
        """
        first = ("first", parse_schedule("Wed 08:00-09:00"))
        second = ("second", parse_schedule("Wed 08:00-10:00"))
        at = utc(2026, 1, 7, 8, 30)
        self.assertEqual(pick([first, second], at, UTC), "first")
        self.assertEqual(pick([second, first], at, UTC), "second")
        self.assertEqual(pick([first, second], utc(2026, 1, 7, 9, 30), UTC), "second")

    def test_fallback(self) -> None:
        """
        An always-open playlist never takes over from a show, even at
        midnight, and has the air between shows.
        """
        candidates = [
            ("always", parse_schedule("daily 00:00-00:00")),
            ("late", parse_schedule("Fri 22:00-02:00")),
        ]
        self.assertEqual(pick(candidates, utc(2026, 1, 9, 21), UTC), "always")
        self.assertEqual(pick(candidates, utc(2026, 1, 9, 23), UTC), "late")
        self.assertEqual(pick(candidates, utc(2026, 1, 10, 0, 30), UTC), "late")
        self.assertEqual(pick(candidates, utc(2026, 1, 10, 2), UTC), "always")

    def test_continuous(self) -> None:
        """
        Back-to-back windows of one playlist count as one stretch on air,
        so a show starting at the seam takes over.
        """
        candidates = [
            ("late", parse_schedule("Mon 22:00-00:00; Tue 00:00-02:00")),
            ("news", parse_schedule("Tue 00:00-00:10")),
        ]
        self.assertEqual(pick(candidates, utc(2026, 1, 5, 23), UTC), "late")
        self.assertEqual(pick(candidates, utc(2026, 1, 6, 0, 5), UTC), "news")
        self.assertEqual(pick(candidates, utc(2026, 1, 6, 0, 15), UTC), "late")

    def test_none(self) -> None:
        """
        With no candidates, or none open, nothing has the air.
        """
        self.assertIsNone(pick([], utc(2026, 1, 7), UTC))
        self.assertIsNone(pick([("a", parse_schedule("Mon 06:00-07:00"))], utc(2026, 1, 7), UTC))
