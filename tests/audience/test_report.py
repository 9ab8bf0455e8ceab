"""
Tests for L{radiod.audience.report}: figures as JSON-ready values, as CSV,
and as the monthly ATH file for SoundExchange, checked to the character.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from twisted.trial.unittest import SynchronousTestCase

from radiod.audience.figures import (
    Figures,
    Tuning,
    aggregate_tuning_hours,
    figures,
    per_mount,
)
from radiod.audience.report import (
    ATH_COLUMNS,
    COUNTRY_COLUMNS,
    FIGURE_COLUMNS,
    ath_csv,
    countries_csv,
    figures_csv,
    figures_json,
    period_json,
)

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")

VLC = "VLC/3.0.20 LibVLC/3.0.20"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
TUNEIN = "TuneIn Radio/32.1.1; Android 14; Pixel 8; Java"

HEADER = (
    "mount,start,end,hours,session_starts,active_sessions,cume,tlh,aas,aqh,tsl,atsl,peak,"
    "browser_sessions,browser_tlh,app_sessions,app_tlh,smart_speaker_sessions,"
    "smart_speaker_tlh,player_sessions,player_tlh,bot_sessions,bot_tlh,"
    "other_sessions,other_tlh\r\n"
)


@dataclass(frozen=True)
class Heard:
    """
    A listener session with just what the figures read.
    """

    mount: str
    start: float
    end: float
    client: str
    user_agent: str = ""
    country: str = ""


def at(hour: int, minute: int = 0, second: int = 0) -> float:
    """
    A moment of 15 January 2024, UTC, in Unix seconds.
    """
    return datetime(2024, 1, 15, hour, minute, second, tzinfo=UTC).timestamp()


SESSIONS = (
    Heard("/live", at(10, 40), at(11, 20), "a", VLC, "US"),
    Heard("/live", at(10), at(10, 30), "b", CHROME, "FR"),
    Heard("/jazz", at(11), at(11, 15), "c", TUNEIN, "DE"),
)
"""
Two mounts from 10:00 to 12:00 UTC.

