"""
Tests for L{radiod.audience.figures}: each figure computed on a few
hand-built sessions, with the answer worked out beside the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from twisted.trial.unittest import SynchronousTestCase

from radiod.audience.figures import (
    GRAINS,
    UNKNOWN_COUNTRY,
    Session,
    Share,
    aggregate_tuning_hours,
    bounds,
    figures,
    per_mount,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")

VLC = "VLC/3.0.20 LibVLC/3.0.20"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
TUNEIN = "TuneIn Radio/32.1.1; Android 14; Pixel 8; Java"
SONOS = "Sonos/79.1-54070 (ZPS38)"


@dataclass(frozen=True)
class Heard:
    """
    A listener session with just what the figures read.
    """

    start: float
    end: float
    client: str
    mount: str = "/live"
    user_agent: str = ""
    country: str = ""


_PROVIDES: Session = Heard(0.0, 60.0, "a")
"""
A type check: L{Heard} provides L{Session}.
"""


def at(hour: int, minute: int = 0, second: int = 0, day: int = 15) -> float:
    """
    A moment of January 2024, UTC, in Unix seconds.
    """
    return datetime(2024, 1, day, hour, minute, second, tzinfo=UTC).timestamp()


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> float:
    """
    A moment of the clock of C{zone}, in Unix seconds.
    """
    return datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()


class BoundsTests(SynchronousTestCase):
    """
    Tests for L{bounds}.
    """

    def test_widened_to_whole_periods(self) -> None:
        """
        A range is widened to whole periods: its start goes back to the
        start of its hour, its end forward to the end of its hour, but an
        end already on a boundary stays.
        """
        self.assertEqual(bounds(at(10, 20), at(11), "hour", UTC), [at(10), at(11)])
        self.assertEqual(bounds(at(10, 20), at(11, 0, 1), "hour", UTC), [at(10), at(11), at(12)])

    def test_days_and_months_of_the_station_clock(self) -> None:
        """
        Days start at local midnight and months on the first, in the
        station's zone: in Paris in January (UTC+1), 23:00 UTC on the
        14th is midnight on the 15th.
        """
        self.assertEqual(
            bounds(at(23, day=14), at(23, day=15), "day", PARIS),
            [at(23, day=14), at(23, day=15)],
        )
        self.assertEqual(
            bounds(at(12), at(13), "month", PARIS),
            [local(PARIS, 2024, 1, 1), local(PARIS, 2024, 2, 1)],
        )

    def test_refused(self) -> None:
        """
        An unknown period length or an empty range is refused.
        """
        self.assertEqual(GRAINS, ("hour", "day", "month"))
        self.assertRaises(ValueError, bounds, at(10), at(11), "week", UTC)
        self.assertRaises(ValueError, bounds, at(10), at(10), "hour", UTC)
        self.assertRaises(ValueError, figures, [], at(11), at(10), "hour", UTC)


class QualifyingTests(SynchronousTestCase):
    """
    Only sessions of a minute or more count.
    """

    def test_short_session_excluded(self) -> None:
        """
        A 59-second session counts in nothing but the peak; a session of
        exactly 60 seconds counts.

        10:00:00-10:00:59 (59 s, client a) is left out;
        10:10:00-10:11:00 (60 s, client b) is in:
        1 session start, 1 active session, cume 1, TLH 60 s = 1/60 h,
        AAS 1/60 h / 1 h = 1/60, TSL = ATSL = 1/60 h.  No quarter hour has
        5 minutes of anyone, so AQH is 0.  The two never overlap: peak 1.
        """
        sessions = [
            Heard(at(10), at(10, 0, 59), "a", user_agent=VLC, country="US"),
            Heard(at(10, 10), at(10, 11), "b", user_agent=CHROME, country="FR"),
        ]
        (hour,) = figures(sessions, at(10), at(11), "hour", UTC).periods
        self.assertEqual(hour.session_starts, 1)
        self.assertEqual(hour.active_sessions, 1)
        self.assertEqual(hour.cume, 1)
        self.assertAlmostEqual(hour.tlh, 1 / 60)
        self.assertAlmostEqual(hour.aas, 1 / 60)
        self.assertAlmostEqual(hour.tsl, 1 / 60)
        self.assertAlmostEqual(hour.atsl, 1 / 60)
        self.assertEqual(hour.aqh, 0)
        self.assertEqual(hour.peak, 1)
        self.assertEqual(hour.families["player"], Share(0, 0.0))
        self.assertEqual(list(hour.countries), ["FR"])

    def test_qualifies_on_whole_length(self) -> None:
        """
        A session qualifies on its whole length, and then counts in a
        period for whatever part falls there, however short.

        10:59:30-11:10:00 lasts 10.5 minutes; 30 s of it fall in the
        10:00 hour, which still has 1 active session (but no session
        start) and TLH 30 s = 1/120 h.
        """
        sessions = [Heard(at(10, 59, 30), at(11, 10), "a")]
        ten, eleven = figures(sessions, at(10), at(12), "hour", UTC).periods
        self.assertEqual((ten.session_starts, ten.active_sessions), (1, 1))
        self.assertAlmostEqual(ten.tlh, 1 / 120)
        self.assertEqual((eleven.session_starts, eleven.active_sessions), (0, 1))
        self.assertAlmostEqual(eleven.tlh, 10 / 60)

    def test_empty(self) -> None:
        """
        A period no one listened in has zeros everywhere, and no division
        by zero.
        """
        (hour,) = figures([], at(10), at(11), "hour", UTC).periods
        self.assertEqual(
            (hour.cume, hour.tlh, hour.aas, hour.aqh, hour.tsl, hour.atsl, hour.peak),
            (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0),
        )
        self.assertEqual(hour.countries, {})


class SplitTests(SynchronousTestCase):
    """
    A session crossing a period boundary is split between the periods.
    """

    def test_two_hours(self) -> None:
        """
        10:40-11:20 is 20 minutes in each hour.

        Each hour: 1 active session, TLH 20 min = 1/3 h, AAS 1/3, cume 1.
        Only the 10:00 hour has the session's start.  AQH of the 10:00
        hour: 10:30-10:45 has 5 minutes (10:40-10:45, just enough),
        10:45-11:00 has 15, the first two quarters none: 2 / 4 = 0.5;
        of the 11:00 hour, 11:00-11:15 has 15 and 11:15-11:30 has 5:
        also 0.5.  The total over both hours: 1 session start, 1 active
        session, TLH 2/3 h, AAS (2/3) / 2 = 1/3, AQH 4 / 8 = 0.5.
        """
        result = figures([Heard(at(10, 40), at(11, 20), "a")], at(10), at(12), "hour", UTC)
        ten, eleven = result.periods
        self.assertEqual((ten.start, ten.end), (_utc(10), _utc(11)))
        self.assertEqual((eleven.start, eleven.end), (_utc(11), _utc(12)))
        for hour in (ten, eleven):
            self.assertEqual((hour.active_sessions, hour.cume, hour.peak), (1, 1, 1))
            self.assertAlmostEqual(hour.tlh, 1 / 3)
            self.assertAlmostEqual(hour.aas, 1 / 3)
            self.assertEqual(hour.aqh, 0.5)
        self.assertEqual((ten.session_starts, eleven.session_starts), (1, 0))
        total = result.total
        self.assertEqual((total.start, total.end, total.hours), (_utc(10), _utc(12), 2.0))
        self.assertEqual((total.session_starts, total.active_sessions), (1, 1))
        self.assertAlmostEqual(total.tlh, 2 / 3)
        self.assertAlmostEqual(total.aas, 1 / 3)
        self.assertEqual(total.aqh, 0.5)


def _utc(hour: int, day: int = 15) -> datetime:
    """
    An hour of January 2024 as the figures give it in UTC.
    """
    return datetime(2024, 1, day, hour, tzinfo=UTC)


class ListenerTests(SynchronousTestCase):
    """
    Unique listeners (cume), TSL and ATSL.
    """

    def test_one_client_counted_once(self) -> None:
        """
        Two sessions of one client count once in the cume.

        a: 10:00-10:20 and 10:30-10:50; b: 10:05-10:25.
        3 active sessions, cume 2 (a, b), TLH 20 + 20 + 20 min = 1 h,
        AAS 1, TSL = 1 h / 2 listeners = 0.5 h,
        ATSL = 1 h / 3 sessions = 1/3 h.
        """
        sessions = [
            Heard(at(10), at(10, 20), "a"),
            Heard(at(10, 30), at(10, 50), "a"),
            Heard(at(10, 5), at(10, 25), "b"),
        ]
        (hour,) = figures(sessions, at(10), at(11), "hour", UTC).periods
        self.assertEqual((hour.active_sessions, hour.cume), (3, 2))
        self.assertAlmostEqual(hour.tlh, 1.0)
        self.assertAlmostEqual(hour.aas, 1.0)
        self.assertAlmostEqual(hour.tsl, 0.5)
        self.assertAlmostEqual(hour.atsl, 1 / 3)

    def test_cume_of_a_day_not_summed(self) -> None:
        """
        The cume of a day counts each client once, however many of its
        hours they listened in: a at 10:00 and 14:00, b at 10:00 give
        hourly cumes of 2 and 1 but a daily cume of 2, not 3.
        """
        sessions = [
            Heard(at(10), at(10, 30), "a"),
            Heard(at(14), at(14, 30), "a"),
            Heard(at(10), at(10, 30), "b"),
        ]
        hourly = figures(sessions, at(0), at(0, day=16), "hour", UTC)
        self.assertEqual(hourly.periods[10].cume, 2)
        self.assertEqual(hourly.periods[14].cume, 1)
        self.assertEqual(hourly.total.cume, 2)
        (day,) = figures(sessions, at(0), at(0, day=16), "day", UTC).periods
        self.assertEqual(day.cume, 2)

    def test_unknown_clients_apart(self) -> None:
        """
        Sessions whose client is not known are a listener each: two
        such sessions make a cume of 2.
        """
        sessions = [Heard(at(10), at(10, 10), ""), Heard(at(10, 20), at(10, 30), "")]
        (hour,) = figures(sessions, at(10), at(11), "hour", UTC).periods
        self.assertEqual(hour.cume, 2)


class QuarterHourTests(SynchronousTestCase):
    """
    Average quarter-hour persons.
    """

    def test_five_minutes_in_a_quarter(self) -> None:
        """
        A person counts in a quarter hour where they listened 5 minutes.

        Quarter 10:00-10:15: "over" 10:00-10:06 (6 min) counts, "under"
        10:00-10:04 (4 min) does not.
        Quarter 10:15-10:30: "split" 10:16-10:18 and 10:20-10:23
        (2 + 3 = 5 aggregate minutes) counts; "across" 10:27-10:33 has
        3 minutes here and 3 in the next quarter: counts in neither.
        Quarter 10:45-11:00: "double" has two sessions at once,
        10:45-10:49 and 10:46-10:49:30; together they cover 4.5 minutes
        (not 4 + 3.5 = 7.5): does not count.
        AQH = (1 + 1 + 0 + 0) / 4 = 0.5.  Cume 5.
        """
        sessions = [
            Heard(at(10), at(10, 6), "over"),
            Heard(at(10), at(10, 4), "under"),
            Heard(at(10, 16), at(10, 18), "split"),
            Heard(at(10, 20), at(10, 23), "split"),
            Heard(at(10, 27), at(10, 33), "across"),
            Heard(at(10, 45), at(10, 49), "double"),
            Heard(at(10, 46), at(10, 49, 30), "double"),
        ]
        (hour,) = figures(sessions, at(10), at(11), "hour", UTC).periods
        self.assertEqual(hour.aqh, 0.5)
        self.assertEqual(hour.cume, 5)

    def test_day(self) -> None:
        """
        The AQH of a day averages over its 96 quarter hours: one listener
        from 10:00 to 12:00 is in 8 of them, 8 / 96 = 1/12.
        """
        (day,) = figures([Heard(at(10), at(12), "a")], at(0), at(1), "day", UTC).periods
        self.assertAlmostEqual(day.aqh, 8 / 96)


class PeakTests(SynchronousTestCase):
    """
    Peak concurrent listeners.
    """

    def test_touching(self) -> None:
        """
        A session starting as another ends does not overlap it: 10:00-10:30
        then 10:30-11:00 make a peak of 1.
        """
        sessions = [Heard(at(10), at(10, 30), "a"), Heard(at(10, 30), at(11), "b")]
        (hour,) = figures(sessions, at(10), at(11), "hour", UTC).periods
        self.assertEqual(hour.peak, 1)

    def test_overlapping(self) -> None:
        """
        The peak is the most sessions open at once, short ones included.

        a 10:00-10:30, b 10:10-10:20, c 10:15:00-10:15:30 (30 s: too short
        to count elsewhere), d 10:30-10:40 (starts as a ends).
        From 10:15:00 to 10:15:30, a, b and c are open: peak 3.
        At 10:30, a has ended as d starts: 1, not 2.
        """
        sessions = [
            Heard(at(10), at(10, 30), "a"),
            Heard(at(10, 10), at(10, 20), "b"),
            Heard(at(10, 15), at(10, 15, 30), "c"),
            Heard(at(10, 30), at(10, 40), "d"),
        ]
        (hour,) = figures(sessions, at(10), at(11), "hour", UTC).periods
        self.assertEqual(hour.peak, 3)
        self.assertEqual(hour.active_sessions, 3)

    def test_within_the_period(self) -> None:
        """
        The peak of a period counts only what is open inside it: a
        10:00-10:30 and b 10:50-11:30 overlap no one in the 10:00 hour
        (peak 1), and c 11:10-11:20 overlaps b in the 11:00 hour (peak 2).
        """
        sessions = [
            Heard(at(10), at(10, 30), "a"),
            Heard(at(10, 50), at(11, 30), "b"),
            Heard(at(11, 10), at(11, 20), "c"),
        ]
        ten, eleven = figures(sessions, at(10), at(12), "hour", UTC).periods
        self.assertEqual((ten.peak, eleven.peak), (1, 2))


class TimeZoneTests(SynchronousTestCase):
    """
    Periods follow the station's clock through daylight saving time.
    """

    def test_spring_forward_day(self) -> None:
        """
        In Paris on 31 March 2024, clocks go from 02:00 CET to 03:00 CEST:
        the day has 23 hours, the 30th 24.

        One listener from 01:30 CET to 03:30 CEST listens 1 hour:
        TLH 1, AAS 1/23.  They fill 4 quarter hours (01:30, 01:45, 03:00,
        03:15) of the day's 92: AQH 4 / 92 = 1/23.
        """
        start = local(PARIS, 2024, 3, 31, 1, 30)
        end = local(PARIS, 2024, 3, 31, 3, 30)
        self.assertEqual(end - start, 3600)
        sessions = [Heard(start, end, "a")]
        thirtieth, thirty_first = figures(
            sessions, local(PARIS, 2024, 3, 30), local(PARIS, 2024, 4, 1), "day", PARIS
        ).periods
        self.assertEqual(thirtieth.hours, 24)
        self.assertEqual(thirty_first.hours, 23)
        self.assertEqual(thirty_first.start, datetime(2024, 3, 31, tzinfo=PARIS))
        self.assertEqual(thirty_first.end, datetime(2024, 4, 1, tzinfo=PARIS))
        self.assertAlmostEqual(thirty_first.tlh, 1.0)
        self.assertAlmostEqual(thirty_first.aas, 1 / 23)
        self.assertAlmostEqual(thirty_first.aqh, 4 / 92)

    def test_spring_forward_hours(self) -> None:
        """
        The same day by the hour has 23 hours, with no 02:00: the hour
        from 01:00 CET ends at 03:00 CEST.
        """
        hours = figures(
            [], local(PARIS, 2024, 3, 31), local(PARIS, 2024, 4, 1), "hour", PARIS
        ).periods
        self.assertEqual(len(hours), 23)
        self.assertEqual(
            [period.start.strftime("%H%z") for period in hours[:4]],
            ["00+0100", "01+0100", "03+0200", "04+0200"],
        )
        self.assertEqual({period.hours for period in hours}, {1.0})

    def test_fall_back_day(self) -> None:
        """
        On 27 October 2024 clocks go back from 03:00 CEST to 02:00 CET:
        the day has 25 hours, two of them starting at 02:00, one for each
        offset.
        """
        start, end = local(PARIS, 2024, 10, 27), local(PARIS, 2024, 10, 28)
        (day,) = figures([], start, end, "day", PARIS).periods
        self.assertEqual(day.hours, 25)
        hours = figures([], start, end, "hour", PARIS).periods
        self.assertEqual(len(hours), 25)
        self.assertEqual(
            [period.start.isoformat() for period in hours[2:4]],
            ["2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00"],
        )

    def test_midnight_skipped(self) -> None:
        """
        In Santiago, clocks go from 24:00 on 7 September 2024 straight to
        01:00 on the 8th: the 8th starts at 01:00 and has 23 hours.
        """
        santiago = ZoneInfo("America/Santiago")
        start = local(santiago, 2024, 9, 7, 12)
        seventh, eighth = figures([], start, start + 86400, "day", santiago).periods
        self.assertEqual(seventh.hours, 24)
        self.assertEqual(eighth.start.isoformat(), "2024-09-08T01:00:00-03:00")
        self.assertEqual(eighth.hours, 23)

    def test_months(self) -> None:
        """
        In Paris, March 2024 has 31 * 24 - 1 = 743 hours, October
        31 * 24 + 1 = 745, and February 29 * 24 = 696.
        """
        months = figures(
            [], local(PARIS, 2024, 2, 1), local(PARIS, 2024, 11, 1), "month", PARIS
        ).periods
        self.assertEqual(
            [(period.start.month, period.hours) for period in months],
            [
                (2, 696),
                (3, 743),
                (4, 720),
                (5, 744),
                (6, 720),
                (7, 744),
                (8, 744),
                (9, 720),
                (10, 745),
            ],
        )

    def test_fixed_offset(self) -> None:
        """
        A zone with a fixed offset needs no names: in UTC+05:30 a day
        starts at 18:30 UTC the day before.
        """
        india = timezone(timedelta(hours=5, minutes=30))
        (day,) = figures([], at(12), at(13), "day", india).periods
        self.assertEqual(day.start, datetime(2024, 1, 15, tzinfo=india))
        self.assertEqual(day.start.timestamp(), at(18, 30, day=14))


class BreakdownTests(SynchronousTestCase):
    """
    Listening by user-agent family and by country.
    """

    def test_families_and_countries(self) -> None:
        """
        Each family and each country gets its active sessions and their
        hours.

        VLC, US, 10:00-11:00: player, 1 session, 1 h.
        Chrome, FR, 10:00-10:30: browser, 0.5 h.
        Chrome, no country, 10:30-10:45: browser, 0.25 h.
        TuneIn, FR, 10:00-10:15: app, 0.25 h.
        Sonos, US, 10:00:00-10:00:30: too short, counted nowhere.
        Families: browser 2 sessions 0.75 h, app 1 0.25 h, player 1 1 h,
        smart speaker, bot and other none.  Countries: FR 2 sessions
        0.75 h, US 1 1 h, unknown 1 0.25 h.
        """
        sessions = [
            Heard(at(10), at(11), "a", user_agent=VLC, country="US"),
            Heard(at(10), at(10, 30), "b", user_agent=CHROME, country="FR"),
            Heard(at(10, 30), at(10, 45), "c", user_agent=CHROME),
            Heard(at(10), at(10, 15), "d", user_agent=TUNEIN, country="FR"),
            Heard(at(10), at(10, 0, 30), "e", user_agent=SONOS, country="US"),
        ]
        (hour,) = figures(sessions, at(10), at(11), "hour", UTC).periods
        self.assertEqual(
            dict(hour.families),
            {
                "browser": Share(2, 0.75),
                "app": Share(1, 0.25),
                "smart speaker": Share(0, 0.0),
                "player": Share(1, 1.0),
                "bot": Share(0, 0.0),
                "other": Share(0, 0.0),
            },
        )
        self.assertEqual(
            dict(hour.countries),
            {"FR": Share(2, 0.75), "US": Share(1, 1.0), UNKNOWN_COUNTRY: Share(1, 0.25)},
        )
        self.assertEqual(list(hour.countries), ["FR", "US", "unknown"])


class MountTests(SynchronousTestCase):
    """
    Figures for one mount, for every mount, and mount by mount.
    """

    sessions = (
        Heard(at(10), at(10, 30), "a", mount="/live"),
        Heard(at(10), at(11), "b", mount="/jazz"),
        Heard(at(10, 15), at(10, 45), "c", mount="/live"),
    )

    def test_one_mount(self) -> None:
        """
        With a mount named, only its sessions count: /live has 2 sessions,
        30 + 30 minutes = 1 h.
        """
        result = figures(self.sessions, at(10), at(11), "hour", UTC, "/live")
        self.assertEqual(result.mount, "/live")
        self.assertEqual(result.total.active_sessions, 2)
        self.assertAlmostEqual(result.total.tlh, 1.0)

    def test_every_mount(self) -> None:
        """
        Without a mount, every session counts: 3 sessions, 2 h, and from
        10:15 to 10:30 all three are open.
        """
        result = figures(self.sessions, at(10), at(11), "hour", UTC)
        self.assertIsNone(result.mount)
        self.assertEqual((result.total.active_sessions, result.total.peak), (3, 3))
        self.assertAlmostEqual(result.total.tlh, 2.0)

    def test_per_mount(self) -> None:
        """
        L{per_mount} gives each mount's figures, in the order of their
        names: /jazz 1 h, /live 1 h.
        """
        results = per_mount(self.sessions, at(10), at(11), "hour", UTC)
        self.assertEqual([result.mount for result in results], ["/jazz", "/live"])
        self.assertEqual([result.total.active_sessions for result in results], [1, 2])
        self.assertRaises(ValueError, per_mount, [], at(10), at(10), "hour", UTC)


class TuningHourTests(SynchronousTestCase):
    """
    SoundExchange's aggregate tuning hours of a month.
    """

    def sessions(self) -> list[Heard]:
        """
        Sessions around March 2024 in New York, where clocks go forward
        on the 10th (the month has 743 hours).

        /live:
          - US, 2 h on the 5th: 2 h;
          - US, 30 s on the 5th: counts, no minimum length: 1/120 h;
          - no country, 1 h on the 6th: 1 h, unless unknown is left out;
          - FR, 5 h: not a US listener, left out;
          - US, 31 March 23:00 EDT to 1 April 01:00: 1 h in March;
          - US (written "us"), 29 February 23:30 EST to 1 March 00:30:
            0.5 h in March.
        /jazz: US, 3 h across the change of clocks on the 10th
        (00:00 EST to 04:00 EDT is 3 h).
        /live's ATH: 2 + 1/120 + 1 + 1 + 0.5 = 4.508333..., or
        3.508333... without the unknown country.
        """
        zone = NEW_YORK
        return [
            Heard(local(zone, 2024, 3, 5, 8), local(zone, 2024, 3, 5, 10), "a", country="US"),
            Heard(
                local(zone, 2024, 3, 5, 12),
                local(zone, 2024, 3, 5, 12, 0, 30),
                "b",
                country="US",
            ),
            Heard(local(zone, 2024, 3, 6, 8), local(zone, 2024, 3, 6, 9), "c"),
            Heard(local(zone, 2024, 3, 7, 8), local(zone, 2024, 3, 7, 13), "d", country="FR"),
            Heard(local(zone, 2024, 3, 31, 23), local(zone, 2024, 4, 1, 1), "e", country="US"),
            Heard(
                local(zone, 2024, 2, 29, 23, 30), local(zone, 2024, 3, 1, 0, 30), "f", country="us"
            ),
            Heard(
                local(zone, 2024, 3, 10),
                local(zone, 2024, 3, 10, 4),
                "g",
                mount="/jazz",
                country="US",
            ),
        ]

    def test_month(self) -> None:
        """
        Each mount's ATH for March, in the order of the mounts' names,
        with the sessions that made it.
        """
        jazz, live = aggregate_tuning_hours(self.sessions(), 2024, 3, NEW_YORK)
        self.assertEqual((jazz.mount, jazz.sessions), ("/jazz", 1))
        self.assertAlmostEqual(jazz.hours, 3.0)
        self.assertEqual((live.mount, live.sessions), ("/live", 5))
        self.assertAlmostEqual(live.hours, 2 + 1 / 120 + 1 + 1 + 0.5)
        self.assertEqual(live.start, datetime(2024, 3, 1, tzinfo=NEW_YORK))
        self.assertEqual(live.end, datetime(2024, 4, 1, tzinfo=NEW_YORK))

    def test_without_unknown(self) -> None:
        """
        Told to, sessions with no country are left out.
        """
        _, live = aggregate_tuning_hours(self.sessions(), 2024, 3, NEW_YORK, unknown=False)
        self.assertAlmostEqual(live.hours, 2 + 1 / 120 + 1 + 0.5)

    def test_quiet_mounts(self) -> None:
        """
        Mounts named by the caller are reported even with no listening.
        """
        results = aggregate_tuning_hours(self.sessions(), 2024, 3, NEW_YORK, mounts=["/quiet"])
        self.assertEqual([result.mount for result in results], ["/jazz", "/live", "/quiet"])
        self.assertEqual((results[2].hours, results[2].sessions), (0.0, 0))

    def test_not_a_month(self) -> None:
        """
        A month outside 1 to 12 is refused.
        """
        self.assertRaises(ValueError, aggregate_tuning_hours, [], 2024, 13, NEW_YORK)
