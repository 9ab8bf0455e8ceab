"""
Tests for L{radiod.web.metrics}: the station's Prometheus metrics, read from
a station in memory and parsed as Prometheus would.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.testing import FakeFrameSource, SlowTransport, silent_frame
from radiod.web.metrics import MountTally, StationMetrics, render_metrics

ALPHA = TrackInfo("/a.mp3", "First Song", "Alpha Artist")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """
    Every sample of an exposition, by name and sorted labels.
    """
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


class FakeStation:
    """
    A L{radiod.web.metrics.StationView} over real mounts, with settable
    counts.
    """

    def __init__(self, mounts: dict[str, Mount]) -> None:
        self._mounts = mounts
        self._tallies: dict[str, MountTally] = {name: MountTally() for name in mounts}
        self.kind = "playlist"
        self.lag = 0.0
        self.refused_count = 0

    @property
    def mounts(self) -> Mapping[str, Mount]:
        return self._mounts

    @property
    def tallies(self) -> Mapping[str, MountTally]:
        return self._tallies

    @property
    def started(self) -> float:
        return 1_800_000_000.0

    @property
    def refused(self) -> int:
        return self.refused_count

    def source_kind(self, mount: Mount) -> str:
        return self.kind

    def lag_max(self) -> float:
        return self.lag


class MetricsTests(SynchronousTestCase):
    """
    What a scrape shows.
    """

    def build(self) -> tuple[Clock, Mount, FakeStation, StationMetrics]:
        """
        A station with one started mount C{/stream}.
        """
        clock = Clock()
        mount = Mount(
            MountConfig(name="/stream", burst_size=0),
            FakeFrameSource([(ALPHA, silent_frame(), 1000)]),
            clock,
        )
        mount.start()
        self.addCleanup(mount.stop)
        clock.pump([0.1] * 5)
        station = FakeStation({"/stream": mount})
        return clock, mount, station, StationMetrics(station, process=False)

    def scrape(
        self, metrics: StationMetrics
    ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        body, content_type = render_metrics(metrics.registry, None)
        self.assertEqual(content_type, CONTENT_TYPE_LATEST)
        return samples(body.decode("utf-8"))

    def test_station(self) -> None:
        """
        Version, start time, refused requests and reactor lag.
        """
        clock, mount, station, metrics = self.build()
        station.refused_count = 4
        station.lag = 0.25
        metrics.observe_lag(0.002)
        metrics.observe_lag(0.3)
        found = self.scrape(metrics)
        self.assertEqual(found["radiod_info", (("version", "0.1.0"),)], 1.0)
        self.assertEqual(found["radiod_start_time_seconds", ()], 1_800_000_000.0)
        self.assertEqual(found["radiod_requests_refused_total", ()], 4.0)
        self.assertEqual(found["radiod_reactor_lag_max_seconds", ()], 0.25)
        self.assertEqual(found["radiod_reactor_lag_seconds_count", ()], 2.0)
        self.assertEqual(found["radiod_reactor_lag_seconds_bucket", (("le", "0.0025"),)], 1.0)
        self.assertEqual(found["radiod_reactor_lag_seconds_bucket", (("le", "0.5"),)], 2.0)

    def test_mounts(self) -> None:
        """
        Listeners, peak, bytes sent and slow listeners are read when
        scraped; what the mount plays is one of four kinds.
        """
        clock, mount, station, metrics = self.build()
        stream = (("mount", "/stream"),)
        found = self.scrape(metrics)
        self.assertEqual(found["radiod_listeners", stream], 0.0)
        transport = SlowTransport()
        listener = mount.add_listener(transport, "192.0.2.1:1", False)
        clock.pump([0.1] * 5)
        found = self.scrape(metrics)
        self.assertEqual(found["radiod_listeners", stream], 1.0)
        self.assertEqual(found["radiod_listeners_peak", stream], 1.0)
        self.assertEqual(found["radiod_sent_bytes_total", stream], float(listener.sent))
        self.assertGreater(listener.sent, 0)
        mount.listener_dropped(listener, 0)
        station.kind = "live"
        found = self.scrape(metrics)
        self.assertEqual(found["radiod_listeners", stream], 0.0)
        self.assertEqual(found["radiod_listeners_peak", stream], 1.0)
        self.assertEqual(found["radiod_slow_listeners_dropped_total", stream], 1.0)
        self.assertEqual(found["radiod_sent_bytes_total", stream], float(listener.sent))
        kinds = {
            kind: found["radiod_mount_source", (("kind", kind), ("mount", "/stream"))]
            for kind in ("playlist", "live", "relay", "none")
        }
        self.assertEqual(kinds, {"playlist": 0.0, "live": 1.0, "relay": 0.0, "none": 0.0})

    def test_tallies(self) -> None:
        """
        Counted events are counters per mount, kept for mounts that are
        gone.
        """
        clock, mount, station, metrics = self.build()
        station.tallies["/stream"].listener_connections = 3
        station.tallies["/stream"].track_changes = 2
        station._tallies["/gone"] = MountTally(source_connections=1, source_disconnections=1)
        found = self.scrape(metrics)
        stream = (("mount", "/stream"),)
        gone = (("mount", "/gone"),)
        self.assertEqual(found["radiod_listener_connections_total", stream], 3.0)
        self.assertEqual(found["radiod_listener_disconnections_total", stream], 0.0)
        self.assertEqual(found["radiod_track_changes_total", stream], 2.0)
        self.assertEqual(found["radiod_source_connections_total", gone], 1.0)
        self.assertEqual(found["radiod_source_disconnections_total", gone], 1.0)
        self.assertNotIn(("radiod_listeners", gone), found)

    def test_registries_apart(self) -> None:
        """
        Two stations have their own registries: neither sees the other's
        numbers, and neither touches the global registry.
        """
        clock, mount, station, metrics = self.build()
        other_clock, other_mount, other_station, other_metrics = self.build()
        other_metrics.observe_lag(1.0)
        self.assertEqual(self.scrape(metrics)["radiod_reactor_lag_seconds_count", ()], 0.0)
        self.assertEqual(self.scrape(other_metrics)["radiod_reactor_lag_seconds_count", ()], 1.0)

    def test_process_metrics(self) -> None:
        """
        The process's own metrics can be included.
        """
        clock, mount, station, metrics = self.build()
        with_process = StationMetrics(station, process=True)
        body, _ = render_metrics(with_process.registry, None)
        names = {family.name for family in text_string_to_metric_families(body.decode())}
        self.assertIn("radiod_listeners", names)
        self.assertIn("process_cpu_seconds", names)
        body, _ = render_metrics(metrics.registry, None)
        names = {family.name for family in text_string_to_metric_families(body.decode())}
        self.assertNotIn("process_cpu_seconds", names)

    def test_openmetrics(self) -> None:
        """
        A scraper that asks for OpenMetrics gets it.
        """
        clock, mount, station, metrics = self.build()
        body, content_type = render_metrics(
            metrics.registry, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )
        self.assertTrue(content_type.startswith("application/openmetrics-text"))
        self.assertTrue(body.endswith(b"# EOF\n"))
        body, content_type = render_metrics(metrics.registry, "text/plain")
        self.assertTrue(content_type.startswith("text/plain"))
        self.assertIn(b"radiod_listeners{", body)
