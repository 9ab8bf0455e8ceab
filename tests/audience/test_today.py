"""
Tests for L{radiod.audience.today}: today's audience figures so far.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, generate_latest
from twisted.trial.unittest import SynchronousTestCase

from radiod.audience.session import ListenerSession
from radiod.audience.today import DayFigures, Today
from radiod.web.audience import AudienceCollector

PARIS = ZoneInfo("Europe/Paris")
# Monday 2 November 2026, midnight in Paris (23:00 UTC the day before).
MIDNIGHT = datetime(2026, 11, 2, tzinfo=PARIS).timestamp()


def session(mount: str, client: str, start: float, end: float) -> ListenerSession:
    return ListenerSession(mount, "icy", start, end, 0, client=client)


class TodayTests(SynchronousTestCase):
    """
    L{Today} counts today's qualifying sessions, ended and going on.
    """

    def test_figures(self) -> None:
        """
        A session from before midnight counts its listening since
        midnight but not as started today; one under a minute does not
        count; a client twice is one listener; a session going on counts
        as far as it went.
        """
        today = Today(PARIS)
        # 23:30-00:30: half an hour today, started yesterday.
        today.ended(session("/a", "x", MIDNIGHT - 1800, MIDNIGHT + 1800))
        # 01:00-02:00 by the same client.
        today.ended(session("/a", "x", MIDNIGHT + 3600, MIDNIGHT + 7200))
        # 30 s: left out.
        today.ended(session("/a", "y", MIDNIGHT + 7200, MIDNIGHT + 7230))
        now = MIDNIGHT + 3 * 3600
        going_on = [
            session("/a", "z", MIDNIGHT + 2 * 3600, now),
            session("/b", "x", now - 120, now),
        ]
        figures = today.figures(now, going_on)
        self.assertEqual(figures["/a"], DayFigures(uniques=2, started=2, hours=2.5))
        self.assertEqual(figures["/b"], DayFigures(uniques=1, started=1, hours=120 / 3600))
        # Going-on sessions are not kept.
        self.assertEqual(today.figures(now, [])["/a"], DayFigures(1, 1, 1.5))

    def test_new_day(self) -> None:
        """
        At midnight (in the station's zone) the tally starts afresh.
        """
        today = Today(PARIS)
        today.ended(session("/a", "x", MIDNIGHT + 60, MIDNIGHT + 3600))
        tomorrow = MIDNIGHT + 86400 + 10
        self.assertEqual(today.figures(tomorrow, []), {})

    def test_collector(self) -> None:
        """
        The metrics carry the figures per mount.
        """
        registry = CollectorRegistry()
        registry.register(AudienceCollector(lambda: {"/a": DayFigures(3, 4, 1.5)}))
        text = generate_latest(registry).decode()
        self.assertIn('radiod_listeners_unique_today{mount="/a"} 3.0', text)
        self.assertIn('radiod_sessions_started_today{mount="/a"} 4.0', text)
        self.assertIn('radiod_listening_hours_today{mount="/a"} 1.5', text)
        self.assertEqual(datetime.fromtimestamp(MIDNIGHT, UTC).hour, 23)
