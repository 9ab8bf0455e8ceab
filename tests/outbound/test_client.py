"""
Tests for L{radiod.outbound.client}: request building, reply handling,
the source connection, and opening one the server accepts.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, ensureDeferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.outbound.client import (
    PushError,
    PushOptions,
    Refused,
    SourceClient,
    SourceProtocol,
    Unreachable,
    metadata_target,
    parse_status,
    parse_target,
    source_request,
)
from radiod.testing import read_frames
from tests.support.loopback import FIXTURES

ALPHA = os.path.join(FIXTURES, "alpha-artist-first-song.mp3")


def options(**changes: Any) -> PushOptions:
    """
    Push options for C{http://radio.example:8001/live} with C{changes}.
    """
    settings: dict[str, Any] = {
        "url": "http://radio.example:8001/live",
        "location": ALPHA,
        "password": "hackme",
    }
    settings.update(changes)
    return PushOptions(**settings)


class RequestTests(SynchronousTestCase):
    """
    Building the source request and the title update.
    """

    def test_parse_target(self) -> None:
        """
        A URL splits into host, port and mount; the port defaults to 8000.
        """
        self.assertEqual(parse_target("http://h:8001/live"), ("h", 8001, "/live"))
        self.assertEqual(parse_target("http://h/a/b.mp3"), ("h", 8000, "/a/b.mp3"))

    def test_parse_target_refuses(self) -> None:
        """
        A URL without a mount or not in C{http} is refused with a clear
        message.
        """
        self.assertRaises(PushError, parse_target, "http://h:8000/")
        self.assertRaises(PushError, parse_target, "icecast://h:8000/live")
        self.assertRaises(PushError, parse_target, "http://h:x/live")

    def test_put_request(self) -> None:
        """
        The C{PUT} request is HTTP/1.1 with Host, Basic credentials, the
        MPEG content type and the stream's C{ice-*} headers, and no
        C{Expect}.
        """
        request = source_request("PUT", options(name="My Radio", genre="Jazz", public=True))
        self.assertEqual(
            request,
            b"PUT /live HTTP/1.1\r\n"
            b"Host: radio.example:8001\r\n"
            b"Authorization: Basic c291cmNlOmhhY2ttZQ==\r\n"
            b"User-Agent: radiod-push\r\n"
            b"Content-Type: audio/mpeg\r\n"
            b"ice-name: My Radio\r\n"
            b"ice-genre: Jazz\r\n"
            b"ice-public: 1\r\n\r\n",
        )

    def test_source_request(self) -> None:
        """
        The legacy request is C{SOURCE} in HTTP/1.0; header values are put
        on one line and sent as UTF-8.
        """
        request = source_request("SOURCE", options(description="Caf\xe9\r\nX: y", user="dj"))
        self.assertTrue(request.startswith(b"SOURCE /live HTTP/1.0\r\n"))
        self.assertIn(b"ice-description: Caf\xc3\xa9 X: y\r\n", request)
        self.assertIn(b"ice-public: 0\r\n", request)
        self.assertNotIn(b"Expect", request)
        self.assertIn(b"Authorization: Basic ZGo6aGFja21l\r\n", request)

    def test_metadata_target(self) -> None:
        """
        The title update escapes the mount and the UTF-8 title and says
        its charset.
        """
        self.assertEqual(
            metadata_target(options(), "Ann \xe9 - T&S"),
            "http://radio.example:8001/admin/metadata?mount=%2Flive&mode=updinfo"
            "&song=Ann%20%C3%A9%20-%20T%26S&charset=UTF-8",
        )

    def test_parse_status(self) -> None:
        """
        HTTP and ICY status lines give their code and reason; anything
        else is refused.
        """
        self.assertEqual(parse_status(b"HTTP/1.0 200 OK\r\n\r\n"), (200, "OK"))
        self.assertEqual(parse_status(b"ICY 401 Unauthorized\r\n"), (401, "Unauthorized"))
        self.assertEqual(parse_status(b"HTTP/1.1 403\r\n"), (403, ""))
        self.assertRaises(PushError, parse_status, b"invalid password\r\n")
        self.assertRaises(PushError, parse_status, b"HTTP/1.0 OK\r\n")


class SourceProtocolTests(SynchronousTestCase):
    """
    One source connection over a L{StringTransport}.
    """

    def test_reply_in_pieces(self) -> None:
        """
        The request is sent on connection; a status line arriving in
        pieces is read once whole.
        """
        protocol = SourceProtocol(b"PUT /m HTTP/1.1\r\n\r\n")
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.assertEqual(transport.value(), b"PUT /m HTTP/1.1\r\n\r\n")
        protocol.dataReceived(b"HTTP/1.0 401 Auth")
        self.assertNoResult(protocol.answered)
        protocol.dataReceived(b"entication Required\r\n")
        self.assertEqual(self.successResultOf(protocol.answered), (401, "Authentication Required"))

    def test_not_http(self) -> None:
        """
        A reply that is not HTTP fails the answer and closes the
        connection.
        """
        protocol = SourceProtocol(b"")
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"invalid password\r\n")
        self.failureResultOf(protocol.answered, PushError)
        self.assertTrue(transport.disconnecting)

    def test_closed_without_answer(self) -> None:
        """
        A connection closed before any reply fails the answer.
        """
        protocol = SourceProtocol(b"")
        protocol.makeConnection(StringTransport())
        protocol.connectionLost(Failure(ConnectionError()))
        self.failureResultOf(protocol.answered, PushError)
        self.successResultOf(protocol.closed)

    def test_backlog_cap(self) -> None:
        """
        Audio written while the server does not read is counted; past the
        cap the connection is aborted, and resuming resets the count.
        """
        with open(ALPHA, "rb") as f:
            frames = read_frames(f.read())
        protocol = SourceProtocol(b"", max_backlog=1.0)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.start_streaming()
        self.assertIs(transport.producer, protocol)
        protocol.pauseProducing()
        protocol.send(frames[:30])
        protocol.resumeProducing()
        self.assertEqual(protocol.backlog, 0.0)
        protocol.pauseProducing()
        protocol.send(frames[:30])
        self.assertFalse(transport.disconnecting)
        protocol.send(frames[30:60])
        self.assertTrue(transport.disconnecting)
        self.assertIn(frames[59].data, transport.value())


class SourceClientTests(SynchronousTestCase):
    """
    L{SourceClient} opening source connections over string transports.
    """

    def setUp(self) -> None:
        self.protocols: list[SourceProtocol] = []
        self.transports: list[StringTransport] = []
        self.announced: list[str] = []
        self.refuse = False

    def connect(self, protocol: Protocol) -> Deferred[Any]:
        if self.refuse:
            return fail(ConnectionRefusedError("no route"))
        assert isinstance(protocol, SourceProtocol)
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.protocols.append(protocol)
        self.transports.append(transport)
        return succeed(protocol)

    def announce(self, title: str) -> Deferred[Any]:
        self.announced.append(title)
        if title == "Refused":
            return fail(PushError("403 Forbidden"))
        return succeed(None)

    def client(self) -> SourceClient:
        """
        A client of C{http://radio.example:8001/live} over L{connect}.
        """
        return SourceClient(
            Clock(), options(), self.connect, self.announce, fields={"mount": "/stream"}
        )

    def answer(self, reply: bytes) -> None:
        """
        The server answers the newest request with C{reply}.
        """
        self.protocols[-1].dataReceived(reply)

    def test_accepted(self) -> None:
        """
        A 2xx answer to C{PUT} gives the connection and its method.
        """
        opened = ensureDeferred(self.client().open())
        self.assertNoResult(opened)
        self.answer(b"HTTP/1.1 200 OK\r\n\r\n")
        self.assertEqual(self.successResultOf(opened), (self.protocols[0], "PUT"))
        self.assertFalse(self.transports[0].disconnecting)

    def test_source_fallback(self) -> None:
        """
        A server that does not know C{PUT} is asked again with C{SOURCE}
        on a new connection; the first is closed.
        """
        opened = ensureDeferred(self.client().open())
        self.answer(b"HTTP/1.0 405 Method Not Allowed\r\n\r\n")
        self.answer(b"HTTP/1.0 200 OK\r\n\r\n")
        self.assertEqual(self.successResultOf(opened), (self.protocols[1], "SOURCE"))
        self.assertTrue(self.transports[0].disconnecting)

    def test_unanswered_fallback(self) -> None:
        """
        A C{PUT} the server closes without answering is asked again with
        C{SOURCE}, unless told not to.
        """
        opened = ensureDeferred(self.client().open())
        self.protocols[-1].connectionLost(Failure(ConnectionError()))
        self.assertEqual(len(self.protocols), 2)
        self.protocols[-1].connectionLost(Failure(ConnectionError()))
        error = self.failureResultOf(opened, PushError).value
        self.assertIn("without answering", str(error))
        opened = ensureDeferred(self.client().open(unanswered_fallback=False))
        self.protocols[-1].connectionLost(Failure(ConnectionError()))
        self.failureResultOf(opened, PushError)
        self.assertEqual(len(self.protocols), 3)

    def test_refused(self) -> None:
        """
        Any other status fails with L{Refused}, carrying it, and the
        connection is closed.
        """
        opened = ensureDeferred(self.client().open())
        self.answer(b"HTTP/1.0 401 Unauthorized\r\n\r\n")
        error = self.failureResultOf(opened, Refused).value
        self.assertEqual((error.code, error.reason), (401, "Unauthorized"))
        self.assertTrue(self.transports[0].disconnecting)

    def test_unreachable(self) -> None:
        """
        A connection that cannot be made fails with L{Unreachable},
        giving the reason.
        """
        self.refuse = True
        opened = ensureDeferred(self.client().open())
        error = self.failureResultOf(opened, Unreachable).value
        self.assertIn("no route", str(error))

    def test_cancel(self) -> None:
        """
        Cancelling while the server has not answered closes the
        connection.
        """
        opened = ensureDeferred(self.client().open())
        opened.cancel()
        self.failureResultOf(opened, CancelledError)
        self.assertTrue(self.transports[0].disconnecting)

    def test_titles(self) -> None:
        """
        A title is announced as C{Artist - Title}; a failed update is
        logged with the URL and the client's fields.
        """
        client = self.client()
        client.send_title(TrackInfo("/a.mp3", "First Song", "Alpha Artist"))
        self.assertEqual(self.announced, ["Alpha Artist - First Song"])
        with capturedLogs() as events:
            client.send_title(TrackInfo("/b.mp3", "Refused"))
        [event] = events
        self.assertEqual(event["url"], "http://radio.example:8001/live")
        self.assertEqual(event["mount"], "/stream")
        self.assertEqual(event["reason"], "403 Forbidden")
