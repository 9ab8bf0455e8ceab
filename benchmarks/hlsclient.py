#!/usr/bin/env python3
"""
HLS players on loopback, many of them: the client side of
C{benchmarks/hls.py}, usable on its own against any HLS server::

    python benchmarks/hlsclient.py --url http://127.0.0.1:8000/hls/stream/index.m3u8 \\
        --clients 500 --mode llhls --ramp 200 --warmup 10 --window 30

Standard library only.  Every request is HTTP/1.0 on a connection of its
own (no pooling, as a fleet of separate players looks to a server), and
every socket is non-blocking, on one epoll set per process; with
C{--processes P} the players are split across P processes (one ramp,
interleaved) and their results merged, as C{benchmarks/loadgen.py} does.

Each player behaves as a player does:

  - it reads the multivariant playlist, then the first rendition's media
    playlist;
  - C{--mode hls}: it fetches the last three segments listed (a player
    starts three target durations behind the end), then reloads the media
    playlist after the last segment's duration when the playlist had a
    new segment, after half the target duration when it had not, and
    fetches every new segment once, one at a time;
  - C{--mode llhls}: it fetches the last parts listed that cover
    C{PART-HOLD-BACK} (a player starts that far behind the end; radiod
    says two and a half parts, so three parts), then asks for
    the part the preload hint names at once (the server holds it until
    it exists) and at the same time for the playlist that will list it,
    a blocking reload (C{?_HLS_msn=N&_HLS_part=P}); each answer to the
    blocking reload leads to the next pair.  Parts listed that it has not
    asked for (when it fell behind) are fetched one at a time.

What is measured, over C{--window} seconds that start C{--warmup}
seconds after the ramp:

  - I{latency} of each request, by kind (multivariant, playlist, blocking
    playlist, hinted part, part, segment): from the C{connect()} call to
    the last byte of the body, counted for requests that ended in the
    window;
  - for requests the server holds (blocking playlists, hinted parts),
    the wait I{beyond availability}: when the last byte came, less the
    wall-clock time the part's audio ended (its C{EXT-X-PROGRAM-DATE-TIME}
    start plus its duration), which is the earliest the server could have
    it;
  - I{delivery delay} of each segment or part fetched (the first ones,
    fetched to fill the hold-back, are left out): the wall-clock time
    its last byte came, less the wall-clock time of its first sample.
    A segment's start is its C{EXT-X-PROGRAM-DATE-TIME}; a part's is its
    segment's plus the durations of the parts before it.  It includes
    the segment's or part's own length, since it cannot exist before its
    last sample has aired;
  - I{playback latency}: how far behind real time a player is that starts
    at that moment: the hold-back from the playlist's end (C{HOLD-BACK}
    for HLS, three target durations; C{PART-HOLD-BACK} for LL-HLS), plus
    how long after the end of the newest segment or part the player had
    it (the delivery delay less the item's duration);
  - status codes and errors by kind, and as a check on the program date
    times, the spread of (start from the playlist) less (the ID3
    C{transportStreamTimestamp} of the item), which is constant when the
    two agree.

The generator checks itself: its CPU time over the window (a shard at
90 % of a core or more), how late its timers fire (a 50 ms heartbeat, the
playlist reloads; p99 above 100 ms) and how far the ramp fell behind
(0.5 s); past any of these the summary says C{LOADGEN WAS THE
BOTTLENECK}.
"""

from __future__ import annotations

import argparse
import errno
import heapq
import json
import math
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loadgen import HEADER_LIMIT, IP_BIND_ADDRESS_NO_PORT, cpu_seconds, percentile, raise_fd_limit

Json = dict[str, Any]

BUFFER_SIZE = 256 * 1024
ERROR_EVENTS = select.EPOLLERR | select.EPOLLHUP
KINDS = ("multivariant", "playlist", "blocking playlist", "part (hinted)", "part", "segment")
MULTIVARIANT, PLAYLIST, BLOCKING, HINTED, PART, SEGMENT = range(len(KINDS))
MEDIA = (HINTED, PART, SEGMENT)
CONNECTING, READING = range(2)
START, RELOAD, HEARTBEAT = range(3)
HEARTBEAT_S = 0.05
TIMESTAMP_OWNER = b"com.apple.streaming.transportStreamTimestamp\0"
TIMESTAMP_WRAP_S = 2**33 / 90000
PREFIX = 160
"""
Bytes kept from the start of a segment or part: enough for radiod's ID3
timestamp, which is its first frame.
"""
PLAYLIST_CACHE = 512
"""
Playlist bodies kept parsed: players fetch the same playlist many times.
"""

