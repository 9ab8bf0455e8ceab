"""
Tests for L{radiod.broadcast.sender}: straight-to-socket writes when nothing is
queued, Twisted's buffered write otherwise.
"""

from __future__ import annotations

import socket

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.trial.unittest import SynchronousTestCase

from radiod.broadcast.sender import direct_socket, send


class FakeTCPTransport:
    """
    The parts of a Twisted TCP transport the fast path looks at, over a
    real socket.
    """

    def __init__(self, handle: socket.socket) -> None:
        self.socket = handle
        self.dataBuffer = b""
        self.offset = 0
        self._tempDataLen = 0
        self.connected = True
        self.disconnecting = False
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))
        self._tempDataLen += len(data)


class SendTests(SynchronousTestCase):
    """
    L{send} picks the cheapest correct way to write.
    """

    def pair(self) -> tuple[FakeTCPTransport, socket.socket]:
        """
        A fake transport over one end of a socket pair, and the other end.
        """
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        theirs.setblocking(False)
        self.addCleanup(ours.close)
        self.addCleanup(theirs.close)
        return FakeTCPTransport(ours), theirs

    def test_direct_when_empty(self) -> None:
        """
        With nothing queued, the bytes go straight to the socket and the
        transport's buffer is not touched.
        """
        transport, peer = self.pair()
        handle = direct_socket(transport)
        self.assertIs(handle, transport.socket)
        send(transport, handle, b"hello")
        self.assertEqual(peer.recv(100), b"hello")
        self.assertEqual(transport.written, [])

    def test_queued_goes_behind(self) -> None:
        """
        With data already queued in the transport, new bytes are queued
        behind it, never sent ahead of it.
        """
        transport, peer = self.pair()
        transport._tempDataLen = 10
        send(transport, transport.socket, b"later")
        self.assertEqual(transport.written, [b"later"])
        self.assertRaises(BlockingIOError, peer.recv, 100)
        transport._tempDataLen = 0
        transport.dataBuffer = b"0123456789"
        transport.offset = 4
        send(transport, transport.socket, b"later")
        self.assertEqual(transport.written, [b"later", b"later"])

    def test_partial_send_queues_rest(self) -> None:
        """
        When the kernel takes only part, the rest is handed to the
        transport's buffered write, in order.
        """
        transport, peer = self.pair()
        transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        data = bytes(range(256)) * 4096
        send(transport, transport.socket, data)
        self.assertEqual(len(transport.written), 1)
        received = b""
        while True:
            try:
                chunk = peer.recv(1 << 20)
            except BlockingIOError:
                break
            received += chunk
        self.assertTrue(0 < len(received) < len(data))
        self.assertEqual(received + transport.written[0], data)

    def test_not_for_other_transports(self) -> None:
        """
        Transports that are not plain TCP (test and TLS transports) always
        use write.
        """
        transport = StringTransport()
        self.assertIsNone(direct_socket(transport))
        send(transport, None, b"data")
        self.assertEqual(transport.value(), b"data")

    def test_disconnecting_uses_write(self) -> None:
        """
        A transport that is closing gets the bytes through write, which
        decides what to do with them.
        """
        transport, peer = self.pair()
        transport.disconnecting = True
        send(transport, transport.socket, b"x")
        self.assertEqual(transport.written, [b"x"])


class WrapperTests(SynchronousTestCase):
    """
    A transport that wraps another (TLS) never gets the fast path.
    """

    def test_tls_wrapper(self) -> None:
        """
        Even though a wrapper answers C{socket} and the buffer attributes
        of the TCP transport under it, writing to that socket would skip
        its encryption: L{direct_socket} refuses it.
        """
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        inner = FakeTCPTransport(a)
        self.assertIs(direct_socket(inner), a)
        wrapper = ProtocolWrapper(WrappingFactory(Factory()), Protocol())
        wrapper.makeConnection(inner)
        self.assertIs(wrapper.socket, a)
        self.assertIsNone(direct_socket(wrapper))
