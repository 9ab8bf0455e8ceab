#!/usr/bin/env python3
"""
A load generator for HTTP/ICY audio streams: many listeners on loopback.

Stand-alone and dependency-free (standard library only), so it can measure
any stream server.  It opens C{--listeners} connections at C{--rate} per
second, keeps them reading, and measures each one over a steady window that
starts C{--warmup} seconds after the ramp ends::

    python benchmarks/loadgen.py --port 8000 --listeners 2000 --rate 500 \\
        --window 30 --metadata --nominal-kbps 128 --json out.json

Its own cost is kept low: sockets are non-blocking, read with one large
C{recv_into} (256 KiB) into a preallocated buffer, and once a listener has
its first audio byte its socket moves to a second epoll set that is read
only every C{--read-interval} seconds, so each read drains several of the
server's writes.  Connections that are still starting stay in a set polled
without delay, so connect and first-byte times are exact.

Definitions used in the output:
  - I{connect time}: from the non-blocking C{connect()} to the socket
    becoming writable.
  - I{time to first byte} (TTFB): from the C{connect()} call to the first
    byte of the response body (the first audio byte, after the headers).
  - I{audio bytes}: with C{--metadata}, the body minus the ICY metadata
    framing (the length byte and metadata blocks).  The framing is followed
    exactly with C{icy-metaint} from the response headers, a few integer
    operations per read, so rates are of audio alone.  Each non-empty
    metadata block is checked to start with C{StreamTitle=}; a mismatch is
    counted as a framing error.
  - I{rate}: a listener's audio bytes received after its first read in
    the window, up to its last read in the window, divided by the time
    between those reads.  Each read drains the socket, so the result does
    not depend on how often the generator reads.
  - I{stream rate}: for up to 64 probe listeners per process, the
    least-squares slope of audio bytes received against time over every
    read in the window; the median probe is compared with nominal.  Unlike
    the end-to-end rate it is not thrown by a late delivery at either edge.
  - I{at full rate}: connected through the whole window with a rate of at
    least C{--full-rate} (95%) of nominal.
  - I{longest gap}: the longest time, within the window, between two reads
    that returned data (the window's edges count as reads).  Its resolution
    is the read interval plus any loop lateness, both reported; so is when
    it ended (C{max_gap_end_s}, seconds into the window), which tells one
    server-wide stall from scattered ones.
  - I{refused}: no usable stream: connection refused or reset, timed out,
    closed before the headers, or a status other than 200.
  - I{dropped}: the server closed or reset a listener after its stream
    started and before the generator closed it.

The generator checks itself: its CPU time (C{getrusage}), how late its
periodic reads run, and how far behind schedule the ramp fell.  When any is
too high the summary says C{LOADGEN WAS THE BOTTLENECK}, and the JSON has
C{loadgen.bottleneck} true with the reasons.  With C{--processes P} the
listeners are split across P processes (one ramp, interleaved) and their
results are merged.

With C{--churn-rate X} (churn mode) the ramp is followed by C{--duration}
seconds in which every second X of the oldest listeners are closed (one in
ten abortively, with a reset) and X new ones open.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import resource
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

BUFFER_SIZE = 256 * 1024
HEADER_LIMIT = 16 * 1024
IP_BIND_ADDRESS_NO_PORT = 24
ERROR_EVENTS = select.EPOLLERR | select.EPOLLHUP

CONNECTING, HEADERS, STREAMING, CLOSED = range(4)

# The thresholds beyond which the generator's own numbers are suspect.
BOTTLENECK_CPU_SHARE = 0.85
BOTTLENECK_READ_LATENESS = 0.25
BOTTLENECK_RAMP_LATENESS = 0.5
BOTTLENECK_STALL = 0.1
# A starting connection waiting longer than this for the loop is a stall.
STALL_LIMIT = 0.05
# Streaming sockets read between two looks at the starting connections.
READ_BATCH = 512
# Listeners per shard whose stream rate is fitted over every read.
PROBES = 64

Json = dict[str, Any]


class Listener:
    """
    One simulated listener: its socket, its timings and its counters.
    """

    __slots__ = (
        "audio",
        "body",
        "br",
        "buckets",
        "error",
        "fit",
        "head",
        "index",
        "last",
        "max_gap",
        "max_gap_at",
        "meta_blocks",
        "meta_errors",
        "meta_left",
        "metaint",
        "outcome",
        "sock",
        "state",
        "status",
        "t_connected",
        "t_end",
        "t_first",
        "t_sched",
        "t_start",
        "title",
        "to_meta",
        "w_first_audio",
        "w_first_t",
        "w_last_audio",
        "w_last_t",
    )

    def __init__(self, index: int, t_sched: float) -> None:
        self.index = index
        self.sock: socket.socket | None = None
        self.state = CONNECTING
        self.t_sched = t_sched
        self.t_start = 0.0
        self.t_connected = 0.0
        self.t_first = 0.0
        self.t_end = 0.0
        self.status = 0
        self.br = 0
        self.error = ""
        self.outcome = ""
        self.head = bytearray()
        self.metaint = 0
        self.to_meta = 0
        self.meta_left = 0
        self.meta_blocks = 0
        self.meta_errors = 0
        self.title = ""
        self.body = 0
        self.audio = 0
        self.last = 0.0
        self.max_gap = 0.0
        self.max_gap_at = 0.0
        self.w_first_t = 0.0
        self.w_first_audio = 0
        self.w_last_t = 0.0
        self.w_last_audio = 0
        self.buckets: list[int] | None = None
        self.fit: list[float] | None = None


def icy_audio(listener: Listener, buffer: bytearray, offset: int, end: int) -> int:
    """
    Follow a listener's ICY framing through C{buffer[offset:end]}, bytes of
    its body just received, counting its metadata blocks (and those that do
    not start with C{StreamTitle=}) and noting its first title.

    @return: how many of those bytes are audio.
    """
    audio = 0
    while offset < end:
        if listener.meta_left:
            step = min(listener.meta_left, end - offset)
            listener.meta_left -= step
            offset += step
        elif listener.to_meta:
            step = min(listener.to_meta, end - offset)
            listener.to_meta -= step
            audio += step
            offset += step
        else:
            length = buffer[offset] * 16
            offset += 1
            listener.meta_blocks += 1
            listener.meta_left = length
            listener.to_meta = listener.metaint
            if length and offset + length <= end:
                block = bytes(buffer[offset : offset + length])
                if not block.startswith(b"StreamTitle="):
                    listener.meta_errors += 1
                elif not listener.title:
                    listener.title = block.rstrip(b"\0").decode("utf-8", "replace")
    return audio


def percentile(values: Sequence[float], share: float) -> float | None:
    """
    The nearest-rank percentile of some values.

    @param values: any numbers, in any order.
    @param share: between 0 and 1 (0.99 for p99).
    @return: the value, or C{None} when there are none.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, int(share * len(ordered) + 0.999999) - 1))
    return ordered[rank]


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """
    Read a response's status code and headers.

    @param head: the response up to, not including, the blank line.
    @return: the status code (0 when unreadable) and the headers, with
        lower-case names.
    """
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