BOTTLENECK_CPU_SHARE = 0.90
BOTTLENECK_TIMER_P99 = 0.1
BOTTLENECK_RAMP = 0.5

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass(slots=True)
class Media:
    """
    What a player takes from a media playlist.

    @ivar target: C{EXT-X-TARGETDURATION}.
    @ivar hold_back: C{HOLD-BACK}, else three target durations.
    @ivar part_hold_back: C{PART-HOLD-BACK}, else three part targets.
    @ivar part_target: C{PART-TARGET}, 0 without parts.
    @ivar segments: the complete segments: media sequence number, start
        (Unix seconds; NaN without a date) and duration.
    @ivar parts: the parts listed, in order: segment, index, duration.
    @ivar starts: every segment's start by number, the one in progress too.
    @ivar hint: the preload hint's segment and index.
    """

    target: float = 0.0
    hold_back: float = 0.0
    part_hold_back: float = 0.0
    part_target: float = 0.0
    segments: list[tuple[int, float, float]] = field(default_factory=list)
    parts: list[tuple[int, int, float]] = field(default_factory=list)
    starts: dict[int, float] = field(default_factory=dict)
    hint: tuple[int, int] | None = None


def _attributes(value: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTRIBUTE.findall(value)}


def _part_key(uri: str) -> tuple[int, int] | None:
    name = uri.rsplit("/", 1)[-1].split(".")
    if len(name) == 3 and name[0].isdigit() and name[1].isdigit():
        return int(name[0]), int(name[1])
    return None


