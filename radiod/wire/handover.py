# -*- test-case-name: tests.wire.test_handover -*-
"""
Requests a worker process hands over to the main process: which ones go
there, and the transport the main process answers one on.
"""

from __future__ import annotations

from collections.abc import Iterable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IConsumer, IPushProducer, ITransport
from zope.interface import implementer

from radiod.ingest.metadata import ADMIN_CGI

__all__ = ["ReplyTransport", "handed_over"]


def handed_over(path: str) -> bool:
    """
    Whether a worker hands a request for C{path} to the main process:
    every admin request, every song request (the queue is the
    programme's) and every cover (the pictures are the programme's
    library's), so that every connection gets the same answer from the
    process that owns the programme.
    """
    return (
        path.startswith("/admin/")
        or path == ADMIN_CGI
        or path.startswith("/api/v1/admin/")
        or path.startswith("/api/v1/requests/")
        or path.startswith("/art/")
    )


@implementer(ITransport, IPushProducer, IConsumer)
class ReplyTransport:
    """
    The transport of a request answered for a worker: collects the reply
    until the protocol closes it.

    @ivar done: fires with the reply once the protocol closes.
    """

    disconnecting = False

    def __init__(self, peer: IAddress) -> None:
        self._peer = peer
        self._data = bytearray()
        self.done: Deferred[bytes] = Deferred()

    def write(self, data: bytes) -> None:
        self._data += data

    def writeSequence(self, data: Iterable[bytes]) -> None:
        for piece in data:
            self._data += piece

    def loseConnection(self) -> None:
        if not self.disconnecting:
            self.disconnecting = True
            self.done.callback(bytes(self._data))

    def abortConnection(self) -> None:
        self.loseConnection()

    def getPeer(self) -> IAddress:
        return self._peer

    def getHost(self) -> IAddress:
        return self._peer

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        self.loseConnection()

    def registerProducer(self, producer: object, streaming: bool) -> None:
        pass

    def unregisterProducer(self) -> None:
        pass
