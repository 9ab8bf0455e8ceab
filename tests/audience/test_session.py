"""
Tests for L{radiod.audience.session}: listener sessions, and how client
addresses are stored (hashed under a key of the day, or plain).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from radiod.audience.session import (
    HASH_LENGTH,
    HASHED,
    HLS,
    ICY,
    KEY_BYTES,
    PLAIN,
    AddressHasher,
    DayKey,
    ListenerSession,
    decode_day_key,
    encode_day_key,
    hash_address,
    new_day_key,
    normal_address,
    utc_day,
)

# 2026-12-07 12:00:00 UTC
NOON = 1796644800.0
# 2026-12-07 23:59:59.5 and 2026-12-08 00:00:00 UTC
LAST_SECOND = 1796687999.5
MIDNIGHT = 1796688000.0
HEX = re.compile(r"\A[0-9a-f]+\Z")


def session(start: float = NOON, end: float = NOON + 60, mount: str = "/stream") -> ListenerSession:
    """
    An ICY session on C{mount} from C{start} to C{end}.
    """
    return ListenerSession(mount, ICY, start, end, 1000)


class ListenerSessionTests(SynchronousTestCase):
    """
    L{ListenerSession} holds one listener's listening.
    """

    def test_fields(self) -> None:
        """
        A session keeps what it was given; the optional fields are empty
        by default; its duration is from its start to its end.
        """
        s = ListenerSession("/stream", HLS, 100.0, 165.5, 4096, "VLC/3.0", "http://e.org/", "ab")
        self.assertEqual(
            (s.mount, s.kind, s.start, s.end, s.bytes), ("/stream", "hls", 100.0, 165.5, 4096)
        )
        self.assertEqual(
            (s.user_agent, s.referrer, s.client, s.country), ("VLC/3.0", "http://e.org/", "ab", "")
        )
        self.assertEqual(s.duration, 65.5)
        self.assertEqual(ListenerSession("/s", ICY, 1.0, 2.0, 0).client, "")

    def test_negative_duration(self) -> None:
        """
        A session whose end is before its start (the system clock stepped
        back) lasted no time.
        """
        self.assertEqual(session(NOON, NOON - 5).duration, 0.0)

    def test_kind_checked(self) -> None:
        """
        A session is either ICY or HLS.
        """
        with self.assertRaises(ValueError):
            ListenerSession("/s", "dash", 1.0, 2.0, 0)  # type: ignore[arg-type]

    def test_frozen(self) -> None:
        """
        Sessions are values: they cannot be changed, and compare equal by
        their fields.
        """
        s = session()
        with self.assertRaises(AttributeError):
            s.bytes = 5  # type: ignore[misc]
        self.assertEqual(s, session())

    def test_overlaps(self) -> None:
        """
        A session is in a period when some of its time is: periods are
        half-open, and so are sessions, so a session that ends as a period
        starts, or starts as it ends, is not in it.
        """
        s = session(100.0, 200.0)
        self.assertTrue(s.overlaps(150.0, 160.0))
        self.assertTrue(s.overlaps(0.0, 101.0))
        self.assertTrue(s.overlaps(199.0, 300.0))
        self.assertTrue(s.overlaps(0.0, 1000.0))
        self.assertFalse(s.overlaps(200.0, 300.0))
        self.assertFalse(s.overlaps(0.0, 100.0))

    def test_adjacent_periods(self) -> None:
        """
        Of two adjacent periods, a session that lies in one only is in that
        one, and a session that lasted no time is in the one that holds its
        start.
        """
        for s in (session(50.0, 100.0), session(0.0, 0.0), session(99.0, 99.0)):
            self.assertEqual((s.overlaps(0.0, 100.0), s.overlaps(100.0, 200.0)), (True, False))
        instant = session(100.0, 100.0)
        self.assertEqual(
            (instant.overlaps(0.0, 100.0), instant.overlaps(100.0, 200.0)), (False, True)
        )


class DayTests(SynchronousTestCase):
    """
    L{utc_day} names the UTC day a time falls on.
    """

    def test_utc_day(self) -> None:
        """
        Days change at midnight UTC, whatever the local time zone.
        """
        self.assertEqual(utc_day(0), "1970-01-01")
        self.assertEqual(utc_day(NOON), "2026-12-07")
        self.assertEqual(utc_day(LAST_SECOND), "2026-12-07")
        self.assertEqual(utc_day(MIDNIGHT), "2026-12-08")


class DayKeyTests(SynchronousTestCase):
    """
    A day's key, and the bytes its file holds.
    """

    def test_new(self) -> None:
        """
        A new key is L{KEY_BYTES} random bytes, different each time.
        """
        first, second = new_day_key("2026-12-07"), new_day_key("2026-12-07")
        self.assertEqual(first.day, "2026-12-07")
        self.assertEqual(len(first.secret), KEY_BYTES)
        self.assertNotEqual(first.secret, second.secret)

    def test_round_trip(self) -> None:
        """
        What L{encode_day_key} writes, L{decode_day_key} reads back: the
        day, a space, the secret in hexadecimal and a line end.
        """
        key = DayKey("2026-12-07", bytes(range(32)))
        data = encode_day_key(key)
        self.assertEqual(data, b"2026-12-07 " + bytes(range(32)).hex().encode() + b"\n")
        self.assertEqual(decode_day_key(data), key)

    def test_bad(self) -> None:
        """
        Anything but one day and one whole key is refused.
        """
        good = encode_day_key(new_day_key("2026-12-07"))
        for data in (
            b"",
            b"2026-12-07",
            good[:-3],
            good.replace(b"2026-12-07", b"yesterday!"),
            good.upper(),
            good + b"more\n",
            b"\xff" * 80,
        ):
            with self.assertRaises(ValueError, msg=repr(data)):
                decode_day_key(data)

    def test_secret_not_shown(self) -> None:
        """
        A key's C{repr}, which logs and tracebacks show, names its day
        only.
        """
        key = DayKey("2026-12-07", b"\x01" * 32)
        self.assertEqual(repr(key), "DayKey(day='2026-12-07')")
        self.assertNotIn("01", repr(key).replace("2026-12-07", ""))


class AddressTests(SynchronousTestCase):
    """
    L{normal_address} and L{hash_address}.
    """

    def test_normal(self) -> None:
        """
        One address has one spelling: IPv6 compressed in lower case, IPv4
        mapped into IPv6 as IPv4, brackets removed; anything else as it is.
        """
        self.assertEqual(normal_address("192.0.2.7"), "192.0.2.7")
        self.assertEqual(normal_address("2001:DB8:0:0:0:0:0:1"), "2001:db8::1")
        self.assertEqual(normal_address("[2001:db8::1]"), "2001:db8::1")
        self.assertEqual(normal_address("::ffff:192.0.2.7"), "192.0.2.7")
        self.assertEqual(normal_address("/run/radiod.sock"), "/run/radiod.sock")
        self.assertEqual(normal_address(""), "")

    def test_hash(self) -> None:
        """
        The hash is HMAC-SHA256 under the secret of the address's normal
        spelling, cut to L{HASH_LENGTH} hexadecimal digits.
        """
        secret = b"k" * 32
        expected = hmac.new(secret, b"2001:db8::1", hashlib.sha256).hexdigest()[:32]
        self.assertEqual(HASH_LENGTH, 32)
        self.assertEqual(hash_address(secret, "2001:DB8::1"), expected)
        self.assertEqual(hash_address(secret, "[2001:db8::1]"), expected)
        self.assertNotEqual(hash_address(b"j" * 32, "2001:db8::1"), expected)

    @given(st.text(min_size=1, max_size=60), st.binary(min_size=32, max_size=32))
    def test_hash_shape(self, address: str, secret: bytes) -> None:
        """
        Any address, even text that no client sends, hashes to
        L{HASH_LENGTH} lower-case hexadecimal digits.
        """
        digest = hash_address(secret, address)
        self.assertEqual(len(digest), HASH_LENGTH)
        self.assertRegex(digest, HEX)


class AddressHasherTests(SynchronousTestCase):
    """
    L{AddressHasher} stores addresses hashed under the day's key, or as
    they are.
    """

    def test_same_day_same_hash(self) -> None:
        """
        All day, one address gives one hash, and another address another;
        the hash is not the address.
        """
        hasher = AddressHasher()
        first = hasher.client("192.0.2.7", NOON)
        self.assertEqual(hasher.client("192.0.2.7", LAST_SECOND), first)
        self.assertEqual(hasher.client("::ffff:192.0.2.7", NOON + 60), first)
        self.assertNotEqual(hasher.client("192.0.2.8", NOON), first)
        self.assertEqual(len(first), HASH_LENGTH)
        # Hex digits only: no trace of the address's dotted form.
        self.assertRegex(first, HEX)

    def test_next_day_different(self) -> None:
        """
        At midnight UTC a new key is made, so the same address hashes
        differently, and the new key waits in C{unsaved} for the caller to
        keep.
        """
        hasher = AddressHasher()
        today = hasher.client("192.0.2.7", NOON)
        first_key = hasher.key
        assert first_key is not None
        self.assertEqual(hasher.unsaved, first_key)
        hasher.use(first_key)
        self.assertIsNone(hasher.unsaved)
        tomorrow = hasher.client("192.0.2.7", MIDNIGHT)
        self.assertNotEqual(tomorrow, today)
        assert hasher.key is not None
        self.assertEqual(hasher.key.day, "2026-12-08")
        self.assertEqual(hasher.unsaved, hasher.key)

    def test_kept_key_same_hash(self) -> None:
        """
        Two hashers given the same kept key (a restart, or two processes)
        give the same hashes, and make no key of their own.
        """
        key = new_day_key("2026-12-07")
        first, second = AddressHasher(), AddressHasher()
        first.use(key)
        second.use(key)
        self.assertEqual(first.client("192.0.2.7", NOON), second.client("192.0.2.7", NOON))
        self.assertEqual(first.client("192.0.2.7", NOON), hash_address(key.secret, "192.0.2.7"))
        self.assertIsNone(first.unsaved)

    def test_kept_key_replaces_made(self) -> None:
        """
        A key made before the kept one arrived gives way to it: from then
        on, hashes are the kept key's.
        """
        hasher = AddressHasher()
        hasher.client("192.0.2.7", NOON)
        kept = new_day_key("2026-12-07")
        hasher.use(kept)
        self.assertEqual(hasher.key, kept)
        self.assertIsNone(hasher.unsaved)
        self.assertEqual(hasher.client("192.0.2.7", NOON), hash_address(kept.secret, "192.0.2.7"))

    def test_keys_move_forward(self) -> None:
        """
        Once a day's key is in use, a time of an earlier day hashes with
        it (the earlier key is gone), and an earlier day's key given to
        L{AddressHasher.use} is ignored.
        """
        hasher = AddressHasher()
        tomorrow = hasher.client("192.0.2.7", MIDNIGHT)
        key = hasher.key
        self.assertEqual(hasher.client("192.0.2.7", NOON), tomorrow)
        hasher.use(new_day_key("2026-12-07"))
        self.assertEqual(hasher.key, key)
        self.assertEqual(hasher.unsaved, key)

    def test_plain(self) -> None:
        """
        In plain mode the address is stored as it is (in its normal
        spelling), and no key is made.
        """
        hasher = AddressHasher(PLAIN)
        self.assertFalse(hasher.hashed)
        self.assertEqual(hasher.client("192.0.2.7", NOON), "192.0.2.7")
        self.assertEqual(hasher.client("2001:DB8::1", MIDNIGHT), "2001:db8::1")
        self.assertIsNone(hasher.key)
        self.assertIsNone(hasher.unsaved)

    def test_empty(self) -> None:
        """
        An unknown address stays empty in both modes, and makes no key.
        """
        for mode in (HASHED, PLAIN):
            hasher = AddressHasher(mode)
            self.assertEqual(hasher.client("", NOON), "")
            self.assertIsNone(hasher.key)

    def test_modes(self) -> None:
        """
        Addresses are hashed by default; a mode other than hashed or plain
        is refused.
        """
        self.assertTrue(AddressHasher().hashed)
        self.assertEqual(AddressHasher().mode, HASHED)
        with self.assertRaises(ValueError):
            AddressHasher("clear")
