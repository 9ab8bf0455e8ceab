# -*- test-case-name: tests.wire.test_limits -*-
"""
Limits that keep one client from crowding out the others: how many
connections one address may hold at once, how fast it may guess
passwords, and the TCP keepalive settings that find connections whose
peer vanished without closing them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

__all__ = [
    "KEEPALIVE_COUNT",
    "KEEPALIVE_IDLE",
    "KEEPALIVE_INTERVAL",
    "AddressLimit",
    "Keepalive",
    "Limits",
    "LoginThrottle",
    "StationLimits",
    "enable_keepalive",
    "socket_of",
]

KEEPALIVE_IDLE = 60
"""
Seconds a connection may be idle before the kernel starts probing it.
"""

KEEPALIVE_INTERVAL = 10
"""
Seconds between two probes.
"""

KEEPALIVE_COUNT = 6
"""
Probes unanswered before the kernel drops the connection: a peer that
vanished without closing is found within about two minutes, whether the
connection was idle (keepalive) or had data in flight (the same two minutes
as C{TCP_USER_TIMEOUT}, see L{Keepalive.user_timeout}).
"""


@dataclass(frozen=True)
class Keepalive:
    """
    TCP keepalive timings: how soon a connection whose peer vanished
    without closing it is found.

    @ivar idle: seconds without traffic before the first probe.
    @ivar interval: seconds between probes.
    @ivar count: unanswered probes before the kernel drops the connection.
    """

    idle: int = KEEPALIVE_IDLE
    interval: int = KEEPALIVE_INTERVAL
    count: int = KEEPALIVE_COUNT

    @property
    def user_timeout(self) -> int:
        """
        Milliseconds data may stay unacknowledged before the kernel drops
        the connection (C{TCP_USER_TIMEOUT}): as long as keepalive takes
        to give up on an idle peer, so that a peer that vanishes while
        something is in flight (an event stream's comment, the last bytes
        to a listener) is found as soon as an idle one, not after the
        kernel's fifteen minutes of retransmissions.
        """
        return (self.idle + self.interval * self.count) * 1000


class AddressLimit:
    """
    Counts the open connections of each client address, up to a limit.

    @ivar limit: connections one address may hold at once; 0 for no limit.
    @ivar refused: connections refused for going over it.
    """

    _log = Logger()

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused = 0
        self._open: dict[str, int] = {}

    def admit(self, address: str) -> bool:
        """
        Count a new connection from C{address}.

        @return: whether it is within the limit.  Either way the caller
            calls L{release} once the connection is gone.
        """
        count = self._open.get(address, 0) + 1
        self._open[address] = count
        if self.limit and count > self.limit:
            self.refused += 1
            return False
        return True

    def release(self, address: str) -> None:
        """
        Forget a connection from C{address} counted by L{admit}.
        """
        count = self._open.get(address, 0) - 1
        if count > 0:
            self._open[address] = count
        else:
            self._open.pop(address, None)

    def open(self, address: str) -> int:
        """
        The connections C{address} holds now.
        """
        return self._open.get(address, 0)


def socket_of(transport: object) -> socket.socket | None:
    """
    The TCP socket a transport writes to, or C{None} when it has none.

    A plain TCP transport's handle is its socket.  A TLS transport's handle
    is the C{OpenSSL.SSL.Connection}, and its socket is the one under the
    TCP transport it wraps, so wrappers are followed down to it.
    """
    for _ in range(8):
        if transport is None:
            return None
        get_handle = getattr(transport, "getHandle", None)
        handle = get_handle() if callable(get_handle) else None
        if isinstance(handle, socket.socket):
            return handle
        transport = getattr(transport, "transport", None)
    return None


def enable_keepalive(handle: object, timing: Keepalive = Keepalive()) -> bool:
    """
    Turn on TCP keepalive probes for a socket, with timings short enough
    to find a vanished peer in minutes rather than the kernel's default
    two hours.

    @param handle: the transport's socket (anything else is left alone).
    @param timing: when to probe, and how often.
    @return: whether the options were set.
    """
    if not isinstance(handle, socket.socket):
        return False
    try:
        handle.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            handle.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, timing.idle)
            handle.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, timing.interval)
            handle.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, timing.count)
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            handle.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, timing.user_timeout)
    except OSError:
        return False
    return True


class LoginThrottle:
    """
    Slows down password guessing: after a few failed logins from one
    address, each further failure from it is answered later and later
    (1 s, 2 s, 4 s ... up to L{most}), while everyone else, and that
    address's right passwords, are answered at once.

    Failures are forgotten L{window} seconds after the last one.

    @ivar free: failures answered at once.
    @ivar window: seconds after which an address's failures are forgotten.
    @ivar most: the longest delay, in seconds.
    @ivar throttled: failures answered late so far.
    """

    MAX_ADDRESSES = 10000

    def __init__(
        self, clock: IReactorTime, free: int = 3, window: float = 300.0, most: float = 16.0
    ) -> None:
        self._clock = clock
        self.free = free
        self.window = window
        self.most = most
        self.throttled = 0
        self._failures: dict[str, tuple[int, float]] = {}

    def failed(self, address: str) -> float:
        """
        Count a failed login from C{address}.

        @return: seconds to wait before answering it.
        """
        now = self._clock.seconds()
        count, last = self._failures.pop(address, (0, now))
        if now - last > self.window:
            count = 0
        count += 1
        if len(self._failures) >= self.MAX_ADDRESSES:
            oldest = min(self._failures, key=lambda key: self._failures[key][1])
            del self._failures[oldest]
        self._failures[address] = (count, now)
        if count <= self.free:
            return 0.0
        self.throttled += 1
        return float(min(self.most, 2 ** (count - self.free - 1)))

    def failures(self, address: str) -> int:
        """
        The failures counted for C{address} and not yet forgotten.
        """
        count, last = self._failures.get(address, (0, 0.0))
        return count if self._clock.seconds() - last <= self.window else 0


class Limits(Protocol):
    """
    The station-wide limits on client addresses, as a connection sees
    them: how many connections an address holds, and how often it failed
    to log in.  In one process they are counted here (L{StationLimits});
    a worker process asks the main process, which counts for the whole
    station, so the answers come as L{Deferred}s.
    """

    def admit(self, address: str) -> Deferred[bool]:
        """
        Count a new connection from C{address}; fires with whether it is
        within the limit.  Either way the caller calls L{release} once the
        connection is gone.
        """

    def release(self, address: str) -> None:
        """
        Forget a connection counted by L{admit}.
        """

    def failed(self, address: str) -> Deferred[float]:
        """
        Count a failed login from C{address}; fires with the seconds to
        wait before answering it.
        """


class StationLimits:
    """
    L{Limits} counted in this process: an L{AddressLimit} and a
    L{LoginThrottle}, answering at once.  The one place that logs an
    address going over its limit (once per burst).
    """

    _log = Logger()

    def __init__(
        self, per_address: AddressLimit, throttle: LoginThrottle, limit: Callable[[], int]
    ) -> None:
        """
        @param per_address: the connections of each address.
        @param throttle: the failed logins of each address.
        @param limit: the current per-address limit (it may change on
            reload).
        """
        self.per_address = per_address
        self.throttle = throttle
        self._limit = limit

    def admit(self, address: str) -> Deferred[bool]:
        limits = self.per_address
        limits.limit = self._limit()
        admitted = limits.admit(address)
        if not admitted and limits.open(address) == limits.limit + 1:
            self._log.warn(
                "Too many connections from {client} ({limit} allowed); refusing more",
                client=address,
                limit=limits.limit,
            )
        return succeed(admitted)

    def release(self, address: str) -> None:
        self.per_address.release(address)

    def failed(self, address: str) -> Deferred[float]:
        return succeed(self.throttle.failed(address))
