#!/usr/bin/env python3
"""
Pacing figures: how close to real time a station plays to its reading
listeners, by the wall clock, and whether a listener that stops reading
is dropped while the others keep their rate.

    python benchmarks/pacing.py                     # 4 listeners, 1 stalled, 10 s
    python benchmarks/pacing.py --listeners 50 --stalled 5 --window 30

These are the real-time checks the test suite does not make: a rate over
a few seconds of wall time depends on how busy the machine is, so the
end-to-end tests check instead that every byte the mount put on air
arrived, in order, as the pacer's own clock played it.  Here the rates
themselves are measured, and checked against the margins a listener
should hold.

Everything runs in this process on the real reactor, with the station's
own code: a L{radiod.station.service.StationService} plays the two
128 kbit/s fixture songs on one mount on a loopback port, C{--listeners}
clients read it, and C{--stalled} clients ask for it and never read (a
4 KiB receive buffer each).  After C{--warmup} seconds the figures are
taken over C{--window} seconds:

  - I{nominal}: the bytes per second of the audio the mount put on air,
    by the frames' own durations (16000 for the fixtures);
  - I{pacer}: the audio time the mount put on air from its first
    broadcast in the window to its last, against the wall-clock time
    between them, and the ticks on which its source had nothing;
  - I{rate}: each reading listener's bytes received after its first read
    in the window up to its last, over the time between those reads (so
    a stall at either edge does not throw it); the median, lowest and
    highest against nominal;
  - I{longest gap}: the longest time between two reads that brought data
    to a reading listener in the window (its edges count);
  - I{stalled}: when each stalled listener was dropped, after it asked;
  - I{reactor}: how late a call due every 10 ms ran.

It then prints PASS or MISS for each check: the median rate within
95-110 % of nominal, every reading listener within 90-115 %, every
stalled listener dropped (waiting up to C{--drop-timeout} seconds after
the window) and no reading listener dropped; it exits with status 1 on a
MISS.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from twisted.internet import reactor as _reactor  # noqa: E402
from twisted.internet.defer import Deferred, ensureDeferred  # noqa: E402
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol  # noqa: E402
from twisted.internet.protocol import Protocol  # noqa: E402
from twisted.internet.task import LoopingCall  # noqa: E402
from twisted.python.failure import Failure  # noqa: E402

from radiod.broadcast.mount import Mount  # noqa: E402
from radiod.config import MountConfig, StationConfig  # noqa: E402
from radiod.interfaces import Frames  # noqa: E402
from radiod.runner import thread_runner  # noqa: E402
from radiod.station.service import StationService  # noqa: E402

reactor: Any = _reactor
FIXTURES = REPO / "tests" / "fixtures"
SONGS = ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3")
TICK = 0.01

MEDIAN_BAND = (0.95, 1.10)
"""
The band around nominal the median rate must fall in.
"""

EACH_BAND = (0.90, 1.15)
"""
The band around nominal every reading listener's rate must fall in.
"""


class Stalls:
    """
    Measures how late the reactor runs a call due every L{TICK} seconds.
    """

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._expected = 0.0
        self._loop = LoopingCall(self._tick)

    def start(self) -> None:
        """
        Start measuring.
        """
        self._expected = time.monotonic() + TICK
        self._loop.start(TICK, now=False)

    def stop(self) -> None:
        """
        Stop measuring.
        """
        if self._loop.running:
            self._loop.stop()

    def _tick(self) -> None:
        now = time.monotonic()
        self.delays.append(max(0.0, now - self._expected))
        self._expected = now + TICK

    def summary(self) -> str:
        """
        The longest delay, the 99th percentile and the median.
        """
        if not self.delays:
            return "no samples"
        ordered = sorted(self.delays)
        p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
        return (
            f"longest stall {ordered[-1] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"median {statistics.median(ordered) * 1000:.2f} ms over {len(ordered)} ticks"
        )


def steady_rate(marks: list[tuple[float, float]], start: float, end: float) -> float:
    """
    From (monotonic time, running total) marks: what was added after the
    first mark from C{start} up to the last before C{end}, per second
    between the two; 0 with fewer than two such marks.
    """
    inside = [(at, total) for at, total in marks if start <= at <= end]
    if len(inside) < 2 or inside[-1][0] == inside[0][0]:
        return 0.0
    (first, before), (last, after) = inside[0], inside[-1]
    return (after - before) / (last - first)


class OnAir:
    """
    Counts what a mount puts on air: bytes, and audio time by the frames'
    own durations, with the wall-clock time of each broadcast.

    @ivar marks: (monotonic time, audio seconds so far) per broadcast.
    """

    def __init__(self, mount: Mount) -> None:
        self.bytes = 0
        self.seconds = 0.0
        self.marks: list[tuple[float, float]] = []
        mount.on_air.append(self._broadcast)

    def _broadcast(self, frames: Frames) -> None:
        for frame, _ in frames:
            self.bytes += len(frame.data)
            self.seconds += frame.duration
        self.marks.append((time.monotonic(), self.seconds))


class Meter(Protocol):
    """
    A reading listener that notes when each read brought how much.

    @ivar arrivals: (monotonic time, bytes received so far) per read.
    @ivar gone: whether the connection ended.
    """

    def __init__(self) -> None:
        self.received = 0
        self.arrivals: list[tuple[float, int]] = []
        self.gone = False

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(b"GET /stream HTTP/1.0\r\n\r\n")

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)
        self.arrivals.append((time.monotonic(), self.received))

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        self.gone = True

    def rate(self, start: float, end: float) -> float:
        """
        Bytes a second received from C{start} to C{end} (see
        L{steady_rate}).
        """
        return steady_rate([(at, float(count)) for at, count in self.arrivals], start, end)

    def longest_gap(self, start: float, end: float) -> tuple[float, float]:
        """
        The longest time between two reads that brought data, from
        C{start} to C{end} (which count as reads), and when it ended.
        """
        times = [start] + [at for at, _ in self.arrivals if start < at < end] + [end]
        gaps = [(later - earlier, later) for earlier, later in itertools.pairwise(times)]
        return max(gaps)


async def sleep(seconds: float) -> None:
    """
    Let the reactor run for C{seconds}.
    """
    done: Deferred[None] = Deferred()
    reactor.callLater(seconds, done.callback, None)
    await done


def stalled_client(port: int) -> socket.socket:
    """
    A client that asks for the stream and never reads, with a receive
    buffer of 4 KiB.
    """
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(("127.0.0.1", port))
    client.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
    client.setblocking(False)
    return client


def band(value: float, nominal: float, limits: tuple[float, float]) -> bool:
    """
    Whether C{value} is within C{limits} (fractions) of C{nominal}.
    """
    return limits[0] * nominal <= value <= limits[1] * nominal


def verdict(passed: bool, what: str) -> bool:
    """
    Print C{what} with PASS or MISS; return C{passed}.
    """
    print(f"  {'PASS' if passed else 'MISS'}: {what}")
    return passed


async def measure(args: argparse.Namespace, work: Path) -> bool:
    """
    Start the station, connect the listeners, measure, print the figures
    and the checks.

    @return: whether every check passed.
    """
    music = work / "music"
    music.mkdir()
    for name in SONGS:
        shutil.copy(FIXTURES / name, music)
    mount_config = MountConfig(
        name="/stream", music=str(music), burst_size=args.burst, queue_size=args.queue
    )
    config = StationConfig(
        port=0, interface="127.0.0.1", mounts=(mount_config,), state_dir=str(work / "state")
    )
    service = StationService(config, reactor, thread_runner(reactor, reactor.getThreadPool()))
    mount = service.mounts["/stream"]
    on_air = OnAir(mount)
    service.startService()
    try:
        address: Any = (await service.listener.listening).getHost()
        port = address.port
        meters = [Meter() for _ in range(args.listeners)]
        for meter in meters:
            await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), meter)
        asked = time.monotonic()
        stalled = [stalled_client(port) for _ in range(args.stalled)]
        drops: list[float] = []
        seen = [mount.dropped]

        def watch() -> None:
            while seen[0] < mount.dropped:
                seen[0] += 1
                drops.append(time.monotonic() - asked)

        watcher = LoopingCall(watch)
        watcher.start(0.05)
        stalls = Stalls()
        stalls.start()
        await sleep(args.warmup)

        start = time.monotonic()
        underruns_before = mount.pacer.underruns if mount.pacer else 0
        await sleep(args.window)
        end = time.monotonic()
        underruns = (mount.pacer.underruns if mount.pacer else 0) - underruns_before
        stalls.stop()
        deadline = time.monotonic() + args.drop_timeout
        while len(drops) < args.stalled and time.monotonic() < deadline:
            await sleep(0.1)
        watcher.stop()
        watch()
        reading_dropped = sum(meter.gone for meter in meters)
        for client in stalled:
            client.close()
    finally:
        await service.stopService()

    window = end - start
    nominal = on_air.bytes / on_air.seconds if on_air.seconds else 0.0
    pace = steady_rate(on_air.marks, start, end)
    rates = [meter.rate(start, end) for meter in meters]
    gaps = [(meter.longest_gap(start, end), index) for index, meter in enumerate(meters)]
    print(
        f"pacing: {args.listeners} reading and {args.stalled} stalled listeners on /stream, "
        f"{window:.2f} s window after {args.warmup:g} s warm-up "
        f"(burst {args.burst}, queue {args.queue})"
    )
    print(f"  nominal {nominal:.0f} B/s ({nominal * 8 / 1000:.1f} kbit/s, from the frames on air)")
    print(f"  pacer: {pace * 100:.2f} % of real time, {underruns} underruns")
    if rates and nominal:
        median = statistics.median(rates)
        print(
            f"  listener rates: median {median:.0f} B/s ({median / nominal * 100:.2f} % of "
            f"nominal), lowest {min(rates):.0f}, highest {max(rates):.0f}"
        )
        (gap, gap_end), who = max(gaps)
        print(
            f"  longest gap between reads: {gap * 1000:.0f} ms (listener {who}), "
            f"ending {gap_end - start:.2f} s into the window"
        )
    if args.stalled:
        shown = ", ".join(f"{seconds:.1f}" for seconds in drops) or "none"
        print(f"  stalled listeners dropped: {len(drops)} of {args.stalled}, at {shown} s")
    print(f"  reactor: {stalls.summary()}")

    passed = True
    if rates and nominal:
        low, high = (f"{limit * 100:.0f}" for limit in MEDIAN_BAND)
        passed &= verdict(
            band(statistics.median(rates), nominal, MEDIAN_BAND),
            f"median rate within {low}-{high} % of nominal",
        )
        low, high = (f"{limit * 100:.0f}" for limit in EACH_BAND)
        passed &= verdict(
            all(band(rate, nominal, EACH_BAND) for rate in rates),
            f"every reading listener within {low}-{high} % of nominal",
        )
    passed &= verdict(reading_dropped == 0, f"no reading listener dropped ({reading_dropped})")
    if args.stalled:
        passed &= verdict(
            len(drops) == args.stalled, f"every stalled listener dropped ({len(drops)})"
        )
    return passed


async def main(args: argparse.Namespace) -> bool:
    """
    Measure in a fresh folder.
    """
    with tempfile.TemporaryDirectory() as folder:
        return await measure(args, Path(folder))


def run(coroutine: Coroutine[Any, Any, bool]) -> None:
    """
    Run C{coroutine} on the reactor; exit with status 1 if it fails or
    returns false.
    """
    results: list[bool] = []
    failures: list[Failure] = []
    done = ensureDeferred(coroutine)
    done.addCallbacks(results.append, failures.append).addBoth(lambda _: reactor.stop())
    reactor.run()
    if failures:
        failures[0].printTraceback()
        raise SystemExit(1)
    if not all(results):
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=4, help="reading listeners")
    parser.add_argument("--stalled", type=int, default=1, help="listeners that never read")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--burst", type=int, default=8192, help="the mount's burst size")
    parser.add_argument("--queue", type=int, default=32768, help="the mount's queue size")
    parser.add_argument(
        "--drop-timeout",
        type=float,
        default=60.0,
        help="seconds after the window to wait for stalled listeners to be dropped",
    )
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    run(main(parser.parse_args()))
