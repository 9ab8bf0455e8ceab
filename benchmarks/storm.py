#!/usr/bin/env python3
"""
The reconnect storm benchmark: thousands of listeners lose their connection
at once and come back within a second, as after a network blip, while
others keep listening.

Usage::

    python benchmarks/storm.py [--storm 5000] [--steady 500] [--storms 3]
        [--spread 1.0] [--drop reset|close|stall] [--observe 30]
        [--servers radiod,icecast] [--radiod-arg=ARG ...] [--out FILE]

Each server in turn (radiod under twistd, Icecast fed by ffmpeg, as in
C{benchmarks/run.py}) gets C{--steady} listeners that stay connected
throughout and C{--storm} listeners that are dropped together, C{--storms}
times, C{--interval} seconds apart.  On each storm every storm listener's
connection ends at once (C{--drop}: C{reset}, an abortive close as when a
router or NAT forgets the connections; C{close}, an orderly one; or
C{stall}, the old connection left open and never read again, as when the
client vanished, closed at the end of the storm) and a new connection is
opened for each, spread evenly over C{--spread} seconds.  A connection that
fails (refused, reset, timed out, an error status, closed before audio) is
tried again after C{--retry-delay} seconds, as a player would.

What is measured, from the moment the old connections have been ended,
over C{--observe} seconds:

  - I{all have first byte}: when the last storm listener got its first
    audio byte on its new connection;
  - I{all back at full rate}: when the last storm listener was back at the
    stream's rate for good: from that moment on it never fell more than
    C{--tolerance} seconds of audio (default 1 s) behind the stream, so
    every second brought a second of audio, give or take one write.  A
    listener must be seen keeping up for at least 2 s to count;
  - the time to first byte of each new connection, from its C{connect()};
  - for the steady listeners, over the same seconds: the longest gap
    between two reads that brought audio (the read interval,
    C{--read-interval}, is its resolution), and their rate against the
    nominal 128 kbps; and for comparison their longest gap over the
    C{--baseline} seconds just before the drop;
  - the server's CPU time (from C{/proc}) over the first 5 s and the whole
    observation; for radiod, from C{/metrics}: the reactor's greatest
    lateness (C{radiod_reactor_lag_max_seconds}, which looks back one
    minute: with the default spacing it sees only one storm), the lag
    ticks over 100 ms, slow listeners dropped and requests refused; and
    the kernel's listen-queue overflows and SYN cookies sent, from
    C{/proc/net/netstat} (for the whole machine);
  - the client's own lateness: how far behind schedule the reconnections
    started, and how late its reads ran; beyond 0.25 s it says
    C{LOADGEN WAS THE BOTTLENECK}.

The table shows the median over the storms of each figure, for each
server, with the radiod/Icecast ratio; the figures of every storm follow
it, and the raw results are written as JSON.  The listeners come from
127.0.0.1 to 127.0.0.8 (radiod runs with C{--max-per-address 0}).

Examples::

    python benchmarks/storm.py --storm 500 --steady 50 --storms 1 --servers radiod
    python benchmarks/storm.py                         # 5,000 + 500, 3 storms, both
    python benchmarks/storm.py --drop stall --servers radiod
"""

from __future__ import annotations

import argparse
import errno
import heapq
import itertools
import json
import select
import shutil
import signal
import socket
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from loadgen import (
    BUFFER_SIZE,
    CLOSED,
    CONNECTING,
    ERROR_EVENTS,
    HEADER_LIMIT,
    HEADERS,
    IP_BIND_ADDRESS_NO_PORT,
    STREAMING,
    Listener,
    cpu_seconds,
    icy_audio,
    parse_head,
    percentile,
    raise_fd_limit,
)
from servers import (
    BITRATE_KBPS,
    CLOCK_TICKS,
    Icecast,
    Radiod,
    Server,
    ServerError,
    machine_busy,
    make_music,
    metric_total,
    new_workdir,
    scrape_metrics,
)

Json = dict[str, Any]
NOMINAL = BITRATE_KBPS * 1000 / 8
# A listener must be seen keeping up this long to count as back at full rate.
VERIFY_S = 2.0
# Client lateness beyond this makes its figures suspect.
BOTTLENECK_LATENESS = 0.25
# Connections started per pass of the loop, between looks at the sockets.
START_BATCH = 250
# Events on starting connections handled per pass of the loop.
FAST_BATCH = 256
LAG_BUCKET = 0.1


def say(text: str) -> None:
    """
    Progress, on standard error, flushed.
    """
    print(text, file=sys.stderr, flush=True)


