# -*- test-case-name: tests.station.test_listen -*-
"""
The station's listening ports: the endpoint descriptions radiod listens
with, the port shared with worker processes (C{SO_REUSEPORT}), and the
service that listens and says, in one line naming the port, when it
cannot.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IStreamServerEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from radiod.config import StationConfig

__all__ = [
    "LISTEN_BACKLOG",
    "CannotListen",
    "ListenService",
    "ReusePortEndpoint",
    "endpoint_description",
    "listen_reuse_port",
]


LISTEN_BACKLOG = 4096


def endpoint_description(config: StationConfig, port: int | None = None) -> str:
    """
    The server endpoint string for the listener port, or for C{port} on
    the same interface.
    """
    interface = config.interface
    description = f"tcp:{config.port if port is None else port}:backlog={LISTEN_BACKLOG}"
    if interface:
        escaped = interface.replace(":", "\\:")
        description += f":interface={escaped}"
    return description


@implementer(IStreamServerEndpoint)
class ReusePortEndpoint:
    """
    A server endpoint on the station's port with C{SO_REUSEPORT}, shared
    with the worker processes.
    """

    def __init__(self, reactor: Any, config: StationConfig) -> None:
        self._reactor = reactor
        self._config = config

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        return maybeDeferred(listen_reuse_port, self._reactor, self._config, protocolFactory)


class CannotListen(Exception):
    """
    A port the station was told to open could not be opened.
    """


class ListenService(Service):
    """
    Listens on an endpoint while running, and tells when it is listening.

    @ivar what: what the port is for, with its number, as the log names it
        (for example C{"port 8000"} or C{"SHOUTcast source port 8001"}).
    @ivar listening: fires with the L{IListeningPort} once bound, or fails
        with L{CannotListen} when binding fails.
    """

    _log = Logger()

    def __init__(self, endpoint: IStreamServerEndpoint, factory: Factory, what: str = "") -> None:
        self._endpoint = endpoint
        self._factory = factory
        self.what = what or "port"
        self.port: IListeningPort | None = None
        self.listening: Deferred[IListeningPort] = Deferred()

    def startService(self) -> None:
        super().startService()
        bound = self._endpoint.listen(self._factory)

        def ready(port: IListeningPort) -> IListeningPort:
            self.port = port
            return port

        bound.addCallbacks(ready, self._failed).chainDeferred(self.listening)

    def _failed(self, failure: Failure) -> Failure:
        reason = failure.value
        text = getattr(reason, "socketError", None) or reason
        strerror = getattr(text, "strerror", None)
        message = f"cannot listen on {self.what}: {strerror or text}"
        self._log.critical(
            "Cannot listen on {what}: {reason}", what=self.what, reason=strerror or str(text)
        )
        return Failure(CannotListen(message))

    def stopService(self) -> Deferred[None]:
        super().stopService()
        port, self.port = self.port, None
        if port is None:
            return succeed(None)
        return maybeDeferred(lambda: port.stopListening()).addCallback(lambda _: None)


def listen_reuse_port(
    reactor: Any, config: StationConfig, factory: IProtocolFactory
) -> IListeningPort:
    """
    Listen on the station's port with C{SO_REUSEPORT}, so that several
    processes can each accept connections on it.
    """
    host = config.interface or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, config.port))
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
        port: IListeningPort = reactor.adoptStreamPort(sock.fileno(), family, factory)
    finally:
        sock.close()
    return port
