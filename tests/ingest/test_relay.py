"""
Tests for L{radiod.ingest.relay}: relaying an upstream stream onto a mount.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from radiod import __version__
from radiod.audio.icy import encode_metadata
from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.ingest.relay import BACKOFF_MAX, Relay, RelayProtocol
from radiod.testing import FakeFrameSource, ListenerCapture, MetadataInterleaver, silent_frame

SONG = TrackInfo(path="a.mp3", title="First Song", artist="Alpha Artist")
PLAYLIST_FRAME = silent_frame(fill=0)
UPSTREAM_FRAME = silent_frame(fill=1)
UPSTREAM_TITLE = "Upstream Artist - Upstream Song"
URL = "http://up.example:8000/live"
OK_HEAD = b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: 1000\r\n\r\n"


def upstream_body(frames: int, title: str, metaint: int = 1000) -> bytes:
    """
    C{frames} upstream frames with ICY blocks announcing C{title} every
    C{metaint} bytes, as an upstream server sends them.
    """
    audio = UPSTREAM_FRAME.data * frames
    block = encode_metadata(title)
    pieces = MetadataInterleaver(metaint).interleave(audio, lambda offset: block)
    return b"".join(bytes(piece) for piece in pieces)


class RelayTests(SynchronousTestCase):
    """
    Tests for L{Relay} and L{RelayProtocol} on a fake reactor.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 100000)])
        config = MountConfig(name="/relayed", metaint=1000, burst_size=0)
        self.mount = Mount(config, self.playlist, self.reactor)
        self.mount.start()
        self.addCleanup(self.mount.stop)
        assert self.mount.switch is not None
        self.switch = self.mount.switch
        self.relay = Relay(self.reactor, self.reactor, self.switch, URL, name="/relayed")
        self.relay.start()
        self.addCleanup(self.relay.stop)

    def connect(self) -> tuple[RelayProtocol, StringTransport]:
        """
        Complete the newest connection attempt.
        """
        host, port, factory, _, _ = self.reactor.tcpClients[-1]
        protocol = factory.buildProtocol(None)
        assert isinstance(protocol, RelayProtocol)
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport

    def test_request(self) -> None:
        """
        The relay connects to the URL's host and port and asks for the
        path with ICY metadata, naming itself.
        """
        host, port = self.reactor.tcpClients[0][:2]
        self.assertEqual((host, port), ("up.example", 8000))
        _, transport = self.connect()
        self.assertEqual(
            transport.value(),
            b"GET /live HTTP/1.0\r\nHost: up.example:8000\r\nIcy-MetaData: 1\r\n"
            + f"User-Agent: radiod/{__version__}\r\n\r\n".encode(),
        )

    def test_audio_and_title_reach_listeners(self) -> None:
        """
        After a 200 with C{icy-metaint}, the upstream's audio goes on air
        in place of the playlist, and the upstream's C{StreamTitle} is the
        title listeners get; a listener connected throughout stays.
        """
        self.reactor.pump([0.1] * 5)
        listener = StringTransport()
        self.mount.add_listener(listener, "peer", True)
        self.reactor.pump([0.1] * 10)
        protocol, transport = self.connect()
        body = upstream_body(60, UPSTREAM_TITLE)
        protocol.dataReceived(OK_HEAD + body[:500])
        protocol.dataReceived(body[500:])
        self.assertIs(self.switch.live, protocol.live)
        self.reactor.pump([0.1] * 20)
        assert self.mount.now_playing is not None
        self.assertEqual(self.mount.now_playing.stream_title, UPSTREAM_TITLE)
        capture = ListenerCapture()
        capture.feed(b"HTTP/1.0 200 OK\r\nicy-metaint:1000\r\n\r\n" + listener.value())
        titles = [title for _, title in capture.titles]
        self.assertEqual(titles, ["Alpha Artist - First Song", UPSTREAM_TITLE])
        self.assertIn(UPSTREAM_FRAME.data * 10, bytes(capture.audio))
        self.assertFalse(listener.disconnecting)
        self.assertFalse(transport.disconnecting)

    def test_icy_status_accepted(self) -> None:
        """
        A SHOUTcast C{ICY 200 OK} answer is relayed like an HTTP one.
        """
        protocol, transport = self.connect()
        head = (
            b"ICY 200 OK\r\ncontent-type:audio/mpeg\r\nicy-name:Up FM\r\nicy-metaint:1000\r\n\r\n"
        )
        protocol.dataReceived(head + upstream_body(30, UPSTREAM_TITLE))
        live = protocol.live
        assert live is not None
        self.assertIs(self.switch.live, live)
        self.assertEqual(live.track.title, UPSTREAM_TITLE)
        # The last frame waits for the next header to be known whole.
        self.assertEqual(live.frames_in, 29)
        self.assertFalse(transport.disconnecting)

    def test_title_from_icy_name_until_metadata(self) -> None:
        """
        Before the first metadata block, the relay is announced by the
        upstream's C{icy-name}.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(
            b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-name: Up FM\r\n"
            b"icy-metaint: 16000\r\n\r\n" + UPSTREAM_FRAME.data * 5
        )
        assert protocol.live is not None
        self.assertEqual(protocol.live.track.title, "Up FM")

    def refused(self, head: bytes, reason: str) -> None:
        """
        Answering C{head} closes the connection, logs C{reason}, puts
        nothing on air and retries one second later.
        """
        protocol, transport = self.connect()
        with capturedLogs() as events:
            protocol.dataReceived(head)
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(self.switch.live)
        reasons = [e.get("reason") for e in events if e.get("mount") == "/relayed"]
        self.assertEqual(reasons, [reason])
        self.assertEqual(events[0]["upstream"], URL)
        protocol.connectionLost(Failure(ConnectionError()))
        self.assertEqual(len(self.reactor.tcpClients), 1)
        self.reactor.advance(0.99)
        self.assertEqual(len(self.reactor.tcpClients), 1)
        self.reactor.advance(0.01)
        self.assertEqual(len(self.reactor.tcpClients), 2)

    def test_not_found(self) -> None:
        """
        A 404 is logged and retried with backoff.
        """
        self.refused(b"HTTP/1.0 404 Not Found\r\n\r\n", "upstream answered 404 Not Found")

    def test_not_audio(self) -> None:
        """
        A content type other than C{audio/mpeg} is logged and retried.
        """
        self.refused(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>",
            "content type is text/html, not audio/mpeg",
        )

    def test_backoff_doubles_to_cap(self) -> None:
        """
        Failed attempts are retried after 1, 2, 4 ... seconds, at most
        L{BACKOFF_MAX}.
        """
        delays = []
        for _ in range(9):
            factory = self.reactor.tcpClients[-1][2]
            factory.clientConnectionFailed(
                self.reactor.connectors[-1], Failure(ConnectionRefusedError())
            )
            pending = self.relay.pending
            assert pending is not None
            delay = pending.getTime() - self.reactor.seconds()
            delays.append(delay)
            self.reactor.advance(delay)
        self.assertEqual(delays, [1, 2, 4, 8, 16, 32, BACKOFF_MAX, BACKOFF_MAX, BACKOFF_MAX])
        self.assertEqual(len(self.reactor.tcpClients), 10)

    def test_backoff_reset_after_audio(self) -> None:
        """
        A connection that delivered audio resets the backoff: its drop is
        retried after one second; one that delivered none does not.
        """
        for _ in range(3):
            self.reactor.tcpClients[-1][2].clientConnectionFailed(
                self.reactor.connectors[-1], Failure(ConnectionRefusedError())
            )
            self.reactor.advance(60)
        protocol, _ = self.connect()
        protocol.dataReceived(OK_HEAD)
        protocol.connectionLost(Failure(ConnectionError()))
        pending = self.relay.pending
        assert pending is not None
        self.assertEqual(pending.getTime() - self.reactor.seconds(), 8)
        self.reactor.advance(8)
        protocol, _ = self.connect()
        protocol.dataReceived(OK_HEAD + upstream_body(10, UPSTREAM_TITLE))
        with capturedLogs() as events:
            protocol.connectionLost(Failure(ConnectionError()))
        pending = self.relay.pending
        assert pending is not None
        self.assertEqual(pending.getTime() - self.reactor.seconds(), 1)
        self.assertEqual([e["delay"] for e in events], [1])

    def test_drop_plays_fallback(self) -> None:
        """
        When the upstream drops, what it sent plays out, then the playlist
        resumes.
        """
        protocol, _ = self.connect()
        protocol.dataReceived(OK_HEAD + upstream_body(60, UPSTREAM_TITLE))
        self.reactor.pump([0.1] * 10)
        assert self.mount.now_playing is not None
        self.assertEqual(self.mount.now_playing.stream_title, UPSTREAM_TITLE)
        protocol.connectionLost(Failure(ConnectionError()))
        self.reactor.pump([0.1] * 30)
        self.assertIs(self.mount.now_playing, SONG)
        self.assertIsNone(self.switch.live)

    def test_read_timeout(self) -> None:
        """
        Ten seconds without a byte from the upstream, before or after the
        response head, abort the connection.
        """
        protocol, transport = self.connect()
        self.reactor.advance(9.9)
        protocol.dataReceived(OK_HEAD)
        self.reactor.advance(9.9)
        protocol.dataReceived(upstream_body(5, UPSTREAM_TITLE))
        self.reactor.advance(9.9)
        self.assertFalse(transport.disconnecting)
        self.reactor.advance(0.1)
        self.assertTrue(transport.disconnected)
        protocol.connectionLost(Failure(ConnectionError()))
        self.assertIsNotNone(self.relay.pending)

    def test_backpressure(self) -> None:
        """
        Too much queued upstream audio pauses the upstream connection.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(OK_HEAD + upstream_body(300, UPSTREAM_TITLE))
        self.assertEqual(transport.producerState, "paused")

    def test_stop(self) -> None:
        """
        Stopping closes the connection and no reconnection follows.
        """
        protocol, transport = self.connect()
        self.relay.stop()
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(Failure(ConnectionError()))
        self.assertIsNone(self.relay.pending)
        self.reactor.advance(120)
        self.assertEqual(len(self.reactor.tcpClients), 1)

    def test_stop_cancels_reconnection(self) -> None:
        """
        Stopping while waiting to reconnect cancels the attempt.
        """
        self.reactor.tcpClients[0][2].clientConnectionFailed(
            self.reactor.connectors[-1], Failure(ConnectionRefusedError())
        )
        self.relay.stop()
        self.reactor.advance(120)
        self.assertEqual(len(self.reactor.tcpClients), 1)
