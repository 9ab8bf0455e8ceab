"""
Tests for L{radiod.wire.shoutcast}: SHOUTcast v1 sources, in memory and on
real loopback sockets.
"""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import replace
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import Clock, LoopingCall
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod import testing
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ingest.source import SOURCE_TIMEOUT
from radiod.ingest.sources import STALE_AFTER
from radiod.ingest.stream import StreamInfo
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import FakeFrameSource, read_frames
from radiod.wire.server import RadioFactory
from radiod.wire.shoutcast import (
    ACCEPTED,
    INVALID_PASSWORD,
    MAX_HANDSHAKE,
    HandshakeError,
    HandshakeParser,
    IcyHeaders,
    Login,
    ShoutcastFactory,
    ShoutcastProtocol,
    parse_login,
    stream_info,
)
from tests.ingest.test_source import (
    LIVE_FRAME,
    PASSWORD,
    PLAYLIST_FRAME,
    SONG,
    Connection,
    source_request,
)
from tests.support.loopback import FIRST, FIXTURES, SECOND, Reader, asynchronous, wait_for
from tests.support.tools import require_ffmpeg

HEAD = b"hackme\r\nicy-name:Night Show\r\nicy-genre:Jazz\r\nicy-br:128\r\n\r\n"


class ParserTests(SynchronousTestCase):
    """
    The pure handshake parser, password lines and header mapping.
    """

    def test_one_packet(self) -> None:
        """
        A password line, header lines, a blank line and audio in one
        packet come out as a L{Login}, the L{IcyHeaders} and the audio;
        later bytes are audio as they are.
        """
        parser = HandshakeParser()
        events = parser.feed(HEAD + b"\xff\xfbAUDIO\n\n")
        self.assertEqual(
            events,
            [
                Login("hackme", text="hackme"),
                IcyHeaders((("icy-name", "Night Show"), ("icy-genre", "Jazz"), ("icy-br", "128"))),
                b"\xff\xfbAUDIO\n\n",
            ],
        )
        self.assertEqual(parser.feed(b"\r\nmore"), [b"\r\nmore"])
        self.assertEqual(parser.feed(b""), [])

    def test_byte_by_byte(self) -> None:
        """
        Fed one byte at a time, the parser gives the same login, headers
        and audio bytes.
        """
        parser = HandshakeParser()
        events: list[Login | IcyHeaders | bytes] = []
        for byte in HEAD + b"AUDIO":
            events.extend(parser.feed(bytes([byte])))
        self.assertEqual(events[0], Login("hackme", text="hackme"))
        assert isinstance(events[1], IcyHeaders)
        self.assertEqual(events[1].get("ICY-NAME"), "Night Show")
        self.assertEqual(b"".join(e for e in events[2:] if isinstance(e, bytes)), b"AUDIO")
        self.assertEqual(len(events), 7)

    def test_line_ends(self) -> None:
        """
        Bare LF (libshout, butt), CRLF (darkice) and CR CR LF line ends
        give the same result; lines without a colon are ignored and names
        are lower-cased.
        """
        results = []
        for end in (b"\n", b"\r\n", b"\r\r\n"):
            lines = [b"dj:pw:#1", b"Icy-Name: Show ", b"junk", b"content-type:audio/mpeg", b""]
            results.append(HandshakeParser().feed(end.join(lines) + end + b"A"))
        self.assertEqual(results[0], results[1])
        self.assertEqual(results[0], results[2])
        self.assertEqual(
            results[0],
            [
                Login("pw", dj="dj", sid=1, text="dj:pw"),
                IcyHeaders((("icy-name", "Show"), ("content-type", "audio/mpeg"))),
                b"A",
            ],
        )

    def test_parse_login(self) -> None:
        """
        A password line may carry a DJ name before a colon and a stream id
        after C{:#}.
        """
        self.assertEqual(parse_login("pw"), Login("pw", text="pw"))
        self.assertEqual(parse_login("pw:#2"), Login("pw", sid=2, text="pw"))
        self.assertEqual(parse_login("dj:pw"), Login("pw", dj="dj", text="dj:pw"))
        self.assertEqual(parse_login(" dj:pw:#12 "), Login("pw", dj="dj", sid=12, text="dj:pw"))
        self.assertEqual(parse_login("a:b:c"), Login("b:c", dj="a", text="a:b:c"))
        self.assertEqual(parse_login("pw:#x"), Login("#x", dj="pw", text="pw:#x"))

    def test_too_long(self) -> None:
        """
        Header lines that never end, or too many of them, are refused.
        """
        self.assertRaises(HandshakeError, HandshakeParser().feed, b"x" * (MAX_HANDSHAKE + 1))
        parser = HandshakeParser()
        parser.feed(b"pw\n")
        with self.assertRaises(HandshakeError):
            for _ in range(MAX_HANDSHAKE // 10 + 1):
                parser.feed(b"icy-x:123\n")

    def test_stream_info(self) -> None:
        """
        The C{icy-*} headers map onto the L{StreamInfo} Icecast sources
        use; C{icy-br} becomes the audio info.
        """
        headers = HandshakeParser().feed(
            b"pw\nicy-name:N\nicy-genre:G\nicy-url:http://u/\nicy-pub:0\n"
            b"icy-br:96\nicy-description:D\nicy-irc:#x\n\n"
        )[1]
        assert isinstance(headers, IcyHeaders)
        self.assertEqual(
            stream_info(headers),
            StreamInfo("N", "G", "D", "http://u/", public=False, audio_info="bitrate=96"),
        )
        self.assertEqual(stream_info(IcyHeaders((("icy-pub", "1"),))).public, True)
        self.assertEqual(stream_info(IcyHeaders((("icy-br", "x"),))), StreamInfo())


class V1Connection(testing.Connection[ShoutcastProtocol]):
    """
    One in-memory SHOUTcast v1 source connection, from 192.0.2.7 unless
    said otherwise.
    """

    def __init__(
        self, factory: ShoutcastFactory, port: int = 50000, host: str = "192.0.2.7"
    ) -> None:
        super().__init__(factory, port, host)


class ProtocolTests(SynchronousTestCase):
    """
    SHOUTcast v1 sources on a station with a playlist mount.
    """

    def build(
        self, password: str = PASSWORD, **mount: object
    ) -> tuple[Clock, RadioFactory, ShoutcastFactory, Mount]:
        """
        A station with one playlist mount C{/stream}, accepting sources,
        and its v1 source factory.
        """
        clock = Clock()
        config = replace(MountConfig(name="/stream", metaint=1000, burst_size=0), **mount)  # type: ignore[arg-type]
        stream = Mount(config, FakeFrameSource([(SONG, PLAYLIST_FRAME, 10000)]), clock)
        stream.start()
        self.addCleanup(stream.stop)
        station = StationConfig(mounts=(config,), source_password=password)
        factory = RadioFactory(clock, station, {"/stream": stream}, accept_sources=True)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        clock.pump([0.1] * 5)
        return clock, factory, ShoutcastFactory(clock, station, factory.sources), stream

    def test_takeover_and_return(self) -> None:
        """
        A source sending its password (with DJ name and stream id), headers
        and audio in one packet is answered C{OK2} with C{icy-caps:11}; a
        listener hears its audio under its C{icy-name}, new listeners get
        its C{icy-*} headers, and the playlist resumes when it leaves,
        without the listener being disconnected.
        """
        clock, factory, v1, mount = self.build()
        listener = Connection(factory, port=1)
        listener.send(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        clock.pump([0.1] * 10)
        source = V1Connection(v1)
        packet = b"dj:" + HEAD.replace(b"\r\n", b":#1\r\n", 1) + LIVE_FRAME.data * 30
        self.assertEqual(source.send(packet), ACCEPTED)
        clock.pump([0.1] * 10)
        self.assertEqual(mount.now_playing and mount.now_playing.title, "Night Show")
        late = Connection(factory, port=3)
        late.send(b"GET /stream HTTP/1.0\r\n\r\n")
        self.assertEqual(late.capture().headers["icy-name"], "Night Show")
        self.assertEqual(late.capture().headers["icy-genre"], "Jazz")
        self.assertEqual(late.capture().headers["ice-audio-info"], "bitrate=128")
        source.protocol.connectionLost()
        clock.pump([0.1] * 20)
        self.assertIs(mount.now_playing, SONG)
        self.assertFalse(listener.closed)
        self.assertEqual(factory.sources and factory.sources.connected, {})
        titles = [title for _, title in listener.capture().titles]
        self.assertEqual(
            titles, ["Alpha Artist - First Song", "Night Show", "Alpha Artist - First Song"]
        )
        audio = bytes(listener.capture().audio)
        self.assertEqual(audio.count(LIVE_FRAME.data), 30)

    def test_split_handshake(self) -> None:
        """
        A source that waits for the reply after its password line (as
        liquidsoap does) and sends the rest in pieces is accepted too.
        """
        clock, factory, v1, mount = self.build()
        source = V1Connection(v1)
        self.assertEqual(source.send(b"hack"), b"")
        self.assertEqual(source.send(b"me\n"), ACCEPTED)
        self.assertIsNone(source.protocol.source)
        source.send(b"icy-name:Split\n")
        source.send(b"\n" + LIVE_FRAME.data[:10])
        source.send(LIVE_FRAME.data[10:] + LIVE_FRAME.data * 29)
        clock.pump([0.1] * 10)
        self.assertEqual(mount.now_playing and mount.now_playing.title, "Split")
        assert source.protocol.source is not None
        self.assertEqual(source.protocol.source.received, len(LIVE_FRAME.data) * 30)

    def test_wrong_password(self) -> None:
        """
        A wrong password is answered C{invalid password} and the
        connection is closed; the headers and audio after it are ignored.
        """
        clock, factory, v1, mount = self.build()
        source = V1Connection(v1)
        reply = source.send(b"nope" + HEAD[6:] + LIVE_FRAME.data * 30)
        self.assertEqual(reply, INVALID_PASSWORD)
        self.assertTrue(source.closed)
        self.assertIsNone(source.protocol.source)
        self.assertEqual(factory.sources and factory.sources.connected, {})
        clock.pump([0.1] * 10)
        self.assertIs(mount.now_playing, SONG)

    def test_libshout_poke(self) -> None:
        """
        libshout's C{!POKE} probe is answered as SHOUTcast answers it and
        closed, logged as a probe rather than a refused login.
        """
        clock, factory, v1, mount = self.build()
        source = V1Connection(v1)
        with capturedLogs() as events:
            reply = source.send(b"!POKE\nicy-name:libshout server poke request\n\n")
        self.assertEqual(reply, INVALID_PASSWORD)
        self.assertTrue(source.closed)
        formats = [e.get("log_format", "") for e in events]
        self.assertTrue(any("probe" in f for f in formats), formats)
        self.assertFalse(any("invalid password" in f for f in formats), formats)

    def test_no_password_configured(self) -> None:
        """
        With no source password configured, every v1 source is refused,
        even one sending an empty password.
        """
        clock, factory, v1, mount = self.build(password="")
        for attempt in (b"\r\n", b"hackme\r\n"):
            source = V1Connection(v1)
            self.assertEqual(source.send(attempt), INVALID_PASSWORD)
            self.assertTrue(source.closed)

    def test_mount_password(self) -> None:
        """
        The default mount's own source password overrides the station's.
        """
        clock, factory, v1, mount = self.build(source_password="mountpw")
        wrong = V1Connection(v1)
        self.assertEqual(wrong.send(b"hackme\n"), INVALID_PASSWORD)
        right = V1Connection(v1)
        self.assertEqual(right.send(b"mountpw\n"), ACCEPTED)
        self.assertFalse(right.closed)

    def test_in_use(self) -> None:
        """
        A v1 source on a mount that has a live source (of either protocol)
        is told the mount is in use and closed; once the first source is
        stale, the same password replaces it.
        """
        clock, factory, v1, mount = self.build()
        http = Connection(factory, port=1)
        http.send(source_request() + LIVE_FRAME.data * 30)
        second = V1Connection(v1, port=2)
        self.assertEqual(second.send(HEAD), ACCEPTED + b"Mountpoint in use\r\n")
        self.assertTrue(second.closed)
        self.assertFalse(http.closed)
        clock.advance(STALE_AFTER)
        third = V1Connection(v1, port=3)
        self.assertEqual(third.send(HEAD + LIVE_FRAME.data * 30), ACCEPTED)
        self.assertTrue(http.closed)
        assert mount.switch is not None and third.protocol.source is not None
        self.assertIs(mount.switch.live, third.protocol.source.live)
        fourth = V1Connection(v1, port=4)
        self.assertEqual(fourth.send(HEAD), ACCEPTED + b"Mountpoint in use\r\n")

    def test_content_type(self) -> None:
        """
        A source announcing audio other than MPEG is refused.
        """
        clock, factory, v1, mount = self.build()
        source = V1Connection(v1)
        reply = source.send(b"hackme\ncontent-type:audio/aacp\n\n")
        self.assertEqual(reply, ACCEPTED + b"Content-type not supported\r\n")
        self.assertTrue(source.closed)
        self.assertEqual(factory.sources and factory.sources.connected, {})

    def test_per_address_limit(self) -> None:
        """
        The v1 port counts connections per address with the listener
        port's count and limit: past C{max_per_address} a connection is
        closed at once, without an answer, and a closed one makes room.
        """
        clock, factory, _, _ = self.build()
        factory.config = replace(factory.config, max_per_address=2)
        assert factory.sources is not None
        v1 = ShoutcastFactory(clock, factory.config, factory.sources, factory.limits)
        # A listener from 192.0.2.9 (see L{Connection}) takes one place.
        listener = Connection(factory, port=1)
        listener.send(b"GET /stream HTTP/1.0\r\n\r\n")
        first = V1Connection(v1, port=2, host="192.0.2.9")
        self.assertFalse(first.closed)
        with capturedLogs() as events:
            second = V1Connection(v1, port=3, host="192.0.2.9")
        self.assertTrue(second.closed)
        self.assertEqual(second.send(b"hackme\r\n"), b"")
        self.assertIn("Too many connections", repr(events))
        second.protocol.connectionLost(Failure(ConnectionDone()))
        first.transport.loseConnection()
        first.protocol.connectionLost(Failure(ConnectionDone()))
        third = V1Connection(v1, port=4, host="192.0.2.9")
        self.assertFalse(third.closed)
        self.assertEqual(factory.per_address.open("192.0.2.9"), 2)

    def test_timeouts(self) -> None:
        """
        A connection that does not complete its handshake within the
        header timeout is closed; an accepted source that goes silent is
        disconnected after the source timeout, and the playlist returns.
        """
        clock, factory, v1, mount = self.build()
        idle = V1Connection(v1, port=1)
        idle.send(b"hackme\n")
        clock.pump([1.0] * 14)
        self.assertFalse(idle.closed)
        clock.pump([1.0] * 2)
        self.assertTrue(idle.closed)
        source = V1Connection(v1, port=2)
        source.send(HEAD + LIVE_FRAME.data * 30)
        clock.pump([0.1] * int(SOURCE_TIMEOUT * 10 - 5))
        self.assertFalse(source.closed)
        clock.pump([0.1] * 10)
        self.assertTrue(source.closed)
        clock.pump([0.1] * 5)
        self.assertIs(mount.now_playing, SONG)

    def test_backpressure(self) -> None:
        """
        A source sending faster than real time has its connection paused
        once several seconds are queued, and resumed as they play.
        """
        clock, factory, v1, mount = self.build()
        source = V1Connection(v1)
        source.send(HEAD + LIVE_FRAME.data * 600)
        self.assertEqual(source.transport.producerState, "paused")
        for _ in range(200):
            clock.advance(0.1)
            if source.transport.producerState == "producing":
                break
        self.assertEqual(source.transport.producerState, "producing")
        self.assertFalse(source.closed)


reactor: Any = _reactor


class EndToEndTests(TestCase):
    """
    A SHOUTcast v1 source on a real loopback port.
    """

    timeout = 60

    def setUp(self) -> None:
        require_ffmpeg()

    @asynchronous
    async def test_darkice_style_source(self) -> None:
        """
        A plain socket sending the password, headers and the first audio
        in one C{send()}, then more audio in real time, is accepted on the
        v1 port; a listener connected throughout gets the source's
        C{icy-name} as title and the source's frames, then the playlist
        again after the source leaves.
        """
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        mount_config = MountConfig(name="/stream", music=music, metaint=2000, burst_size=0)
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=(mount_config,), source_password=PASSWORD
        )
        core: IReactorCore = reactor
        service = StationService(
            config, reactor, thread_runner(core, reactor.getThreadPool()), shoutcast_port=0
        )
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        assert service.shoutcast is not None
        v1_port = (await service.shoutcast.listening).getHost().port  # type: ignore[attr-defined]

        reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(reader.capture.titles) >= 1, 10, reactor)

        with open(os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3"), "rb") as f:
            tone = f.read()
        audio = tone * 3
        client = socket.create_connection(("127.0.0.1", v1_port), timeout=5)
        self.addCleanup(client.close)
        piece = 4000  # about a quarter of a second at 128 kbit/s
        client.sendall(
            f"{PASSWORD}\r\nicy-name:V1 Show\r\nicy-genre:Test\r\nicy-pub:0\r\n"
            "icy-br:128\r\n\r\n".encode()
            + audio[: piece * 4]
        )
        sent = piece * 4

        def send_more() -> None:
            nonlocal sent
            if sent < len(audio):
                client.sendall(audio[sent : sent + piece])
                sent += piece

        pacing = LoopingCall(send_more)
        pacing.clock = reactor
        done: Deferred[LoopingCall] = pacing.start(0.25)
        await wait_for(lambda: sent >= len(audio), 20, reactor)
        pacing.stop()
        await done
        reply = client.recv(100)
        self.assertEqual(reply, ACCEPTED)
        client.close()

        def back_to_playlist() -> bool:
            titles = [title for _, title in reader.capture.titles]
            return "V1 Show" in titles and titles[-1] != "V1 Show"

        await wait_for(back_to_playlist, 15, reactor)
        titles = [title for _, title in reader.capture.titles]
        live_at = titles.index("V1 Show")
        self.assertIn(titles[live_at - 1], (FIRST, SECOND))
        self.assertFalse(reader.gone.called)
        heard = bytes(reader.capture.audio)
        frames = read_frames(tone)
        self.assertGreater(len(frames), 20)
        for frame in (frames[1], frames[len(frames) // 2], frames[-2]):
            self.assertIn(frame.data, heard)


class ServiceTests(SynchronousTestCase):
    """
    Which port a station listens on for v1 sources.
    """

    def v1_port(self, **settings: Any) -> object:
        """
        The port of a (not started) station's v1 source endpoint, or
        C{None} when it has none.
        """
        config = StationConfig(mounts=(MountConfig(name="/stream"),), **settings)
        service = StationService(config, Clock(), lambda work: Deferred())
        if service.shoutcast is None:
            return None
        return getattr(service.shoutcast._endpoint, "_port", "?")

    def test_port(self) -> None:
        """
        A single-process station with a source password (of the server or
        of any mount) listens for v1 sources on the port after its
        listener port; without any source password, with port 0, or with
        worker processes (which do not accept sources), it does not.
        """
        with_password = {"source_password": "pw"}
        self.assertEqual(self.v1_port(port=8000, **with_password), 8001)
        self.assertIsNone(self.v1_port(port=8000))
        self.assertIsNone(self.v1_port(port=0, **with_password))
        self.assertIsNone(self.v1_port(port=65535, **with_password))
        self.assertIsNone(self.v1_port(port=8000, workers=2, **with_password))
        mounts = (MountConfig(name="/stream"), MountConfig(name="/live", source_password="pw"))
        config = StationConfig(port=8000, mounts=mounts)
        service = StationService(config, Clock(), lambda work: Deferred())
        assert service.shoutcast is not None
        self.assertEqual(getattr(service.shoutcast._endpoint, "_port", "?"), 8001)

    def test_interface(self) -> None:
        """
        The v1 port listens on the station's configured interface, like
        the main port, and shares its per-address count and login
        throttle.
        """
        config = StationConfig(
            port=8000,
            interface="127.0.0.1",
            mounts=(MountConfig(name="/stream"),),
            source_password="pw",
        )
        service = StationService(config, Clock(), lambda work: Deferred())
        assert service.shoutcast is not None and service.shoutcast_factory is not None
        self.assertEqual(getattr(service.shoutcast._endpoint, "_interface", "?"), "127.0.0.1")
        self.assertIs(service.shoutcast_factory.limits, service.factory.limits)

    def test_reload(self) -> None:
        """
        A reload that sets the first source password opens the v1 port; one
        that removes the last closes it.
        """
        mounts = (MountConfig(name="/stream", music=os.path.join(FIXTURES)),)
        config = StationConfig(port=8000, interface="127.0.0.1", mounts=mounts)
        service = StationService(config, Clock(), lambda work: Deferred())
        self.assertIsNone(service.shoutcast)
        service.reload(replace(config, source_password="pw"))
        assert service.shoutcast is not None
        self.assertIs(service.shoutcast.parent, service)
        closing = service.shoutcast
        service.reload(config)
        self.assertIsNone(service.shoutcast)
        self.assertIsNone(closing.parent)
