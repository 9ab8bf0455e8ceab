"""
Tests for L{radiod.broadcast.live}: the live frame queue and the switch between
live audio and the playlist.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.audio.track import TrackInfo
from radiod.broadcast.live import PREBUFFER, LiveSource, Switch
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.interfaces import IFrameSource
from radiod.testing import FakeFrameSource, ListenerCapture, silent_frame

SONG = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
OTHER = TrackInfo("/b.mp3", "Second Song", "Beta Artist")
SHOW = TrackInfo("", "Morning Show")
PLAYLIST_FRAME = silent_frame()
LIVE_FRAME = silent_frame(fill=0x55)
FRAME_SECONDS = PLAYLIST_FRAME.header.duration


def live_bytes(count: int) -> bytes:
    """
    C{count} live frames, as an encoder sends them.
    """
    return LIVE_FRAME.data * count


class LiveSourceTests(SynchronousTestCase):
    """
    L{LiveSource} turns an encoder's bytes into whole frames.
    """

    def test_interface(self) -> None:
        """
        A live source is a frame source.
        """
        self.assertTrue(verifyObject(IFrameSource, LiveSource(SHOW)))

    def test_whole_frames_garbage_dropped(self) -> None:
        """
        Bytes split anywhere, with garbage before and between frames, come
        out as whole frames only, each with the session's track; the frame
        just before the garbage cannot be confirmed by a following header
        and is dropped with it.
        """
        live = LiveSource(SHOW, prebuffer=0)
        data = b"junk!" + live_bytes(3) + b"\x00\xffnoise" + live_bytes(3)
        for index in range(0, len(data), 100):
            live.feed(data[index : index + 100])
        live.finish()
        frames = []
        while (item := live.next_frame()) is not None:
            frames.append(item)
        self.assertEqual([frame.data for frame, _ in frames], [LIVE_FRAME.data] * 5)
        self.assertTrue(all(track is SHOW for _, track in frames))
        self.assertTrue(live.drained)

    def test_prebuffer(self) -> None:
        """
        No frame comes out until the prebuffer is queued.
        """
        live = LiveSource(SHOW, prebuffer=0.5)
        live.feed(live_bytes(10))
        self.assertFalse(live.ready)
        self.assertIsNone(live.next_frame())
        live.feed(live_bytes(15))
        self.assertTrue(live.ready)
        self.assertIsNotNone(live.next_frame())

    def test_backpressure(self) -> None:
        """
        Above the high-water mark the producer is paused; pulling frames
        below the low-water mark resumes it.
        """
        transport = StringTransport()
        live = LiveSource(SHOW, producer=transport, high_water=1.0, low_water=0.5, prebuffer=0)
        live.feed(live_bytes(int(0.9 / FRAME_SECONDS)))
        self.assertEqual(transport.producerState, "producing")
        live.feed(live_bytes(int(0.5 / FRAME_SECONDS)))
        self.assertEqual(transport.producerState, "paused")
        while live.queued >= 0.5:
            self.assertEqual(transport.producerState, "paused")
            live.next_frame()
        self.assertEqual(transport.producerState, "producing")

    def test_set_title(self) -> None:
        """
        A new title applies from the next frame pulled, as a new track.
        """
        live = LiveSource(SHOW, prebuffer=0)
        live.feed(live_bytes(4))
        first = live.next_frame()
        live.set_title("Interview")
        second = live.next_frame()
        assert first is not None and second is not None
        self.assertIs(first[1], SHOW)
        self.assertEqual(second[1].title, "Interview")


class SwitchTests(SynchronousTestCase):
    """
    L{Switch} gives live frames while a live source is on air, and the
    playlist's otherwise.
    """

    def test_playlist_live_playlist_resumes(self) -> None:
        """
        The playlist plays until the live source is ready, is not pulled
        while live, and resumes at the frame after the last one it gave
        once the live source has left and played out.
        """
        playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 100)])
        switch = Switch(playlist)
        self.assertTrue(verifyObject(IFrameSource, switch))
        for _ in range(5):
            self.assertEqual(switch.next_frame(), (PLAYLIST_FRAME, SONG))
        live = LiveSource(SHOW, prebuffer=0.1)
        switch.attach(live)
        live.feed(live_bytes(2))
        self.assertEqual(switch.next_frame(), (PLAYLIST_FRAME, SONG))
        live.feed(live_bytes(8))
        handed = playlist.handed
        for _ in range(9):
            frame, track = switch.next_frame() or (None, None)
            self.assertIs(track, SHOW)
        self.assertTrue(switch.on_air)
        self.assertIsNone(switch.next_frame(), "an empty live queue is an underrun")
        live.feed(live_bytes(2))
        switch.detach(live)
        for _ in range(3):
            self.assertIs((switch.next_frame() or (None, None))[1], SHOW)
        self.assertEqual(playlist.handed, handed)
        self.assertEqual(switch.next_frame(), (PLAYLIST_FRAME, SONG))
        self.assertEqual(playlist.handed, handed + 1)
        self.assertFalse(switch.on_air)
        self.assertIsNone(switch.live)

    def test_presenter_outranks_relay(self) -> None:
        """
        A presenter attached while a relay plays sends the relay to
        standby: the relay fills in while the presenter's first audio is
        collected, the presenter's show plays, and the relay (its newest
        audio only) is back on air right after it, with no playlist frame
        in between.
        """
        relay_frame = silent_frame(fill=0x33)
        relay_track = TrackInfo("", "Relayed")
        playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 10000)])
        switch = Switch(playlist)
        relay = LiveSource(relay_track, prebuffer=0)
        switch.attach(relay, relay=True)
        relay.feed(relay_frame.data * 11)
        self.assertEqual(switch.next_frame(), (relay_frame, relay_track))
        presenter = LiveSource(SHOW, prebuffer=5 * FRAME_SECONDS)
        switch.attach(presenter)
        self.assertIs(switch.standby, relay)
        self.assertIs(switch.live, presenter)
        presenter.feed(live_bytes(3))
        self.assertEqual(switch.next_frame(), (relay_frame, relay_track))
        presenter.feed(live_bytes(10))
        for _ in range(12):
            self.assertEqual(switch.next_frame(), (LIVE_FRAME, SHOW))
        # Meanwhile the relay kept delivering; only its newest audio is kept.
        relay.feed(relay_frame.data * 200)
        switch.next_frame()
        self.assertLessEqual(relay.queued, PREBUFFER + FRAME_SECONDS)
        switch.detach(presenter)
        # The splitter's last frame, released when the presenter left.
        self.assertEqual(switch.next_frame(), (LIVE_FRAME, SHOW))
        self.assertEqual(switch.next_frame(), (relay_frame, relay_track))
        self.assertIs(switch.live, relay)
        self.assertIsNone(switch.standby)
        self.assertTrue(switch.on_air)
        self.assertEqual(playlist.handed, 0)

    def test_relay_waits_for_presenter(self) -> None:
        """
        A relay that connects during a live show waits on standby; if it
        drops meanwhile it is forgotten, and the playlist follows the show.
        """
        relay_track = TrackInfo("", "Relayed")
        playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 10000)])
        switch = Switch(playlist)
        presenter = LiveSource(SHOW, prebuffer=0)
        switch.attach(presenter)
        presenter.feed(live_bytes(4))
        relay = LiveSource(relay_track, prebuffer=0)
        switch.attach(relay, relay=True)
        relay.feed(silent_frame(fill=0x33).data * 5)
        self.assertIs(switch.live, presenter)
        self.assertIs(switch.standby, relay)
        for _ in range(3):
            self.assertEqual(switch.next_frame(), (LIVE_FRAME, SHOW))
        switch.detach(relay)
        self.assertIsNone(switch.standby)
        switch.detach(presenter)
        self.assertEqual(switch.next_frame(), (LIVE_FRAME, SHOW))
        self.assertEqual(switch.next_frame(), (PLAYLIST_FRAME, SONG))
        self.assertFalse(switch.on_air)

    def test_no_playlist(self) -> None:
        """
        Without a playlist, nothing plays between live sources, and the
        drained callbacks run when a source has left and played out.
        """
        switch = Switch(None)
        drained: list[bool] = []
        switch.on_drained.append(lambda: drained.append(True))
        self.assertIsNone(switch.next_frame())
        live = LiveSource(SHOW, prebuffer=0)
        switch.attach(live)
        live.feed(live_bytes(2))
        switch.detach(live)
        self.assertIsNotNone(switch.next_frame())
        self.assertIsNotNone(switch.next_frame())
        self.assertEqual(drained, [])
        self.assertIsNone(switch.next_frame())
        self.assertEqual(drained, [True])

    def test_mount_listener_hears_live_then_playlist(self) -> None:
        """
        A listener connected to a mount through playlist, live and
        playlist again keeps its connection, receives whole frames only,
        and gets the live title when the live audio starts and the song's
        title again when the playlist resumes.
        """
        clock = Clock()
        playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 1000), (OTHER, PLAYLIST_FRAME, 1000)])
        config = MountConfig(name="/stream", metaint=1000, burst_size=0)
        mount = Mount(config, playlist, clock)
        mount.start()
        self.addCleanup(mount.stop)
        clock.pump([0.1] * 10)
        transport = StringTransport()
        mount.add_listener(transport, "peer", True)
        clock.pump([0.1] * 10)
        assert mount.switch is not None
        live = LiveSource(SHOW)
        mount.switch.attach(live)
        live.feed(live_bytes(40))
        clock.pump([0.1] * 5)
        self.assertIs(mount.now_playing, SHOW)
        live.feed(live_bytes(40))
        clock.pump([0.1] * 10)
        handed = playlist.handed
        mount.switch.detach(live)
        clock.pump([0.1] * 40)
        self.assertIs(mount.now_playing, SONG)
        self.assertGreater(playlist.handed, handed)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(len(mount.listeners), 1)
        capture = ListenerCapture()
        capture.feed(b"HTTP/1.0 200 OK\r\nicy-metaint:1000\r\n\r\n" + transport.value())
        self.assertEqual(
            [title for _, title in capture.titles],
            ["Alpha Artist - First Song", "Morning Show", "Alpha Artist - First Song"],
        )
        audio = bytes(capture.audio)
        size = len(LIVE_FRAME.data)
        self.assertEqual(len(audio) % size, 0)
        frames = [audio[i : i + size] for i in range(0, len(audio), size)]
        self.assertEqual(set(frames), {LIVE_FRAME.data, PLAYLIST_FRAME.data})
        live_count = frames.count(LIVE_FRAME.data)
        self.assertEqual(live_count, 80)
        first_live = frames.index(LIVE_FRAME.data)
        self.assertEqual(frames[first_live : first_live + 80], [LIVE_FRAME.data] * 80)
        # The new title comes in the first metadata block inside live audio.
        self.assertGreaterEqual(capture.titles[1][0], first_live * size)
        self.assertLess(capture.titles[1][0], first_live * size + 1000)