def program_date_time(value: str) -> float:
    """
    Unix seconds of an C{EXT-X-PROGRAM-DATE-TIME} value.
    """
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def parse_media(text: str) -> Media:
    """
    Read a media playlist.
    """
    media = Media()
    sequence = count = 0
    start = math.nan
    duration = 0.0
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if line[0] != "#":
            number = sequence + count
            count += 1
            media.segments.append((number, start, duration))
            if start == start:
                media.starts[number] = start
            start = math.nan
            continue
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-PART":
            attributes = _attributes(value)
            key = _part_key(attributes.get("URI", ""))
            if key is not None:
                media.parts.append((key[0], key[1], float(attributes.get("DURATION", "0"))))
        elif tag == "#EXTINF":
            duration = float(value.split(",", 1)[0])
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            start = program_date_time(value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            sequence = int(value)
        elif tag == "#EXT-X-TARGETDURATION":
            media.target = float(value)
        elif tag == "#EXT-X-SERVER-CONTROL":
            attributes = _attributes(value)
            media.hold_back = float(attributes.get("HOLD-BACK", "0"))
            media.part_hold_back = float(attributes.get("PART-HOLD-BACK", "0"))
        elif tag == "#EXT-X-PART-INF":
            media.part_target = float(_attributes(value).get("PART-TARGET", "0"))
        elif tag == "#EXT-X-PRELOAD-HINT":
            media.hint = _part_key(_attributes(value).get("URI", ""))
    if start == start:
        media.starts[sequence + count] = start
    media.hold_back = media.hold_back or 3 * media.target
    media.part_hold_back = media.part_hold_back or 3 * media.part_target
    return media


def first_variant(text: str) -> str | None:
    """
    The URI of the first rendition a multivariant playlist lists.
    """
    for line in text.split("\n"):
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return None


def id3_timestamp(prefix: bytes) -> int | None:
    """
    The 90 kHz timestamp of the C{PRIV} frame C{com.apple.streaming.
    transportStreamTimestamp} in the ID3 tag that starts C{prefix}.
    """
    if not prefix.startswith(b"ID3"):
        return None
    at = prefix.find(TIMESTAMP_OWNER, 10, PREFIX)
    if at < 0 or at + len(TIMESTAMP_OWNER) + 8 > len(prefix):
        return None
    start = at + len(TIMESTAMP_OWNER)
    return int.from_bytes(prefix[start : start + 8], "big") & (2**33 - 1)


class Timeline:
    """
    What a process's players have learnt from the playlists: when every
    segment started, how long it and each of its parts lasted, and the
    hold-backs.  Every player of one server sees the same timeline.
    """

    def __init__(self) -> None:
        self.starts: dict[int, float] = {}
        self.durations: dict[int, float] = {}
        self.parts: dict[int, list[float]] = {}
        self.part_target = 0.0
        self.hold_back = 0.0
        self.part_hold_back = 0.0

    def learn(self, media: Media) -> None:
        """
        Take what a newly seen playlist says.
        """
        for number, start in media.starts.items():
            self.starts.setdefault(number, start)
        for number, _, duration in media.segments:
            self.durations[number] = duration
        for number, index, duration in media.parts:
            known = self.parts.setdefault(number, [])
            if index == len(known):
                known.append(duration)
        self.part_target = media.part_target or self.part_target
        self.hold_back = media.hold_back or self.hold_back
        self.part_hold_back = media.part_hold_back or self.part_hold_back

    def start_of(self, number: int, index: int) -> float | None:
        """
        The wall-clock time of the first sample of a segment (C{index} -1)
        or of one of its parts.
        """
        start = self.starts.get(number)
        if start is None:
            before = self.starts.get(number - 1)
            if before is None or number - 1 not in self.durations:
                return None
            start = before + self.durations[number - 1]
        if index > 0:
            known = self.parts.get(number, [])[:index]
            start += sum(known) + (index - len(known)) * self.part_target
        return start

    def duration_of(self, number: int, index: int) -> float | None:
        """
        The duration of a segment (C{index} -1) or of one of its parts.
        """
        if index < 0:
            return self.durations.get(number)
        known = self.parts.get(number, [])
        return known[index] if index < len(known) else (self.part_target or None)


class Request:
    """
    One HTTP/1.0 request on its own connection.
    """

    __slots__ = (
        "client",
        "data",
        "got",
        "head",
        "index",
        "initial",
        "keep",
        "kind",
        "length",
        "number",
        "prefix",
        "sock",
        "state",
        "status",
        "t_start",
    )

    def __init__(
        self, client: Client, kind: int, number: int, index: int, initial: bool, now: float
    ) -> None:
        self.client = client
        self.kind = kind
        self.number = number
        self.index = index
        self.initial = initial
        self.t_start = now
        self.sock: socket.socket | None = None
        self.state = CONNECTING
        self.data = b""
        self.head: bytearray | None = bytearray()
        self.keep = kind not in MEDIA
        self.prefix = bytearray()
        self.got = 0
        self.length = -1
        self.status = 0


class Client:
    """
    One player.

    @ivar cursor: the newest segment (HLS) or part (LL-HLS) it has asked
        for, C{None} before its first media playlist.
    @ivar queue: segments or parts to fetch, one at a time.
    """

    __slots__ = (
        "blocking",
        "busy",
        "cursor",
        "index",
        "media_path",
        "newest",
        "played",
        "queue",
        "started",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.started = 0.0
        self.media_path = ""
        self.cursor: tuple[int, int] | None = None
        self.newest = -1
        self.queue: deque[tuple[int, int, int, bool]] = deque()
        self.busy = False
        self.blocking = False
        self.played = False


class Shard:
    """
    One process's share of the players, and the event loop that runs them.
    """

    def __init__(self, args: argparse.Namespace, shard: int, shards: int, start_at: float) -> None:
        self.args = args
        self.shard = shard
        self.mode: str = args.mode
        self.count: int = args.clients // shards + (1 if shard < args.clients % shards else 0)
        self.start_at = start_at + shard / args.ramp
        self.ramp_step = shards / args.ramp
        self.ramp_end: float = start_at + args.clients / args.ramp
        self.window_start: float = self.ramp_end + args.warmup
        self.window_end: float = self.window_start + args.window
        self.address = (args.host, args.port)
        host = f"{args.host}:{args.port}".encode("ascii")
        self.template = (
            b"GET %s HTTP/1.0\r\nHost: " + host + b"\r\nUser-Agent: radiod-hlsclient\r\n\r\n"
        )
        self.sources = [f"127.0.0.{i}" for i in range(1, args.source_addresses + 1)]
        self.buffer = bytearray(BUFFER_SIZE)
        self.view = memoryview(self.buffer)
        self.poller = select.epoll()
        self.by_fd: dict[int, Request] = {}
        self.clients = [Client(k) for k in range(self.count)]
        self.timers: list[tuple[float, int, int, int]] = []
        self.sequence = 0
        self.timeline = Timeline()
        self.parsed: dict[bytes, Media] = {}
        self.latency: list[list[float]] = [[] for _ in KINDS]
        self.statuses: list[Counter[int]] = [Counter() for _ in KINDS]
        self.errors: list[Counter[str]] = [Counter() for _ in KINDS]
        self.deliveries: list[tuple[int, int, int, float, int | None]] = []
        self.held: list[tuple[int, int, int, float]] = []
        self.timer_lateness: list[float] = []
        self.ramp_lateness = 0.0
        self.client_errors: Counter[str] = Counter()
        self.cpu_marks: dict[str, float] = {}
        self.wall_marks: dict[str, float] = {}
        self.sent = 0

    # The loop

    def _at(self, when: float, action: int, client: int) -> None:
        self.sequence += 1
        heapq.heappush(self.timers, (when, self.sequence, action, client))

    def _mark(self, name: str) -> None:
        self.cpu_marks[name] = cpu_seconds()
        self.wall_marks[name] = time.monotonic()

    def run(self) -> Json:
        """
        Ramp, play and measure; close everything at the end.

        @return: this shard's raw results.
        """
        for k in range(self.count):
            self._at(self.start_at + k * self.ramp_step, START, k)
        self._at(self.start_at, HEARTBEAT, -1)
        marks = [("ramp_end", self.ramp_end), ("window_start", self.window_start)]
        next_expire = 0.0
        while time.monotonic() < self.start_at - 0.001:
            time.sleep(min(0.05, self.start_at - time.monotonic()))
        self._mark("start")
        while True:
            now = time.monotonic()
            while marks and now >= marks[0][1]:
                self._mark(marks.pop(0)[0])
            if now >= self.window_end:
                break
            timers = self.timers
            while timers and timers[0][0] <= now:
                when, _, action, k = heapq.heappop(timers)
                late = now - when
                if action == HEARTBEAT:
                    self._at(when + HEARTBEAT_S, HEARTBEAT, -1)
                    if self.window_start <= now < self.window_end:
                        self.timer_lateness.append(late)
                    continue
                client = self.clients[k]
                if action == START:
                    self.ramp_lateness = max(self.ramp_lateness, late)
                    client.started = now
                    self._open(client, MULTIVARIANT, self.args.path, now)
                else:
                    if self.window_start <= now < self.window_end:
                        self.timer_lateness.append(late)
                    self._open(client, PLAYLIST, client.media_path, now)
            if now >= next_expire:
                next_expire = now + 0.5
                self._expire(now)
            wake = min(self.window_end, next_expire)
            if timers:
                wake = min(wake, timers[0][0])
            if marks:
                wake = min(wake, marks[0][1])
            events = self.poller.poll(max(0.0, wake - time.monotonic()), 1024)
            if events:
                self._handle(events)
        self._mark("window_end")
        for request in list(self.by_fd.values()):
            if request.sock is not None:
                request.sock.close()
        self.by_fd.clear()
        return self._results()

    def _open(
        self,
        client: Client,
        kind: int,
        path: str,
        now: float,
        number: int = 0,
        index: int = -1,
        initial: bool = False,
    ) -> None:
        request = Request(client, kind, number, index, initial, now)
        if kind == BLOCKING:
            client.blocking = True
        elif kind in (PART, SEGMENT):
            client.busy = True
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            reason = f"client socket: {errno.errorcode.get(e.errno or 0, e)}"
            self.client_errors[reason] += 1
            self._failed(request, now, reason)
            return
        sock.setblocking(False)
        if len(self.sources) > 1:
            sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((self.sources[client.index % len(self.sources)], 0))
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            reason = f"connect: {errno.errorcode.get(code, code)}"
            if code in (errno.EADDRNOTAVAIL, errno.EMFILE, errno.ENFILE, errno.ENOBUFS):
                self.client_errors[reason] += 1
            self._failed(request, now, reason)
            return
        request.sock = sock
        request.data = self.template % path.encode("ascii")
        fd = sock.fileno()
        self.by_fd[fd] = request
        self.sent += 1
        # On loopback the handshake is often over already: send at once.
        try:
            sock.send(request.data)
        except BlockingIOError:
            self.poller.register(fd, select.EPOLLOUT)
            return
        except OSError as e:
            self._failed(request, now, f"send: {errno.errorcode.get(e.errno or 0, e)}")
            return
        request.state = READING
        self.poller.register(fd, select.EPOLLIN)

    def _handle(self, events: list[tuple[int, int]]) -> None:
        by_fd = self.by_fd
        buffer = self.buffer
        for fd, event in events:
            request = by_fd.get(fd)
            if request is None or request.sock is None:
                continue
            sock = request.sock
            if request.state == CONNECTING:
                now = time.monotonic()
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code or event & ERROR_EVENTS:
                    reason = errno.errorcode.get(code, "hangup") if code else "hangup"
                    self._failed(request, now, f"connect: {reason}")
                    continue
                try:
                    sock.send(request.data)
                except OSError as e:
                    self._failed(request, now, f"send: {errno.errorcode.get(e.errno or 0, e)}")
                    continue
                request.state = READING
                self.poller.modify(fd, select.EPOLLIN)
                continue
            try:
                n = sock.recv_into(buffer)
            except BlockingIOError:
                continue
            except OSError as e:
                self._failed(request, time.monotonic(), errno.errorcode.get(e.errno or 0, str(e)))
                continue
            if n == 0:
                self._ended(request)
            else:
                self._received(request, n)

    def _received(self, request: Request, n: int) -> None:
        chunk = self.view[:n]
        head = request.head
        if head is not None:
            head += chunk
            end = head.find(b"\r\n\r\n")
            if end < 0:
                if len(head) > HEADER_LIMIT:
                    self._failed(request, time.monotonic(), "headers too long")
                return
            request.status, request.length = _status_and_length(bytes(head[:end]))
            chunk = memoryview(bytes(head[end + 4 :]))
            request.head = None
        if request.keep:
            request.prefix += chunk
        elif request.got < PREFIX:
            request.prefix += chunk[: PREFIX - request.got]
        request.got += len(chunk)
        if 0 <= request.length <= request.got:
            self._complete(request)

    def _ended(self, request: Request) -> None:
        if request.head is None and request.length < 0:
            self._complete(request)
        else:
            self._failed(request, time.monotonic(), "closed early")

    def _close(self, request: Request) -> None:
        sock = request.sock
        if sock is not None:
            self.by_fd.pop(sock.fileno(), None)
            sock.close()
            request.sock = None

    def _expire(self, now: float) -> None:
        args = self.args
        for request in list(self.by_fd.values()):
            limit = args.blocking_timeout if request.kind in (BLOCKING, HINTED) else args.timeout
            if now - request.t_start > limit:
                self._failed(request, now, "timeout")

    # Answers

    def _complete(self, request: Request) -> None:
        now = time.monotonic()
        self._close(request)
        kind = request.kind
        recording = self.window_start <= now < self.window_end
        if recording:
            self.latency[kind].append(now - request.t_start)
            self.statuses[kind][request.status] += 1
        if request.status != 200:
            self._recover(request, now, f"status {request.status}", counted=True)
            return
        client = request.client
        if kind in MEDIA:
            if kind == HINTED:
                pass
            else:
                client.busy = False
            if not request.initial and recording:
                ticks = id3_timestamp(bytes(request.prefix))
                self.deliveries.append((kind, request.number, request.index, time.time(), ticks))
                client.played = True
            self._pump(client, now)
            return
        body = bytes(request.prefix)
        if kind == MULTIVARIANT:
            uri = first_variant(body.decode("utf-8", "replace"))
            if uri is None:
                self._recover(request, now, "no variant", counted=False)
                return
            if self.args.no_session:
                uri = uri.split("?", 1)[0]
            base = self.args.path.split("?", 1)[0].rsplit("/", 1)[0]
            client.media_path = uri if uri.startswith("/") else f"{base}/{uri}"
            self._open(client, PLAYLIST, client.media_path, now)
            return
        media = self.parsed.get(body)
        if media is None:
            if len(self.parsed) >= PLAYLIST_CACHE:
                self.parsed.clear()
            media = self.parsed[body] = parse_media(body.decode("utf-8", "replace"))
            self.timeline.learn(media)
        if kind == BLOCKING:
            client.blocking = False
            if recording and media.hint is not None:
                self.held.append((BLOCKING, request.number, request.index, time.time()))
        if self.mode == "llhls":
            self._low_latency(client, media, request, now)
        else:
            self._standard(client, media, request, now)

    def _standard(self, client: Client, media: Media, request: Request, now: float) -> None:
        segments = media.segments
        if client.cursor is None:
            chosen = segments[-3:]
            initial = True
        else:
            newest = client.cursor[0]
            chosen = [s for s in segments if s[0] > newest]
            initial = False
        for number, _, _ in chosen:
            client.queue.append((SEGMENT, number, -1, initial))
        if chosen:
            client.cursor = (chosen[-1][0], -1)
        elif client.cursor is None:
            client.cursor = (-1, -1)
        changed = bool(segments) and segments[-1][0] > client.newest
        if segments:
            client.newest = max(client.newest, segments[-1][0])
        delay = segments[-1][2] if changed else media.target / 2
        self._at(max(request.t_start + delay, now), RELOAD, client.index)
        self._pump(client, now)

    def _low_latency(self, client: Client, media: Media, request: Request, now: float) -> None:
        parts = media.parts
        if client.cursor is None:
            held = max(1, math.ceil(media.part_hold_back / (media.part_target or 1.0) - 0.01))
            for number, index, _ in parts[-held:]:
                client.queue.append((PART, number, index, True))
        else:
            cursor = client.cursor
            for number, index, _ in parts:
                if (number, index) > cursor:
                    client.queue.append((PART, number, index, False))
        if parts:
            client.cursor = max(client.cursor or (-1, -1), parts[-1][:2])
        hint = media.hint
        if hint is None:
            self._at(now + (media.part_target or 1.0), RELOAD, client.index)
        else:
            if client.cursor is None or hint > client.cursor:
                client.cursor = hint
                self._open(client, HINTED, self._media_uri(client, hint), now, *hint)
            if not client.blocking:
                joiner = "&" if "?" in client.media_path else "?"
                path = f"{client.media_path}{joiner}_HLS_msn={hint[0]}&_HLS_part={hint[1]}"
                self._open(client, BLOCKING, path, now, *hint)
        self._pump(client, now)

    def _media_uri(self, client: Client, key: tuple[int, int]) -> str:
        base = client.media_path.split("?", 1)[0].rsplit("/", 1)[0]
        if key[1] < 0:
            return f"{base}/{key[0]}.mp3"
        return f"{base}/{key[0]}.{key[1]}.mp3"

    def _pump(self, client: Client, now: float) -> None:
        """
        Fetch the next queued segment or part, unless one is on its way.
        """
        if client.busy or not client.queue:
            return
        kind, number, index, initial = client.queue.popleft()
        uri = self._media_uri(client, (number, index))
        self._open(client, kind, uri, now, number, index, initial)

    def _failed(self, request: Request, now: float, reason: str) -> None:
        self._close(request)
        if self.window_start <= now < self.window_end:
            self.statuses[request.kind][0] += 1
        self._recover(request, now, reason, counted=False)

    def _recover(self, request: Request, now: float, reason: str, counted: bool) -> None:
        """
        After a failed request: count it, and go on as a player would.
        """
        if self.window_start <= now < self.window_end:
            self.errors[request.kind][reason] += 1
        client = request.client
        kind = request.kind
        if kind == MULTIVARIANT:
            self._at(now + 1.0, START, client.index)
        elif kind == PLAYLIST:
            self._at(now + 1.0, RELOAD, client.index)
        elif kind == BLOCKING:
            client.blocking = False
            self._at(now + 0.5, RELOAD, client.index)
        elif kind in (PART, SEGMENT):
            client.busy = False
            self._pump(client, now)

    # Results

    def _results(self) -> Json:
        phases: Json = {}
        marks, cpu = self.wall_marks, self.cpu_marks
        for name, a, b in (("ramp", "start", "ramp_end"), ("window", "window_start", "window_end")):
            if a in marks and b in marks and marks[b] > marks[a]:
                wall = marks[b] - marks[a]
                phases[name] = {
                    "cpu_s": cpu[b] - cpu[a],
                    "wall_s": wall,
                    "cpu_share": (cpu[b] - cpu[a]) / wall,
                }
        timeline = self.timeline
        hold = timeline.part_hold_back if self.mode == "llhls" else timeline.hold_back
        delay: list[list[float]] = [[] for _ in KINDS]
        after: list[list[float]] = [[] for _ in KINDS]
        beyond: list[list[float]] = [[] for _ in KINDS]
        offsets: list[float] = []
        unresolved = 0
        for kind, number, index, wall, ticks in self.deliveries:
            start = timeline.start_of(number, index)
            duration = timeline.duration_of(number, index)
            if start is None or duration is None:
                unresolved += 1
                continue
            delay[kind].append(round(wall - start, 4))
            after[kind].append(round(wall - start - duration, 4))
            if kind == HINTED:
                beyond[kind].append(round(wall - start - duration, 4))
            if ticks is not None:
                offsets.append((start - ticks / 90000) % TIMESTAMP_WRAP_S)
        reference = offsets[0] if offsets else 0.0
        spread = [_wrapped(o - reference) for o in offsets]
        for kind, number, index, wall in self.held:
            start = timeline.start_of(number, index)
            duration = timeline.duration_of(number, index)
            if start is not None and duration is not None:
                beyond[kind].append(round(wall - start - duration, 4))
        ws, we = self.window_start, self.window_end
        listener_seconds = sum(
            max(0.0, we - max(ws, c.started)) for c in self.clients if c.started and c.started < we
        )
        latency = {KINDS[k]: [round(v, 5) for v in vs] for k, vs in enumerate(self.latency)}
        statuses = {
            KINDS[k]: {str(status): n for status, n in counts.items()}
            for k, counts in enumerate(self.statuses)
            if counts
        }
        return {
            "shard": self.shard,
            "clients": self.count,
            "started": sum(1 for c in self.clients if c.started),
            "played": sum(1 for c in self.clients if c.played),
            "listener_seconds": listener_seconds,
            "requests_sent": self.sent,
            "latency_s": latency,
            "statuses": statuses,
            "errors": {KINDS[k]: dict(c) for k, c in enumerate(self.errors) if c},
            "delay_s": {KINDS[k]: v for k, v in enumerate(delay) if v},
            "after_end_s": {KINDS[k]: v for k, v in enumerate(after) if v},
            "beyond_s": {KINDS[k]: v for k, v in enumerate(beyond) if v},
            "hold_back_s": hold,
            "id3_offset_s": [reference, min(spread), max(spread)] if offsets else None,
            "id3_checked": len(offsets),
            "unresolved": unresolved,
            "phases": phases,
            "timer_lateness_s": {
                "p99": percentile(self.timer_lateness, 0.99),
                "max": max(self.timer_lateness, default=None),
            },
            "ramp_lateness_s": self.ramp_lateness,
            "client_errors": dict(self.client_errors),
        }


def _wrapped(seconds: float) -> float:
    """
    A difference of 33-bit timestamps, in seconds, brought within half a
    wrap of zero.
    """
    half = TIMESTAMP_WRAP_S / 2
    return (seconds + half) % TIMESTAMP_WRAP_S - half


def _status_and_length(head: bytes) -> tuple[int, int]:
    """
    The status code and C{Content-Length} (-1 without one) of a response head.
    """
    first, _, rest = head.partition(b"\r\n")
    parts = first.split()
    status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0
    length = -1
    at = rest.lower().find(b"content-length:")
    if at >= 0:
        value = rest[at + 15 :].split(b"\r\n", 1)[0].strip()
        if value.isdigit():
            length = int(value)
    return status, length


def run_shard(args: argparse.Namespace, shard: int, shards: int, start_at: float) -> Json:
    """
    Run one shard in this process.
    """
    per_shard = args.clients // shards + 1
    wanted = per_shard * 4 + 256
    limit = raise_fd_limit(wanted)
    instance = Shard(args, shard, shards, start_at)
    if limit < wanted:
        instance.client_errors[f"open-file limit {limit} below {wanted}"] += 1
    result = instance.run()
    result["fd_limit"] = limit
    return result


_PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))


