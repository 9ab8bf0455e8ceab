"""
Tests for L{radiod.ingest.source}, L{radiod.ingest.sources},
L{radiod.ingest.stream} and L{radiod.ingest.dechunk}: the Icecast source
protocol, in memory.
"""

from __future__ import annotations

import base64
from dataclasses import replace

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod import testing
from radiod.audio.track import TrackInfo
from radiod.auth import parse_basic_auth
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ingest.dechunk import ChunkError, Dechunker
from radiod.ingest.sources import CONTINUE, OK, STALE_AFTER
from radiod.ingest.stream import StreamInfo
from radiod.request import RequestParser
from radiod.testing import FakeFrameSource, silent_frame
from radiod.wire.server import RadioFactory, RadioProtocol

SONG = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
PLAYLIST_FRAME = silent_frame()
LIVE_FRAME = silent_frame(fill=0x55)
PASSWORD = "hackme"

Connection = testing.Connection[RadioProtocol]
"""
A client's connection to a station, in memory.
"""


def auth(user: str = "source", password: str = PASSWORD) -> bytes:
    """
    An C{Authorization} header line.
    """
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Authorization: Basic {token}\r\n".encode()


def source_request(
    method: str = "PUT",
    mount: str = "/stream",
    headers: bytes | None = None,
    credentials: bytes | None = None,
) -> bytes:
    """
    A source request head.
    """
    if headers is None:
        headers = b"Content-Type: audio/mpeg\r\n"
    if credentials is None:
        credentials = auth()
    version = "HTTP/1.1" if method == "PUT" else "HTTP/1.0"
    return f"{method} {mount} {version}\r\n".encode() + credentials + headers + b"\r\n"


class PureTests(SynchronousTestCase):
    """
    The pure parts: credentials, stream descriptions, de-chunking.
    """

    def test_parse_basic_auth(self) -> None:
        """
        Basic credentials are decoded; anything else is C{None}.
        """
        token = base64.b64encode(b"source:pa:ss").decode()
        self.assertEqual(parse_basic_auth(f"Basic {token}"), ("source", "pa:ss"))
        self.assertEqual(parse_basic_auth(f"basic  {token} "), ("source", "pa:ss"))
        self.assertIsNone(parse_basic_auth(None))
        self.assertIsNone(parse_basic_auth(f"Bearer {token}"))
        self.assertIsNone(parse_basic_auth("Basic !!!"))
        self.assertIsNone(parse_basic_auth("Basic " + base64.b64encode(b"nocolon").decode()))

    def test_stream_info(self) -> None:
        """
        C{ice-*} headers (in any case) or their C{icy-*} forms describe
        the stream.
        """
        request = RequestParser().feed(
            b"PUT /live HTTP/1.1\r\nIce-Name: Night Show\r\nice-genre: Jazz\r\n"
            b"ice-description: Late\r\nicy-url: http://example.org/\r\nIce-Public: 0\r\n"
            b"ice-audio-info: bitrate=128\r\n\r\n"
        )
        assert request is not None
        self.assertEqual(
            StreamInfo.from_request(request),
            StreamInfo("Night Show", "Jazz", "Late", "http://example.org/", False, "bitrate=128"),
        )

    def test_dechunker_any_split(self) -> None:
        """
        A chunked body, with extensions and a trailer, decodes to its
        payload however the bytes are split, and bytes after its end are
        ignored.
        """
        body = b"5;ext=1\r\nhello\r\n1A\r\n" + b"x" * 26 + b"\r\n0\r\nTrailer: 1\r\n\r\nextra"
        for size in (1, 2, 3, 7, len(body)):
            dechunker = Dechunker()
            out = b"".join(dechunker.feed(body[i : i + size]) for i in range(0, len(body), size))
            self.assertEqual(out, b"hello" + b"x" * 26)
            self.assertTrue(dechunker.done)

    def test_dechunker_errors(self) -> None:
        """
        Malformed sizes and chunk endings raise L{ChunkError}.
        """
        for body in (b"zz\r\n", b"\r\n", b"3\r\nabcXY", b"1" * 5000):
            with self.assertRaises(ChunkError):
                Dechunker().feed(body)


