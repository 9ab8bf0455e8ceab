"""
Tests for L{radiod.wire.askauth} and the stream server asking a mount's
authentication URL about listeners and sources, with the fake
authenticator of L{radiod.testing} (the real one is tested against a
real HTTP server in L{tests.outbound.test_urlauth} and
L{tests.station.test_mountauth}).
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.interfaces import AuthResult
from radiod.request import RequestParser
from radiod.testing import FakeFrameSource, FakeUrlAuthenticator, silent_frame
from radiod.wire.askauth import Admitted, listener_request
from radiod.wire.server import RadioFactory
from tests.ingest.test_source import auth, source_request
from tests.wire.test_server import Connection

ALPHA = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
REFUSED = AuthResult(False, "Members only: log in at example.org", None, "refused")


class RequestTests(SynchronousTestCase):
    """
    L{listener_request}: what the URL is told of a listener.
    """

    def test_fields(self) -> None:
        """
        The mount with its query, the credentials, the address, the user
        agent, the referrer, every header and the listener count; each
        listener a number of its own.
        """
        raw = (
            (
                b"GET /members.mp3?token=abc HTTP/1.0\r\nUser-Agent: VLC/3.0\r\n"
                b"Referer: https://example.org/\r\nX-Token: t1\r\n"
            )
            + auth("alice", "pa:ss")
            + b"\r\n"
        )
        request = RequestParser().feed(raw)
        assert request is not None
        asked = listener_request(request, "192.0.2.7", 12)
        self.assertEqual(asked.mount, "/members.mp3?token=abc")
        self.assertEqual((asked.user, asked.password), ("alice", "pa:ss"))
        self.assertEqual(
            (asked.ip, asked.agent, asked.referer), ("192.0.2.7", "VLC/3.0", "https://example.org/")
        )
        self.assertEqual(asked.headers["X-Token"], "t1")
        self.assertEqual(asked.listeners, 12)
        self.assertNotEqual(listener_request(request, "192.0.2.7", 12).client, asked.client)

    def test_admitted_left(self) -> None:
        """
        A listener let in is told about as gone with the time it stayed
        and the listeners then.
        """
        clock = Clock()
        fake = FakeUrlAuthenticator()
        request = RequestParser().feed(b"GET /m HTTP/1.0\r\n\r\n")
        assert request is not None
        asked = listener_request(request, "192.0.2.7", 3)
        admitted = Admitted(fake, asked, clock)
        clock.advance(42)
        admitted.left(2)
        [(told, duration)] = fake.listeners_removed
        self.assertEqual((told.client, told.listeners, duration), (asked.client, 2, 42.0))


class ServerAuthTests(SynchronousTestCase):
    """
    The stream server asks before streaming, and tells when a listener
    leaves.
    """

    def build(
        self, fake: FakeUrlAuthenticator, password: str = "hackme"
    ) -> tuple[Clock, RadioFactory, Mount]:
        clock = Clock()
        config = MountConfig(name="/stream")
        mount = Mount(config, FakeFrameSource([(ALPHA, silent_frame(), 10000)]), clock)
        mount.start()
        self.addCleanup(mount.stop)
        station = StationConfig(port=8000, mounts=(config,), source_password=password)
        factory = RadioFactory(clock, station, {"/stream": mount}, accept_sources=True)
        factory.authenticators["/stream"] = fake
        clock.pump([0.1] * 20)
        return clock, factory, mount

    def test_admitted(self) -> None:
        """
        A listener waits, with nothing sent, until the URL answers; let
        in, it streams; when it leaves, the URL is told how long it
        stayed.
        """
        fake = FakeUrlAuthenticator(hold=True)
        clock, factory, mount = self.build(fake)
        conn = Connection(factory)
        reply = conn.send(b"GET /stream HTTP/1.0\r\nUser-Agent: mpv\r\n\r\n")
        self.assertEqual(reply.status_line, "")
        [asked] = fake.listeners_added
        self.assertEqual(
            (asked.mount, asked.ip, asked.agent, asked.listeners),
            ("/stream", "192.0.2.7", "mpv", 0),
        )
        fake.answer()
        clock.pump([0.1] * 5)
        reply = conn.capture()
        self.assertEqual(reply.status_line, "HTTP/1.0 200 OK")
        self.assertTrue(reply.audio)
        self.assertEqual(len(mount.listeners), 1)
        clock.advance(30)
        conn.lose()
        [(told, duration)] = fake.listeners_removed
        self.assertEqual((told.client, told.listeners), (asked.client, 0))
        self.assertAlmostEqual(duration, 30.5, delta=0.6)

    def test_refused(self) -> None:
        """
        A refused listener gets C{401}, the URL's message, and the header
        asking for credentials; no audio; and is not told about as gone.
        """
        fake = FakeUrlAuthenticator(result=REFUSED)
        clock, factory, mount = self.build(fake)
        conn = Connection(factory)
        with capturedLogs() as events:
            conn.send(b"GET /stream HTTP/1.0\r\n\r\n")
        reply = conn.reply()
        self.assertEqual(reply.status, 401)
        self.assertIn(b"Members only: log in at example.org", reply.body)
        self.assertEqual(reply.headers["www-authenticate"], 'Basic realm="radiod"')
        self.assertEqual(mount.listeners, set())
        self.assertTrue(conn.closed)
        conn.lose()
        self.assertEqual(fake.listeners_removed, [])
        lines = [formatEvent(e) for e in events]
        self.assertTrue(
            [line for line in lines if "192.0.2.7" in line and "401 Members only" in line], lines
        )

    def test_left_while_asking(self) -> None:
        """
        A listener that leaves while the URL is asked is forgotten: the
        question is cancelled, and nothing is sent or told.
        """
        fake = FakeUrlAuthenticator(hold=True)
        clock, factory, mount = self.build(fake)
        conn = Connection(factory)
        conn.send(b"GET /stream HTTP/1.0\r\n\r\n")
        conn.lose()
        self.assertEqual(fake.pending, [])
        self.assertEqual(conn.received(), b"")
        self.assertEqual(fake.listeners_removed, [])
        self.assertEqual(mount.listeners, set())

    def test_time_limit(self) -> None:
        """
        A listener let in for a time is disconnected when it runs out.
        """
        fake = FakeUrlAuthenticator(result=AuthResult(True, "", 60.0, "allowed"))
        clock, factory, mount = self.build(fake)
        conn = Connection(factory)
        conn.send(b"GET /stream HTTP/1.0\r\n\r\n")
        clock.pump([1.0] * 59)
        self.assertFalse(conn.closed)
        with capturedLogs() as events:
            clock.pump([1.0] * 2)
        self.assertTrue(conn.closed)
        self.assertIn(
            "Listener 192.0.2.7:40000 on /stream reached its time limit (60 s); disconnecting",
            [formatEvent(e) for e in events],
        )

    def test_other_mounts_not_asked(self) -> None:
        """
        A mount without an authenticator streams without asking.
        """
        fake = FakeUrlAuthenticator(result=REFUSED)
        clock, factory, mount = self.build(fake)
        del factory.authenticators["/stream"]
        reply = Connection(factory).send(b"GET /stream HTTP/1.0\r\n\r\n")
        self.assertEqual(reply.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(fake.listeners_added, [])

    def test_source_asked(self) -> None:
        """
        A source is asked about instead of its password being checked:
        let in with any password; refused with C{401} even with the
        right one.
        """
        fake = FakeUrlAuthenticator(hold=True)
        clock, factory, mount = self.build(fake)
        conn = Connection(factory)
        head = source_request(credentials=auth("dj", "not-the-password"))
        conn.send(head + b"\xff\xfb\x90\x00")
        self.assertEqual(fake.sources, [("/stream", "192.0.2.7", "dj", "not-the-password")])
        self.assertEqual(conn.received(), b"")
        fake.answer()
        self.assertEqual(conn.reply().status, 200)
        assert factory.sources is not None
        self.assertIn("/stream", factory.sources.connected)
        refusing = FakeUrlAuthenticator(source_result=AuthResult(False, "", None, "refused"))
        factory.authenticators["/stream"] = refusing
        other = Connection(factory, port=40001)
        other.send(source_request(mount="/stream", credentials=auth("source", "hackme")))
        self.assertEqual(other.reply().status, 401)
