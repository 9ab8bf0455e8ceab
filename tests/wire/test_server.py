"""
Tests for L{radiod.wire.server}: routing, replies and refusals, in memory.
"""

from __future__ import annotations

from dataclasses import replace

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from radiod import testing
from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.testing import FakeFrameSource, ListenerCapture, silent_frame
from radiod.web.tree import station_site
from radiod.wire.server import Phase, RadioFactory, RadioProtocol
from radiod.wire.stream import AUDIO_WAIT

ALPHA = TrackInfo("/a.mp3", "First Song", "Alpha Artist")


class Connection(testing.Connection[RadioProtocol]):
    """
    One in-memory client connection from 192.0.2.7 to a L{RadioProtocol},
    whose L{send} returns what the client received so far, read as a
    listener reads it (as the tests here and in L{tests.web.test_site}
    use it).
    """

    def __init__(self, factory: RadioFactory, port: int = 40000) -> None:
        super().__init__(factory, port, "192.0.2.7")

    def send(self, data: bytes | str) -> ListenerCapture:  # type: ignore[override]
        """
        Send bytes and parse everything received so far.
        """
        super().send(data)
        return self.capture()


class ServerTests(SynchronousTestCase):
    """
    The listener-facing protocol.
    """

    def build(self, **station: object) -> tuple[Clock, RadioFactory, Mount]:
        """
        A factory with one started mount C{/stream} (and C{/other}).
        """
        clock = Clock()
        mounts = {}
        configs = []
        for name in ("/stream", "/other"):
            config = MountConfig(
                name=name,
                station_name="Test FM",
                genre="Rock",
                description="Tests all day",
                url="http://example.org/",
            )
            configs.append(config)
            mount = Mount(config, FakeFrameSource([(ALPHA, silent_frame(), 1000)]), clock)
            mount.start()
            self.addCleanup(mount.stop)
            mounts[name] = mount
        station_config = replace(StationConfig(port=8000, mounts=tuple(configs)), **station)  # type: ignore[arg-type]
        factory = RadioFactory(clock, station_config, mounts)
        station_site(factory, clock)
        clock.pump([0.1] * 20)
        return clock, factory, mounts["/stream"]

    def test_stream_headers(self) -> None:
        """
        A stream request gets C{HTTP/1.0 200 OK}, audio/mpeg, the icy-*
        headers Icecast sends (no space after the colon), no-cache and CORS
        headers, and no Content-Length or chunking.
        """
        clock, factory, mount = self.build()
        conn = Connection(factory)
        conn.send(b"GET /stream HTTP/1.1\r\nHost: radio.example:8000\r\nIcy-MetaData: 1\r\n\r\n")
        raw = conn.transport.value()
        head = raw[: raw.index(b"\r\n\r\n")].decode()
        lines = head.split("\r\n")
        self.assertEqual(lines[0], "HTTP/1.0 200 OK")
        for line in [
            "Content-Type: audio/mpeg",
            "icy-name:Test FM",
            "icy-genre:Rock",
            "icy-description:Tests all day",
            "icy-url:http://example.org/",
            "icy-pub:0",
            "icy-br:128",
            "icy-metaint:16000",
            "Cache-Control: no-cache, no-store",
            "Access-Control-Allow-Origin: *",
        ]:
            self.assertIn(line, lines)
        self.assertIn("ice-audio-info", head)
        self.assertIn("Icy-MetaInt", head)  # exposed to scripts
        self.assertNotIn("Content-Length", head)
        self.assertNotIn("Transfer-Encoding", head)
        self.assertFalse(conn.closed)
        self.assertEqual(len(mount.listeners), 1)

    def test_redirect_when_full(self) -> None:
        """
        With C{redirect_when_full}, a listener the limits turn away is sent
        (C{302}) to the same path on each peer in turn, and the log says
        so; without it, the answer is C{503}.
        """
        peers = ("http://edge2.example:8000", "http://edge3.example:8000/")
        clock, factory, mount = self.build(max_listeners=1, redirect_when_full=peers)
        Connection(factory).send(b"GET /stream HTTP/1.0\r\n\r\n")
        locations = []
        with capturedLogs() as events:
            for _ in range(3):
                reply = Connection(factory).send(b"GET /other?x=1 HTTP/1.0\r\n\r\n")
                self.assertEqual(reply.status_line, "HTTP/1.0 302 Found")
                locations.append(reply.headers["location"])
        self.assertEqual(
            locations,
            [
                "http://edge2.example:8000/other?x=1",
                "http://edge3.example:8000/other?x=1",
                "http://edge2.example:8000/other?x=1",
            ],
        )
        lines = [e for e in events if e.get("log_format", "").startswith("Redirected")]
        self.assertEqual(len(lines), 3)
        self.assertEqual(lines[0]["peer"], "192.0.2.7:40000")
        factory.config = replace(factory.config, redirect_when_full=())
        reply = Connection(factory).send(b"GET /other HTTP/1.0\r\n\r\n")
        self.assertEqual(reply.status_line, "HTTP/1.0 503 Service Unavailable")

    def early(self) -> tuple[Clock, RadioFactory, Mount]:
        """
        A factory whose mount C{/stream} has not broadcast yet (it is not
        started): its format is not known.
        """
        clock = Clock()
        config = MountConfig(name="/stream", burst_size=0)
        mount = Mount(config, FakeFrameSource([(ALPHA, silent_frame(), 1000)]), clock)
        self.addCleanup(mount.stop)
        factory = RadioFactory(clock, StationConfig(mounts=(config,)), {"/stream": mount})
        return clock, factory, mount

    def test_format_before_first_audio(self) -> None:
        """
        A listener that connects before the mount's first audio gets its
        reply with the first audio, carrying C{icy-br} and
        C{ice-audio-info}; a C{HEAD} too.
        """
        clock, factory, mount = self.early()
        conn = Connection(factory)
        self.assertEqual(conn.send(b"GET /stream HTTP/1.0\r\n\r\n").headers, {})
        head = Connection(factory, port=40001)
        head.send(b"HEAD /stream HTTP/1.0\r\n\r\n")
        self.assertEqual(mount.listeners, set())
        mount.start()
        capture = conn.send(b"")
        self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(capture.headers["icy-br"], "128")
        self.assertEqual(
            capture.headers["ice-audio-info"],
            "ice-samplerate=44100;ice-bitrate=128;ice-channels=2",
        )
        self.assertEqual(len(mount.listeners), 1)
        self.assertEqual(head.send(b"").headers["icy-br"], "128")
        self.assertTrue(head.closed)

    def test_no_audio_in_time(self) -> None:
        """
        A mount with no audio after L{AUDIO_WAIT} seconds gets its
        listener answered anyway, without the format headers.
        """
        clock, factory, mount = self.early()
        conn = Connection(factory)
        conn.send(b"GET /stream HTTP/1.0\r\n\r\n")
        clock.advance(AUDIO_WAIT - 0.1)
        self.assertEqual(conn.send(b"").headers, {})
        clock.advance(0.1)
        capture = conn.send(b"")
        self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")
        self.assertNotIn("icy-br", capture.headers)
        self.assertEqual(len(mount.listeners), 1)

    def test_gone_while_waiting(self) -> None:
        """
        A listener that leaves while its reply waits for the first audio
        is forgotten: no reply, no listener, no timer left.
        """
        clock, factory, mount = self.early()
        conn = Connection(factory)
        conn.send(b"GET /stream HTTP/1.0\r\n\r\n")
        conn.protocol.connectionLost(Failure(ConnectionDone()))
        mount.start()
        self.assertEqual(conn.transport.value(), b"")
        self.assertEqual(mount.listeners, set())
        self.assertEqual(mount._awaiting_audio, [])
        mount.stop()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_metaint_only_when_asked(self) -> None:
        """
        Without Icy-MetaData (or with 0) there is no icy-metaint and no
        metadata in the audio; Winamp's C{Icy-MetaData:1} with no space
        counts.
        """
        clock, factory, mount = self.build()
        for request, expected in [
            (b"GET /stream HTTP/1.0\r\n\r\n", None),
            (b"GET /stream HTTP/1.0\r\nIcy-MetaData: 0\r\n\r\n", None),
            (b"GET /stream HTTP/1.0\r\nIcy-MetaData:1\r\n\r\n", "16000"),
            (b"GET /stream HTTP/1.0\r\nicy-metadata: 1\r\n\r\n", "16000"),
        ]:
            capture = Connection(factory).send(request)
            self.assertEqual(capture.headers.get("icy-metaint"), expected, request)

    def test_icy_status_line_option(self) -> None:
        """
        A mount set to the ICY status line answers C{ICY 200 OK}.
        """
        clock, factory, mount = self.build()
        mount.config = replace(mount.config, icy_status_line=True)
        capture = Connection(factory).send(b"GET /stream HTTP/1.0\r\n\r\n")
        self.assertEqual(capture.status_line, "ICY 200 OK")

    def test_default_mount_aliases(self) -> None:
        """
        C{/;} and C{/;stream.mp3} reach the default mount.
        """
        clock, factory, mount = self.build()
        for path in (b"/;", b"/;stream.mp3"):
            capture = Connection(factory).send(b"GET " + path + b" HTTP/1.0\r\n\r\n")
            self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(len(mount.listeners), 2)

    def test_range_ignored(self) -> None:
        """
        A Range header on a live mount gets the plain stream, not a 206.
        """
        clock, factory, mount = self.build()
        capture = Connection(factory).send(b"GET /stream HTTP/1.1\r\nRange: bytes=0-\r\n\r\n")
        self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")
        self.assertNotIn("content-range", capture.headers)

    def test_head(self) -> None:
        """
        HEAD answers the stream's headers only and closes.
        """
        clock, factory, mount = self.build()
        conn = Connection(factory)
        capture = conn.send(b"HEAD /stream HTTP/1.0\r\n\r\n")
        self.assertEqual(capture.headers["content-type"], "audio/mpeg")
        self.assertEqual(capture.audio, b"")
        self.assertTrue(conn.closed)
        self.assertEqual(mount.listeners, set())

    def test_options_preflight(self) -> None:
        """
        A CORS preflight is answered with the allowed methods and headers.
        """
        clock, factory, mount = self.build()
        capture = Connection(factory).send(
            b"OPTIONS /stream HTTP/1.1\r\nOrigin: https://other.example\r\n"
            b"Access-Control-Request-Headers: icy-metadata\r\n\r\n"
        )
        self.assertEqual(capture.status_line, "HTTP/1.0 204 No Content")
        self.assertIn("Icy-MetaData", capture.headers["access-control-allow-headers"])
        self.assertEqual(capture.headers["access-control-allow-origin"], "*")

    def test_playlists(self) -> None:
        """
        .m3u, .pls and .xspf point at the stream as the client reached it.
        """
        clock, factory, mount = self.build()
        for ending, content_type in [
            (b".m3u", "audio/x-mpegurl"),
            (b".pls", "audio/x-scpls"),
            (b".xspf", "application/xspf+xml"),
        ]:
            conn = Connection(factory)
            capture = conn.send(
                b"GET /stream" + ending + b" HTTP/1.1\r\nHost: radio.example:8123\r\n\r\n"
            )
            self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")
            self.assertTrue(capture.headers["content-type"].startswith(content_type))
            self.assertIn(b"http://radio.example:8123/stream", bytes(capture.audio))
            self.assertTrue(conn.closed)

    def test_refusals(self) -> None:
        """
        Unknown paths get 404, unsupported methods 405, malformed requests
        400, oversized heads 431; each is logged with the peer and the
        connection closed, while a listener already connected is untouched.
        """
        clock, factory, mount = self.build()
        listener = Connection(factory, port=1)
        listener.send(b"GET /stream HTTP/1.0\r\n\r\n")
        cases = [
            (b"GET /nothing HTTP/1.0\r\n\r\n", "404"),
            (b"DELETE /stream HTTP/1.0\r\n\r\n", "405"),
            (b"GARBAGE\r\n\r\n", "400"),
            (b"GET /stream HTTP/1.0\r\nX: " + b"a" * 9000, "431"),
        ]
        for request, status in cases:
            conn = Connection(factory)
            with capturedLogs() as events:
                capture = conn.send(request)
            self.assertTrue(
                capture.status_line.startswith(f"HTTP/1.0 {status} "), capture.status_line
            )
            self.assertTrue(conn.closed)
            self.assertTrue(
                any(
                    e.get("peer") == "192.0.2.7:40000" and e.get("status") == int(status)
                    for e in events
                ),
                request,
            )
        self.assertEqual(len(mount.listeners), 1)
        self.assertFalse(listener.closed)

    def test_405_lists_allowed_methods(self) -> None:
        """
        A 405 says which methods are allowed.
        """
        clock, factory, mount = self.build()
        capture = Connection(factory).send(b"POST /stream HTTP/1.0\r\n\r\n")
        self.assertEqual(capture.headers["allow"], "GET, HEAD, OPTIONS")

    def test_header_timeout(self) -> None:
        """
        A client that does not finish its request within the header timeout
        is disconnected.
        """
        clock, factory, mount = self.build(header_timeout=15.0)
        conn = Connection(factory)
        conn.send(b"GET /stream HTTP/1.0\r\n")
        clock.advance(14)
        self.assertFalse(conn.closed)
        clock.advance(1.5)
        self.assertTrue(conn.closed)

    def test_listener_limits(self) -> None:
        """
        Past the global or per-mount listener limit, a listener gets 503
        with a clear body.
        """
        clock, factory, mount = self.build(max_listeners=2)
        for _ in range(2):
            Connection(factory).send(b"GET /stream HTTP/1.0\r\n\r\n")
        capture = Connection(factory).send(b"GET /other HTTP/1.0\r\n\r\n")
        self.assertTrue(capture.status_line.startswith("HTTP/1.0 503 "))
        self.assertIn(b"full", bytes(capture.audio))
        other = factory.mounts["/other"]
        other.config = replace(other.config, max_listeners=0)
        mount.config = replace(mount.config, max_listeners=1)
        factory.config = replace(factory.config, max_listeners=0)
        capture = Connection(factory).send(b"GET /stream HTTP/1.0\r\n\r\n")
        self.assertTrue(capture.status_line.startswith("HTTP/1.0 503 "))
        capture = Connection(factory).send(b"GET /other HTTP/1.0\r\n\r\n")
        self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")

    def test_disconnect_removes_listener(self) -> None:
        """
        When the connection is lost the listener leaves its mount.
        """
        clock, factory, mount = self.build()
        conn = Connection(factory)
        conn.send(b"GET /stream HTTP/1.0\r\n\r\n")
        conn.protocol.connectionLost()
        self.assertEqual(mount.listeners, set())

    def test_site_gets_the_rest(self) -> None:
        """
        Whatever is not a stream or a source goes to the site with its
        head, on the same connection; without a site it is not found.
        """
        clock, factory, mount = self.build()
        conn = Connection(factory)
        capture = conn.send(b"GET /stream/ HTTP/1.0\r\n\r\n")
        self.assertIsNotNone(conn.protocol._channel)
        self.assertEqual(capture.status_line, "HTTP/1.0 404 Not Found")
        factory.site = None
        conn = Connection(factory)
        capture = conn.send(b"GET /stream.m3u HTTP/1.0\r\n\r\n")
        self.assertIsNone(conn.protocol._channel)
        self.assertEqual(capture.status_line, "HTTP/1.0 404 Not Found")


