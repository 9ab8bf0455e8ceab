"""
Tests for L{radiod.broadcast.fallback}: listeners of a live-only mount hear its
fallback between shows and come back when a live source returns, on one
connection, in whole frames.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.fallback import Fallbacks
from radiod.broadcast.live import LiveSource
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig, StationConfig
from radiod.testing import FakeFrameSource, ListenerCapture, SlowTransport, silent_frame
from radiod.wire.server import RadioFactory
from tests.ingest.test_source import Connection, source_request

MUSIC_FRAME = silent_frame()
LIVE_FRAME = silent_frame(fill=0x55)
SIZE = len(MUSIC_FRAME.data)
SONG = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
SHOW = TrackInfo("", "Morning Show")
HEAD = b"HTTP/1.0 200 OK\r\nicy-metaint:1000\r\n\r\n"


class Station:
    """
    Three mounts on a Clock: C{/music} plays a playlist; C{/live} and
    C{/talk} are live-only, C{/live} falling back to C{/talk} (or to
    C{/music} when C{chain} is false) and C{/talk} to C{/music}.
    """

    def __init__(self, test: SynchronousTestCase, chain: bool = True, **live: object) -> None:
        self.clock = Clock()
        self.music = self._mount(
            MountConfig(name="/music", metaint=1000, burst_size=0),
            FakeFrameSource([(SONG, MUSIC_FRAME, 10**6)]),
        )
        self.live = self._mount(
            MountConfig(
                name="/live",
                metaint=1000,
                burst_size=0,
                live_only=True,
                fallback="/talk" if chain else "/music",
                **live,  # type: ignore[arg-type]
            ),
            Switch(None, name="/live"),
        )
        self.talk = self._mount(
            MountConfig(name="/talk", metaint=1000, live_only=True, fallback="/music"),
            Switch(None, name="/talk"),
        )
        self.mounts = {m.name: m for m in (self.music, self.live, self.talk)}
        self.fallbacks = Fallbacks(self.mounts, self.clock)
        for mount in self.mounts.values():
            self.fallbacks.watch(mount)
            mount.start()
            test.addCleanup(mount.stop)
        self.clock.pump([0.1] * 5)

    def _mount(self, config: MountConfig, source: FakeFrameSource | Switch) -> Mount:
        return Mount(config, source, self.clock)

    def listen(self, name: str, transport: StringTransport | None = None) -> StringTransport:
        """
        Connect a listener asking for C{name} the way the server does.
        """
        transport = transport or StringTransport()
        mount = self.fallbacks.resolve(name)
        assert mount is not None
        mount.add_listener(transport, "127.0.0.1:5000", True, home=name)
        return transport

    def go_live(self, mount: Mount, frames: int = 40) -> LiveSource:
        """
        Attach a live source with C{frames} frames queued to C{mount}.
        """
        live = LiveSource(SHOW)
        assert mount.switch is not None
        mount.switch.attach(live)
        live.feed(LIVE_FRAME.data * frames)
        return live

    def leave(self, mount: Mount, live: LiveSource) -> None:
        assert mount.switch is not None
        mount.switch.detach(live)


def frames_of(transport: StringTransport) -> tuple[ListenerCapture, list[bytes]]:
    """
    Demultiplex what a listener got; its audio cut into frames (all our
    frames have the same size).
    """
    capture = ListenerCapture()
    capture.feed(HEAD + transport.value())
    audio = bytes(capture.audio)
    return capture, [audio[i : i + SIZE] for i in range(0, len(audio), SIZE)]


class ResolveTests(SynchronousTestCase):
    """
    L{Fallbacks.resolve} walks the fallback chain to the first mount with
    audio.
    """

    def test_chain(self) -> None:
        """
        A live-only mount without a source resolves through its chain; one
        with a source (even one still collecting its first audio) is
        itself; a mount with music always is.
        """
        station = Station(self)
        self.assertIs(station.fallbacks.resolve("/live"), station.music)
        self.assertIs(station.fallbacks.resolve("/music"), station.music)
        station.go_live(station.talk, frames=1)
        self.assertIs(station.fallbacks.resolve("/live"), station.talk)
        station.go_live(station.live, frames=1)
        self.assertIs(station.fallbacks.resolve("/live"), station.live)
        self.assertIsNone(station.fallbacks.resolve("/nothing"))

    def test_no_fallback(self) -> None:
        """
        A live-only mount without a source or a fallback resolves to
        nothing.
        """
        clock = Clock()
        lonely = Mount(MountConfig(name="/lonely", live_only=True), Switch(None), clock)
        self.assertIsNone(Fallbacks({"/lonely": lonely}, clock).resolve("/lonely"))


class MoveTests(SynchronousTestCase):
    """
    Listeners move between mounts as live sources come and go, on the same
    connection.
    """

    def test_fallback_and_back(self) -> None:
        """
        A listener of C{/live} between shows hears C{/music}; when a source
        goes on air it moves to C{/live} from the first live frame, and
        back to C{/music} when the show has played out.  Its connection
        stays open, every frame arrives whole, and the titles follow.
        A listener who asked for C{/music} stays there throughout.
        """
        station = Station(self, chain=False)
        transport = station.listen("/live")
        regular = station.listen("/music")
        self.assertEqual(len(station.music.listeners), 2)
        station.clock.pump([0.1] * 10)
        live = station.go_live(station.live)
        station.clock.pump([0.1] * 10)
        self.assertEqual(len(station.live.listeners), 1)
        self.assertEqual(len(station.music.listeners), 1)
        station.leave(station.live, live)
        station.clock.pump([0.1] * 20)
        self.assertEqual(station.live.listeners, set())
        self.assertEqual(len(station.music.listeners), 2)
        self.assertFalse(transport.disconnecting)

        capture, frames = frames_of(transport)
        self.assertEqual(len(capture.audio) % SIZE, 0)
        self.assertEqual(set(frames), {MUSIC_FRAME.data, LIVE_FRAME.data})
        first = frames.index(LIVE_FRAME.data)
        self.assertEqual(frames[first : first + 40], [LIVE_FRAME.data] * 40)
        self.assertEqual(frames.count(LIVE_FRAME.data), 40)
        self.assertEqual(frames[first + 40 :], [MUSIC_FRAME.data] * len(frames[first + 40 :]))
        self.assertTrue(frames[first + 40 :])
        self.assertEqual(
            [title for _, title in capture.titles],
            ["Alpha Artist - First Song", "Morning Show", "Alpha Artist - First Song"],
        )

        regular_capture, regular_frames = frames_of(regular)
        self.assertEqual(set(regular_frames), {MUSIC_FRAME.data})
        self.assertEqual(len(regular_capture.titles), 1)

    def test_chain_moves_to_nearest(self) -> None:
        """
        With C{/live} falling back to C{/talk} and C{/talk} to C{/music}, a
        C{/live} listener hears C{/music}, then C{/talk} while it is live,
        then C{/live} while that is live; as shows end it walks back down.
        """
        station = Station(self)
        station.listen("/live")
        talk = station.go_live(station.talk, frames=200)
        station.clock.pump([0.1] * 10)
        self.assertEqual(len(station.talk.listeners), 1)
        live = station.go_live(station.live, frames=40)
        station.clock.pump([0.1] * 10)
        self.assertEqual(len(station.live.listeners), 1)
        station.leave(station.live, live)
        station.clock.pump([0.1] * 20)
        self.assertEqual(len(station.talk.listeners), 1)
        station.leave(station.talk, talk)
        station.clock.pump([0.1] * 60)
        self.assertEqual(len(station.music.listeners), 1)

    def test_no_override(self) -> None:
        """
        With C{fallback_override} off, listeners moved to the fallback stay
        there when the source returns; new listeners of C{/live} hear it.
        """
        station = Station(self, chain=False, fallback_override=False)
        station.listen("/live")
        station.go_live(station.live)
        station.clock.pump([0.1] * 10)
        self.assertEqual(len(station.music.listeners), 1)
        self.assertEqual(station.live.listeners, set())
        station.listen("/live")
        self.assertEqual(len(station.live.listeners), 1)

    def test_closed_without_fallback(self) -> None:
        """
        When the source of a live-only mount without a fallback has played
        out, its listeners are closed cleanly (not aborted).
        """
        clock = Clock()
        mount = Mount(MountConfig(name="/solo", live_only=True, burst_size=0), Switch(None), clock)
        fallbacks = Fallbacks({"/solo": mount}, clock)
        fallbacks.watch(mount)
        mount.start()
        self.addCleanup(mount.stop)
        assert mount.switch is not None
        live = LiveSource(SHOW)
        mount.switch.attach(live)
        live.feed(LIVE_FRAME.data * 30)
        transport = SlowTransport()
        mount.add_listener(transport, "127.0.0.1:5000", False)
        clock.pump([0.1] * 5)
        mount.switch.detach(live)
        clock.pump([0.1] * 10)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.aborted)
        self.assertEqual(len(transport.value()) % SIZE, 0)

    def test_paused_listener_moves_on_a_frame_boundary(self) -> None:
        """
        A listener whose transport is paused when its mount goes live moves
        without being sent more; once its peer reads again it gets the
        live audio, and all it received is whole frames.
        """
        station = Station(self, chain=False)
        transport = SlowTransport(threshold=SIZE * 3)
        station.listen("/live", transport)
        station.clock.pump([0.1] * 10)
        self.assertTrue(transport.paused_producer)
        before = transport.value()
        station.go_live(station.live, frames=200)
        station.clock.pump([0.1] * 10)
        self.assertEqual(len(station.live.listeners), 1)
        self.assertEqual(transport.value(), before)
        transport.threshold = 10**9
        received = transport.drain()
        station.clock.pump([0.1] * 10)
        received += transport.value()
        capture = ListenerCapture()
        capture.feed(HEAD + received)
        audio = bytes(capture.audio)
        self.assertEqual(len(audio) % SIZE, 0)
        frames = [audio[i : i + SIZE] for i in range(0, len(audio), SIZE)]
        first = frames.index(LIVE_FRAME.data)
        self.assertGreater(first, 0)
        self.assertEqual(set(frames[:first]), {MUSIC_FRAME.data})
        self.assertEqual(set(frames[first:]), {LIVE_FRAME.data})


class ServerFallbackTests(SynchronousTestCase):
    """
    Through the server: requests for a live-only mount, and a real source
    connection taking its listeners back.
    """

    def build(self, fallback: str = "/music") -> tuple[Clock, RadioFactory]:
        clock = Clock()
        music_config = MountConfig(name="/music", metaint=1000, burst_size=0)
        live_config = MountConfig(
            name="/live", metaint=1000, burst_size=0, live_only=True, fallback=fallback
        )
        music = Mount(music_config, FakeFrameSource([(SONG, MUSIC_FRAME, 10**6)]), clock)
        live = Mount(live_config, Switch(None, name="/live"), clock)
        station = StationConfig(mounts=(music_config, live_config), source_password="hackme")
        factory = RadioFactory(clock, station, {"/music": music, "/live": live}, True)
        for mount in (music, live):
            mount.start()
            self.addCleanup(mount.stop)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        clock.pump([0.1] * 5)
        return clock, factory

    def test_not_live_without_fallback(self) -> None:
        """
        A live-only mount with no source and no fallback answers 404.
        """
        clock, factory = self.build(fallback="")
        conn = Connection(factory)
        reply = conn.send(b"GET /live HTTP/1.0\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.0 404 "), reply)
        self.assertTrue(reply.endswith(b"\r\n\r\n404 Source not live\n"), reply)
        self.assertTrue(conn.closed)

    def test_listener_follows_the_show(self) -> None:
        """
        A listener of C{/live} hears C{/music} until a source connects to
        C{/live} and its audio goes on air, then the show, then C{/music}
        again once the source has left, on one connection.
        """
        clock, factory = self.build()
        listener = Connection(factory)
        listener.send(b"GET /live HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        clock.pump([0.1] * 10)
        source = Connection(factory, port=40001)
        source.send(source_request(mount="/live") + LIVE_FRAME.data * 60)
        clock.pump([0.1] * 30)
        source.protocol.connectionLost()
        clock.pump([0.1] * 30)
        self.assertFalse(listener.closed)
        capture = listener.capture()
        self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(
            [title for _, title in capture.titles],
            ["Alpha Artist - First Song", "radiod", "Alpha Artist - First Song"],
        )
        audio = bytes(capture.audio)
        self.assertEqual(len(audio) % SIZE, 0)
        frames = [audio[i : i + SIZE] for i in range(0, len(audio), SIZE)]
        first = frames.index(LIVE_FRAME.data)
        self.assertEqual(frames[first : first + 60], [LIVE_FRAME.data] * 60)
        self.assertEqual(set(frames[first + 60 :]), {MUSIC_FRAME.data})