class Member(Listener):
    """
    A listener of the storm benchmark: its connection (the fields of
    L{Listener}), and what is kept across its reconnections.

    @ivar role: C{"steady"} or C{"storm"}.
    @ivar due: when its current connection was due to start.
    @ivar attempts: connections tried.
    @ivar times: when reads brought audio, while recording.
    @ivar marks: its audio bytes received so far at each of those reads.
    """

    __slots__ = ("attempts", "due", "marks", "role", "times")

    def __init__(self, index: int, role: str, due: float) -> None:
        super().__init__(index, due)
        self.role = role
        self.due = due
        self.attempts = 0
        self.times: list[float] = []
        self.marks: list[int] = []


def tcp_counters() -> dict[str, int]:
    """
    The kernel's counts of connections its listen queues could not take
    (C{ListenOverflows}, C{ListenDrops}) and of SYN cookies sent, from
    C{/proc/net/netstat}, for the whole machine.
    """
    wanted = ("ListenOverflows", "ListenDrops", "SyncookiesSent")
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return {k: int(table[k]) for k in wanted if k in table}
    return {}


def cpu_of(pid: int) -> float:
    """
    A process's user plus system CPU time, in seconds (0.0 when gone).
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Crowd:
    """
    The listeners and the event loop that runs them: non-blocking sockets
    on two epoll sets, as in C{benchmarks/loadgen.py}: starting connections
    are watched without delay, streaming ones read every C{read_interval}.

    @ivar failures: why connections failed since the last L{take_failures}.
    @ivar recording: whether reads are being recorded.
    """

    def __init__(self, args: argparse.Namespace, port: int) -> None:
        self.args = args
        self.address = ("127.0.0.1", port)
        self.sources = [f"127.0.0.{i}" for i in range(1, args.source_addresses + 1)]
        lines = [
            f"GET {args.path} HTTP/1.0",
            f"Host: 127.0.0.1:{port}",
            "User-Agent: radiod-storm/1.0",
            "Accept: */*",
            "Icy-MetaData: 1",
        ]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        self.buffer = bytearray(BUFFER_SIZE)
        self.view = memoryview(self.buffer)
        self.fast = select.epoll()
        self.slow = select.epoll()
        self.by_fd: dict[int, Member] = {}
        self.queue: list[tuple[float, int, Member]] = []
        self.hooks: list[tuple[float, int, Callable[[], None]]] = []
        self.serial = 0
        self.members = 0
        self.zombies: list[socket.socket] = []
        self.failures: Counter[str] = Counter()
        self.dropped = 0
        self.first_bytes = 0
        self.retry_until = 0.0
        self.recording = False
        self.next_read = 0.0
        self.next_expire = 0.0
        self.start_lateness = 0.0
        self.read_lateness = 0.0

    def add(self, role: str, due: float) -> Member:
        """
        A new listener, to connect at C{due}.
        """
        self.members += 1
        member = Member(self.members, role, due)
        self._schedule(member, due)
        return member

    def at(self, moment: float, call: Callable[[], None]) -> None:
        """
        Call C{call} from the loop at C{moment}.
        """
        self.serial += 1
        heapq.heappush(self.hooks, (moment, self.serial, call))

    def reset_lateness(self) -> None:
        """
        Start measuring the loop's lateness afresh.
        """
        self.start_lateness = 0.0
        self.read_lateness = 0.0

    def take_failures(self) -> tuple[Counter[str], int]:
        """
        The failed connections and dropped listeners since the last call.
        """
        failures, dropped = self.failures, self.dropped
        self.failures, self.dropped = Counter(), 0
        return failures, dropped

    def record(self, members: Sequence[Member], on: bool) -> None:
        """
        Start (with empty records) or stop recording reads.
        """
        self.recording = on
        for member in members:
            member.times = []
            member.marks = []

    def run_until(self, deadline: float, done: Callable[[], bool] | None = None) -> None:
        """
        Run the listeners until C{deadline}, or until C{done()} is true.
        """
        interval = self.args.read_interval
        while True:
            now = time.monotonic()
            if now >= deadline or (done is not None and done()):
                return
            started = 0
            while self.queue and self.queue[0][0] <= now and started < START_BATCH:
                due, _, member = heapq.heappop(self.queue)
                if member.role == "gone":
                    continue
                self.start_lateness = max(self.start_lateness, now - due)
                self._connect(member, now)
                started += 1
            while self.hooks and self.hooks[0][0] <= now:
                heapq.heappop(self.hooks)[2]()
            if now >= self.next_read:
                if self.next_read:
                    self.read_lateness = max(self.read_lateness, now - self.next_read)
                self.next_read = max(self.next_read + interval, now)
                self._read_streams()
            if now >= self.next_expire:
                self.next_expire = now + 0.25
                self._expire(now)
            wake = min(deadline, self.next_read, self.next_expire)
            if self.queue:
                wake = min(wake, self.queue[0][0])
            if self.hooks:
                wake = min(wake, self.hooks[0][0])
            timeout = 0.0 if started >= START_BATCH else max(0.0, wake - time.monotonic())
            events = self.fast.poll(timeout, FAST_BATCH)
            if events:
                self._handle_fast(events)

    def drop(self, members: Sequence[Member], how: str) -> None:
        """
        End the connections of C{members} at once.

        @param how: C{reset} (abortive close), C{close} (orderly close) or
            C{stall} (kept open, never read again, until L{close_zombies}).
        """
        for member in members:
            sock = member.sock
            if sock is None:
                continue
            if how == "stall":
                self._unwatch(sock)
                self.zombies.append(sock)
                member.sock = None
            else:
                if how == "reset":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                self._forget(member)
            member.role = "gone"

    def close_zombies(self) -> None:
        """
        Close (abortively) the connections left open by a C{stall} drop.
        """
        for sock in self.zombies:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            sock.close()
        self.zombies = []

    def close_all(self) -> None:
        """
        Close every connection.
        """
        self.close_zombies()
        for member in list(self.by_fd.values()):
            self._forget(member)
        self.queue = []

    def _schedule(self, member: Member, due: float) -> None:
        member.due = due
        self.serial += 1
        heapq.heappush(self.queue, (due, self.serial, member))

    def _connect(self, member: Member, now: float) -> None:
        member.attempts += 1
        member.t_start = now
        member.t_connected = 0.0
        member.state = CONNECTING
        member.head = bytearray()
        member.metaint = member.to_meta = member.meta_left = 0
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            self._failed(member, now, f"client socket: {errno.errorcode.get(e.errno or 0, e)}")
            return
        sock.setblocking(False)
        if len(self.sources) > 1:
            sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((self.sources[member.index % len(self.sources)], 0))
        member.sock = sock
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            self._failed(member, now, f"connect: {errno.errorcode.get(code, code)}")
            return
        self.by_fd[sock.fileno()] = member
        self.fast.register(sock.fileno(), select.EPOLLOUT)

    def _handle_fast(self, events: list[tuple[int, int]]) -> None:
        now = time.monotonic()
        for count, (fd, event) in enumerate(events):
            if count % 32 == 31:
                now = time.monotonic()
            member = self.by_fd.get(fd)
            if member is None or member.sock is None:
                continue
            sock = member.sock
            if member.state == CONNECTING:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code or event & ERROR_EVENTS:
                    reason = errno.errorcode.get(code, "hangup") if code else "hangup"
                    self._failed(member, now, f"connect: {reason}")
                    continue
                member.t_connected = now
                try:
                    sock.send(self.request)
                except OSError as e:
                    self._failed(member, now, f"send: {errno.errorcode.get(e.errno or 0, e)}")
                    continue
                member.state = HEADERS
                self.fast.modify(fd, select.EPOLLIN)
                continue
            try:
                n = sock.recv_into(self.buffer)
            except BlockingIOError:
                continue
            except OSError as e:
                self._lost(member, now, errno.errorcode.get(e.errno or 0, str(e)))
                continue
            if n == 0:
                self._lost(member, now, "closed")
                continue
            start = 0
            if member.state == HEADERS:
                start = self._headers(member, n, now)
                if start < 0:
                    continue
            if member.state == STREAMING and start < n:
                if not member.t_first:
                    member.t_first = now
                    self.first_bytes += 1
                member.outcome = "streaming"
                self._body(member, start, n, now)
                self.fast.unregister(fd)
                self.slow.register(fd, select.EPOLLIN)

    def _headers(self, member: Member, n: int, now: float) -> int:
        """
        Take response header bytes; C{-1} when more are needed (or the
        response was refused), else where the body starts in the buffer.
        """
        member.head += self.view[:n]
        end = member.head.find(b"\r\n\r\n")
        if end < 0:
            if len(member.head) > HEADER_LIMIT:
                self._failed(member, now, "headers too long")
            return -1
        status, headers = parse_head(bytes(member.head[:end]))
        if status != 200:
            self._failed(member, now, f"status {status}")
            return -1
        metaint = headers.get("icy-metaint", "0")
        member.metaint = int(metaint) if metaint.isdigit() else 0
        member.to_meta = member.metaint
        member.state = STREAMING
        rest = len(member.head) - end - 4
        member.head = bytearray()
        return n - rest

    def _body(self, member: Member, start: int, end: int, now: float) -> None:
        member.audio += (
            icy_audio(member, self.buffer, start, end) if member.metaint else end - start
        )
        if self.recording:
            member.times.append(now)
            member.marks.append(member.audio)

    def _read_streams(self) -> None:
        events = self.slow.poll(0, len(self.by_fd) + 1)
        buffer = self.buffer
        now = time.monotonic()
        for count, (fd, _event) in enumerate(events):
            if count % 128 == 127:
                now = time.monotonic()
            member = self.by_fd.get(fd)
            if member is None or member.sock is None:
                continue
            try:
                n = member.sock.recv_into(buffer)
            except BlockingIOError:
                continue
            except OSError as e:
                self._lost(member, now, errno.errorcode.get(e.errno or 0, str(e)))
                continue
            if n == 0:
                self._lost(member, now, "closed")
                continue
            self._body(member, 0, n, now)

    def _expire(self, now: float) -> None:
        args = self.args
        for member in list(self.by_fd.values()):
            if member.state == CONNECTING and now - member.t_start > args.connect_timeout:
                self._failed(member, now, "connect timeout")
            elif member.state == HEADERS and now - member.t_start > args.first_byte_timeout:
                self._failed(member, now, "no audio in time")

    def _unwatch(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        self.by_fd.pop(fd, None)
        for poller in (self.fast, self.slow):
            try:
                poller.unregister(fd)
            except (KeyError, OSError, ValueError):
                pass

    def _forget(self, member: Member) -> None:
        sock = member.sock
        if sock is not None:
            self._unwatch(sock)
            sock.close()
            member.sock = None
        member.state = CLOSED

    def _failed(self, member: Member, now: float, reason: str) -> None:
        self.failures[reason] += 1
        self._forget(member)
        member.outcome = "failed"
        member.error = reason
        self._retry(member, now)

    def _lost(self, member: Member, now: float, reason: str) -> None:
        if member.state != STREAMING:
            self._failed(member, now, f"before audio: {reason}")
            return
        self.dropped += 1
        self._forget(member)
        member.outcome = "dropped"
        member.error = reason
        self._retry(member, now)

    def _retry(self, member: Member, now: float) -> None:
        if now + self.args.retry_delay < self.retry_until:
            self._schedule(member, now + self.args.retry_delay)


def back_at_full_rate(times: list[float], marks: list[int], tolerance: float) -> float | None:
    """
    When a listener was back at the stream's rate for good: the first read
    from which it never again fell more than C{tolerance} seconds of audio
    behind, judged on at least L{VERIFY_S} seconds of reads after it.  How
    far behind it is gets worse until data comes, so it is judged just
    before each read.

    @param times: when its reads brought audio, in order.
    @param marks: its audio bytes received so far at each.
    @return: that read's time, or C{None}.
    """
    allowed = tolerance * NOMINAL
    lowest = float("inf")
    found: float | None = None
    for i in range(len(times) - 1, -1, -1):
        if lowest >= marks[i] - NOMINAL * times[i] - allowed and times[-1] - times[i] >= VERIFY_S:
            found = times[i]
        if i:
            lowest = min(lowest, marks[i - 1] - NOMINAL * times[i])
    return found


def steady_figures(members: Sequence[Member], start: float, end: float) -> Json:
    """
    The steady listeners' longest gap and rate between C{start} and C{end}.
    """
    gaps: list[float] = []
    rates: list[float] = []
    for member in members:
        times = [t for t in member.times if start <= t <= end]
        if not times:
            gaps.append(end - start)
            rates.append(0.0)
            continue
        edges = [start, *times, end]
        gaps.append(max(b - a for a, b in itertools.pairwise(edges)))
        first = member.times.index(times[0])
        last = first + len(times) - 1
        span = member.times[last] - member.times[first]
        got = member.marks[last] - member.marks[first]
        rates.append(100.0 * got / span / NOMINAL if span > 0 else 0.0)
    return {
        "gap_max_s": max(gaps, default=None),
        "gap_p50_s": percentile(gaps, 0.5),
        "gap_p99_s": percentile(gaps, 0.99),
        "rate_min_pct": min(rates, default=None),
        "rate_p50_pct": percentile(rates, 0.5),
    }


def lag_histogram(series: dict[str, float]) -> dict[float, float]:
    """
    radiod's reactor lag histogram: observations at or below each bound.
    """
    counts: dict[float, float] = {}
    for key, value in series.items():
        if key.startswith("radiod_reactor_lag_seconds_bucket{"):
            bound = key.split('le="', 1)[1].split('"', 1)[0]
            counts[float(bound)] = value
    return counts


class Bench:
    """
    The storms against one server after another.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.music = make_music(Path(args.cache))
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        self.run_dir = Path(args.cache) / "runs" / f"storm-{self.stamp}"
        self.servers: list[Server] = []

    def make_server(self, name: str) -> Server:
        """
        A server of the given kind, not yet started.
        """
        a = self.args
        limit = a.steady + 2 * a.storm + 100
        workdir = new_workdir(self.run_dir, name)
        if name == "radiod":
            server: Server = Radiod(workdir, self.music, limit, a.radiod_arg)
        else:
            server = Icecast(workdir, a.icecast, self.music, limit)
        self.servers.append(server)
        return server

    def cleanup(self) -> None:
        """
        Stop every server still running.
        """
        for server in self.servers:
            server.stop()

    def measure(self, server: Server) -> Json:
        """
        Start a server, connect everyone, run the storms, stop it.

        @return: the figures of each storm and of the first connection.
        """
        a = self.args
        say(f"== {server.name}: starting on port {server.port}")
        server.start()
        crowd = Crowd(a, server.port)
        try:
            return self._storms(server, crowd)
        finally:
            crowd.close_all()
            server.stop()

    def _storms(self, server: Server, crowd: Crowd) -> Json:
        a = self.args
        begin = time.monotonic() + 0.5
        total = a.steady + a.storm
        steady = [crowd.add("steady", begin + i / a.rate) for i in range(a.steady)]
        storm = [crowd.add("storm", begin + (a.steady + i) / a.rate) for i in range(a.storm)]
        crowd.retry_until = begin + total / a.rate + a.connect_within
        everyone = [*steady, *storm]
        say(f"   connecting {a.steady} steady and {a.storm} storm listeners at {a.rate:g}/s")
        crowd.run_until(crowd.retry_until, lambda: crowd.first_bytes >= total)
        connected = sum(1 for m in everyone if m.outcome == "streaming")
        failures, dropped = crowd.take_failures()
        say(f"   {connected}/{total} connected; settling for {a.settle:g} s")
        first: Json = {"connected": connected, "failures": dict(failures), "dropped": dropped}
        crowd.run_until(time.monotonic() + a.settle)
        results = []
        for number in range(1, a.storms + 1):
            storm, figures = self._storm(server, crowd, steady, storm, number)
            results.append(figures)
            say(
                f"   storm {number}: all first bytes {_seconds(figures['all_first_byte_s'])}, "
                f"all at full rate {_seconds(figures['all_full_rate_s'])}, steady longest gap "
                f"{_seconds(figures['steady']['gap_max_s'])}, "
                f"{sum(figures['failures'].values())} failed connections"
            )
            if number < a.storms:
                crowd.run_until(figures["t0"] + a.interval)
        return {
            "server": server.name,
            "command": server.command(),
            "first_connection": first,
            "storms": results,
            "notes": server.notes,
            "logs": [str(p) for p in server.logs],
            "alive_at_end": server.alive(),
        }

    def _storm(
        self, server: Server, crowd: Crowd, steady: list[Member], old: list[Member], number: int
    ) -> tuple[list[Member], Json]:
        a = self.args
        before = scrape_metrics(server.port) if server.name == "radiod" else {}
        crowd.take_failures()
        crowd.reset_lateness()
        cpu_marks: dict[str, float] = {}
        listening = [m for m in steady if m.sock is not None and m.state == STREAMING]
        crowd.record(listening, True)
        calm_start = time.monotonic()
        crowd.run_until(calm_start + a.baseline)
        calm = steady_figures(listening, calm_start, time.monotonic())
        tcp0 = tcp_counters()
        dropping = time.monotonic()
        crowd.drop(old, a.drop)
        busy0 = machine_busy()
        own0 = cpu_seconds()
        t0 = time.monotonic()
        cpu_marks["0"] = cpu_of(server.pid)
        crowd.reset_lateness()
        storm = [crowd.add("storm", t0 + a.spread * i / len(old)) for i in range(len(old))]
        crowd.record([*steady, *storm], True)
        crowd.retry_until = t0 + a.observe

        def mark_cpu(key: str) -> Callable[[], None]:
            return lambda: cpu_marks.update({key: cpu_of(server.pid)})

        for mark in (1.0, 2.0, 5.0):
            crowd.at(t0 + mark, mark_cpu(str(mark)))
        end = t0 + a.observe
        crowd.run_until(end)
        cpu_marks["end"] = cpu_of(server.pid)
        own = cpu_seconds() - own0
        busy1 = machine_busy()
        tcp1 = tcp_counters()
        failures, dropped = crowd.take_failures()
        after = scrape_metrics(server.port) if server.name == "radiod" else {}
        lateness = {"start_s": crowd.start_lateness, "read_s": crowd.read_lateness}
        if a.drop == "stall":
            crowd.close_zombies()
        first_bytes = [m.t_first - t0 for m in storm if m.t_first]
        ttfb = [m.t_first - m.t_start for m in storm if m.t_first]
        connect = [m.t_connected - m.t_start for m in storm if m.t_first and m.t_connected]
        full = [back_at_full_rate(m.times, m.marks, a.tolerance) for m in storm]
        back = [t - t0 for t in full if t is not None]
        missing_first = len(storm) - len(first_bytes)
        missing_full = len(storm) - len(back)
        figures: Json = {
            "storm": number,
            "t0": t0,
            "listeners": len(storm),
            "steady_listeners": len(listening),
            "all_first_byte_s": max(first_bytes) if not missing_first else None,
            "first_byte_p50_s": _median_of_all(first_bytes, len(storm)),
            "no_first_byte": missing_first,
            "all_full_rate_s": max(back) if not missing_full else None,
            "full_rate_p50_s": _median_of_all(back, len(storm)),
            "not_full_rate": missing_full,
            "ttfb_p50_ms": _ms(percentile(ttfb, 0.5)),
            "ttfb_p99_ms": _ms(percentile(ttfb, 0.99)),
            "ttfb_max_ms": _ms(max(ttfb, default=None)),
            "connect_p50_ms": _ms(percentile(connect, 0.5)),
            "connect_p99_ms": _ms(percentile(connect, 0.99)),
            "drop_s": t0 - dropping,
            "kernel": {k: tcp1[k] - tcp0.get(k, 0) for k in tcp1},
            "failures": dict(failures),
            "attempts": sum(m.attempts for m in storm),
            "dropped": dropped,
            "steady_before": calm,
            "steady": steady_figures(listening, t0, end),
            "cpu_cores_5s": (cpu_marks["5.0"] - cpu_marks["0"]) / 5.0,
            "cpu_cores_observed": (cpu_marks["end"] - cpu_marks["0"]) / a.observe,
            "cpu_s": cpu_marks,
            "machine_busy_cores": (busy1[0] - busy0[0]) / a.observe,
            "client": {
                "cpu_share": own / a.observe,
                **lateness,
                "bottleneck": max(lateness.values()) > BOTTLENECK_LATENESS,
            },
        }
        if before and after:
            lag_before, lag_after = lag_histogram(before), lag_histogram(after)
            ticks = {b: lag_after[b] - lag_before.get(b, 0.0) for b in lag_after}
            slow = ticks[float("inf")] - ticks.get(LAG_BUCKET, 0.0) if ticks else None
            figures["radiod"] = {
                "lag_max_ms": 1000 * metric_total(after, "radiod_reactor_lag_max_seconds"),
                "lag_ticks": ticks.get(float("inf")),
                "lag_ticks_over_100ms": slow,
                "slow_dropped": metric_total(after, "radiod_slow_listeners_dropped_total")
                - metric_total(before, "radiod_slow_listeners_dropped_total"),
                "refused": metric_total(after, "radiod_requests_refused_total")
                - metric_total(before, "radiod_requests_refused_total"),
                "listeners_after": metric_total(after, "radiod_listeners"),
            }
        crowd.record([*steady, *storm], False)
        return storm, figures


