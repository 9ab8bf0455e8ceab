"""
Faults the station survives: a live source dying mid-frame, an upstream
that stalls or sends garbage, library files changing under the
programme, a full disk while recording, ffmpeg killed mid-conversion and
the system clock stepped.  In each, the stream goes on for the listeners
and one log line says what happened, where.

Units run on a L{Clock} with fakes; the end-to-end tests run a station
on loopback with real sockets, real files and real ffmpeg.
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import signal
from collections.abc import Iterable
from typing import Any, cast

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IReactorCore, IReactorTCP
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    capturedLogs,
    formatEvent,
    globalLogPublisher,
)
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.audio.frames import Frame, FrameSplitter
from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig, StationConfig
from radiod.ffmpeg.converter import FfmpegConverter
from radiod.ingest.recording import Recorder, RecordingFile
from radiod.ingest.relay import MAX_GARBAGE, READ_TIMEOUT, Relay, RelayProtocol
from radiod.ingest.source import SOURCE_TIMEOUT
from radiod.ingest.sources import Sources
from radiod.library.library import Library
from radiod.library.programme import Programme
from radiod.runner import thread_runner
from radiod.station.options import Options
from radiod.station.service import StationService
from radiod.station.steady import CHECK_INTERVAL, SteadyClock, SteadyTime
from radiod.tap import makeService
from radiod.testing import FakeFrameSource, SteppedClock, read_frames, silent_frame
from radiod.wire.server import RadioFactory
from tests.ingest.test_live_e2e import run as run_ffmpeg
from tests.ingest.test_recording import FullDisk
from tests.ingest.test_source import Connection, source_request
from tests.library.test_programme import LaterRunner, write_track
from tests.support.loopback import (
    FIRST,
    FIXTURES,
    SECOND,
    Reader,
    Recording,
    Trail,
    asynchronous,
    check_heard,
    delivered,
    wait_for,
)
from tests.support.services import station_in
from tests.support.tools import require, require_ffmpeg

reactor: Any = _reactor

SONG = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
MUSIC_FRAME = silent_frame()
LIVE_FRAME = silent_frame(fill=0x55)
UPSTREAM_FRAME = silent_frame(fill=0x11)
SIZE = len(MUSIC_FRAME.data)
FRAME_SECONDS = MUSIC_FRAME.duration
NOMINAL = SIZE / FRAME_SECONDS
"""
Bytes a second of the 128 kbit/s frames used here (about 16000).
"""

RELAYED = [MUSIC_FRAME.data, UPSTREAM_FRAME.data, MUSIC_FRAME.data]
"""
What a relaying mount's listener hears: music, the upstream, music.
"""

PASSWORD = "hackme"
START = 1704164645.0
"""
2024-01-02 03:04:05 UTC: where the system clock starts in clock tests.
"""

TONE = os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3")
URL = "http://up.example:8000/live"
AUDIO_HEAD = b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: Up FM\r\n\r\n"
GARBAGE = b"<html><body>Not audio at all</body></html>\n" * 40


def texts(events: Iterable[LogEvent]) -> list[str]:
    """
    The log events as the lines they print.
    """
    return [formatEvent(event) for event in events]


def whole_frames(audio: bytes, allowed: Iterable[Frame]) -> list[bytes]:
    """
    Cut a listener's audio into frames, checking that it holds nothing
    but whole copies of the C{allowed} frames (all of one size).
    """
    known = {frame.data for frame in allowed}
    size = len(next(iter(known)))
    assert len(audio) % size == 0, f"{len(audio)} bytes is not a whole number of frames"
    frames = [audio[i : i + size] for i in range(0, len(audio), size)]
    strangers = [index for index, frame in enumerate(frames) if frame not in known]
    assert not strangers, f"frames {strangers[:5]} are not whole frames sent"
    return frames


def runs(frames: list[bytes]) -> list[tuple[bytes, int]]:
    """
    Consecutive equal frames, as (frame, count) in order.
    """
    out: list[tuple[bytes, int]] = []
    for frame in frames:
        if out and out[-1][0] == frame:
            out[-1] = (frame, out[-1][1] + 1)
        else:
            out.append((frame, 1))
    return out


def pump(clock: Clock, seconds: float, step: float = 0.1) -> None:
    """
    Let C{seconds} pass in ticks of C{step}, ending exactly C{seconds}
    later (small steps do not add up to it exactly in floating point).
    """
    end = clock.seconds() + seconds
    for _ in range(round(seconds / step) - 1):
        clock.advance(step)
    clock.advance(end - clock.seconds())


class RateTestCase(SynchronousTestCase):
    """
    Checks that a listener receives audio at the nominal rate.
    """

    def assertNominal(self, received: int, seconds: float, slack: int = 2) -> None:
        """
        C{received} bytes in C{seconds} is the nominal rate, give or take
        C{slack} frames (the pacer slices time into frames).
        """
        expected = seconds * NOMINAL
        self.assertLessEqual(
            abs(received - expected),
            slack * SIZE,
            f"{received} bytes in {seconds:.1f} s; {expected:.0f} expected",
        )


# 1. A live source dies mid-frame.


class LiveSourceDiesTests(SynchronousTestCase):
    """
    A live source whose connection closes or is reset in the middle of a
    frame: listeners get its whole frames only, then the playlist (or the
    fallback mount), and the log says the source left.
    """

    def build(self) -> tuple[Clock, RadioFactory]:
        """
        C{/stream} plays a playlist; C{/live} is live-only and falls back
        to C{/stream}.
        """
        clock = Clock()
        stream_config = MountConfig(name="/stream", metaint=1000, burst_size=0)
        live_config = MountConfig(
            name="/live", metaint=1000, burst_size=0, live_only=True, fallback="/stream"
        )
        stream = Mount(stream_config, FakeFrameSource([(SONG, MUSIC_FRAME, 10**6)]), clock)
        live = Mount(live_config, Switch(None, name="/live"), clock)
        station = StationConfig(mounts=(stream_config, live_config), source_password=PASSWORD)
        factory = RadioFactory(clock, station, {"/stream": stream, "/live": live}, True)
        for mount in (stream, live):
            mount.start()
            self.addCleanup(mount.stop)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        clock.pump([0.1] * 5)
        return clock, factory

    def show(
        self, mount: str, cut: int, reason: Failure
    ) -> tuple[Connection, list[LogEvent], Clock, RadioFactory]:
        """
        A listener asks for C{mount}; a source sends 30 frames to it and
        C{cut} bytes of a 31st, and its connection ends with C{reason}.
        """
        clock, factory = self.build()
        listener = Connection(factory, port=1)
        listener.send(f"GET {mount} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode())
        clock.pump([0.1] * 5)
        source = Connection(factory, port=2)
        with capturedLogs() as events:
            source.send(source_request(mount=mount) + LIVE_FRAME.data * 30)
            clock.pump([0.1] * 5)
            source.send(LIVE_FRAME.data[:cut])
            source.protocol.connectionLost(reason)
            clock.pump([0.1] * 30)
        return listener, list(events), clock, factory

    def assertShowWhole(self, listener: Connection) -> None:
        """
        The listener stayed, and heard music, the 30 whole live frames,
        then music again, with the titles to match.
        """
        self.assertFalse(listener.closed)
        capture = listener.capture()
        frames = runs(whole_frames(bytes(capture.audio), (MUSIC_FRAME, LIVE_FRAME)))
        self.assertEqual(
            [frame for frame, _ in frames], [MUSIC_FRAME.data, LIVE_FRAME.data, MUSIC_FRAME.data]
        )
        self.assertEqual(frames[1][1], 30)
        self.assertEqual(
            [title for _, title in capture.titles],
            ["Alpha Artist - First Song", "radiod", "Alpha Artist - First Song"],
        )

    def test_closed_mid_frame(self) -> None:
        """
        The source's connection closes halfway through a frame: the
        half frame is dropped, the playlist resumes, and the log names the
        source, the mount and what it sent.
        """
        listener, events, _, _ = self.show("/stream", SIZE // 2, Failure(ConnectionDone()))
        self.assertShowWhole(listener)
        lines = texts(events)
        received = 30 * SIZE + SIZE // 2
        self.assertIn(f"Source on /stream from 192.0.2.9:2 left after {received} bytes", lines)
        self.assertIn("Live source left /stream", lines)
        self.assertIn("Playlist resumes on /stream", lines)

    def test_reset_inside_a_header(self) -> None:
        """
        The same holds for a connection reset two bytes into a frame's
        header.
        """
        listener, events, _, _ = self.show("/stream", 2, Failure(ConnectionLost()))
        self.assertShowWhole(listener)
        self.assertIn(
            f"Source on /stream from 192.0.2.9:2 left after {30 * SIZE + 2} bytes", texts(events)
        )

    def test_live_only_mount_falls_back(self) -> None:
        """
        On a live-only mount, the listener hears the fallback's music
        before and after the show, on one connection, in whole frames.
        """
        listener, events, _, factory = self.show(
            "/live", SIZE - 1, Failure(ConnectionLost("Connection reset by peer"))
        )
        self.assertShowWhole(listener)
        self.assertEqual(len(factory.mounts["/stream"].listeners), 1)
        self.assertEqual(factory.mounts["/live"].listeners, set())
        lines = texts(events)
        self.assertIn(f"Source on /live from 192.0.2.9:2 left after {31 * SIZE - 1} bytes", lines)
        self.assertIn("Live source left /live", lines)


class LiveSourceDiesEndToEndTests(TestCase):
    """
    A real source connection cut mid-frame, heard by a real listener.
    """

    timeout = 60

    recordings: dict[str, Recording]
    """
    What each mount of the station put on air (see L{station}).
    """

    async def station(self) -> tuple[StationService, int]:
        """
        A station with C{/stream} playing the two fixture songs and
        C{/live}, live-only, falling back to it, with L{recordings} of
        both from their first audio.
        """
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        mounts = (
            MountConfig(name="/stream", music=music, metaint=2000, burst_size=0),
            MountConfig(
                name="/live", live_only=True, fallback="/stream", metaint=2000, burst_size=0
            ),
        )
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=mounts, source_password=PASSWORD
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        self.recordings = {
            name: Recording(mount, reactor) for name, mount in service.mounts.items()
        }
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, port

    async def connect(self, port: int, protocol: Protocol) -> None:
        """
        Connect C{protocol} to the station, as a client.
        """
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), protocol)
        self.addCleanup(lambda: protocol.transport.loseConnection() if protocol.transport else None)

    async def cut_show(self, mount: str, abort: bool) -> tuple[list[str], bytes]:
        """
        A listener asks for C{mount}; a source sends 40 frames of the tone
        fixture and half of the 41st to it, then closes (or, with
        C{abort}, resets) its connection.  The listener hears the 40
        frames, whole, between music, on one connection: every byte that
        went on air where it listened, in order, up to two seconds of
        music after the show, as the station's own clock plays them.

        @return: the mounts the listener heard, in turn (see L{Trail}),
            and the show's whole frames.
        """
        service, port = await self.station()
        reader = Reader(f"GET {mount} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode(), reactor)
        await self.connect(port, reader)
        await wait_for(lambda: len(reader.capture.titles) >= 1, 10, reactor)
        [listener] = service.mounts["/stream"].listeners
        trail = Trail(listener)
        self.addCleanup(trail.stop)
        with open(TONE, "rb") as f:
            tone = read_frames(f.read())
        show = b"".join(frame.data for frame in tone[:40])
        body = show + tone[40].data[: len(tone[40].data) // 2]
        source = Protocol()
        await self.connect(port, source)
        assert source.transport is not None
        headers = b"Content-Type: audio/mpeg\r\nice-name: Cut Show\r\n"
        source.transport.write(source_request("SOURCE", mount, headers) + body)
        sources = service.factory.sources
        assert sources is not None
        await wait_for(
            lambda: mount in sources.connected and sources.connected[mount].received == len(body),
            10,
            reactor,
        )
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        if abort:
            source.transport.abortConnection()  # type: ignore[attr-defined]
        else:
            source.transport.loseConnection()

        def back() -> bool:
            titles = [title for _, title in reader.capture.titles]
            return "Cut Show" in titles and titles[-1] in (FIRST, SECOND)

        await wait_for(back, 15, reactor)
        music = self.recordings["/stream"]
        after = music.seconds
        await wait_for(lambda: music.seconds >= after + 2, 20, reactor)
        upto = music.end
        await delivered(listener, reader.capture, "/stream", upto, reactor)
        self.assertFalse(reader.gone.called)
        audio = bytes(reader.capture.audio)
        self.assertIn(show, audio)
        splitter = FrameSplitter()
        splitter.feed(audio)
        self.assertEqual(splitter.garbage_bytes, 0)
        check_heard(trail, self.recordings, reader.capture, upto)
        left = [line for line in texts(events) if line.startswith(f"Source on {mount} from ")]
        self.assertEqual(len(left), 1, left)
        self.assertIn(f"left after {len(body)} bytes", left[0])
        return trail.mounts, show

    @asynchronous
    async def test_closed_mid_frame(self) -> None:
        """
        A source on a playlist mount closing mid-frame: its whole frames
        between the playlist's, all from that mount.
        """
        heard, _ = await self.cut_show("/stream", abort=False)
        self.assertEqual(heard, ["/stream"])

    @asynchronous
    async def test_reset_mid_frame_on_live_only_mount(self) -> None:
        """
        A source on a live-only mount reset mid-frame: the fallback
        mount's music, then the whole of what went on air on the live
        mount (the show's whole frames), then the fallback's music again,
        on one connection.
        """
        heard, show = await self.cut_show("/live", abort=True)
        self.assertEqual(heard, ["/stream", "/live", "/stream"])
        self.assertEqual(bytes(self.recordings["/live"].audio), show)


# 2. An upstream relay stalls or sends garbage.


class RelayFaultTests(RateTestCase):
    """
    An upstream that stalls or sends what is not MP3 audio: nothing but
    whole frames goes on air, the listener keeps getting audio at the
    full rate, the relay reconnects with backoff and the log says why.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        playlist = FakeFrameSource([(SONG, MUSIC_FRAME, 10**6)])
        self.mount = Mount(MountConfig(name="/relayed", burst_size=0), playlist, self.reactor)
        self.mount.start()
        self.addCleanup(self.mount.stop)
        assert self.mount.switch is not None
        self.switch = self.mount.switch
        self.relay = Relay(self.reactor, self.reactor, self.switch, URL, name="/relayed")
        self.relay.start()
        self.addCleanup(self.relay.stop)
        self.listener = StringTransport()
        self.mount.add_listener(self.listener, "192.0.2.1:5000", False)
        self.reactor.pump([0.1] * 5)

    def connect(self) -> tuple[RelayProtocol, StringTransport]:
        """
        Complete the newest connection attempt.
        """
        factory = self.reactor.tcpClients[-1][2]
        protocol = factory.buildProtocol(None)
        assert isinstance(protocol, RelayProtocol)
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport

    def drop(self, protocol: RelayProtocol, reason: Exception | None = None) -> float:
        """
        The connection ends (after radiod closed it, or with C{reason});
        return the delay before the relay reconnects.
        """
        protocol.connectionLost(Failure(reason or ConnectionDone()))
        pending = self.relay.pending
        assert pending is not None
        return round(pending.getTime() - self.reactor.seconds(), 6)

    def heard(self) -> list[tuple[bytes, int]]:
        """
        What the listener heard: runs of whole playlist or upstream frames.
        """
        return runs(whole_frames(self.listener.value(), (MUSIC_FRAME, UPSTREAM_FRAME)))

    def test_garbage_on_air(self) -> None:
        """
        An upstream on air that starts sending bytes that are not MP3 (at
        its usual rate) is closed once L{MAX_GARBAGE} bytes have come
        without a frame: none of it reaches the listener, who hears the
        upstream's whole frames and then the playlist, at the full rate
        throughout; the log gives the reason.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(AUDIO_HEAD + UPSTREAM_FRAME.data * 60)
        before, began = len(self.listener.value()), self.reactor.seconds()
        pump(self.reactor, 1.0)
        self.assertTrue(self.switch.on_air)
        with capturedLogs() as events:
            for _ in range(20):
                protocol.dataReceived(GARBAGE[:1600])
                self.reactor.advance(0.1)
                if transport.disconnecting:
                    break
            self.assertTrue(transport.disconnecting)
            self.assertEqual(self.drop(protocol), 1.0)
            pump(self.reactor, 4.0)
        self.assertNominal(len(self.listener.value()) - before, self.reactor.seconds() - began)
        heard = self.heard()
        self.assertEqual([frame for frame, _ in heard], RELAYED)
        # The frame before the garbage has no header after it to confirm it.
        self.assertEqual(heard[1][1], 59)
        self.assertFalse(self.switch.on_air)
        lines = texts(events)
        refused = [line for line in lines if "cannot relay" in line]
        self.assertEqual(len(refused), 1, lines)
        self.assertRegex(
            refused[0], rf"^Relay /relayed: cannot relay {URL}: no MPEG audio in \d+ bytes$"
        )
        self.assertIn("Live source left /relayed", lines)

    def test_garbage_from_the_start(self) -> None:
        """
        An upstream that answers 200 with C{audio/mpeg} but sends no MP3
        never goes on air: the listener hears the playlist at the full
        rate while the relay gives up on it and retries later.
        """
        protocol, transport = self.connect()
        with capturedLogs() as events:
            protocol.dataReceived(AUDIO_HEAD)
            sent = 0
            for _ in range(100):
                protocol.dataReceived(GARBAGE[:1000])
                sent += 1000
                self.reactor.advance(0.1)
                if transport.disconnecting:
                    break
        self.assertLessEqual(sent, MAX_GARBAGE + 1000)
        self.assertFalse(self.switch.on_air)
        self.assertEqual(self.drop(protocol), 1.0)
        self.assertEqual([frame for frame, _ in self.heard()], [MUSIC_FRAME.data])
        self.assertEqual(len([line for line in texts(events) if "no MPEG audio" in line]), 1)

    def test_bad_metadata_length(self) -> None:
        """
        An ICY metadata length byte that does not match the stream (the
        upstream is out of step with its C{icy-metaint}) closes the
        connection: the audio before it plays, whole, and the bytes taken
        for metadata never reach the listener.
        """
        metaint = 1000
        audio = UPSTREAM_FRAME.data * 120
        body = bytearray()
        for block, start in enumerate(range(0, len(audio), metaint)):
            body += audio[start : start + metaint]
            if block == 30:
                # Says 1024 bytes of metadata follow; audio does.
                body += b"\x40"
            else:
                body += b"\x00"
        protocol, transport = self.connect()
        head = AUDIO_HEAD.replace(b"\r\n\r\n", f"\r\nicy-metaint: {metaint}\r\n\r\n".encode())
        with capturedLogs() as events:
            protocol.dataReceived(head)
            for start in range(0, len(body), 500):
                protocol.dataReceived(bytes(body[start : start + 500]))
            self.assertTrue(transport.disconnecting)
            self.drop(protocol)
            pump(self.reactor, 5.0)
        heard = self.heard()
        self.assertEqual([frame for frame, _ in heard], RELAYED)
        self.assertLessEqual(heard[1][1], 31 * metaint // SIZE)
        refused = [line for line in texts(events) if "cannot relay" in line]
        self.assertEqual(len(refused), 1)
        self.assertIn("StreamTitle", refused[0])

    def test_refusals_keep_the_music(self) -> None:
        """
        An HTTP error, a SHOUTcast error, and a 200 with a content type
        that is not MP3 (or none) are each logged with their reason and
        retried after a delay that doubles, while the listener hears the
        playlist at the full rate and nothing else.
        """
        answers = [
            (b"HTTP/1.0 503 Service Unavailable\r\n\r\n", "upstream answered 503"),
            (
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n\r\n<html>",
                "upstream answered 500",
            ),
            (b"ICY 401 Service Unavailable\r\n\r\n", "upstream answered 401"),
            (
                b"HTTP/1.0 200 OK\r\nContent-Type: application/ogg\r\n\r\nOggS\x00\x02" + GARBAGE,
                "content type is application/ogg",
            ),
            (b"HTTP/1.0 200 OK\r\n\r\n" + GARBAGE, "content type is missing"),
        ]
        before = len(self.listener.value())
        delays = []
        with capturedLogs() as events:
            for answer, reason in answers:
                protocol, transport = self.connect()
                protocol.dataReceived(answer)
                self.assertTrue(transport.disconnecting, reason)
                delay = self.drop(protocol)
                delays.append(delay)
                pump(self.reactor, delay)
        self.assertEqual(delays, [1, 2, 4, 8, 16])
        self.assertNominal(len(self.listener.value()) - before, 31.0)
        self.assertEqual([frame for frame, _ in self.heard()], [MUSIC_FRAME.data])
        refused = [line for line in texts(events) if "cannot relay" in line]
        self.assertEqual(len(refused), len(answers))
        for line, (_, reason) in zip(refused, answers, strict=True):
            self.assertIn(reason, line)
        self.assertFalse(self.switch.on_air)

    def test_stall_falls_back_and_backs_off(self) -> None:
        """
        An upstream on air that stops sending is aborted after
        L{READ_TIMEOUT} seconds; what it sent plays out, then the
        playlist plays at the full rate while reconnections that stall
        too are retried after 1, then 2 seconds.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(AUDIO_HEAD + UPSTREAM_FRAME.data * 40)
        pump(self.reactor, 0.5)
        self.assertTrue(self.switch.on_air)
        with capturedLogs() as events:
            pump(self.reactor, READ_TIMEOUT - 0.6)
            self.assertFalse(transport.disconnected)
            pump(self.reactor, 0.2)
            self.assertTrue(transport.disconnected)
            self.assertEqual(self.drop(protocol, ConnectionAborted()), 1.0)
            before = len(self.listener.value())
            pump(self.reactor, 1.0)
            protocol, transport = self.connect()
            pump(self.reactor, READ_TIMEOUT)
            self.assertTrue(transport.disconnected)
            self.assertEqual(self.drop(protocol, ConnectionAborted()), 2.0)
            pump(self.reactor, 2.0)
        self.assertNominal(len(self.listener.value()) - before, READ_TIMEOUT + 3.0)
        heard = self.heard()
        self.assertEqual([frame for frame, _ in heard], RELAYED)
        self.assertEqual(heard[1][1], 40)
        lines = texts(events)
        aborted = Failure(ConnectionAborted()).getErrorMessage()
        self.assertEqual(
            [line for line in lines if line.startswith("Relay /relayed: ")],
            [
                f"Relay /relayed: no audio from {URL} for {READ_TIMEOUT} s",
                f"Relay /relayed: lost {URL} ({aborted}); reconnecting in 1.0 s",
                f"Relay /relayed: reconnecting to {URL}",
                f"Relay /relayed: no audio from {URL} for {READ_TIMEOUT} s",
                f"Relay /relayed: lost {URL} ({aborted}); reconnecting in 2.0 s",
                f"Relay /relayed: reconnecting to {URL}",
            ],
        )

    def test_trickle_is_a_stall(self) -> None:
        """
        An upstream that keeps its connection alive with a few stray bytes
        but sends no frame counts as stalled all the same.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(AUDIO_HEAD + UPSTREAM_FRAME.data * 40)
        for _ in range(round(READ_TIMEOUT / 0.5) - 1):
            protocol.dataReceived(b"\x00junk")
            pump(self.reactor, 0.5)
        self.assertFalse(transport.disconnected)
        pump(self.reactor, 0.6)
        self.assertTrue(transport.disconnected)


class Upstream(Protocol):
    """
    A fake upstream server's connection: the first one gets an MP3 stream
    that turns into garbage, later ones a 503.
    """

    def __init__(self, factory: UpstreamFactory) -> None:
        self.factory = factory
        self.request = b""

    def dataReceived(self, data: bytes) -> None:
        """
        Answer once the request head is in.
        """
        self.request += data
        if b"\r\n\r\n" not in self.request or self.transport is None:
            return
        self.factory.connections += 1
        if self.factory.connections == 1:
            self.transport.write(AUDIO_HEAD + self.factory.audio + GARBAGE * 20)
        else:
            self.transport.write(b"HTTP/1.0 503 Service Unavailable\r\n\r\n")
            self.transport.loseConnection()


class UpstreamFactory(Factory):
    """
    Makes L{Upstream} connections.

    @ivar audio: the MP3 stream sent before the garbage.
    @ivar connections: requests answered so far.
    """

    def __init__(self, audio: bytes) -> None:
        self.audio = audio
        self.connections = 0

    def buildProtocol(self, addr: object) -> Upstream:
        """
        One upstream connection.
        """
        return Upstream(self)


class RelayGarbageEndToEndTests(TestCase):
    """
    A station relaying a real (fake) upstream over loopback.
    """

    timeout = 60

    @asynchronous
    async def test_garbage_never_on_air(self) -> None:
        """
        An upstream whose stream turns into garbage, then answers 503: the
        listener hears the upstream, then the station's music, on one
        connection, in whole frames with none of the garbage: every byte
        that went on air, in order, up to two seconds of music after the
        second connection, as the station's own clock plays them.  The
        log says why each connection was given up.
        """
        with open(TONE, "rb") as f:
            tone = f.read()
        upstream = UpstreamFactory(tone * 3)
        tcp: IReactorTCP = reactor
        listening = await TCP4ServerEndpoint(tcp, 0, interface="127.0.0.1").listen(upstream)
        self.addCleanup(listening.stopListening)
        url = f"http://127.0.0.1:{listening.getHost().port}/up"
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        mount = MountConfig(name="/stream", music=music, metaint=2000, burst_size=0, relay=url)
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,))
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        recording = Recording(service.mounts["/stream"], reactor)
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(service.mounts["/stream"].listeners) == 1, 10, reactor)
        [listener] = service.mounts["/stream"].listeners
        trail = Trail(listener)
        self.addCleanup(trail.stop)

        def titles() -> list[str]:
            return [title for _, title in reader.capture.titles]

        await wait_for(lambda: "Up FM" in titles() and titles()[-1] in (FIRST, SECOND), 15, reactor)
        await wait_for(lambda: upstream.connections >= 2, 10, reactor)
        after = recording.seconds
        await wait_for(lambda: recording.seconds >= after + 2, 20, reactor)
        upto = recording.end
        await delivered(listener, reader.capture, "/stream", upto, reactor)
        self.assertFalse(reader.gone.called)
        audio = bytes(reader.capture.audio)
        splitter = FrameSplitter()
        self.assertGreater(len(splitter.feed(audio)), 200)
        self.assertEqual(splitter.garbage_bytes, 0)
        self.assertNotIn(b"Not audio", audio)
        check_heard(trail, {"/stream": recording}, reader.capture, upto)
        refused = [line for line in texts(events) if "cannot relay" in line]
        self.assertRegex(refused[0], rf"^Relay /stream: cannot relay {url}: no MPEG audio in \d+")
        self.assertEqual(
            refused[1],
            f"Relay /stream: cannot relay {url}: upstream answered 503 Service Unavailable",
        )


# 3. Library files change while they play or are read ahead.


class LibraryChangesTests(SynchronousTestCase):
    """
    Real files truncated, replaced or deleted while the programme plays
    them or reads them ahead (in a thread, here a runner the test
    finishes): the track plays what was read or is skipped, the rescan
    notices, each file is named in the log, and nothing is raised.
    """

    def build(self, files: dict[str, int]) -> tuple[str, LaterRunner, Programme]:
        """
        A programme over a fresh folder of C{files} (name to frame count),
        started, with its first track read.
        """
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        for name, count in files.items():
            write_track(folder, name, count)
        runner = LaterRunner()
        programme = Programme(
            Library(folder, runner), Clock(), runner, rescan_interval=0, name="/test"
        )
        programme.start()
        self.addCleanup(programme.stop)
        runner.run_all()
        return folder, runner, programme

    def start(self, programme: Programme) -> None:
        """
        Take the first frame: the first file plays, and the next one is
        to be read ahead.
        """
        item = programme.next_frame()
        assert item is not None
        self.assertEqual(os.path.basename(item[1].path), "a.mp3")

    def play(self, programme: Programme, runner: LaterRunner, count: int) -> list[tuple[str, int]]:
        """
        The next C{count} plays as (file name, frames), letting reads
        finish whenever the programme waits for one.
        """
        plays: list[tuple[str, int]] = []
        current = None
        while len(plays) < count + 1:
            item = programme.next_frame()
            if item is None:
                self.assertTrue(runner.pending, f"nothing to play after {plays}")
                runner.run_all()
                continue
            if item[1] is not current:
                current = item[1]
                plays.append((os.path.basename(current.path), 0))
            name, frames = plays[-1]
            plays[-1] = (name, frames + 1)
        return plays[:count]

    def rescan(self, programme: Programme, runner: LaterRunner) -> list[str]:
        """
        Rescan the library; return the lines logged.
        """
        with capturedLogs() as events:
            done = programme.rescan()
            runner.run_all()
        self.successResultOf(done)
        return texts(events)

    def test_truncated_while_playing(self) -> None:
        """
        A file cut short (mid-frame) while it plays goes on playing as it
        was read; the next time round it plays as it is now.
        """
        folder, runner, programme = self.build({"a.mp3": 40, "b.mp3": 20})
        self.start(programme)
        runner.run_all()
        path = os.path.join(folder, "a.mp3")
        os.truncate(path, SIZE * 10 + SIZE // 2)
        lines = self.rescan(programme, runner)
        self.assertIn("Library of /test changed: 0 added, 0 removed, 1 replaced", lines)
        self.assertIn(
            f"{path} on /test was replaced while playing; it plays on as it was read", lines
        )
        self.assertEqual(
            self.play(programme, runner, 3), [("a.mp3", 39), ("b.mp3", 20), ("a.mp3", 10)]
        )
        self.assertEqual(programme.skipped, 0)

    def test_deleted_after_read_ahead(self) -> None:
        """
        A file deleted after it was read ahead is left out: the track
        after it plays next.
        """
        folder, runner, programme = self.build({"a.mp3": 4, "b.mp3": 4, "c.mp3": 4})
        self.start(programme)
        runner.run_all()
        path = os.path.join(folder, "b.mp3")
        os.remove(path)
        lines = self.rescan(programme, runner)
        self.assertIn("Library of /test changed: 0 added, 1 removed, 0 replaced", lines)
        self.assertIn(f"{path} on /test, read ahead, was removed; it is left out", lines)
        self.assertEqual(
            [name for name, _ in self.play(programme, runner, 4)],
            ["a.mp3", "c.mp3", "a.mp3", "c.mp3"],
        )

    def test_replaced_while_being_read(self) -> None:
        """
        A file replaced while a thread reads it (old contents read, not yet
        handed over) is read again: only its new contents play.
        """
        folder, runner, programme = self.build({"a.mp3": 4, "b.mp3": 20, "c.mp3": 4})
        self.start(programme)
        [(work, done)] = runner.pending
        runner.pending.clear()
        old = work()
        path = write_track(folder, "b.mp3", 7)
        os.utime(path, (1, 1))
        lines = self.rescan(programme, runner)
        self.assertIn(f"{path} on /test, read ahead, was replaced; it is read again", lines)
        done.callback(old)
        self.assertEqual(
            self.play(programme, runner, 3), [("a.mp3", 3), ("b.mp3", 7), ("c.mp3", 4)]
        )

    def test_truncated_before_read(self) -> None:
        """
        A file cut short mid-frame before its turn plays its whole frames;
        one emptied is skipped with a line naming it, and the stream goes
        on with the next.
        """
        folder, runner, programme = self.build({"a.mp3": 4, "b.mp3": 20, "c.mp3": 4})
        self.start(programme)
        os.truncate(os.path.join(folder, "b.mp3"), SIZE * 5 + 100)
        empty = os.path.join(folder, "c.mp3")
        os.truncate(empty, 0)
        with capturedLogs() as events:
            plays = self.play(programme, runner, 3)
        self.assertEqual(plays, [("a.mp3", 3), ("b.mp3", 5), ("a.mp3", 4)])
        self.assertIn(f"Skipping {empty} on /test: no MPEG audio frames found", texts(events))
        self.assertEqual(programme.skipped, 1)


class LibraryChangesEndToEndTests(TestCase):
    """
    A station whose music folder changes while it plays, heard by a real
    listener.
    """

    timeout = 60

    @asynchronous
    async def test_files_change_under_the_stream(self) -> None:
        """
        While the first song plays, the second (read ahead) is cut short
        mid-frame and the third deleted: after the rescan, the listener
        hears the first song, the rest of the second and the first again,
        on one connection: every byte that went on air, in order, up to
        five seconds of audio after the changes, as the station's own
        clock plays them.  The log says what changed and reports no error.
        """
        music = os.path.abspath(self.mktemp())
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        shutil.copy(TONE, os.path.join(music, "zeta-tone.mp3"))
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        mount = MountConfig(name="/stream", music=music, metaint=2000, burst_size=0)
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,))
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        recording = Recording(service.mounts["/stream"], reactor)
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: bool(reader.capture.titles), 10, reactor)
        [listener] = service.mounts["/stream"].listeners
        trail = Trail(listener)
        self.addCleanup(trail.stop)
        start = recording.seconds
        second = os.path.join(music, "beta-artist-second-song.mp3")
        os.truncate(second, int(os.path.getsize(second) * 0.4) | 1)
        os.remove(os.path.join(music, "zeta-tone.mp3"))
        switch = service.mounts["/stream"].switch
        assert switch is not None
        programme: object = switch.playlist
        assert isinstance(programme, Programme)
        await programme.rescan()

        def titles() -> list[str]:
            heard: list[str] = []
            for _, title in reader.capture.titles:
                if not heard or heard[-1] != title:
                    heard.append(title)
            return heard

        await wait_for(lambda: titles()[:3] == [FIRST, SECOND, FIRST], 15, reactor)
        await wait_for(lambda: recording.seconds >= start + 5, 20, reactor)
        upto = recording.end
        await delivered(listener, reader.capture, "/stream", upto, reactor)
        self.assertFalse(reader.gone.called)
        check_heard(trail, {"/stream": recording}, reader.capture, upto)
        splitter = FrameSplitter()
        splitter.feed(bytes(reader.capture.audio))
        self.assertEqual(splitter.garbage_bytes, 0)
        lines = texts(events)
        self.assertIn("Library of /stream changed: 0 added, 1 removed, 1 replaced", lines)
        self.assertEqual(
            [e for e in events if e["log_level"] >= LogLevel.error or "log_failure" in e], []
        )


# 4. The disk fills while recording.


class SyncFails(FullDisk):
    """
    A file whose writes reach the page cache but whose data cannot be
    forced to disk: C{fsync} (here, C{fileno}) fails with C{ENOSPC}, as on
    a network or thin-provisioned disk that runs out of space.

    @ivar failed_after: the writes made when the first C{fsync} failed.
    """

    failed_after: int | None = None

    def write(self, data: bytes, /) -> int:
        self.writes += 1
        return len(data)

    def fileno(self) -> int:
        if self.failed_after is None:
            self.failed_after = self.writes
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class DiskFullTests(SynchronousTestCase):
    """
    A recording whose disk fills: one error naming the mount and the
    file, the recording of that show stops, and the source and the
    listeners carry on as if nothing happened.
    """

    def build(self) -> tuple[Clock, RadioFactory, Sources, list[Recorder]]:
        """
        A station recording C{/stream}; recorders are kept in the list
        returned, and the first show's file is on a full disk.
        """
        clock = Clock()
        clock.advance(START)
        self.directory = os.path.abspath(os.path.join(self.mktemp(), "rec"))
        config = MountConfig(
            name="/stream", metaint=1000, burst_size=0, record=True, record_dir=self.directory
        )
        stream = Mount(config, FakeFrameSource([(SONG, MUSIC_FRAME, 10**6)]), clock)
        stream.start()
        self.addCleanup(stream.stop)
        station = StationConfig(mounts=(config,), source_password=PASSWORD)
        factory = RadioFactory(clock, station, {"/stream": stream}, accept_sources=True)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        recorders: list[Recorder] = []
        return clock, factory, factory.sources, recorders

    def show(
        self, clock: Clock, factory: RadioFactory, port: int
    ) -> tuple[Connection, Connection, list[LogEvent]]:
        """
        A listener, and a 60-frame show sent in four parts.
        """
        listener = Connection(factory, port=port)
        listener.send(b"GET /stream HTTP/1.0\r\n\r\n")
        source = Connection(factory, port=port + 1)
        with capturedLogs() as events:
            source.send(source_request() + LIVE_FRAME.data * 15)
            for _ in range(3):
                clock.pump([0.1] * 5)
                source.send(LIVE_FRAME.data * 15)
            clock.pump([0.1] * 5)
            self.assertFalse(source.closed)
            source.protocol.connectionLost(Failure(ConnectionDone()))
            clock.pump([0.1] * 20)
        return listener, source, list(events)

    def test_dev_full(self) -> None:
        """
        A show recorded to C{/dev/full} (a real file whose every write
        fails with C{ENOSPC}) is logged once and given up; the source is
        not disconnected, the listener hears all 60 live frames, and the
        next show on the mount is recorded as usual.
        """
        require(os.path.exists("/dev/full"), "no /dev/full on this system")
        clock, factory, sources, recorders = self.build()

        def full(path: str) -> RecordingFile:
            return open("/dev/full", "wb")

        def recorder(config: MountConfig) -> Recorder:
            if recorders:
                made = Recorder(config.name, config.record_dir, clock)
            else:
                made = Recorder(config.name, config.record_dir, clock, opener=full)
            recorders.append(made)
            return made

        sources.make_recorder = recorder
        listener, _, events = self.show(clock, factory, 1)
        errors = [e for e in events if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1, texts(events))
        path = os.path.join(self.directory, "stream-20240102-030405.mp3")
        self.assertEqual(
            formatEvent(errors[0]),
            f"Recording of /stream to {path} stopped: {os.strerror(errno.ENOSPC)}",
        )
        self.assertTrue(recorders[0].failed)
        self.assertFalse(listener.closed)
        frames = runs(whole_frames(bytes(listener.capture().audio), (MUSIC_FRAME, LIVE_FRAME)))
        self.assertIn((LIVE_FRAME.data, 60), frames)
        self.show(clock, factory, 3)
        self.assertFalse(recorders[1].failed)
        second = recorders[1].path
        assert second is not None
        with open(second, "rb") as f:
            self.assertEqual(f.read(), LIVE_FRAME.data * 60)

    def test_sync_fails(self) -> None:
        """
        Data that cannot be forced to disk is an error like any other:
        logged once, the recording stops, nothing is said to be saved,
        and the show goes on.
        """
        clock, factory, sources, recorders = self.build()
        disks: list[SyncFails] = []

        def opener(path: str) -> RecordingFile:
            disks.append(SyncFails())
            return disks[-1]

        def recorder(config: MountConfig) -> Recorder:
            recorders.append(Recorder(config.name, config.record_dir, clock, opener=opener))
            return recorders[-1]

        sources.make_recorder = recorder
        listener, _, events = self.show(clock, factory, 1)
        lines = texts(events)
        errors = [e for e in events if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1, lines)
        self.assertIn("Recording of /stream to ", formatEvent(errors[0]))
        self.assertFalse([line for line in lines if "saved" in line])
        self.assertEqual(disks[0].writes, disks[0].failed_after)
        self.assertTrue(disks[0].closed)
        self.assertFalse(listener.closed)
        frames = runs(whole_frames(bytes(listener.capture().audio), (MUSIC_FRAME, LIVE_FRAME)))
        self.assertIn((LIVE_FRAME.data, 60), frames)


# 5. ffmpeg is killed mid-conversion (live conversion; library conversion
# and ladder rungs are covered in tests.ffmpeg.test_transcode_e2e and
# tests.ffmpeg.test_ladder_e2e).


class LiveConverterKilledEndToEndTests(TestCase):
    """
    The ffmpeg converting a live show to the mount's format is killed.
    """

    timeout = 90

    def setUp(self) -> None:
        require_ffmpeg()

    @asynchronous
    async def test_show_goes_on_unconverted(self) -> None:
        """
        A 22.05 kHz mono show goes on air converted to the music's 44.1 kHz
        stereo; when its ffmpeg is killed, the rest of the show goes on
        air as it comes, the encoder and the listener stay connected, the
        music comes back after the show, and the log says what happened.
        """
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        mount = MountConfig(name="/stream", music=music, metaint=2000, burst_size=0)
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=(mount,), source_password=PASSWORD
        )
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: bool(reader.capture.titles), 10, reactor)

        encoder = Deferred.fromCoroutine(
            run_ffmpeg(
                [
                    "-hide_banner",
                    "-nostdin",
                    "-re",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=440:duration=6:sample_rate=22050",
                    "-ac",
                    "1",
                    "-c:a",
                    "libmp3lame",
                    "-b:a",
                    "48k",
                    "-content_type",
                    "audio/mpeg",
                    "-ice_name",
                    "Converted Show",
                    "-f",
                    "mp3",
                    f"icecast://source:{PASSWORD}@127.0.0.1:{port}/stream",
                ]
            )
        )
        sources = service.factory.sources
        assert sources is not None
        switch = service.mounts["/stream"].switch
        assert switch is not None

        def converter() -> FfmpegConverter | None:
            source = sources.connected.get("/stream")
            made = source.live.converter if source is not None else None
            return made if isinstance(made, FfmpegConverter) else None

        await wait_for(lambda: converter() is not None and switch.on_air, 15, reactor)
        running = converter()
        assert running is not None and running.transport is not None
        os.kill(cast(int, running.transport.pid), signal.SIGKILL)
        killed_at = len(reader.capture.audio)
        await wait_for(lambda: running.failed, 10, reactor)
        code, log = await encoder
        self.assertEqual(code, 0, log)

        def back() -> bool:
            titles = [title for _, title in reader.capture.titles]
            return "Converted Show" in titles and titles[-1] in (FIRST, SECOND)

        await wait_for(back, 15, reactor)
        self.assertFalse(reader.gone.called)
        splitter = FrameSplitter()
        frames = splitter.feed(bytes(reader.capture.audio[killed_at:]))
        formats = {(frame.header.sample_rate, frame.header.channels) for frame in frames}
        self.assertEqual(formats, {(44100, 2), (22050, 1)})
        unconverted = [frame for frame in frames if frame.header.sample_rate == 22050]
        self.assertGreater(sum(frame.header.duration for frame in unconverted), 2.0)
        lines = texts(events)
        self.assertTrue(
            [line for line in lines if line.startswith("Converter for /stream stopped: ")], lines
        )
        self.assertIn("Live audio on /stream goes on air unconverted from now on", lines)
        self.assertEqual(len(sources.connected), 0)


# 6. The clock jumps.


class SteadyClockTests(SynchronousTestCase):
    """
    L{SteadyClock} moves with elapsed time only, and notices steps of the
    system clock.
    """

    def test_ignores_steps(self) -> None:
        """
        Steady time starts at the system clock's time and advances as time
        passes, whatever the system clock is stepped by.
        """
        system = SteppedClock(START)
        steady = SteadyClock(system.wall, system.elapsed)
        self.assertEqual(steady.seconds(), START)
        system.advance(10)
        system.step(-120)
        self.assertEqual(steady.seconds(), START + 10)
        system.step(420)
        system.advance(5)
        self.assertEqual(steady.seconds(), START + 15)

    def test_check_logs_each_step(self) -> None:
        """
        A check after a step logs it once, with how far the times shown are
        from the system clock; a slow drift is not a step.
        """
        system = SteppedClock(START)
        steady = SteadyClock(system.wall, system.elapsed)
        with capturedLogs() as events:
            system.advance(5)
            self.assertEqual(steady.check(), 0.0)
            system.step(-120)
            system.advance(5)
            self.assertEqual(steady.check(), -120)
            system.advance(5)
            self.assertEqual(steady.check(), 0.0)
            system.step(0.3)
            self.assertEqual(steady.check(), 0.0)
            system.step(60)
            self.assertAlmostEqual(steady.check(), 60)
        self.assertEqual(
            texts(events),
            [
                "The system clock was stepped by -120.0 s; pacing and timeouts carry on "
                "unaffected, and the times radiod shows differ from the system clock's by "
                "+120.0 s until it restarts",
                "The system clock was stepped by +60.0 s; pacing and timeouts carry on "
                "unaffected, and the times radiod shows differ from the system clock's by "
                "+59.7 s until it restarts",
            ],
        )
        self.assertEqual([e["log_level"] for e in events], [LogLevel.warn] * 2)
        self.assertEqual(steady.steps, 2)


class ClockStepTests(RateTestCase):
    """
    A mount and its listener, a live source and the play history while
    the clock jumps, forwards and backwards, by minutes.
    """

    def station(
        self, clock: Clock, steady: bool = True
    ) -> tuple[RadioFactory, Mount, StringTransport]:
        """
        A station with one playlist mount (tracks of 100 frames) and a
        listener, on C{clock}, put on steady time first when asked (as
        C{twistd radiod} runs).
        """
        if steady:
            assert isinstance(clock, SteppedClock)
            service = SteadyTime(clock, SteadyClock(clock.wall, clock.elapsed))
            service.startService()
            self.addCleanup(service.stopService)
        config = MountConfig(name="/stream", burst_size=0)
        tracks = [(TrackInfo(f"/{n}.mp3", f"Track {n}"), MUSIC_FRAME, 100) for n in range(3)]
        mount = Mount(config, FakeFrameSource(tracks), clock)
        mount.start()
        self.addCleanup(mount.stop)
        station = StationConfig(mounts=(config,), source_password=PASSWORD)
        factory = RadioFactory(clock, station, {"/stream": mount}, accept_sources=True)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        listener = StringTransport()
        mount.add_listener(listener, "192.0.2.1:5000", False)
        pump(clock, 1.0)
        return factory, mount, listener

    def received(self, clock: Clock, listener: StringTransport, seconds: float) -> int:
        """
        Let C{seconds} pass; return the bytes the listener got meanwhile.
        """
        before = len(listener.value())
        pump(clock, seconds)
        return len(listener.value()) - before

    def assertInOrder(self, mount: Mount, tracks_only: bool = True) -> None:
        """
        The mount's history is in time order, newest first, with no jump:
        each track starts as long after the one before as that one played
        (100 frames for the playlist's tracks, less than the whole test for
        a live show).
        """
        times = [started for _, started in mount.history]
        self.assertGreaterEqual(len(times), 3)
        for newer, older in itertools.pairwise(times):
            if tracks_only:
                self.assertLess(abs(newer - older - 100 * FRAME_SECONDS), 0.11, times)
            else:
                self.assertTrue(0 < newer - older < 25, times)

    def test_backward_step_on_steady_time(self) -> None:
        """
        With the system clock stepped back two minutes, the listener goes
        on getting audio at the full rate, neither stalled nor rushed; the
        step is logged, and the history stays in order.
        """
        clock = SteppedClock(START)
        factory, mount, listener = self.station(clock)
        self.assertNominal(self.received(clock, listener, 5.0), 5.0)
        with capturedLogs() as events:
            clock.step(-120)
            self.assertNominal(self.received(clock, listener, 10.0), 10.0)
        self.assertEqual(len([line for line in texts(events) if "stepped by -120.0 s" in line]), 1)
        self.assertFalse([line for line in texts(events) if "jumped" in line])
        self.assertInOrder(mount)

    def test_forward_step_on_steady_time(self) -> None:
        """
        With the system clock stepped forward five minutes, the listener
        gets no burst and no gap; a live source sending all along is not
        timed out, and one that falls silent still is, on time.
        """
        clock = SteppedClock(START)
        factory, mount, listener = self.station(clock)
        source = Connection(factory, port=2)
        source.send(source_request() + LIVE_FRAME.data * 20)
        pump(clock, 1.0)
        before = len(listener.value())
        with capturedLogs() as events:
            for half_second in range(20):
                if half_second == 10:
                    clock.step(300)
                source.send(LIVE_FRAME.data * 20)
                pump(clock, 0.5)
            self.assertNominal(len(listener.value()) - before, 10.0)
            self.assertFalse(source.closed)
            pump(clock, SOURCE_TIMEOUT - 0.6)
            self.assertFalse(source.closed)
            pump(clock, 0.2)
            self.assertTrue(source.closed)
        lines = texts(events)
        self.assertEqual(len([line for line in lines if "stepped by +300.0 s" in line]), 1)
        self.assertFalse([line for line in lines if "jumped" in line])
        silent = f"sent nothing for {SOURCE_TIMEOUT} s; disconnecting"
        self.assertIn(f"Source on /stream from 192.0.2.9:2 {silent}", lines)
        self.assertInOrder(mount, tracks_only=False)

    def test_backward_step_without_steady_time_stalls(self) -> None:
        """
        On the system clock alone, as Twisted's reactors keep time, a step
        back holds every timer, the pacer's included, until the clock has
        caught up: the listener hears nothing for two minutes.  This is
        why the station keeps steady time.
        """
        clock = SteppedClock(START)
        factory, mount, listener = self.station(clock, steady=False)
        clock.step(-120)
        self.assertEqual(self.received(clock, listener, 119.0), 0)
        self.assertNominal(self.received(clock, listener, 10.0), 9.0, slack=4)

    def test_reactor_time_jump_reanchors(self) -> None:
        """
        When the reactor's own time jumps forward by minutes (a machine
        or virtual machine suspended, the system clock stepped without
        steady time), the pacer logs it and re-anchors: the listener gets
        no burst of the missed minutes, then audio at the full rate.
        """
        clock = Clock()
        factory, mount, listener = self.station(clock, steady=False)
        with capturedLogs() as events:
            before = len(listener.value())
            clock.advance(300)
            jumped = len(listener.value()) - before
        self.assertLessEqual(jumped, 2 * SIZE)
        self.assertIn("Clock for /stream jumped by 300.0 s; resynchronising", texts(events))
        self.assertNominal(self.received(clock, listener, 5.0), 5.0)


class SteadyTimeServiceTests(SynchronousTestCase):
    """
    L{SteadyTime} puts a reactor on steady time, and C{twistd radiod}
    runs it.
    """

    def test_service(self) -> None:
        """
        Started, the service makes the reactor's timers follow elapsed
        time and checks the clock every L{CHECK_INTERVAL} seconds; stopped,
        it leaves no timer behind and the reactor on steady time.
        """
        clock = SteppedClock(START)
        steady = SteadyClock(clock.wall, clock.elapsed)
        service = SteadyTime(clock, steady)
        service.startService()
        fired: list[float] = []
        clock.callLater(1.0, lambda: fired.append(clock.elapsed()))
        clock.step(-600)
        with capturedLogs() as events:
            pump(clock, CHECK_INTERVAL + 0.1)
        self.assertEqual(len(fired), 1)
        self.assertLess(abs(fired[0] - (START + 1.0)), 0.11)
        self.assertEqual(steady.steps, 1)
        self.assertEqual(len(events), 1)
        service.stopService()
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(clock.seconds(), clock.elapsed())

    def test_twistd_station(self) -> None:
        """
        The station C{twistd radiod} builds keeps steady time while it runs
        (building it changes nothing yet).
        """
        options = Options()
        options.parseOptions(["--port", "8123", "--state-dir", os.path.abspath(self.mktemp())])
        station = station_in(makeService(options))
        services = [child for child in station if isinstance(child, SteadyTime)]
        self.assertEqual(len(services), 1)
        self.assertFalse(services[0].running)
