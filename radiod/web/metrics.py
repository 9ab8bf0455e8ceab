# -*- test-case-name: tests.web.test_metrics,tests.web.test_monitoring,tests.ingest.test_silence -*-
"""
Prometheus metrics for one station, served at L{METRICS_PATH} by
L{MetricsPage}.

Most values are read from the station when Prometheus scrapes (listeners,
bytes sent, slow listeners dropped, what each mount plays, live sources
taken off the air for dead air), so the audio path pays nothing for them.
Events that leave no trace in the station's state are counted as they
happen, per mount, in a L{MountTally}: listener connections and
disconnections, source connections and disconnections, track changes.
How late the reactor runs (L{radiod.web.lag}) is a histogram observed on
every tick of the lag monitor.

Every station has its own L{CollectorRegistry}, never the global one, so
that several stations (in tests) do not mix their numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from radiod import __version__
from radiod.broadcast.mount import Mount
from radiod.web.site import Endpoint, StationRequest
from radiod.web.stats import NO_CACHE
from radiod.web.status import SOURCE_KINDS
from radiod.wire.server import RadioFactory

__all__ = [
    "LAG_BUCKETS",
    "METRICS_PATH",
    "MetricsPage",
    "MountTally",
    "StationCollector",
    "StationMetrics",
    "StationView",
    "render_metrics",
]

METRICS_PATH = "/metrics"
"""
Where the metrics are served.
"""

LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""
Upper bounds, in seconds, of the reactor lag histogram's buckets.
"""


@dataclass
class MountTally:
    """
    Events counted on one mount since the station started.

    @ivar listener_connections: listeners that connected to it.
    @ivar listener_disconnections: listeners whose connection ended on it
        (a listener moved to a fallback mount ends on that mount).
    @ivar source_connections: live sources put on it.
    @ivar source_disconnections: live sources that left it.
    @ivar track_changes: tracks (or live titles) that started on it.
    """

    listener_connections: int = 0
    listener_disconnections: int = 0
    source_connections: int = 0
    source_disconnections: int = 0
    track_changes: int = 0


class StationView(Protocol):
    """
    What the collector reads from a station when scraped.
    """

    @property
    def mounts(self) -> Mapping[str, Mount]:
        """
        The mounts by name, live-only mounts included.
        """

    @property
    def tallies(self) -> Mapping[str, MountTally]:
        """
        The event counts by mount name (of mounts present or gone).
        """

    @property
    def started(self) -> float:
        """
        When the station started, in POSIX seconds.
        """

    @property
    def refused(self) -> int:
        """
        Requests answered with an error.
        """

    def source_kind(self, mount: Mount) -> str:
        """
        What C{mount} plays now: one of L{SOURCE_KINDS}.
        """

    def lag_max(self) -> float:
        """
        The reactor's greatest lateness over the last minute, in seconds.
        """