def _spread(values: list[float]) -> Json:
    return {name: percentile(values, share) for name, share in _PERCENTILES} | {
        "count": len(values)
    }


def merge(args: argparse.Namespace, shards: list[Json], start_at: float) -> Json:
    """
    Merge the shards' results into one summary.
    """

    def joined(key: str) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for shard in shards:
            for kind, values in shard[key].items():
                out.setdefault(kind, []).extend(values)
        return out

    latency = joined("latency_s")
    delay = joined("delay_s")
    after = joined("after_end_s")
    beyond = joined("beyond_s")
    statuses: dict[str, Counter[str]] = {}
    errors: dict[str, Counter[str]] = {}
    for shard in shards:
        for kind, counts in shard["statuses"].items():
            statuses.setdefault(kind, Counter()).update(counts)
        for kind, counts in shard["errors"].items():
            errors.setdefault(kind, Counter()).update(counts)
    hold = max((s["hold_back_s"] for s in shards), default=0.0)
    play = {kind: [hold + v for v in values] for kind, values in after.items()}
    media_delay = [v for kind in ("part (hinted)", "part", "segment") for v in delay.get(kind, [])]
    media_play = [v for kind in ("part (hinted)", "part", "segment") for v in play.get(kind, [])]
    offsets = [s["id3_offset_s"] for s in shards if s["id3_offset_s"]]
    # Each shard's offsets are relative to its own first; bring them to
    # the first shard's.
    lows = [_wrapped(o[0] - offsets[0][0]) + o[1] for o in offsets]
    highs = [_wrapped(o[0] - offsets[0][0]) + o[2] for o in offsets]
    reasons: list[str] = []
    for shard in shards:
        share = shard["phases"].get("window", {}).get("cpu_share", 0.0)
        if share >= BOTTLENECK_CPU_SHARE:
            reasons.append(f"shard {shard['shard']} used {share:.0%} of a core in the window")
        late = shard["timer_lateness_s"]["p99"] or 0.0
        if late > BOTTLENECK_TIMER_P99:
            reasons.append(f"shard {shard['shard']}: timers fired late (p99 {late * 1000:.0f} ms)")
        if shard["ramp_lateness_s"] > BOTTLENECK_RAMP:
            reasons.append(
                f"shard {shard['shard']}: the ramp fell {shard['ramp_lateness_s']:.2f} s behind"
            )
        for error, count in shard["client_errors"].items():
            reasons.append(f"shard {shard['shard']}: {count} x {error}")
    ramp_end = start_at + args.clients / args.ramp
    window_start = ramp_end + args.warmup
    failed = sum(statuses.get(k, Counter()).get("0", 0) for k in statuses)
    not_ok = sum(n for c in statuses.values() for s, n in c.items() if s not in ("200", "0"))
    return {
        "mode": args.mode,
        "target": f"http://{args.host}:{args.port}{args.path}",
        "clients": args.clients,
        "started": sum(s["started"] for s in shards),
        "played": sum(s["played"] for s in shards),
        "ramp_per_s": args.ramp,
        "start_at": start_at,
        "ramp_end": ramp_end,
        "window_start": window_start,
        "window_end": window_start + args.window,
        "window_s": args.window,
        "listener_seconds": sum(s["listener_seconds"] for s in shards),
        "requests_in_window": sum(len(v) for v in latency.values()),
        "requests_per_s": sum(len(v) for v in latency.values()) / args.window,
        "latency_ms": {
            k: {n: (None if x is None else x * 1000) for n, x in _spread(v).items()}
            | {"count": len(v)}
            for k, v in latency.items()
            if v
        },
        "beyond_ms": {
            k: {n: (None if x is None else x * 1000) for n, x in _spread(v).items()}
            | {"count": len(v)}
            for k, v in beyond.items()
        },
        "delay_s": {k: _spread(v) for k, v in delay.items()} | {"all": _spread(media_delay)},
        "playback_s": {k: _spread(v) for k, v in play.items()} | {"all": _spread(media_play)},
        "hold_back_s": hold,
        "statuses": {k: dict(c) for k, c in statuses.items()},
        "errors": {k: dict(c.most_common(8)) for k, c in errors.items()},
        "failed": failed,
        "not_ok": not_ok,
        "id3_spread_ms": (max(highs) - min(lows)) * 1000 if offsets else None,
        "id3_checked": sum(s["id3_checked"] for s in shards),
        "unresolved": sum(s["unresolved"] for s in shards),
        "loadgen": {
            "processes": len(shards),
            "cpu_share_window": [s["phases"].get("window", {}).get("cpu_share") for s in shards],
            "cpu_share_ramp": [s["phases"].get("ramp", {}).get("cpu_share") for s in shards],
            "timer_lateness_p99_s": max(
                (s["timer_lateness_s"]["p99"] or 0.0 for s in shards), default=None
            ),
            "timer_lateness_max_s": max(
                (s["timer_lateness_s"]["max"] or 0.0 for s in shards), default=None
            ),
            "ramp_lateness_s": max((s["ramp_lateness_s"] for s in shards), default=0.0),
            "fd_limit": min((s.get("fd_limit", 0) for s in shards), default=0),
            "bottleneck": bool(reasons),
            "bottleneck_reasons": reasons,
        },
    }


