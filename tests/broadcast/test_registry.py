"""
Tests for L{radiod.broadcast.registry}: the station's mounts, in order, in
one place.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from radiod.broadcast.mount import Mount
from radiod.broadcast.registry import Mounts
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig, StationConfig
from radiod.wire.server import RadioFactory


def mount(name: str) -> Mount:
    """
    A live-only mount called C{name}, with nothing on air.
    """
    return Mount(MountConfig(name=name, live_only=True), Switch(None, name=name), Clock())


class MountsTests(SynchronousTestCase):
    """
    L{Mounts} keeps the mounts in order, by name.
    """

    def test_mapping(self) -> None:
        """
        A registry reads as a mapping of names to mounts, in the order
        they were added; the first is the default mount.
        """
        first, second = mount("/a"), mount("/b")
        mounts = Mounts([first, second])
        self.assertEqual(list(mounts), ["/a", "/b"])
        self.assertIs(mounts["/b"], second)
        self.assertIn("/a", mounts)
        self.assertNotIn("/c", mounts)
        self.assertEqual(len(mounts), 2)
        self.assertIs(mounts.default, first)

    def test_add_remove(self) -> None:
        """
        A mount added goes last, or in the place of the mount of the same
        name; a mount removed is returned, and removing a name of no mount
        returns C{None}.
        """
        first, second, third = mount("/a"), mount("/b"), mount("/c")
        mounts = Mounts([first, second])
        mounts.add(third)
        self.assertEqual(list(mounts), ["/a", "/b", "/c"])
        again = mount("/a")
        mounts.add(again)
        self.assertEqual(list(mounts), ["/a", "/b", "/c"])
        self.assertIs(mounts["/a"], again)
        self.assertIs(mounts.remove("/b"), second)
        self.assertIsNone(mounts.remove("/b"))
        self.assertEqual(list(mounts), ["/a", "/c"])

    def test_reorder(self) -> None:
        """
        L{Mounts.reorder} puts the named mounts first, in the order given,
        passes over names of no mount, and keeps the others after them in
        their order.
        """
        mounts = Mounts([mount(name) for name in ("/a", "/b", "/c", "/d")])
        mounts.reorder(["/c", "/x", "/a"])
        self.assertEqual(list(mounts), ["/c", "/a", "/b", "/d"])

    def test_of(self) -> None:
        """
        L{Mounts.of} keeps a registry as it is and makes one of a plain
        mapping, in its order.
        """
        mounts = Mounts([mount("/a")])
        self.assertIs(Mounts.of(mounts), mounts)
        plain = {"/b": mount("/b"), "/a": mount("/a")}
        made = Mounts.of(plain)
        self.assertEqual(list(made), ["/b", "/a"])
        self.assertIs(made["/a"], plain["/a"])

    def test_shared(self) -> None:
        """
        The server keeps the registry it is given rather than a copy, so
        a mount added to it is served at once, and reordering it changes
        the default mount.
        """
        mounts = Mounts([mount("/a")])
        factory = RadioFactory(Clock(), StationConfig(), mounts, accept_sources=True)
        self.assertIs(factory.mounts, mounts)
        added = mount("/b")
        mounts.add(added)
        self.assertIs(factory.mounts["/b"], added)
        mounts.reorder(["/b"])
        self.assertIs(factory.default_mount, added)