class StationCollector(Collector):
    """
    Reads a station's state when Prometheus scrapes.
    """

    def __init__(self, station: StationView) -> None:
        """
        @param station: the station to read.
        """
        self._station = station

    def collect(self) -> Iterable[Metric]:
        """
        The station's metrics as they are now.
        """
        station = self._station
        info = GaugeMetricFamily("radiod_info", "radiod's version", labels=["version"])
        info.add_metric([__version__], 1)
        started = GaugeMetricFamily(
            "radiod_start_time_seconds", "When the station started, in POSIX seconds"
        )
        started.add_metric([], station.started)
        refused = CounterMetricFamily(
            "radiod_requests_refused", "Requests answered with an error status"
        )
        refused.add_metric([], station.refused)
        lag = GaugeMetricFamily(
            "radiod_reactor_lag_max_seconds",
            "The reactor's greatest lateness over the last minute",
        )
        lag.add_metric([], station.lag_max())
        yield from (info, started, refused, lag)
        yield from self._mounts(station)
        yield from self._tallies(station)

    def _mounts(self, station: StationView) -> Iterable[Metric]:
        listeners = GaugeMetricFamily("radiod_listeners", "Listeners now", labels=["mount"])
        peak = GaugeMetricFamily(
            "radiod_listeners_peak", "The most listeners at once", labels=["mount"]
        )
        sent = CounterMetricFamily(
            "radiod_sent_bytes", "Audio bytes sent to listeners", labels=["mount"]
        )
        hls = GaugeMetricFamily(
            "radiod_hls_listeners",
            "HLS sessions (players fetching the playlists), also counted in radiod_listeners",
            labels=["mount"],
        )
        dropped = CounterMetricFamily(
            "radiod_slow_listeners_dropped",
            "Listeners disconnected for falling too far behind",
            labels=["mount"],
        )
        playing = GaugeMetricFamily(
            "radiod_mount_source",
            "1 for what the mount plays now (playlist, live, relay or none), else 0",
            labels=["mount", "kind"],
        )
        silences = CounterMetricFamily(
            "radiod_silence_events",
            "Live sources and relays taken off the air for sending dead air",
            labels=["mount"],
        )
        silent = GaugeMetricFamily(
            "radiod_sources_silent",
            "Live sources and relays connected but off the air for dead air now",
            labels=["mount"],
        )
        for name, mount in list(station.mounts.items()):
            listeners.add_metric([name], mount.audience)
            hls.add_metric([name], mount.hls_listeners)
            peak.add_metric([name], mount.peak_listeners)
            sent.add_metric([name], mount.bytes_sent)
            dropped.add_metric([name], mount.dropped)
            current = station.source_kind(mount)
            for kind in SOURCE_KINDS:
                playing.add_metric([name, kind], 1 if kind == current else 0)
            switch = mount.switch
            silences.add_metric([name], switch.mutes if switch is not None else 0)
            silent.add_metric([name], switch.muted if switch is not None else 0)
        return (listeners, hls, peak, sent, dropped, playing, silences, silent)

    def _tallies(self, station: StationView) -> Iterable[Metric]:
        families = {
            "listener_connections": "Listener connections",
            "listener_disconnections": "Listener connections that ended",
            "source_connections": "Live sources connected",
            "source_disconnections": "Live sources that left",
            "track_changes": "Tracks (or live titles) started",
        }
        made = {
            field: CounterMetricFamily(f"radiod_{field}", text, labels=["mount"])
            for field, text in families.items()
        }
        for name, tally in list(station.tallies.items()):
            for field, family in made.items():
                family.add_metric([name], getattr(tally, field))
        return made.values()


class StationMetrics:
    """
    A station's metrics registry: the collector, the reactor lag
    histogram, and the process's own metrics (CPU, memory, open files).

    @ivar registry: the station's own registry.
    @ivar lag: the reactor lag histogram.
    """

    def __init__(self, station: StationView, process: bool = True) -> None:
        """
        @param station: what to read when scraped.
        @param process: include C{process_*} metrics (where the platform
            has them).
        """
        self.registry = CollectorRegistry()
        self.registry.register(StationCollector(station))
        self.lag = Histogram(
            "radiod_reactor_lag_seconds",
            "How late the reactor ran timers due every few tenths of a second",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        if process:
            ProcessCollector(registry=self.registry)

    def observe_lag(self, seconds: float) -> None:
        """
        Count one measurement of the reactor's lateness.
        """
        self.lag.observe(seconds)


def render_metrics(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """
    The exposition of a registry in the format the scraper asks for.

    @param registry: the metrics.
    @param accept: the request's C{Accept} header, or C{None}.
    @return: the body and its content type: the Prometheus text format
        (C{CONTENT_TYPE_LATEST}) unless the scraper asks for OpenMetrics.
    """
    if not accept:
        return generate_latest(registry), CONTENT_TYPE_LATEST
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


class MetricsPage(Endpoint):
    """
    The scrape: the registry's exposition in the format the scraper asks
    for (L{render_metrics}), never cached, to C{GET} and C{HEAD}; other
    methods get 405.

    Not C{prometheus_client.twisted.MetricsResource}: that is a WSGI
    application run in the global reactor's thread pool (radiod passes
    its reactor in, and tests scrape on a L{twisted.internet.task.Clock}),
    it refuses C{HEAD}, writes no C{Content-Length} and no no-cache
    headers, and answers other methods with its own 405.
    """

    def __init__(
        self,
        factory: RadioFactory,
        registry: CollectorRegistry,
        before: Callable[[], None],
    ) -> None:
        """
        @param factory: the stream server's factory.
        @param registry: the station's metrics.
        @param before: called before each scrape (to count what the
            station has gained since the last).
        """
        super().__init__(factory)
        self._registry = registry
        self._before = before

    def render_GET(self, request: StationRequest) -> bytes:
        """
        A scrape of the registry now.
        """
        self._before()
        body, content_type = render_metrics(self._registry, request.header("Accept"))
        request.setHeader("Content-Type", content_type)
        for name, value in NO_CACHE:
            request.setHeader(name, value)
        return body
