# -*- test-case-name: tests.audience.test_session -*-
"""
Listener sessions, and the form in which a listener's address is kept.

A L{ListenerSession} is one listener's whole listening on one mount: an ICY
connection from its request to its end, or an HLS player from its first
playlist fetch to its last.  Sessions are what the audience figures are
made from, so they are stored as they are, one row each (see
L{radiod.audience.store}).

An address names a person closely enough that it is not kept as it is
unless the station asks for that: L{AddressHasher} stores, in its place, a
keyed hash (HMAC-SHA256) under a secret key of the day (the UTC day).  The
same address gives the same hash all day, so the day's unique listeners
can be counted; the next day brings a new key, and the old one is
destroyed, so nobody, not even whoever holds the station's files, can
link a listener's sessions across days, or test a guessed address against
a stored hash of an earlier day.

Everything here is pure: the key is handed in and out as bytes, and the
file that keeps it is read and written by the caller, away from the
reactor (see L{radiod.audience.store.keep_day_key}).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "HASHED",
    "HASH_LENGTH",
    "HLS",
    "ICY",
    "KEY_BYTES",
    "KINDS",
    "MODES",
    "PLAIN",
    "AddressHasher",
    "DayKey",
    "Kind",
    "ListenerSession",
    "decode_day_key",
    "encode_day_key",
    "hash_address",
    "new_day_key",
    "normal_address",
    "utc_day",
]

Kind = Literal["icy", "hls"]
"""
How a session listened: a continuous ICY/HTTP stream, or HLS segments.
"""

ICY: Final = "icy"
"""
The kind of a session that listened to a continuous ICY/HTTP stream.
"""

HLS: Final = "hls"
"""
The kind of a session that fetched HLS playlists and segments.
"""

KINDS: Final = frozenset({ICY, HLS})
"""
Every kind of session.
"""

HASHED: Final = "hashed"
"""
The address mode that stores a keyed hash of each address.
"""

PLAIN: Final = "plain"
"""
The address mode that stores each address as it is.
"""

MODES: Final = frozenset({HASHED, PLAIN})
"""
Every address mode.
"""

KEY_BYTES: Final = 32
"""
The length of a day's secret key: as long as the SHA-256 block it keys
needs to be to give its full strength.
"""

HASH_LENGTH: Final = 32
"""
Hexadecimal digits kept of a hash: 128 bits.  The length does nothing for
privacy (the secret key does that: without it, no length can be tested
against a guessed address; with it, any length can), so it is chosen for
counting: two different addresses of the same day share a hash with a
probability of about M{n^2 / 2^129} for M{n} addresses, which stays below
one in 10^20 even for a billion listeners a day, while the stored hash is
half the digest's length.
"""

_DAY = re.compile(rb"\A\d{4}-\d{2}-\d{2}\Z")
_HEX = re.compile(rb"\A[0-9a-f]+\Z")


@dataclass(frozen=True)
class ListenerSession:
    """
    One listener's listening on one mount, from its start to its end.

    @ivar mount: the mount listened to, such as C{"/stream"}.
    @ivar kind: L{ICY} or L{HLS}.
    @ivar start: when it started, in seconds since the epoch.
    @ivar end: when it ended, in seconds since the epoch.
    @ivar bytes: the audio bytes it was sent (for HLS, the bytes its time
        listening amounts to at the bitrate it fetched).
    @ivar user_agent: its C{User-Agent}, or C{""}.
    @ivar referrer: its C{Referer}, or C{""}.
    @ivar client: its address in stored form (see L{AddressHasher}): a
        keyed hash, the address itself, or C{""} if unknown.
    @ivar country: the ISO 3166 code of the country the address belongs
        to, such as C{"FR"}, or C{""} if unknown.
    """

    mount: str
    kind: Kind
    start: float
    end: float
    bytes: int
    user_agent: str = ""
    referrer: str = ""
    client: str = ""
    country: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a session's kind is icy or hls, not {self.kind!r}")

    @property
    def duration(self) -> float:
        """
        Seconds from its start to its end (never negative, even when the
        system clock stepped back meanwhile).
        """
        return max(0.0, self.end - self.start)

    def overlaps(self, start: float, end: float) -> bool:
        """
        Whether the session was going on at some time in C{[start, end)}.

        A session is taken as the times from its start up to, not
        including, its end, so one that ends as the period starts is not
        in it, and adjacent periods never share a session; a session that
        lasted no time is in the period that holds its start.

        @param start: the period's first second, since the epoch.
        @param end: the end of the period, not in it.
        """
        return self.start < end and (self.end > start or self.start == start)


def utc_day(when: float) -> str:
    """
    The UTC day a time falls on.

    @param when: seconds since the epoch.
    @return: such as C{"2026-12-07"}.
    """
    return time.strftime("%Y-%m-%d", time.gmtime(when))


@dataclass(frozen=True)
class DayKey:
    """
    The secret key that hashes addresses on one UTC day.

    @ivar day: the day, as L{utc_day} writes it.
    @ivar secret: L{KEY_BYTES} random bytes.
    """

    day: str
    secret: bytes

    def __repr__(self) -> str:
        # The secret stays out of logs and tracebacks.
        return f"DayKey(day={self.day!r})"


def new_day_key(day: str) -> DayKey:
    """
    A new random key for C{day}.

    @param day: as L{utc_day} writes it.
    """
    return DayKey(day, secrets.token_bytes(KEY_BYTES))


def encode_day_key(key: DayKey) -> bytes:
    """
    A key as its file holds it: C{b"2026-12-07 <64 hex digits>\\n"}.
    """
    return key.day.encode("ascii") + b" " + key.secret.hex().encode("ascii") + b"\n"


def decode_day_key(data: bytes) -> DayKey:
    """
    The key a file holds (see L{encode_day_key}).

    @raise ValueError: if C{data} is not one key for one day.
    """
    parts = data.split()
    if (
        len(parts) != 2
        or not _DAY.match(parts[0])
        or len(parts[1]) != 2 * KEY_BYTES
        or not _HEX.match(parts[1])
    ):
        raise ValueError("not a day's address key")
    return DayKey(parts[0].decode("ascii"), bytes.fromhex(parts[1].decode("ascii")))


def normal_address(address: str) -> str:
    """
    An address in one spelling, so that one client always gives one
    stored form: an IPv6 address compressed and in lower case, an IPv4
    address mapped into IPv6 (C{::ffff:192.0.2.7}) as the IPv4 address,
    brackets around IPv6 removed.  Anything that is not an IP address
    (a Unix socket's path, C{""}) is returned as it is.
    """
    text = address.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def hash_address(secret: bytes, address: str) -> str:
    """
    The keyed hash of an address: HMAC-SHA256 under C{secret} of the
    address (in its L{normal_address} spelling, UTF-8), as its first
    L{HASH_LENGTH} hexadecimal digits.
    """
    data = normal_address(address).encode("utf-8", "surrogateescape")
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:HASH_LENGTH]


class AddressHasher:
    """
    Turns client addresses into the form sessions store them in.

    In L{HASHED} mode, an address becomes its L{hash_address} under the
    key of the UTC day the session falls on.  The key is the one the
    caller gave with L{use} (the one kept in the station's state folder,
    so that the hashes of a day are the same across restarts and worker
    processes); when there is none for the day yet, one is made at once,
    so hashing never waits, and left in L{unsaved} for the caller to keep
    (and to give back with L{use}, or to replace with the one another
    process kept first).

    In L{PLAIN} mode, the address is stored as it is (in its
    L{normal_address} spelling), and there is no key.

    An empty address stays empty in both modes.

    @ivar mode: L{HASHED} or L{PLAIN}.
    @ivar key: the key in use, or C{None} before the first.
    @ivar unsaved: the key in use when it was made here and not yet
        given back with L{use}; C{None} otherwise.
    """

    def __init__(self, mode: str = HASHED) -> None:
        """
        @param mode: L{HASHED} or L{PLAIN}.
        @raise ValueError: for another mode.
        """
        if mode not in MODES:
            raise ValueError(f"addresses are stored hashed or plain, not {mode!r}")
        self.mode = mode
        self.key: DayKey | None = None
        self.unsaved: DayKey | None = None

    @property
    def hashed(self) -> bool:
        """
        Whether addresses are hashed (and so a key must be kept).
        """
        return self.mode == HASHED

    def key_for(self, when: float) -> DayKey:
        """
        The key of the day C{when} falls on, made now (and left in
        L{unsaved}) when the key in use is of an earlier day.  Keys only
        move forward: for a time on a day before the key in use, that key
        is returned (the earlier day's key is gone).

        @param when: seconds since the epoch.
        """
        day = utc_day(when)
        if self.key is None or self.key.day < day:
            self.key = self.unsaved = new_day_key(day)
        return self.key

    def use(self, key: DayKey) -> None:
        """
        Hash with C{key} from now on: the key kept for its day.  A key of
        a day earlier than the one in use is ignored (the day changed
        while it was being kept).
        """
        if self.key is not None and key.day < self.key.day:
            return
        self.key = key
        if self.unsaved is not None and self.unsaved.day <= key.day:
            self.unsaved = None

    def client(self, address: str, when: float) -> str:
        """
        The stored form of a client's address.

        @param address: the address, without a port.
        @param when: the time now, in seconds since the epoch: its UTC
            day picks the key (see L{key_for}).
        @return: C{""} for C{""}; else L{HASH_LENGTH} hexadecimal digits
            in L{HASHED} mode, the address in L{PLAIN} mode.
        """
        if not address:
            return ""
        if not self.hashed:
            return normal_address(address)
        return hash_address(self.key_for(when).secret, address)
