"""
Tests for L{radiod.web.site} and L{radiod.web.tree}: requests the stream
server hands to the station's twisted.web site on the same connection.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import IResource

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.testing import FakeFrameSource, silent_frame
from radiod.web.site import StationChannel, StationRequest, StationResource, StationRoot
from radiod.web.tree import station_site
from radiod.wire.accesslog import Access
from radiod.wire.server import RadioFactory
from tests.wire.test_server import ALPHA, Connection


class Fixed(StationResource):
    """
    A resource that answers every C{GET} with the same body.
    """

    isLeaf = True

    def __init__(self, factory: RadioFactory, body: bytes) -> None:
        super().__init__(factory)
        self.body = body

    def render_GET(self, request: StationRequest) -> bytes:
        return self.body


class SiteTests(SynchronousTestCase):
    """
    What the site answers, and how, whatever resource answers.
    """

    def build(self, **station: object) -> tuple[Clock, RadioFactory, list[Access]]:
        """
        A stream server with one mount C{/stream} and the station's site;
        and the access log's records.
        """
        clock = Clock()
        config = MountConfig(name="/stream")
        mount = Mount(config, FakeFrameSource([(ALPHA, silent_frame(), 100)]), clock)
        mount.start()
        self.addCleanup(mount.stop)
        factory = RadioFactory(
            clock,
            StationConfig(mounts=(config,), **station),  # type: ignore[arg-type]
            {"/stream": mount},
        )
        station_site(factory, clock)
        accesses: list[Access] = []
        factory.on_access.append(accesses.append)
        return clock, factory, accesses

    def test_handed_over(self) -> None:
        """
        A request that is not a stream goes to the site on the same
        connection, which answers in HTTP/1.0 with radiod's C{Server}
        header, C{Connection: Close}, and closes, even when the client
        asked in HTTP/1.1.
        """
        clock, factory, _ = self.build()
        conn = Connection(factory)
        capture = conn.send(b"GET /stream.pls HTTP/1.1\r\nHost: radio.example\r\n\r\n")
        self.assertIsInstance(conn.protocol._channel, StationChannel)
        self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(capture.headers["server"], "radiod/0.1.0")
        self.assertEqual(capture.headers["connection"], "Close")
        self.assertTrue(conn.closed)

    def test_not_found(self) -> None:
        """
        A path nothing answers is C{404 File Not Found} in plain text with
        CORS headers, and one log line naming the client.
        """
        clock, factory, accesses = self.build()
        conn = Connection(factory)
        with capturedLogs() as events:
            capture = conn.send(b"GET /nothing/here HTTP/1.0\r\n\r\n")
        self.assertEqual(capture.status_line, "HTTP/1.0 404 Not Found")
        self.assertEqual(capture.headers["content-type"], "text/plain; charset=utf-8")
        self.assertEqual(capture.headers["access-control-allow-origin"], "*")
        self.assertEqual(bytes(capture.audio), b"404 File Not Found\n")
        refusals = [e for e in events if e.get("status") == 404]
        self.assertEqual(len(refusals), 1)
        self.assertEqual(refusals[0]["peer"], "192.0.2.7:40000")
        self.assertEqual(factory.refused, 1)

    def test_options(self) -> None:
        """
        A CORS preflight on any path, a mount's included, is answered
        C{204} with the CORS headers.
        """
        clock, factory, _ = self.build()
        for path in (b"/stream", b"/nothing", b"/admin/metadata"):
            capture = Connection(factory).send(b"OPTIONS " + path + b" HTTP/1.1\r\n\r\n")
            self.assertEqual(capture.status_line, "HTTP/1.0 204 No Content", path)
            self.assertEqual(capture.headers["access-control-max-age"], "86400")
            self.assertIn("GET", capture.headers["access-control-allow-methods"])

    def test_access_log(self) -> None:
        """
        A request the site answers is in the access log once, with the
        client, the status, the body bytes and the version the client
        sent.
        """
        clock, factory, accesses = self.build()
        clock.advance(10)
        conn = Connection(factory)
        conn.send(b"GET /stream.m3u HTTP/1.1\r\nUser-Agent: VLC/3.0\r\nReferer: http://x/\r\n\r\n")
        conn.protocol.connectionLost(None)  # type: ignore[arg-type]
        [access] = accesses
        self.assertEqual(
            (access.client, access.status, access.method, access.target, access.version),
            ("192.0.2.7", 200, "GET", "/stream.m3u", "HTTP/1.1"),
        )
        self.assertEqual((access.user_agent, access.referer), ("VLC/3.0", "http://x/"))
        self.assertGreater(access.sent, 0)

    def test_forwarded_client(self) -> None:
        """
        Behind a trusted proxy, the site's log and access records name the
        client C{X-Forwarded-For} gives, as the stream server does.
        """
        clock, factory, accesses = self.build(trusted_proxies=("192.0.2.7",))
        conn = Connection(factory)
        conn.send(b"GET /nothing HTTP/1.0\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n")
        [access] = accesses
        self.assertEqual(access.client, "203.0.113.9")

    def test_body_bounded(self) -> None:
        """
        A request for the site with a body larger than the wire allows is
        refused before the site reads any of it.
        """
        clock, factory, _ = self.build()
        conn = Connection(factory)
        capture = conn.send(b"POST /nothing HTTP/1.0\r\nContent-Length: 100000\r\n\r\n")
        self.assertEqual(capture.status_line, "HTTP/1.0 413 Content Too Large")
        self.assertIsNone(conn.protocol._channel)
        self.assertTrue(conn.closed)

    def test_head_logs_no_secret(self) -> None:
        """
        A C{HEAD} with a password in its query leaves no password in any
        log line, Twisted's own included.
        """
        clock, factory, _ = self.build(source_password="hunter2-secret")
        with capturedLogs() as events:
            Connection(factory).send(
                b"HEAD /admin.cgi?mode=updinfo&pass=hunter2-secret&song=x HTTP/1.0\r\n\r\n"
            )
        self.assertTrue(events)
        self.assertNotIn("hunter2-secret", repr([formatEvent(e) for e in events]))

    def test_below_an_endpoint(self) -> None:
        """
        Nothing is found below a title update's path.
        """
        clock, factory, _ = self.build()
        capture = Connection(factory).send(b"GET /admin/metadata/x HTTP/1.0\r\n\r\n")
        self.assertEqual(capture.status_line, "HTTP/1.0 404 Not Found")

    def test_relayed_not_logged(self) -> None:
        """
        A request a worker handed over is answered here but logged by the
        worker only.
        """
        clock, factory, accesses = self.build()
        reply = self.successResultOf(
            factory.answer(b"GET /stream.m3u HTTP/1.1\r\n\r\n", "198.51.100.4")
        )
        self.assertTrue(reply.startswith(b"HTTP/1.0 200 OK"), reply)
        self.assertEqual(accesses, [])

    def test_after_lookups(self) -> None:
        """
        A fallback answers only the paths no child and no lookup answers,
        even a lookup added after it.
        """
        clock, factory, _ = self.build()
        site = factory.site
        assert site is not None
        root = site.resource  # type: ignore[attr-defined]
        assert isinstance(root, StationRoot)
        root.fallbacks.append(lambda request: Fixed(factory, b"fallback"))

        def lookup(request: StationRequest) -> IResource | None:
            return Fixed(factory, b"lookup") if request.path == b"/looked" else None

        root.lookups.append(lookup)

        def body(path: bytes) -> bytes:
            return bytes(Connection(factory).send(b"GET " + path + b" HTTP/1.0\r\n\r\n").audio)

        self.assertEqual(body(b"/looked"), b"lookup")
        self.assertEqual(body(b"/anything/else"), b"fallback")
        self.assertTrue(body(b"/stream.m3u").startswith(b"#EXTM3U"))
        self.assertNotEqual(body(b"/admin/metadata"), b"fallback")