class SourceProtocolTests(SynchronousTestCase):
    """
    Source clients connecting to the station.
    """

    def build(
        self, password: str = PASSWORD, **mount: object
    ) -> tuple[Clock, RadioFactory, Mount, FakeFrameSource]:
        """
        A station with one playlist mount C{/stream}, accepting sources.
        """
        clock = Clock()
        config = replace(MountConfig(name="/stream", metaint=1000, burst_size=0), **mount)  # type: ignore[arg-type]
        playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 10000)])
        stream = Mount(config, playlist, clock)
        stream.start()
        self.addCleanup(stream.stop)
        station = StationConfig(mounts=(config,), source_password=password)
        factory = RadioFactory(clock, station, {"/stream": stream}, accept_sources=True)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        clock.pump([0.1] * 5)
        return clock, factory, stream, playlist

    def test_probe_gets_401_with_allow(self) -> None:
        """
        libshout's unauthenticated probe gets 401 with a Basic challenge
        and an C{Allow} header listing C{PUT}, and the connection closes.
        """
        clock, factory, mount, _ = self.build()
        conn = Connection(factory)
        reply = conn.send(
            b"SOURCE /stream HTTP/1.0\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n"
            b"Prefer: return=minimal\r\nice-name: x\r\n\r\n"
        )
        capture = conn.capture()
        self.assertTrue(reply.startswith(b"HTTP/1.0 401 "), reply)
        self.assertEqual(capture.headers["www-authenticate"], 'Basic realm="radiod"')
        self.assertIn("PUT", capture.headers["allow"].split(", "))
        self.assertIn("SOURCE", capture.headers["allow"].split(", "))
        self.assertTrue(conn.closed)
        self.assertIsNone(mount.switch and mount.switch.live)

    def test_wrong_credentials(self) -> None:
        """
        A wrong password or user gets 401, and the password is never
        logged.
        """
        clock, factory, mount, _ = self.build()
        for credentials in (auth(password="wrong"), auth(user="admin"), b"Authorization: x\r\n"):
            conn = Connection(factory)
            with capturedLogs() as events:
                reply = conn.send(source_request(credentials=credentials))
            self.assertTrue(reply.startswith(b"HTTP/1.0 401 "), reply)
            self.assertTrue(conn.closed)
            self.assertNotIn("wrong", repr(events))
            self.assertNotIn(PASSWORD, repr(events))

    def test_no_password_configured(self) -> None:
        """
        Without any source password, sources are refused with 401 and
        the log says why.
        """
        clock, factory, mount, _ = self.build(password="")
        conn = Connection(factory)
        with capturedLogs() as events:
            reply = conn.send(source_request(credentials=auth(password="")))
        self.assertTrue(reply.startswith(b"HTTP/1.0 401 "), reply)
        self.assertTrue(any("no source password" in e.get("log_format", "") for e in events))

    def test_mount_password_overrides(self) -> None:
        """
        A mount's own source password replaces the station's.
        """
        clock, factory, mount, _ = self.build(source_password="mountpw")
        reply = Connection(factory).send(source_request())
        self.assertTrue(reply.startswith(b"HTTP/1.0 401 "), reply)
        reply = Connection(factory).send(source_request(credentials=auth(password="mountpw")))
        self.assertEqual(reply, OK)

    def test_put_expect_continue(self) -> None:
        """
        A PUT with C{Expect: 100-continue} gets exactly C{100 Continue}
        first, then C{200 OK}; a plain PUT and a SOURCE get only C{200 OK}.
        """
        clock, factory, mount, _ = self.build()
        conn = Connection(factory)
        reply = conn.send(
            source_request(headers=b"Content-Type: audio/mpeg\r\nExpect: 100-continue\r\n")
        )
        self.assertEqual(reply, CONTINUE + OK)
        self.assertTrue(reply.startswith(b"HTTP/1.1 100 Continue\r\n"))
        self.assertFalse(conn.closed)
        conn.protocol.connectionLost()
        self.assertEqual(Connection(factory).send(source_request()), OK)

    def test_source_without_content_type(self) -> None:
        """
        SOURCE without a content type is taken as MPEG audio; PUT without
        one is refused.
        """
        clock, factory, mount, _ = self.build()
        conn = Connection(factory)
        self.assertEqual(conn.send(source_request("SOURCE", headers=b"")), OK)
        conn.protocol.connectionLost()
        reply = Connection(factory).send(source_request("PUT", headers=b""))
        self.assertTrue(reply.startswith(b"HTTP/1.0 400 "), reply)

    def test_unsupported_content_type(self) -> None:
        """
        A content type other than MPEG audio gets 415; the MPEG aliases
        are accepted.
        """
        clock, factory, mount, _ = self.build()
        reply = Connection(factory).send(source_request(headers=b"Content-Type: audio/ogg\r\n"))
        self.assertTrue(reply.startswith(b"HTTP/1.0 415 "), reply)
        for kind in (b"audio/mp3", b"audio/x-mpeg", b"Audio/MPEG; x=1"):
            conn = Connection(factory)
            reply = conn.send(source_request(headers=b"Content-Type: " + kind + b"\r\n"))
            self.assertEqual(reply, OK, kind)
            conn.protocol.connectionLost()

    def test_in_use_and_stale(self) -> None:
        """
        A second source on a mount with a live source gets 403 "Mountpoint
        in use" and the first is untouched; once the first has been silent
        for L{STALE_AFTER} seconds, the same credentials replace it.
        """
        clock, factory, mount, _ = self.build()
        first = Connection(factory, port=1)
        self.assertEqual(first.send(source_request()), OK)
        first.send(LIVE_FRAME.data * 30)
        second = Connection(factory, port=2)
        reply = second.send(source_request())
        self.assertTrue(reply.startswith(b"HTTP/1.0 403 "), reply)
        self.assertIn(b"Mountpoint in use", reply)
        self.assertFalse(first.closed)
        self.assertIs(
            factory.sources and factory.sources.connected["/stream"], first.protocol.source
        )
        clock.advance(STALE_AFTER)
        third = Connection(factory, port=3)
        self.assertEqual(third.send(source_request()), OK)
        self.assertTrue(first.closed)
        self.assertIs(
            factory.sources and factory.sources.connected["/stream"], third.protocol.source
        )
        assert mount.switch is not None and third.protocol.source is not None
        self.assertIs(mount.switch.live, third.protocol.source.live)

    def test_takeover_and_return(self) -> None:
        """
        Body bytes that arrive with the head are kept; a listener of a
        playlist mount hears the live source, with its name as title and
        its C{ice-*} headers for new listeners, and hears the playlist
        again after the source leaves, without being disconnected.
        """
        clock, factory, mount, playlist = self.build()
        listener = Connection(factory, port=1)
        listener.send(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        clock.pump([0.1] * 10)
        source = Connection(factory, port=2)
        head = source_request(
            headers=b"Content-Type: audio/mpeg\r\nice-name: Night Show\r\nice-genre: Jazz\r\n"
        )
        self.assertEqual(source.send(head + LIVE_FRAME.data * 30), OK)
        clock.pump([0.1] * 10)
        self.assertEqual(mount.now_playing and mount.now_playing.title, "Night Show")
        late = Connection(factory, port=3)
        late.send(b"GET /stream HTTP/1.0\r\n\r\n")
        self.assertEqual(late.capture().headers["icy-name"], "Night Show")
        self.assertEqual(late.capture().headers["icy-genre"], "Jazz")
        source.protocol.connectionLost()
        clock.pump([0.1] * 20)
        self.assertIs(mount.now_playing, SONG)
        self.assertFalse(listener.closed)
        titles = [title for _, title in listener.capture().titles]
        self.assertEqual(
            titles, ["Alpha Artist - First Song", "Night Show", "Alpha Artist - First Song"]
        )
        audio = bytes(listener.capture().audio)
        size = len(LIVE_FRAME.data)
        frames = {audio[i : i + size] for i in range(0, len(audio), size)}
        self.assertEqual(frames, {LIVE_FRAME.data, PLAYLIST_FRAME.data})
        self.assertEqual(audio.count(LIVE_FRAME.data), 30)

    def test_chunked_body_with_garbage(self) -> None:
        """
        A chunked body is de-chunked; garbage in the audio is dropped and
        listeners receive whole frames only.
        """
        clock, factory, mount, _ = self.build()
        listener = Connection(factory, port=1)
        listener.send(b"GET /stream HTTP/1.0\r\n\r\n")
        source = Connection(factory, port=2)
        head = source_request(headers=b"Content-Type: audio/mpeg\r\nTransfer-Encoding: chunked\r\n")
        audio = b"garbage" + LIVE_FRAME.data * 40
        body = b"".join(
            b"%x\r\n%s\r\n" % (len(audio[i : i + 300]), audio[i : i + 300])
            for i in range(0, len(audio), 300)
        )
        self.assertEqual(source.send(head), OK)
        for i in range(0, len(body), 77):
            source.send(body[i : i + 77])
        source.send(b"0\r\n\r\n")
        self.assertTrue(source.closed)
        clock.pump([0.1] * 30)
        received = bytes(listener.capture().audio)
        size = len(LIVE_FRAME.data)
        self.assertEqual(len(received) % size, 0)
        self.assertEqual(received.count(LIVE_FRAME.data), 40)
        self.assertNotIn(b"garbage", received)

    def test_timeout(self) -> None:
        """
        A source that sends nothing for the source timeout is
        disconnected, and the playlist comes back for its listeners.
        """
        clock, factory, mount, _ = self.build()
        listener = Connection(factory, port=1)
        listener.send(b"GET /stream HTTP/1.0\r\n\r\n")
        source = Connection(factory, port=2)
        source.send(source_request() + LIVE_FRAME.data * 30)
        clock.pump([0.1] * 95)
        source.send(LIVE_FRAME.data)
        clock.pump([0.1] * 95)
        self.assertFalse(source.closed)
        with capturedLogs() as events:
            clock.pump([0.1] * 10)
        self.assertTrue(source.closed)
        self.assertTrue(any("sent nothing" in e.get("log_format", "") for e in events))
        clock.pump([0.1] * 5)
        self.assertIs(mount.now_playing, SONG)
        self.assertFalse(listener.closed)
        self.assertEqual(factory.sources and factory.sources.connected, {})

    def test_backpressure(self) -> None:
        """
        An encoder sending faster than real time is paused once several
        seconds are queued, resumed as they play, not timed out while
        paused, and timed out from the moment it is read again.
        """
        clock, factory, mount, _ = self.build()
        source = Connection(factory)
        source.send(source_request())
        source.send(LIVE_FRAME.data * 600)
        self.assertEqual(source.transport.producerState, "paused")
        clock.pump([0.1] * 120)
        self.assertEqual(source.transport.producerState, "paused")
        self.assertFalse(source.closed)
        for _ in range(30):
            clock.advance(0.1)
            if source.transport.producerState == "producing":
                break
        self.assertEqual(source.transport.producerState, "producing")
        clock.pump([0.1] * 99)
        self.assertFalse(source.closed)
        clock.pump([0.1] * 2)
        self.assertTrue(source.closed)

    def test_live_mount(self) -> None:
        """
        A source on an unconfigured mount name creates a live mount with
        its description; when the source leaves, its listeners are closed
        cleanly and the mount is gone.
        """
        clock, factory, mount, _ = self.build()
        source = Connection(factory, port=2)
        head = source_request(
            mount="/live", headers=b"Content-Type: audio/mpeg\r\nice-name: Pop Up\r\n"
        )
        self.assertEqual(source.send(head + LIVE_FRAME.data * 30), OK)
        self.assertIn("/live", factory.mounts)
        listener = Connection(factory, port=1)
        listener.send(b"GET /live HTTP/1.0\r\n\r\n")
        # The reply waits for the new mount's first audio, and names its
        # format.
        self.assertEqual(listener.capture().headers, {})
        clock.pump([0.1])
        self.assertEqual(listener.capture().headers["icy-name"], "Pop Up")
        self.assertEqual(listener.capture().headers["icy-br"], "128")
        clock.pump([0.1] * 9)
        source.protocol.connectionLost()
        self.assertFalse(listener.closed)
        clock.pump([0.1] * 10)
        self.assertTrue(listener.closed)
        self.assertNotIn("/live", factory.mounts)
        self.assertEqual(listener.capture().audio.count(LIVE_FRAME.data), 30)

    def test_not_accepted(self) -> None:
        """
        A factory that does not accept sources still answers 405.
        """
        clock = Clock()
        config = MountConfig(name="/stream")
        stream = Mount(config, FakeFrameSource([(SONG, PLAYLIST_FRAME, 10)]), clock)
        factory = RadioFactory(clock, StationConfig(mounts=(config,)), {"/stream": stream})
        reply = Connection(factory).send(source_request())
        self.assertTrue(reply.startswith(b"HTTP/1.0 405 "), reply)