def raise_fd_limit(wanted: int) -> int:
    """
    Raise this process's open-file limit to at least C{wanted} if allowed,
    else as far as the hard limit goes.

    @return: the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds() -> float:
    """
    This process's user plus system CPU time, in seconds.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Shard:
    """
    One process's share of the listeners, and the event loop that runs them.

    @ivar listeners: every listener started, in order.
    """

    def __init__(self, args: argparse.Namespace, shard: int, shards: int, start_at: float) -> None:
        self.args = args
        self.shard = shard
        self.count: int = args.listeners // shards + (1 if shard < args.listeners % shards else 0)
        rate = float(args.rate)
        self.ramp_step = shards / rate
        self.start_at = start_at + shard / rate
        self.ramp_end: float = start_at + args.listeners / rate
        self.churn = args.churn_rate > 0
        if self.churn:
            self.churn_step: float = shards / args.churn_rate
            self.churn_total: int = int(args.churn_rate * args.duration / shards)
            self.window_start: float = self.ramp_end
            self.window_end: float = self.ramp_end + args.duration
        else:
            self.churn_step = 0.0
            self.churn_total = 0
            self.window_start = self.ramp_end + args.warmup
            self.window_end = self.window_start + args.window
        self.read_interval: float = args.read_interval
        self.bucket_seconds: float = args.bucket
        self.request = self._request()
        self.address = (args.host, args.port)
        self.sources = [f"127.0.0.{i}" for i in range(1, args.source_addresses + 1)]
        self.buffer = bytearray(BUFFER_SIZE)
        self.view = memoryview(self.buffer)
        self.fast = select.epoll()
        self.slow = select.epoll()
        self.by_fd: dict[int, Listener] = {}
        self.listeners: list[Listener] = []
        self.alive: deque[Listener] = deque()
        self.pending: dict[int, Listener] = {}
        self.bucket_slots = int(args.window / args.bucket) + 2
        self.probe_every = max(1, self.count // PROBES)
        self.read_lateness: list[float] = []
        self.fast_returned = 0.0
        self.max_stall = 0.0
        self.stalls = 0
        self.ramp_lateness = 0.0
        self.client_errors: Counter[str] = Counter()
        self.cpu_marks: dict[str, float] = {}
        self.wall_marks: dict[str, float] = {}

    def _request(self) -> bytes:
        args = self.args
        lines = [
            f"GET {args.path} HTTP/1.0",
            f"Host: {args.host}:{args.port}",
            "User-Agent: radiod-loadgen/1.0",
            "Accept: */*",
        ]
        if args.metadata:
            lines.append("Icy-MetaData: 1")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")

    def _scheduled(self, k: int) -> float:
        if k < self.count:
            return self.start_at + k * self.ramp_step
        return self.ramp_end + (k - self.count) * self.churn_step

    def _mark(self, name: str) -> None:
        self.cpu_marks[name] = cpu_seconds()
        self.wall_marks[name] = time.monotonic()

    def run(self) -> Json:
        """
        Ramp, hold (or churn) and measure; close everything at the end.

        @return: this shard's raw results.
        """
        total = self.count + self.churn_total
        k = 0
        next_read = 0.0
        next_check = 0.0
        marks = [("ramp_end", self.ramp_end), ("window_start", self.window_start)]
        while time.monotonic() < self.start_at - 0.001:
            time.sleep(min(0.05, self.start_at - time.monotonic()))
        self._mark("start")
        self.fast_returned = time.monotonic()
        while True:
            now = time.monotonic()
            while marks and now >= marks[0][1]:
                self._mark(marks.pop(0)[0])
            if now >= self.window_end:
                break
            while k < total and self._scheduled(k) <= now:
                self.ramp_lateness = max(self.ramp_lateness, now - self._scheduled(k))
                if k >= self.count:
                    self._retire_oldest(now)
                self._start(k, now)
                k += 1
            if now >= next_read:
                if next_read:
                    self.read_lateness.append(now - next_read)
                next_read = max(next_read + self.read_interval, now)
                self._read_streams()
            if now >= next_check:
                next_check = now + 0.5
                self._expire(now)
            deadline = min(next_read, next_check, self.window_end)
            if k < total:
                deadline = min(deadline, self._scheduled(k))
            if marks:
                deadline = min(deadline, marks[0][1])
            self._poll_fast(max(0.0, deadline - time.monotonic()))
        self._read_streams(self.window_end)
        self._mark("window_end")
        self._close_all(self.window_end)
        return self._results()

    def _start(self, k: int, now: float) -> None:
        listener = Listener(k, self._scheduled(k))
        listener.t_start = now
        self.listeners.append(listener)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            self._refuse(listener, now, f"client socket: {errno.errorcode.get(e.errno or 0, e)}")
            self.client_errors[listener.error] += 1
            return
        sock.setblocking(False)
        if len(self.sources) > 1:
            sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((self.sources[k % len(self.sources)], 0))
        listener.sock = sock
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            self._refuse(listener, now, f"connect: {errno.errorcode.get(code, code)}")
            if code in (errno.EADDRNOTAVAIL, errno.EMFILE, errno.ENFILE, errno.ENOBUFS):
                self.client_errors[listener.error] += 1
            return
        self.by_fd[sock.fileno()] = listener
        self.pending[k] = listener
        self.fast.register(sock.fileno(), select.EPOLLOUT)
        if self.churn:
            self.alive.append(listener)
        else:
            listener.buckets = [0] * self.bucket_slots
            if k % self.probe_every == 0:
                listener.fit = [0.0] * 5

    def _handle_fast(self, events: list[tuple[int, int]], now: float) -> None:
        for fd, event in events:
            listener = self.by_fd.get(fd)
            if listener is None or listener.sock is None:
                continue
            sock = listener.sock
            if listener.state == CONNECTING:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code or event & ERROR_EVENTS:
                    reason = errno.errorcode.get(code, "hangup") if code else "hangup"
                    self._refuse(listener, now, f"connect: {reason}")
                    continue
                listener.t_connected = now
                try:
                    sock.send(self.request)
                except OSError as e:
                    self._refuse(listener, now, f"send: {errno.errorcode.get(e.errno or 0, e)}")
                    continue
                listener.state = HEADERS
                self.fast.modify(fd, select.EPOLLIN)
                continue
            try:
                n = sock.recv_into(self.buffer)
            except BlockingIOError:
                continue
            except OSError as e:
                self._lost(listener, now, errno.errorcode.get(e.errno or 0, str(e)))
                continue
            if n == 0:
                self._lost(listener, now, "closed")
                continue
            if listener.state == HEADERS:
                self._headers(listener, n, now)
            else:
                self._body(listener, 0, n, now)
            if listener.state == STREAMING and listener.t_first:
                self.fast.unregister(fd)
                self.slow.register(fd, select.EPOLLIN)

    def _headers(self, listener: Listener, n: int, now: float) -> None:
        listener.head += self.view[:n]
        end = listener.head.find(b"\r\n\r\n")
        if end < 0:
            if len(listener.head) > HEADER_LIMIT:
                self._refuse(listener, now, "headers too long")
            return
        status, headers = parse_head(bytes(listener.head[:end]))
        listener.status = status
        if status != 200:
            self._refuse(listener, now, f"status {status}")
            return
        if self.args.metadata:
            metaint = headers.get("icy-metaint", "0")
            listener.metaint = int(metaint) if metaint.isdigit() else 0
            listener.to_meta = listener.metaint
        bitrate = headers.get("icy-br", "").split(",")[0]
        listener.br = int(bitrate) if bitrate.isdigit() else 0
        listener.state = STREAMING
        rest = len(listener.head) - end - 4
        listener.head = bytearray()
        if rest:
            self._body(listener, n - rest, n, now)

    def _body(self, listener: Listener, start: int, end: int, now: float) -> None:
        """
        Count body bytes C{self.buffer[start:end]}, just received.
        """
        if not listener.t_first:
            listener.t_first = now
            listener.last = now
            self.pending.pop(listener.index, None)
        listener.body += end - start
        audio = self._audio(listener, start, end) if listener.metaint else end - start
        listener.audio += audio
        self._account(listener, audio, now)

    def _account(self, listener: Listener, n: int, now: float) -> None:
        """
        Update the window counters after a read of C{n} audio bytes at C{now}.
        """
        ws = self.window_start
        if ws <= now <= self.window_end:
            gap = now - (listener.last if listener.last > ws else ws)
            if gap > listener.max_gap:
                listener.max_gap = gap
                listener.max_gap_at = now
            if not listener.w_first_t:
                listener.w_first_t = now
                listener.w_first_audio = listener.audio
            listener.w_last_t = now
            listener.w_last_audio = listener.audio
            fit = listener.fit
            if fit is not None:
                x = now - ws
                y = listener.audio - listener.w_first_audio
                fit[0] += 1
                fit[1] += x
                fit[2] += y
                fit[3] += x * x
                fit[4] += x * y
            if listener.buckets is not None:
                slot = int((now - ws) / self.bucket_seconds)
                if slot < len(listener.buckets):
                    listener.buckets[slot] += n
        listener.last = now

    def _audio(self, listener: Listener, offset: int, end: int) -> int:
        """
        Follow the ICY framing through C{self.buffer[offset:end]}.

        @return: how many of those bytes are audio.
        """
        return icy_audio(listener, self.buffer, offset, end)

    def _poll_fast(self, timeout: float) -> None:
        """
        Handle starting connections, noting how long they had to wait.
        """
        entered = time.monotonic()
        if self.pending:
            stall = entered - self.fast_returned
            self.max_stall = max(self.max_stall, stall)
            if stall > STALL_LIMIT:
                self.stalls += 1
        events = self.fast.poll(timeout, len(self.by_fd) + 1)
        self.fast_returned = time.monotonic()
        if events:
            self._handle_fast(events, self.fast_returned)

    def _read_streams(self, at: float | None = None) -> None:
        """
        Read every streaming socket that has data, in batches with the
        starting connections served between them.

        @param at: the time to record for these reads (default: now).
        """
        events = self.slow.poll(0, len(self.by_fd) + 1)
        for first in range(0, len(events), READ_BATCH):
            if first:
                self._poll_fast(0)
            self._read_batch(events[first : first + READ_BATCH], at or time.monotonic())

    def _read_batch(self, events: list[tuple[int, int]], now: float) -> None:
        buffer = self.buffer
        for fd, _event in events:
            listener = self.by_fd.get(fd)
            if listener is None:
                continue
            sock = listener.sock
            if sock is None:
                continue
            try:
                n = sock.recv_into(buffer)
            except BlockingIOError:
                continue
            except OSError as e:
                self._lost(listener, now, errno.errorcode.get(e.errno or 0, str(e)))
                continue
            if n == 0:
                self._lost(listener, now, "closed")
                continue
            listener.body += n
            audio = self._audio(listener, 0, n) if listener.metaint else n
            listener.audio += audio
            self._account(listener, audio, now)

    def _expire(self, now: float) -> None:
        """
        Give up on listeners that took too long to connect or to answer.
        """
        for listener in list(self.pending.values()):
            if listener.state == CONNECTING and now - listener.t_start > self.args.connect_timeout:
                self._refuse(listener, now, "connect timeout")
            elif (
                listener.state != CONNECTING
                and not listener.t_first
                and now - listener.t_start > self.args.first_byte_timeout
            ):
                self._refuse(listener, now, "no audio in time")

    def _forget(self, listener: Listener, now: float, state: int = CLOSED) -> None:
        sock = listener.sock
        if sock is not None:
            fd = sock.fileno()
            self.by_fd.pop(fd, None)
            for poller in (self.fast, self.slow):
                try:
                    poller.unregister(fd)
                except (KeyError, OSError, ValueError):
                    pass
            sock.close()
            listener.sock = None
        listener.state = state
        listener.t_end = now
        self.pending.pop(listener.index, None)
        listener.head = bytearray()

    def _refuse(self, listener: Listener, now: float, reason: str) -> None:
        listener.outcome = "refused"
        listener.error = reason
        self._forget(listener, now)

    def _lost(self, listener: Listener, now: float, reason: str) -> None:
        if not listener.t_first:
            self._refuse(listener, now, f"before audio: {reason}")
            return
        listener.outcome = "dropped"
        listener.error = reason
        self._forget(listener, now)

    def _retire_oldest(self, now: float) -> None:
        """
        Churn: close the oldest listener still open, abortively one time in ten.
        """
        while self.listeners and self.alive:
            listener = self.alive.popleft()
            if listener.sock is None:
                continue
            if listener.index % 10 == 9:
                listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            listener.outcome = "closed"
            self._forget(listener, now)
            return

    def _close_all(self, now: float) -> None:
        for listener in self.listeners:
            if listener.sock is not None:
                if listener.t_first:
                    listener.outcome = "held"
                    self._forget(listener, now)
                elif now - listener.t_start < self.args.first_byte_timeout:
                    listener.outcome = "unfinished"
                    self._forget(listener, now)
                else:
                    self._refuse(listener, now, "no audio by the end")

    def _results(self) -> Json:
        """
        This shard's results: per-listener columns and its own costs.
        """
        marks = self.wall_marks
        cpu = self.cpu_marks
        phases: Json = {}
        for name, a, b in (
            ("ramp", "start", "ramp_end"),
            ("window", "window_start", "window_end"),
        ):
            if a in marks and b in marks and marks[b] > marks[a]:
                wall = marks[b] - marks[a]
                phases[name] = {
                    "cpu_s": cpu[b] - cpu[a],
                    "wall_s": wall,
                    "cpu_share": (cpu[b] - cpu[a]) / wall,
                }
        ws, we = self.window_start, self.window_end
        columns: dict[str, list[Any]] = {
            "outcome": [],
            "error": [],
            "connect_ms": [],
            "ttfb_ms": [],
            "rate": [],
            "max_gap_s": [],
            "max_gap_end_s": [],
            "window_s": [],
            "min_bucket_rate": [],
            "fitted_rate": [],
        }
        titles: Counter[str] = Counter()
        metaints: Counter[int] = Counter()
        bitrates: Counter[int] = Counter()
        meta_blocks = meta_errors = 0
        for listener in self.listeners:
            started = listener.t_first > 0
            columns["outcome"].append(listener.outcome)
            columns["error"].append(listener.error)
            columns["connect_ms"].append(
                round((listener.t_connected - listener.t_start) * 1000, 3)
                if listener.t_connected
                else None
            )
            columns["ttfb_ms"].append(
                round((listener.t_first - listener.t_start) * 1000, 3) if started else None
            )
            end = listener.t_end or we
            inside = max(0.0, min(end, we) - max(listener.t_first or end, ws)) if started else 0.0
            columns["window_s"].append(round(inside, 4))
            through = started and listener.t_first <= ws and listener.outcome in ("held", "")
            span = listener.w_last_t - listener.w_first_t
            rate = (listener.w_last_audio - listener.w_first_audio) / span if span > 0 else 0.0
            columns["rate"].append(round(rate, 2) if through else None)
            gap, gap_at = listener.max_gap, listener.max_gap_at
            if started and min(end, we) - max(listener.last, ws) > gap:
                gap, gap_at = min(end, we) - max(listener.last, ws), min(end, we)
            columns["max_gap_s"].append(round(gap, 4) if through else None)
            columns["max_gap_end_s"].append(round(gap_at - ws, 3) if through else None)
            if listener.buckets and through:
                full = listener.buckets[: max(1, int((we - ws) / self.bucket_seconds))]
                columns["min_bucket_rate"].append(round(min(full) / self.bucket_seconds, 1))
            else:
                columns["min_bucket_rate"].append(None)
            columns["fitted_rate"].append(_slope(listener.fit) if through else None)
            if listener.title:
                titles[listener.title] += 1
            if started:
                metaints[listener.metaint] += 1
                bitrates[listener.br] += 1
            meta_blocks += listener.meta_blocks
            meta_errors += listener.meta_errors
        return {
            "shard": self.shard,
            "listeners": len(self.listeners),
            "columns": columns,
            "phases": phases,
            "read_lateness_s": {
                "p99": percentile(self.read_lateness, 0.99),
                "max": max(self.read_lateness, default=None),
            },
            "ramp_lateness_s": self.ramp_lateness,
            "max_stall_s": self.max_stall,
            "stalls": self.stalls,
            "client_errors": dict(self.client_errors),
            "titles": dict(titles.most_common(3)),
            "metaint": {str(k): v for k, v in metaints.items()},
            "icy_br": {str(k): v for k, v in bitrates.items()},
            "meta_blocks": meta_blocks,
            "meta_errors": meta_errors,
        }


def run_shard(args: argparse.Namespace, shard: int, shards: int, start_at: float) -> Json:
    """
    Run one shard in this process.

    @return: its raw results.
    """
    per_shard = args.listeners // shards + 1
    limit = raise_fd_limit(per_shard + 256)
    instance = Shard(args, shard, shards, start_at)
    if limit < per_shard + 64:
        instance.client_errors[f"open-file limit {limit} below {per_shard + 64}"] += 1
    result = instance.run()
    result["fd_limit"] = limit
    return result


def _slope(fit: list[float] | None) -> float | None:
    """
    The least-squares slope of audio bytes over time, from running sums.
    """
    if fit is None:
        return None
    n, sx, sy, sxx, sxy = fit
    spread = n * sxx - sx * sx
    return round((n * sxy - sx * sy) / spread, 3) if n > 2 and spread > 0 else None


def merge(args: argparse.Namespace, shards: list[Json], start_at: float) -> Json:
    """
    Merge the shards' results into one summary.

    @return: the summary, with the per-listener columns concatenated.
    """
    columns: dict[str, list[Any]] = {}
    for shard in shards:
        for name, values in shard["columns"].items():
            columns.setdefault(name, []).extend(values)
    bitrates: Counter[str] = Counter()
    for shard in shards:
        bitrates.update(shard["icy_br"])
    nominal_source = "--nominal-kbps"
    if args.nominal_kbps:
        nominal = args.nominal_kbps * 1000 / 8
    else:
        known = [(n, b) for b, n in bitrates.items() if b != "0"]
        nominal = int(max(known)[1]) * 1000 / 8 if known else 0.0
        nominal_source = "icy-br" if known else "unknown"
    outcomes = Counter(columns.get("outcome", []))
    errors: Counter[str] = Counter()
    for outcome, error in zip(columns.get("outcome", []), columns.get("error", []), strict=True):
        if outcome in ("refused", "dropped"):
            errors[f"{outcome}: {error}"] += 1
    ttfb = [v for v in columns.get("ttfb_ms", []) if v is not None]
    connect = [v for v in columns.get("connect_ms", []) if v is not None]
    rates = [v for v in columns.get("rate", []) if v is not None]
    gaps = [v for v in columns.get("max_gap_s", []) if v is not None]
    gap_ends = [v for v in columns.get("max_gap_end_s", []) if v is not None]
    buckets = [v for v in columns.get("min_bucket_rate", []) if v is not None]
    threshold = args.full_rate * nominal
    full = sum(1 for v in rates if nominal and v >= threshold)
    requested = sum(shard["listeners"] for shard in shards)
    fitted = [v for v in columns.get("fitted_rate", []) if v is not None]
    median_rate = percentile(fitted, 0.5) or percentile(rates, 0.5)
    lateness = [s["read_lateness_s"]["p99"] or 0.0 for s in shards]
    lateness_max = [s["read_lateness_s"]["max"] or 0.0 for s in shards]
    reasons: list[str] = []
    for shard in shards:
        for phase, limit in (("window", BOTTLENECK_CPU_SHARE), ("ramp", 0.95)):
            share = shard["phases"].get(phase, {}).get("cpu_share", 0.0)
            if share >= limit:
                reasons.append(f"shard {shard['shard']} used {share:.0%} of a core in the {phase}")
        for error, count in shard["client_errors"].items():
            reasons.append(f"shard {shard['shard']}: {count} x {error}")
    if max(lateness, default=0.0) > BOTTLENECK_READ_LATENESS:
        reasons.append(f"reads ran late (p99 {max(lateness):.3f} s)")
    ramp_late = max((s["ramp_lateness_s"] for s in shards), default=0.0)
    if ramp_late > BOTTLENECK_RAMP_LATENESS:
        reasons.append(f"the ramp fell {ramp_late:.2f} s behind schedule")
    max_stall = max((s["max_stall_s"] for s in shards), default=0.0)
    if max_stall > BOTTLENECK_STALL:
        reasons.append(f"starting connections waited up to {max_stall * 1000:.0f} ms for the loop")
    mode = "churn" if args.churn_rate else "fanout"
    window = args.duration if args.churn_rate else args.window
    ramp_end = start_at + args.listeners / args.rate
    window_start = ramp_end if args.churn_rate else ramp_end + args.warmup
    summary: Json = {
        "mode": mode,
        "target": f"http://{args.host}:{args.port}{args.path}",
        "metadata": args.metadata,
        "listeners_requested": args.listeners,
        "connections_started": requested,
        "rate_per_s": args.rate,
        "churn_per_s": args.churn_rate,
        "start_at": start_at,
        "ramp_end": ramp_end,
        "window_start": window_start,
        "window_end": window_start + window,
        "window_s": window,
        "nominal_bytes_per_s": nominal,
        "nominal_from": nominal_source,
        "outcomes": dict(outcomes),
        "errors": dict(errors.most_common(10)),
        "refused": outcomes.get("refused", 0),
        "dropped": outcomes.get("dropped", 0),
        "got_audio": len(ttfb),
        "held_through_window": len(rates),
        "full_rate": full,
        "full_rate_threshold": args.full_rate,
        "ttfb_ms": {p: percentile(ttfb, q) for p, q in _PERCENTILES},
        "connect_ms": {p: percentile(connect, q) for p, q in _PERCENTILES},
        "rate_bytes_per_s": {p: percentile(rates, q) for p, q in _LOW_PERCENTILES},
        "rate_vs_nominal_pct": (median_rate / nominal * 100) if median_rate and nominal else None,
        "rate_fitted_on": len(fitted),
        "min_bucket_rate_bytes_per_s": {p: percentile(buckets, q) for p, q in _LOW_PERCENTILES},
        "bucket_s": args.bucket,
        "max_gap_s": {p: percentile(gaps, q) for p, q in _PERCENTILES},
        "max_gap_end_s": {p: percentile(gap_ends, q) for p, q in _LOW_PERCENTILES},
        "gap_resolution_s": args.read_interval + max(lateness_max, default=0.0),
        "listener_seconds": sum(columns.get("window_s", [])),
        "icy": {
            "metaint": _sum_counts(shards, "metaint"),
            "icy_br": dict(bitrates),
            "meta_blocks": sum(s["meta_blocks"] for s in shards),
            "framing_errors": sum(s["meta_errors"] for s in shards),
            "titles": _sum_counts(shards, "titles"),
        },
        "loadgen": {
            "processes": len(shards),
            "read_interval_s": args.read_interval,
            "read_lateness_p99_s": max(lateness, default=None),
            "read_lateness_max_s": max(lateness_max, default=None),
            "ramp_lateness_s": ramp_late,
            "ttfb_resolution_s": max_stall,
            "stalls_over_50ms": sum(s["stalls"] for s in shards),
            "phases": [s["phases"] for s in shards],
            "fd_limit": min(s.get("fd_limit", 0) for s in shards) if shards else 0,
            "bottleneck": bool(reasons),
            "bottleneck_reasons": reasons,
        },
    }
    if args.keep_columns:
        summary["columns"] = columns
    return summary


_PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
_LOW_PERCENTILES = (("min", 0.0), ("p1", 0.01), ("p50", 0.5), ("max", 1.0))


def _sum_counts(shards: list[Json], key: str) -> dict[str, int]:
    total: Counter[str] = Counter()
    for shard in shards:
        total.update(shard[key])
    return dict(total)


def describe(summary: Json) -> str:
    """
    A short human summary of a run.

    @param summary: what L{merge} returned.
    @return: a few lines of text.
    """

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    t, g, loadgen = summary["ttfb_ms"], summary["max_gap_s"], summary["loadgen"]
    lines = [
        f"{summary['mode']} {summary['target']} metadata={summary['metadata']}: "
        f"{summary['connections_started']} connections, {summary['got_audio']} got audio, "
        f"{summary['refused']} refused, {summary['dropped']} dropped",
    ]
    if summary["mode"] == "fanout":
        rate = summary["rate_vs_nominal_pct"]
        lines.append(
            f"window {summary['window_s']:g} s: {summary['full_rate']}/"
            f"{summary['listeners_requested']} at >= {summary['full_rate_threshold']:.0%} of "
            f"{summary['nominal_bytes_per_s']:.0f} B/s; median rate "
            f"{'-' if rate is None else f'{rate:.3f}'}% of nominal; longest gap max "
            f"{ms(g['max'])} s, p99 {ms(g['p99'])} s"
        )
    if not summary["nominal_bytes_per_s"]:
        lines.append("nominal rate unknown (no icy-br): pass --nominal-kbps to judge rates")
    lines.append(f"TTFB ms p50 {ms(t['p50'])} p99 {ms(t['p99'])} max {ms(t['max'])}")
    for error, count in summary["errors"].items():
        lines.append(f"  {count} x {error}")
    shares = ", ".join(
        f"{name} {phase['cpu_share']:.0%}"
        for phases in loadgen["phases"]
        for name, phase in phases.items()
    )
    lines.append(f"loadgen: {loadgen['processes']} process(es), CPU {shares}")
    if loadgen["bottleneck"]:
        lines.append("LOADGEN WAS THE BOTTLENECK: " + "; ".join(loadgen["bottleneck_reasons"]))
    return "\n".join(lines)


def _spawn_shards(args: argparse.Namespace, argv: list[str], start_at: float) -> list[Json]:
    """
    Run C{args.processes} copies of this program, one per shard.
    """
    directory = tempfile.mkdtemp(prefix="loadgen-")
    children: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for shard in range(args.processes):
            out = os.path.join(directory, f"shard{shard}.json")
            command = [sys.executable, os.path.abspath(__file__), *argv]
            command += ["--shard", f"{shard}/{args.processes}", "--start-at", repr(start_at)]
            command += ["--json", out, "--quiet"]
            children.append((subprocess.Popen(command), out))
        results = []
        for child, out in children:
            if child.wait() != 0:
                raise SystemExit(f"loadgen: a shard failed with status {child.returncode}")
            with open(out) as f:
                results.append(json.load(f))
        return results
    finally:
        for child, out in children:
            if child.poll() is None:
                child.terminate()
                child.wait()
            if os.path.exists(out):
                os.unlink(out)
        os.rmdir(directory)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """
    The command line.
    """
    p = argparse.ArgumentParser(
        prog="loadgen.py",
        description="Many HTTP/ICY stream listeners on loopback, measured over a steady window.",
    )
    p.add_argument("--url", help="http://HOST:PORT/PATH (instead of --host/--port/--path)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--path", default="/stream")
    p.add_argument("--listeners", "-n", type=int, default=100)
    p.add_argument("--rate", "-r", type=float, default=100.0, help="connections per second")
    p.add_argument("--metadata", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--warmup", type=float, default=5.0, help="seconds after the ramp")
    p.add_argument("--window", type=float, default=30.0, help="seconds measured")
    p.add_argument("--nominal-kbps", type=float, default=0.0, help="default: from icy-br")
    p.add_argument("--full-rate", type=float, default=0.95, help="share of nominal")
    p.add_argument("--processes", "-P", type=int, default=0, help="0: 1, or 2 above 6000")
    p.add_argument("--read-interval", type=float, default=0.0, help="0: by listener count")
    p.add_argument("--bucket", type=float, default=5.0, help="seconds per rate bucket")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--first-byte-timeout", type=float, default=15.0)
    p.add_argument("--source-addresses", type=int, default=8, help="127.0.0.1..N as sources")
    p.add_argument("--churn-rate", type=float, default=0.0, help="churn: listeners replaced/s")
    p.add_argument("--duration", type=float, default=600.0, help="churn: seconds after the ramp")
    p.add_argument("--start-at", type=float, default=0.0, help="time.monotonic() to start at")
    p.add_argument("--json", help="write the JSON summary here (default: standard output)")
    p.add_argument("--keep-columns", action="store_true", help="per-listener data in the JSON")
    p.add_argument("--quiet", action="store_true", help="no human summary on standard error")
    p.add_argument("--shard", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.url:
        from urllib.parse import urlsplit

        parts = urlsplit(args.url)
        args.host = parts.hostname or args.host
        args.port = parts.port or 80
        args.path = parts.path or "/"
    if args.processes <= 0:
        args.processes = 2 if args.listeners > 6000 else 1
    if args.read_interval <= 0:
        args.read_interval = min(0.25, max(0.02, args.listeners / 60000))
    if args.listeners < 1 or args.rate <= 0:
        p.error("--listeners and --rate must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the load and print (or write) its results.

    @return: the exit status.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    start_at = args.start_at or time.monotonic() + (1.5 if args.processes > 1 else 0.5)
    if args.shard:
        index, total = (int(x) for x in args.shard.split("/"))
        result = run_shard(args, index, total, start_at)
    elif args.processes > 1:
        result = merge(args, _spawn_shards(args, argv, start_at), start_at)
    else:
        result = merge(args, [run_shard(args, 0, 1, start_at)], start_at)
    text = json.dumps(result, indent=None if args.shard else 1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)
    else:
        print(text)
    if not args.quiet and not args.shard:
        print(describe(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