def describe(summary: Json) -> str:
    """
    A short human summary of a run.
    """

    def ms(figures: Json | None) -> str:
        if not figures or figures.get("p50") is None:
            return "-"
        return f"{figures['p50']:.1f}/{figures['p90']:.1f}/{figures['p99']:.1f}"

    lines = [
        f"{summary['mode']} {summary['target']}: {summary['started']} players started, "
        f"{summary['played']} played in the window, {summary['requests_per_s']:.0f} requests/s, "
        f"{summary['failed']} failed, {summary['not_ok']} not 200"
    ]
    for kind, figures in summary["latency_ms"].items():
        lines.append(f"  {kind}: {figures['count']} requests, ms p50/p90/p99 {ms(figures)}")
    for kind, figures in summary["beyond_ms"].items():
        lines.append(f"  {kind} beyond availability: ms p50/p90/p99 {ms(figures)}")
    delay, play = summary["delay_s"]["all"], summary["playback_s"]["all"]
    if delay["p50"] is not None:
        lines.append(
            f"  delivery delay s p50 {delay['p50']:.2f} p99 {delay['p99']:.2f}; playback "
            f"latency s p50 {play['p50']:.2f} p99 {play['p99']:.2f} "
            f"(hold-back {summary['hold_back_s']:.2f} s)"
        )
    for kind, counts in summary["errors"].items():
        for error, count in counts.items():
            lines.append(f"  {kind}: {count} x {error}")
    loadgen = summary["loadgen"]
    shares = ", ".join(f"{s:.0%}" for s in loadgen["cpu_share_window"] if s is not None)
    lines.append(f"  loadgen: {loadgen['processes']} process(es), CPU in the window {shares}")
    if loadgen["bottleneck"]:
        lines.append("  LOADGEN WAS THE BOTTLENECK: " + "; ".join(loadgen["bottleneck_reasons"]))
    return "\n".join(lines)