/live, 10:00 hour: a (VLC, US) 10:40-11:20 gives 20 min, b (Chrome, FR)
10:00-10:30 30 min: 2 starts, 2 active, cume 2, TLH 50 min = 0.833 h,
AAS 0.833, AQH 4 / 4 = 1 (b fills 10:00 and 10:15, a has 5 minutes of
10:30 and all of 10:45), TSL = ATSL = 0.833 / 2 = 0.417, peak 1 (b ends
before a starts).  Browser 1 session 0.5 h, player 1 0.333 h.
/live, 11:00 hour: a's last 20 min: 0 starts, 1 active, cume 1, TLH
AAS TSL ATSL 0.333, AQH 2 / 4 = 0.5 (all of 11:00, 5 minutes of 11:15),
player 1 0.333 h.
/live in total (10:00-12:00): 2 starts, 2 active, cume 2, TLH 70 min =
1.167 h, AAS 1.167 / 2 = 0.583, AQH 6 / 8 = 0.75, TSL = ATSL =
1.167 / 2 = 0.583, peak 1, browser 1 0.5 h, player 1 0.667 h.
/jazz, 10:00 hour: nothing.  11:00 hour: c (TuneIn, DE) 11:00-11:15:
1 start, 1 active, cume 1, TLH AAS TSL ATSL 0.25, AQH 1 / 4 = 0.25,
peak 1, app 1 0.25 h.
"""

LIVE_10 = (
    "/live,2024-01-15T10:00:00+00:00,2024-01-15T11:00:00+00:00,1.000,2,2,2,"
    "0.833,0.833,1.000,0.417,0.417,1,1,0.500,0,0.000,0,0.000,1,0.333,0,0.000,0,0.000\r\n"
)
LIVE_11 = (
    "/live,2024-01-15T11:00:00+00:00,2024-01-15T12:00:00+00:00,1.000,0,1,1,"
    "0.333,0.333,0.500,0.333,0.333,1,0,0.000,0,0.000,0,0.000,1,0.333,0,0.000,0,0.000\r\n"
)


def hourly() -> list[Figures]:
    """
    The figures of L{SESSIONS}, hour by hour, mount by mount.
    """
    return per_mount(SESSIONS, at(10), at(12), "hour", UTC)


class FiguresCSVTests(SynchronousTestCase):
    """
    Tests for L{figures_csv}.
    """

    def test_exact_text(self) -> None:
        """
        A header, then one line per hour per mount, mounts in the order
        given, as worked out in L{SESSIONS}.
        """
        self.assertEqual(
            figures_csv(hourly()),
            HEADER + "/jazz,2024-01-15T10:00:00+00:00,2024-01-15T11:00:00+00:00,1.000,0,0,0,"
            "0.000,0.000,0.000,0.000,0.000,0,0,0.000,0,0.000,0,0.000,0,0.000,0,0.000,0,0.000\r\n"
            "/jazz,2024-01-15T11:00:00+00:00,2024-01-15T12:00:00+00:00,1.000,1,1,1,"
            "0.250,0.250,0.250,0.250,0.250,1,0,0.000,1,0.250,0,0.000,0,0.000,0,0.000,0,0.000\r\n"
            + LIVE_10
            + LIVE_11,
        )
        self.assertEqual(",".join(FIGURE_COLUMNS) + "\r\n", HEADER)

    def test_totals(self) -> None:
        """
        With totals, each mount's hours are followed by its whole range,
        whose figures are counted over the range.
        """
        live = figures(SESSIONS, at(10), at(12), "hour", UTC, "/live")
        self.assertEqual(
            figures_csv([live], totals=True),
            HEADER
            + LIVE_10
            + LIVE_11
            + "/live,2024-01-15T10:00:00+00:00,2024-01-15T12:00:00+00:00,2.000,2,2,2,"
            "1.167,0.583,0.750,0.583,0.583,1,1,0.500,0,0.000,0,0.000,1,0.667,0,0.000,0,0.000\r\n",
        )

    def test_every_mount(self) -> None:
        """
        Figures for every mount together have an empty mount column.
        """
        together = figures(SESSIONS, at(10), at(11), "hour", UTC)
        self.assertTrue(figures_csv([together]).splitlines()[1].startswith(",2024-01-15T10"))

    def test_daylight_saving(self) -> None:
        """
        The two hours starting at 02:00 on the day Paris clocks go back
        are told apart by their offsets.
        """
        start = datetime(2024, 10, 27, 2, tzinfo=PARIS).timestamp()
        result = figures([], start, start + 7200, "hour", PARIS, "/live")
        lines = figures_csv([result]).splitlines()
        self.assertEqual(
            [line.split(",")[1:3] for line in lines[1:]],
            [
                ["2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00"],
                ["2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00"],
            ],
        )


class CountriesCSVTests(SynchronousTestCase):
    """
    Tests for L{countries_csv}.
    """

    def test_exact_text(self) -> None:
        """
        One line per country heard per hour per mount; an hour no one
        listened in has none.
        """
        self.assertEqual(
            countries_csv(hourly()),
            ",".join(COUNTRY_COLUMNS) + "\r\n"
            "/jazz,2024-01-15T11:00:00+00:00,2024-01-15T12:00:00+00:00,DE,1,0.250\r\n"
            "/live,2024-01-15T10:00:00+00:00,2024-01-15T11:00:00+00:00,FR,1,0.500\r\n"
            "/live,2024-01-15T10:00:00+00:00,2024-01-15T11:00:00+00:00,US,1,0.333\r\n"
            "/live,2024-01-15T11:00:00+00:00,2024-01-15T12:00:00+00:00,US,1,0.333\r\n",
        )


class JSONTests(SynchronousTestCase):
    """
    Tests for L{period_json} and L{figures_json}.
    """

    def test_period(self) -> None:
        """
        A period's figures, fractions rounded to six decimals, with every
        family and each country heard.
        """
        _, live = hourly()
        self.assertEqual(
            period_json(live.periods[0]),
            {
                "start": "2024-01-15T10:00:00+00:00",
                "end": "2024-01-15T11:00:00+00:00",
                "hours": 1.0,
                "session_starts": 2,
                "active_sessions": 2,
                "cume": 2,
                "tlh": 0.833333,
                "aas": 0.833333,
                "aqh": 1.0,
                "tsl": 0.416667,
                "atsl": 0.416667,
                "peak": 1,
                "families": {
                    "browser": {"sessions": 1, "tlh": 0.5},
                    "app": {"sessions": 0, "tlh": 0.0},
                    "smart speaker": {"sessions": 0, "tlh": 0.0},
                    "player": {"sessions": 1, "tlh": 0.333333},
                    "bot": {"sessions": 0, "tlh": 0.0},
                    "other": {"sessions": 0, "tlh": 0.0},
                },
                "countries": {
                    "FR": {"sessions": 1, "tlh": 0.5},
                    "US": {"sessions": 1, "tlh": 0.333333},
                },
            },
        )

    def test_figures(self) -> None:
        """
        A range's figures: its mount, period length and zone, its periods
        and its total.
        """
        _, live = hourly()
        value = figures_json(live)
        self.assertEqual((value["mount"], value["by"], value["zone"]), ("/live", "hour", "UTC"))
        self.assertEqual(value["periods"], [period_json(period) for period in live.periods])
        self.assertEqual(value["total"], period_json(live.total))
        together = figures_json(figures(SESSIONS, at(10), at(11), "day", PARIS))
        self.assertEqual((together["mount"], together["zone"]), (None, "Europe/Paris"))


class ATHTests(SynchronousTestCase):
    """
    Tests for L{ath_csv}.
    """

    def tunings(self) -> list[Tuning]:
        """
        March 2024 in New York.

        /live: a US listener 10:00-12:30 on the 5th (2.5 h) and one for
        30 s (1/120 h: ATH has no minimum length); a French listener's
        hour is left out.  2.5 + 1/120 = 2.5083 h, written 2.51.
        /jazz: a listener of unknown country, 3 h on the 12th: 3.00.
        """

        def moment(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
            return datetime(2024, 3, day, hour, minute, second, tzinfo=NEW_YORK).timestamp()

        sessions = [
            Heard("/live", moment(5, 10), moment(5, 12, 30), "a", country="US"),
            Heard("/live", moment(5, 13), moment(5, 13, 0, 30), "b", country="US"),
            Heard("/live", moment(5, 13), moment(5, 14), "c", country="FR"),
            Heard("/jazz", moment(12, 9), moment(12, 12), "d"),
        ]
        return aggregate_tuning_hours(sessions, 2024, 3, NEW_YORK)

    def test_exact_text(self) -> None:
        """
        A header of SoundExchange's field names, then one line per
        channel: the service, the category, the channel (named through
        C{channels}, else the mount), the month's first and last days and
        the ATH with two decimals.
        """
        self.assertEqual(
            ath_csv("KRAD-FM", "B", self.tunings(), {"/live": "KRAD Live"}),
            "NAME_OF_SERVICE,TRANSMISSION_CATEGORY,CHANNEL_OR_PROGRAM_NAME,"
            "START_DATE,END_DATE,AGGREGATE_TUNING_HOURS\r\n"
            "KRAD-FM,B,/jazz,2024-03-01,2024-03-31,3.00\r\n"
            "KRAD-FM,B,KRAD Live,2024-03-01,2024-03-31,2.51\r\n",
        )
        self.assertEqual(
            ATH_COLUMNS,
            (
                "NAME_OF_SERVICE",
                "TRANSMISSION_CATEGORY",
                "CHANNEL_OR_PROGRAM_NAME",
                "START_DATE",
                "END_DATE",
                "AGGREGATE_TUNING_HOURS",
            ),
        )

    def test_quoting(self) -> None:
        """
        A name with a comma or a quote is quoted as RFC 4180 says.
        """
        line = ath_csv('Radio "K", Inc.', "A", self.tunings()[:1]).splitlines()[1]
        self.assertEqual(line, '"Radio ""K"", Inc.",A,/jazz,2024-03-01,2024-03-31,3.00')

    def test_refused(self) -> None:
        """
        A report needs the service's name and a one-letter category.
        """
        for service, category in [("", "A"), (" ", "A"), ("KRAD", "AB"), ("KRAD", "a")]:
            self.assertRaises(ValueError, ath_csv, service, category, [])