def _median_of_all(reached: list[float], count: int) -> float | None:
    """
    The median over C{count} listeners of a moment C{reached} by some of
    them: C{None} when fewer than half reached it.
    """
    value = percentile([*reached, *[float("inf")] * (count - len(reached))], 0.5)
    return None if value is None or value == float("inf") else value


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _median(values: list[float | None], unreached: bool) -> float | None:
    """
    The median of some values.

    @param unreached: whether C{None} means a moment never reached (it
        then counts as above every value) rather than nothing measured
        (it is then left out).
    """
    if unreached:
        return statistics.median(float("inf") if v is None else v for v in values)
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


# label, how to read one storm's figure, digits, whether a ratio makes
# sense, whether no value means "never reached" (else "not measured")
Row = tuple[str, Callable[[Json], Any], int, bool, bool]


def rows() -> list[Row]:
    """
    The table's rows.
    """

    def get(*keys: str) -> Callable[[Json], Any]:
        def read(figures: Json) -> Any:
            value: Any = figures
            for key in keys:
                if not isinstance(value, dict) or key not in value:
                    return None
                value = value[key]
            return value

        return read

    return [
        ("storm listeners", get("listeners"), 0, False, False),
        ("steady listeners", get("steady_listeners"), 0, False, False),
        ("all have first byte, s", get("all_first_byte_s"), 2, True, True),
        ("half have first byte, s", get("first_byte_p50_s"), 2, True, True),
        ("all back at full rate, s", get("all_full_rate_s"), 2, True, True),
        ("half back at full rate, s", get("full_rate_p50_s"), 2, True, True),
        ("not back when observed", get("not_full_rate"), 0, False, False),
        ("TTFB p50 ms", get("ttfb_p50_ms"), 1, True, False),
        ("TTFB p99 ms", get("ttfb_p99_ms"), 1, True, False),
        ("TTFB max ms", get("ttfb_max_ms"), 1, True, False),
        ("connect p50 ms", get("connect_p50_ms"), 1, True, False),
        ("connect p99 ms", get("connect_p99_ms"), 1, True, False),
        ("connections tried", get("attempts"), 0, True, False),
        ("connections failed", lambda f: sum(f["failures"].values()), 0, False, False),
        ("listeners dropped", get("dropped"), 0, False, False),
        ("steady, before: longest gap max, s", get("steady_before", "gap_max_s"), 2, True, False),
        ("steady, before: longest gap p50, s", get("steady_before", "gap_p50_s"), 2, True, False),
        ("steady, storm: longest gap max, s", get("steady", "gap_max_s"), 2, True, False),
        ("steady, storm: longest gap p50, s", get("steady", "gap_p50_s"), 2, True, False),
        ("steady, storm: rate min, % nominal", get("steady", "rate_min_pct"), 1, True, False),
        ("steady, storm: rate p50, % nominal", get("steady", "rate_p50_pct"), 1, True, False),
        ("server CPU cores, first 5 s", get("cpu_cores_5s"), 2, True, False),
        ("server CPU cores, observed", get("cpu_cores_observed"), 2, True, False),
        ("reactor lag max ms", get("radiod", "lag_max_ms"), 0, False, False),
        ("lag ticks over 100 ms", get("radiod", "lag_ticks_over_100ms"), 0, False, False),
        ("slow listeners dropped", get("radiod", "slow_dropped"), 0, False, False),
        ("requests refused", get("radiod", "refused"), 0, False, False),
        ("listen queue overflows", get("kernel", "ListenOverflows"), 0, False, False),
        ("SYN cookies sent", get("kernel", "SyncookiesSent"), 0, False, False),
        ("machine busy cores", get("machine_busy_cores"), 2, False, False),
        ("client drop took, ms", lambda f: 1000 * f["drop_s"], 0, False, False),
        ("client start lateness ms", lambda f: 1000 * f["client"]["start_s"], 0, False, False),
        ("client read lateness ms", lambda f: 1000 * f["client"]["read_s"], 0, False, False),
        ("client CPU share", lambda f: f["client"]["cpu_share"], 2, False, False),
    ]