class PhaseTests(SynchronousTestCase):
    """
    A connection's life, as L{RadioProtocol.phase} tells it.
    """

    def test_phases(self) -> None:
        """
        A listener streams, a request for anything else is handed to the
        site, a refused one is answered here, a head that never comes is
        still being read; every one is closed once the connection goes.
        """
        clock, factory, mount = ServerTests.build(self)  # type: ignore[arg-type]
        cases = [
            (b"GET /stream HTTP/1.0\r\n\r\n", Phase.STREAMING),
            (b"GET /stream.m3u HTTP/1.0\r\n\r\n", Phase.HANDED_OFF),
            (b"DELETE /stream HTTP/1.0\r\n\r\n", Phase.ANSWERING),
            (b"GARBAGE\r\n\r\n", Phase.ANSWERING),
            (b"GET /stream HTTP/1.0\r\n", Phase.HEAD),
        ]
        for request, phase in cases:
            conn = Connection(factory)
            self.assertIs(conn.protocol.phase, Phase.HEAD)
            conn.send(request)
            self.assertIs(conn.protocol.phase, phase, request)
            conn.protocol.connectionLost(Failure(ConnectionDone()))
            self.assertIs(conn.protocol.phase, Phase.CLOSED)

    def test_no_way_back(self) -> None:
        """
        A move the table does not allow is a bug, and says so.
        """
        clock, factory, mount = ServerTests.build(self)  # type: ignore[arg-type]
        conn = Connection(factory)
        conn.send(b"GET /stream HTTP/1.0\r\n\r\n")
        with self.assertRaises(RuntimeError):
            conn.protocol._move(Phase.HEAD)
