"""
Tests for L{radiod.wire.handover}.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import ITransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.wire.handover import ReplyTransport, handed_over


class HandedOverTests(SynchronousTestCase):
    """
    L{handed_over} picks the admin requests, song requests and covers,
    and nothing else.
    """

    def test_admin_paths(self) -> None:
        for path in (
            "/admin/stats",
            "/admin.cgi",
            "/api/v1/admin/skip",
            "/api/v1/requests/s",
            "/art/x",
        ):
            self.assertTrue(handed_over(path), path)

    def test_other_paths(self) -> None:
        for path in ("/stream", "/status-json.xsl", "/admin", "/api/v1/status", "/adminx/"):
            self.assertFalse(handed_over(path), path)


class ReplyTransportTests(SynchronousTestCase):
    """
    L{ReplyTransport} collects what is written until it is closed.
    """

    def test_collects_until_closed(self) -> None:
        peer = IPv4Address("TCP", "192.0.2.7", 0)
        transport = ReplyTransport(peer)
        verifyObject(ITransport, transport)
        replies: list[bytes] = []
        transport.done.addCallback(replies.append)
        transport.write(b"HTTP/1.0 200 OK\r\n")
        transport.writeSequence([b"\r\n", b"body"])
        self.assertEqual(replies, [])
        transport.loseConnection()
        transport.loseConnection()
        self.assertEqual(replies, [b"HTTP/1.0 200 OK\r\n\r\nbody"])
        self.assertIs(transport.getPeer(), peer)