def _show(value: float | None, digits: int, observe: float) -> str:
    if value is None:
        return "-"
    if value == float("inf"):
        return f"> {observe:g}"
    return f"{value:,.{digits}f}"


def table(results: dict[str, Json], observe: float) -> str:
    """
    metric | median over the storms, per server | radiod/icecast.
    """
    names = [n for n, r in results.items() if r.get("storms")]
    headers = ["metric", *names]
    both = "radiod" in names and "icecast" in names
    if both:
        headers.append("radiod/icecast")
    body: list[list[str]] = []
    for label, read, digits, ratio, unreached in rows():
        storms = {n: [read(f) for f in results[n]["storms"]] for n in names}
        medians = {n: _median(values, unreached) for n, values in storms.items()}
        if all(v is None for v in medians.values()):
            continue
        row = [label, *(_show(medians[n], digits, observe) for n in names)]
        if both:
            a, b = medians["radiod"], medians["icecast"]
            finite = a is not None and b and abs(a) != float("inf") and abs(b) != float("inf")
            row.append(f"{a / b:.2f}" if ratio and finite and a is not None and b else "")
        body.append(row)
    widths = [max(len(r[i]) for r in [headers, *body]) for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths), *map(fmt, body)])


def report(args: argparse.Namespace, results: dict[str, Json], out: Path, took: float) -> str:
    """
    The printed report: the table of medians, then each storm's figures.
    """
    lines = [
        "",
        f"reconnect storm: {args.storm} listeners dropped ({args.drop}) and reconnecting within "
        f"{args.spread:g} s, {args.steady} steady listeners, {args.storms} storm(s) "
        f"{args.interval:g} s apart, observed {args.observe:g} s; {BITRATE_KBPS} kbps with ICY "
        f"metadata; median over the storms; took {took:.0f} s",
        "",
    ]
    if any(r.get("storms") for r in results.values()):
        lines.append(table(results, args.observe))
    else:
        lines.append("(no server was measured)")
    lines.append("")
    for name, result in results.items():
        if "error" in result:
            lines.append(f"{name}: NOT MEASURED: {result['error']}")
            continue
        first = result["first_connection"]
        lines.append(
            f"{name}: first connection: {first['connected']} connected, failures "
            f"{sum(first['failures'].values())}"
        )
        for f in result["storms"]:
            failures = ", ".join(f"{n} x {k}" for k, n in f["failures"].items()) or "none"
            lines.append(
                f"{name} storm {f['storm']}: first bytes {_seconds(f['all_first_byte_s'])}, "
                f"full rate {_seconds(f['all_full_rate_s'])} (missing "
                f"{f['no_first_byte']}/{f['not_full_rate']}), steady gap max "
                f"{_seconds(f['steady']['gap_max_s'])}; failures: {failures}"
            )
            if f["client"]["bottleneck"]:
                lines.append(f"{name} storm {f['storm']}: LOADGEN WAS THE BOTTLENECK")
        if not result["alive_at_end"]:
            lines.append(f"{name}: the server was no longer running at the end")
        lines.extend(f"{name}: {note}" for note in result["notes"])
    lines.append(f"raw results: {out}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """
    The command line.
    """
    p = argparse.ArgumentParser(
        prog="storm.py", description="Listeners dropped at once and reconnecting within a second."
    )
    p.add_argument("--storm", type=int, default=5000, help="listeners dropped in each storm")
    p.add_argument("--steady", type=int, default=500, help="listeners connected throughout")
    p.add_argument("--storms", type=int, default=3, help="storms per server")
    p.add_argument("--spread", type=float, default=1.0, help="seconds the reconnections take")
    p.add_argument("--drop", choices=["reset", "close", "stall"], default="reset")
    p.add_argument("--observe", type=float, default=30.0, help="seconds watched after a drop")
    p.add_argument("--interval", type=float, default=45.0, help="seconds between storms")
    p.add_argument("--settle", type=float, default=35.0, help="seconds before the first storm")
    p.add_argument("--baseline", type=float, default=5.0, help="steady watched before a storm")
    p.add_argument("--rate", type=float, default=500.0, help="first connections per second")
    p.add_argument("--connect-within", type=float, default=60.0, help="first connections: s")
    p.add_argument("--tolerance", type=float, default=1.0, help="seconds behind still full rate")
    p.add_argument("--retry-delay", type=float, default=1.0, help="after a failed connection")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--first-byte-timeout", type=float, default=15.0)
    p.add_argument("--read-interval", type=float, default=0.05, help="seconds between reads")
    p.add_argument("--source-addresses", type=int, default=8, help="127.0.0.1..N as sources")
    p.add_argument("--path", default="/stream")
    p.add_argument("--servers", default="radiod,icecast", help="comma-separated")
    p.add_argument("--radiod-arg", action="append", default=[], help="extra radiod argument")
    p.add_argument("--icecast", default=shutil.which("icecast2") or "", help="icecast binary")
    p.add_argument("--cache", default="/tmp/radiod-bench-cache", help="test music cache")
    p.add_argument("--out", help="JSON results file (default: under --cache)")
    args = p.parse_args(argv)
    if args.storm < 1 or args.steady < 1 or args.storms < 1 or args.spread <= 0:
        p.error("--storm, --steady, --storms and --spread must be positive")
    if args.observe < max(5.0, VERIFY_S + args.spread) or args.interval < args.observe:
        p.error("--observe must leave time to see the listeners back, --interval exceed it")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt()


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the storms and print the table.

    @return: 0, or 1 when a server could not be measured.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    wanted = 2 * (args.steady + 2 * args.storm) + 1000
    if raise_fd_limit(wanted) < args.steady + 2 * args.storm + 100:
        raise SystemExit("storm.py: the open-file limit is too low for this many listeners")
    signal.signal(signal.SIGTERM, _interrupt)
    bench = Bench(args)
    results: dict[str, Json] = {}
    failed = False
    began = time.monotonic()
    try:
        for name in args.servers.split(","):
            if name == "icecast" and not args.icecast:
                say("== icecast: not installed (no icecast2 on PATH); skipped")
                continue
            if name not in ("radiod", "icecast"):
                raise SystemExit(f"storm.py: unknown server {name!r}")
            server = bench.make_server(name)
            try:
                results[name] = bench.measure(server)
            except ServerError as e:
                failed = True
                say(f"!! {name} could not be measured: {e}")
                results[name] = {"error": str(e), "logs": [str(p) for p in server.logs]}
    except KeyboardInterrupt:
        say("interrupted; stopping the servers")
        failed = True
    finally:
        bench.cleanup()
    out = Path(args.out or Path(args.cache) / "results" / f"storm-{bench.stamp}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(report(args, results, out, time.monotonic() - began))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
