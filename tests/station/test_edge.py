"""
Tests for L{radiod.station.edge}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.live import LiveSource
from radiod.broadcast.mount import Mount
from radiod.broadcast.registry import Mounts
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig
from radiod.station.edge import Edge, mirrored_mounts
from radiod.testing import FakeFrameSource, SlowTransport, silent_frame

STATUS = {
    "mounts": [
        {"name": "/stream", "station_name": "Origin FM", "genre": "Jazz", "description": "Main"},
        {"name": "/stream-64", "station_name": "Origin FM"},
    ]
}


class MirroredTests(SynchronousTestCase):
    """
    L{mirrored_mounts} reads the origin's status.
    """

    def test_mounts(self) -> None:
        """
        Each mount of the status is a live-only mount of the same name,
        with the origin's station name, genre and description.
        """
        configs = mirrored_mounts(STATUS)
        self.assertEqual([c.name for c in configs], ["/stream", "/stream-64"])
        self.assertTrue(all(c.live_only for c in configs))
        self.assertEqual(
            (configs[0].station_name, configs[0].genre, configs[0].description),
            ("Origin FM", "Jazz", "Main"),
        )

    def test_not_a_status(self) -> None:
        """
        A document that is not radiod's status is refused.
        """
        documents: list[dict[str, Any]] = [
            {},
            {"mounts": {}},
            {"mounts": [{"nom": "/x"}]},
            {"mounts": [{"name": "x"}]},
        ]
        for document in documents:
            self.assertRaises(ValueError, mirrored_mounts, document)


class EdgeTests(SynchronousTestCase):
    """
    An edge mirrors the origin's mounts and pulls one while it is heard.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.mounts = Mounts()
        self.removed: list[str] = []
        own = Mount(MountConfig(name="/stream"), FakeFrameSource([]), self.reactor)
        self.mounts.add(own)
        self.edge = Edge(
            self.reactor,
            self.reactor,
            "http://origin.example:8000/",
            30.0,
            self.mounts,
            self.add,
            remove=self.remove,
        )
        self.edge.mirror(mirrored_mounts(STATUS))

    def add(self, config: MountConfig) -> None:
        mount = Mount(config, Switch(None, name=config.name), self.reactor)
        mount.start()
        self.addCleanup(mount.stop)
        self.mounts.add(mount)

    def remove(self, name: str) -> None:
        self.removed.append(name)
        self.mounts.remove(name)

    def test_mirror(self) -> None:
        """
        Every origin mount is mirrored, in place of a mount of the same
        name; mirroring again changes nothing.
        """
        self.assertEqual(self.removed, ["/stream"])
        self.assertEqual(self.edge.mirrored, {"/stream", "/stream-64"})
        self.assertTrue(self.mounts["/stream"].config.live_only)
        self.edge.mirror(mirrored_mounts(STATUS))
        self.assertEqual(self.removed, ["/stream"])
        self.assertIsNone(self.edge.demand("/elsewhere"))

    def test_pulled_while_heard(self) -> None:
        """
        Asking for a mirrored mount connects a relay to the origin's mount
        and fires once its audio is on air; the relay is let go the
        linger after the last listener left, not before, and not while a
        listener came back.
        """
        coming = self.edge.demand("/stream-64")
        assert coming is not None
        self.assertEqual(list(self.edge.relays), ["/stream-64"])
        host, port = self.reactor.tcpClients[0][:2]
        self.assertEqual((host, port), ("origin.example", 8000))
        self.assertEqual(self.edge.relays["/stream-64"].path, "/stream-64")
        self.assertFalse(coming.called)
        mount = self.mounts["/stream-64"]
        assert mount.switch is not None
        live = LiveSource(TrackInfo("", "Live"), prebuffer=0)
        mount.switch.attach(live)
        live.feed(silent_frame().data * 3)
        self.reactor.advance(0.2)
        self.assertTrue(coming.called)
        listener = mount.add_listener(SlowTransport(), "192.0.2.1:1", False)
        listener.stopProducing()
        self.reactor.advance(29)
        self.assertEqual(list(self.edge.relays), ["/stream-64"])
        self.edge.demand("/stream-64")
        self.reactor.advance(5)
        self.assertEqual(list(self.edge.relays), ["/stream-64"])
        again = mount.add_listener(SlowTransport(), "192.0.2.1:2", False)
        again.stopProducing()
        self.reactor.advance(30)
        self.assertEqual(self.edge.relays, {})