def _spawn_shards(args: argparse.Namespace, argv: list[str], start_at: float) -> list[Json]:
    """
    Run C{args.processes} copies of this program, one per shard.
    """
    directory = tempfile.mkdtemp(prefix="hlsclient-")
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
                raise SystemExit(f"hlsclient: a shard failed with status {child.returncode}")
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
        prog="hlsclient.py", description="Many HLS players on loopback, measured over a window."
    )
    p.add_argument("--url", help="http://HOST:PORT/PATH of a multivariant playlist")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--path", default="/hls/stream/index.m3u8")
    p.add_argument("--clients", "-n", type=int, default=100)
    p.add_argument("--mode", choices=["hls", "llhls"], default="hls")
    p.add_argument("--ramp", type=float, default=200.0, help="players started per second")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds after the ramp")
    p.add_argument("--window", type=float, default=60.0, help="seconds measured")
    p.add_argument("--processes", "-P", type=int, default=0, help="0: one per 2,500 players")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds for a request")
    p.add_argument("--blocking-timeout", type=float, default=25.0, help="for held requests")
    p.add_argument(
        "--no-session",
        action="store_true",
        help="drop the query (radiod's ?sid= token) from the variant's URL, so every player "
        "asks for the same playlist URLs",
    )
    p.add_argument("--source-addresses", type=int, default=8, help="127.0.0.1..N as sources")
    p.add_argument("--start-at", type=float, default=0.0, help="time.monotonic() to start at")
    p.add_argument("--json", help="write the JSON summary here (default: standard output)")
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
        args.processes = min(os.cpu_count() or 1, max(1, math.ceil(args.clients / 2500)))
    if args.clients < 1 or args.ramp <= 0:
        p.error("--clients and --ramp must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the players and print (or write) the results.
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
