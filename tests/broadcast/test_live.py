"""
Tests for L{radiod.broadcast.live}: the live frame queue and the switch between
live audio and the playlist.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame
from radiod.audio.track import TrackInfo
from radiod.broadcast.live import PREBUFFER, LiveSource
from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch, SwitchState
from radiod.config import MountConfig
from radiod.interfaces import IFrameSource
from radiod.testing import FakeConverters, FakeFrameSource, ListenerCapture, silent_frame

SONG = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
OTHER = TrackInfo("/b.mp3", "Second Song", "Beta Artist")
SHOW = TrackInfo("", "Morning Show")
PLAYLIST_FRAME = silent_frame()
LIVE_FRAME = silent_frame(fill=0x55)
FRAME_SECONDS = PLAYLIST_FRAME.header.duration
RELAYED = TrackInfo("", "Relayed")
RELAY_FRAME = silent_frame(fill=0x33)
CD = AudioFormat(44100, 2, 128)
MONO_22K = silent_frame(version="2", bitrate=48, sample_rate=22050, channels=1)


def taken(source: IFrameSource) -> tuple[Frame, TrackInfo] | None:
    """
    The next frame of C{source} and its track, or C{None}.
    """
    cue = source.next_frame()
    return None if cue is None else (cue.frame, cue.track)


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
        self.assertEqual([frame.data for frame, _, _ in frames], [LIVE_FRAME.data] * 5)
        self.assertTrue(all(track is SHOW for _, track, _ in frames))
        self.assertEqual([starts for _, _, starts in frames], [True] + [False] * 4)
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


class LiveSourceStateTests(SynchronousTestCase):
    """
    A L{LiveSource} moves from collecting its first audio to ready, and
    from finishing to finished, and converts until its converter fails or
    is stopped; inputs that mean nothing in its state are ignored.
    """

    def test_finish_before_prebuffer(self) -> None:
        """
        A source whose connection ends before its prebuffer is collected
        is ready at once, so what it queued plays; finishing it again
        changes nothing.
        """
        live = LiveSource(SHOW, prebuffer=1.0)
        live.feed(live_bytes(3))
        self.assertFalse(live.ready)
        live.finish()
        self.assertTrue(live.ready)
        self.assertTrue(live.finished)
        live.finish()
        self.assertEqual(live.frames_in, 3)
        for _ in range(3):
            self.assertEqual(taken(live), (LIVE_FRAME, SHOW))
        self.assertTrue(live.drained)
        self.assertIsNone(live.next_frame())

    def test_finishing_while_converting(self) -> None:
        """
        A converting source whose connection ends is finished only once
        its converter has ended; finishing it again meanwhile changes
        nothing.
        """
        converters = FakeConverters()
        live = LiveSource(SHOW, prebuffer=0)
        live.convert_to(CD, converters, "/stream")
        live.feed(MONO_22K.data * 3)
        live.finish()
        [converter] = converters.made
        self.assertTrue(converter.finishing)
        self.assertTrue(live.ready)
        self.assertFalse(live.finished)
        live.finish()
        self.assertFalse(live.finished)
        self.assertTrue(live.converting)
        converter.emit([LIVE_FRAME])
        converter.end(clean=False)
        self.assertTrue(live.finished)
        self.assertFalse(live.converting)
        self.assertEqual(taken(live), (LIVE_FRAME, SHOW))
        self.assertTrue(live.drained)

    def test_stopped_converter_not_heard(self) -> None:
        """
        Once a source is stopped, its converter is not heard from again:
        what it still writes is not queued, and its end (killed, so not
        clean) is no warning.  No other converter starts: audio fed
        after the stop is queued as it comes.
        """
        converters = FakeConverters(ends_on_stop=False)
        live = LiveSource(SHOW, prebuffer=0)
        live.convert_to(CD, converters, "/stream")
        live.feed(MONO_22K.data * 3)
        live.stop()
        [converter] = converters.made
        self.assertTrue(converter.stopped)
        self.assertFalse(live.converting)
        self.assertIsNone(live.converter)
        with capturedLogs() as events:
            converter.emit([LIVE_FRAME] * 2)
            converter.end(clean=False)
        self.assertEqual(events, [])
        self.assertIsNone(live.next_frame())
        live.feed(MONO_22K.data * 3)
        self.assertEqual(len(converters.made), 1)
        item = live.next_frame()
        assert item is not None
        self.assertEqual(item[0].data, MONO_22K.data)


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
            self.assertEqual(taken(switch), (PLAYLIST_FRAME, SONG))
        live = LiveSource(SHOW, prebuffer=0.1)
        switch.attach(live)
        live.feed(live_bytes(2))
        self.assertEqual(taken(switch), (PLAYLIST_FRAME, SONG))
        live.feed(live_bytes(8))
        handed = playlist.handed
        for _ in range(9):
            cue = switch.next_frame()
            assert cue is not None
            self.assertIs(cue.track, SHOW)
        self.assertTrue(switch.on_air)
        self.assertIsNone(switch.next_frame(), "an empty live queue is an underrun")
        live.feed(live_bytes(2))
        switch.detach(live)
        for _ in range(3):
            self.assertIs((switch.next_frame() or (None, None))[1], SHOW)
        self.assertEqual(playlist.handed, handed)
        self.assertEqual(taken(switch), (PLAYLIST_FRAME, SONG))
        self.assertEqual(playlist.handed, handed + 1)
        self.assertFalse(switch.on_air)
        self.assertIsNone(switch.live)

    def test_plays_start_where_the_air_passes(self) -> None:
        """
        The first frame each source gives after the air passes to it
        starts a play, even in the middle of a track: the mount airing
        the switch numbers the playlist's song, the show, and the rest of
        the song as three plays.
        """
        playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 100)])
        switch = Switch(playlist)
        marks = [cue.starts for cue in (switch.next_frame() for _ in range(3)) if cue]
        self.assertEqual(marks, [True, False, False])
        live = LiveSource(SHOW, prebuffer=0)
        switch.attach(live)
        live.feed(live_bytes(3))
        shown = [switch.next_frame() for _ in range(2)]
        self.assertEqual(
            [(cue.track, cue.starts) for cue in shown if cue], [(SHOW, True), (SHOW, False)]
        )
        live.set_title("Second half")
        live.feed(live_bytes(2))
        switch.detach(live)
        aired: list[tuple[str, bool]] = []
        while not aired or aired[-1][0] != SONG.title:
            cue = switch.next_frame()
            assert cue is not None
            aired.append((cue.track.title, cue.starts))
        cue = switch.next_frame()
        assert cue is not None
        aired.append((cue.track.title, cue.starts))
        self.assertEqual(
            aired,
            [("Second half", True)]
            + [("Second half", False)] * 2
            + [(SONG.title, True), (SONG.title, False)],
        )

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
        self.assertEqual(taken(switch), (relay_frame, relay_track))
        presenter = LiveSource(SHOW, prebuffer=5 * FRAME_SECONDS)
        switch.attach(presenter)
        self.assertIs(switch.standby, relay)
        self.assertIs(switch.live, presenter)
        presenter.feed(live_bytes(3))
        self.assertEqual(taken(switch), (relay_frame, relay_track))
        presenter.feed(live_bytes(10))
        for _ in range(12):
            self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        # Meanwhile the relay kept delivering; only its newest audio is kept.
        relay.feed(relay_frame.data * 200)
        switch.next_frame()
        self.assertLessEqual(relay.queued, PREBUFFER + FRAME_SECONDS)
        switch.detach(presenter)
        # The splitter's last frame, released when the presenter left.
        self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        self.assertEqual(taken(switch), (relay_frame, relay_track))
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
            self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        switch.detach(relay)
        self.assertIsNone(switch.standby)
        switch.detach(presenter)
        self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        self.assertEqual(taken(switch), (PLAYLIST_FRAME, SONG))
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


class SwitchStateTests(SynchronousTestCase):
    """
    L{Switch.state} says who has the air; attaching and pulling frames
    move it, and a relay never takes the air from a presenter.
    """

    def build(self) -> tuple[Switch, FakeFrameSource, list[bool]]:
        """
        A switch over a long playlist, and the list its L{Switch.on_change}
        callbacks append L{Switch.on_air} to.
        """
        playlist = FakeFrameSource([(SONG, PLAYLIST_FRAME, 10000)])
        switch = Switch(playlist, name="/stream")
        changes: list[bool] = []
        switch.on_change.append(lambda: changes.append(switch.on_air))
        return switch, playlist, changes

    def relay(self, frames: int = 0) -> LiveSource:
        """
        A relay's live source holding C{frames} frames, ready at once.
        """
        relay = LiveSource(RELAYED, prebuffer=0)
        if frames:
            # The splitter holds the last frame until the next one begins.
            relay.feed(RELAY_FRAME.data * (frames + 1))
        return relay

    def test_show(self) -> None:
        """
        A presenter's show moves the switch from the playlist to cueing,
        on air at the first live frame, and back to the playlist once the
        show has played out; the change callbacks run at those two moves
        only.
        """
        switch, _, changes = self.build()
        self.assertIs(switch.state, SwitchState.PLAYLIST)
        presenter = LiveSource(SHOW, prebuffer=3 * FRAME_SECONDS)
        switch.attach(presenter)
        self.assertIs(switch.state, SwitchState.PRESENTER_CUEING)
        self.assertFalse(switch.on_air)
        presenter.feed(live_bytes(2))
        self.assertEqual(taken(switch), (PLAYLIST_FRAME, SONG))
        presenter.feed(live_bytes(2))
        self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        self.assertIs(switch.state, SwitchState.PRESENTER_ON_AIR)
        self.assertEqual(changes, [True])
        switch.detach(presenter)
        for _ in range(3):
            self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        self.assertIs(switch.state, SwitchState.PRESENTER_ON_AIR)
        self.assertEqual(taken(switch), (PLAYLIST_FRAME, SONG))
        self.assertIs(switch.state, SwitchState.PLAYLIST)
        self.assertEqual(changes, [True, False])

    def test_relay_returns_during_show(self) -> None:
        """
        A relay that comes back while a presenter is on air waits on
        standby, keeping only its newest audio, without a change: the
        show plays on.  Once the show has played out the relay has the
        air from the very next frame, still on air, again without a
        change.
        """
        switch, playlist, changes = self.build()
        presenter = LiveSource(SHOW, prebuffer=0)
        switch.attach(presenter)
        presenter.feed(live_bytes(5))
        self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        relay = self.relay(100)
        switch.attach(relay, relay=True)
        self.assertIs(switch.state, SwitchState.PRESENTER_ON_AIR)
        self.assertIs(switch.live, presenter)
        self.assertIs(switch.standby, relay)
        self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        self.assertLessEqual(relay.queued, PREBUFFER)
        switch.detach(presenter)
        for _ in range(3):
            self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        self.assertEqual(taken(switch), (RELAY_FRAME, RELAYED))
        self.assertIs(switch.state, SwitchState.RELAY_ON_AIR)
        self.assertIs(switch.live, relay)
        self.assertIsNone(switch.standby)
        self.assertEqual(changes, [True])
        self.assertEqual(playlist.handed, 0)

    def test_relay_after_show_played_out(self) -> None:
        """
        A relay attached once a presenter's show has played out, before
        the switch has pulled again, still waits on standby rather than
        taking the air from the presenter, and has it at the next frame.
        """
        switch, playlist, changes = self.build()
        presenter = LiveSource(SHOW, prebuffer=0)
        switch.attach(presenter)
        presenter.feed(live_bytes(2))
        switch.detach(presenter)
        for _ in range(2):
            self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
        self.assertTrue(presenter.drained)
        relay = self.relay(5)
        switch.attach(relay, relay=True)
        self.assertIs(switch.live, presenter)
        self.assertIs(switch.standby, relay)
        self.assertEqual(taken(switch), (RELAY_FRAME, RELAYED))
        self.assertIs(switch.state, SwitchState.RELAY_ON_AIR)
        self.assertEqual(changes, [True])
        self.assertEqual(playlist.handed, 0)

    def test_relay_handed_back_before_show(self) -> None:
        """
        A presenter who leaves before their first audio hands the air to
        the relay on standby, which goes on air with its first frame:
        L{Switch.on_air} is true, and the change callbacks have run, from
        that frame on.
        """
        switch, _, changes = self.build()
        presenter = LiveSource(SHOW, prebuffer=5 * FRAME_SECONDS)
        switch.attach(presenter)
        relay = self.relay()
        switch.attach(relay, relay=True)
        self.assertIs(switch.state, SwitchState.PRESENTER_CUEING)
        self.assertEqual(taken(switch), (PLAYLIST_FRAME, SONG))
        switch.detach(presenter)
        relay.feed(RELAY_FRAME.data * 3)
        self.assertEqual(taken(switch), (RELAY_FRAME, RELAYED))
        self.assertIs(switch.state, SwitchState.RELAY_ON_AIR)
        self.assertTrue(switch.on_air)
        self.assertEqual(changes, [True])

    def test_presenter_replaces_presenter(self) -> None:
        """
        A presenter attached while another's show is on air replaces it:
        the old source is finished and its audio dropped, and the mount
        stays on air, with a gap rather than the playlist while the new
        presenter's first audio is collected.
        """
        switch, playlist, changes = self.build()
        first = LiveSource(SHOW, prebuffer=0)
        switch.attach(first)
        first.feed(live_bytes(10))
        switch.next_frame()
        second = LiveSource(TrackInfo("", "Late Show"), prebuffer=3 * FRAME_SECONDS)
        switch.attach(second)
        self.assertTrue(first.finished)
        self.assertEqual(first.queued, 0.0)
        self.assertIs(switch.live, second)
        self.assertIs(switch.state, SwitchState.PRESENTER_ON_AIR)
        self.assertIsNone(switch.next_frame())
        self.assertEqual(playlist.handed, 0)
        self.assertEqual(changes, [True])

    def test_relay_replaces_relay(self) -> None:
        """
        A relay attached while another relay is on air replaces it, and
        the mount stays on air.
        """
        switch, _, changes = self.build()
        first = self.relay(5)
        switch.attach(first, relay=True)
        self.assertIs(switch.state, SwitchState.RELAY_CUEING)
        self.assertEqual(taken(switch), (RELAY_FRAME, RELAYED))
        second = self.relay(5)
        switch.attach(second, relay=True)
        self.assertTrue(first.finished)
        self.assertIs(switch.live, second)
        self.assertIsNone(switch.standby)
        self.assertIs(switch.state, SwitchState.RELAY_ON_AIR)
        self.assertEqual(changes, [True])

    def test_presenter_drops_ended_relay(self) -> None:
        """
        A presenter attached while a relay whose connection has ended is
        playing out drops the relay instead of sending it to standby.
        """
        switch, _, _ = self.build()
        relay = self.relay(5)
        switch.attach(relay, relay=True)
        switch.next_frame()
        switch.detach(relay)
        presenter = LiveSource(SHOW, prebuffer=0)
        switch.attach(presenter)
        self.assertIsNone(switch.standby)
        self.assertEqual(relay.queued, 0.0)
        self.assertIs(switch.state, SwitchState.PRESENTER_ON_AIR)

    def test_detach_unknown(self) -> None:
        """
        Detaching a live source the switch does not hold finishes it and
        moves nothing.
        """
        switch, _, changes = self.build()
        stray = LiveSource(SHOW, prebuffer=0)
        switch.detach(stray)
        self.assertTrue(stray.finished)
        self.assertIs(switch.state, SwitchState.PLAYLIST)
        self.assertEqual(taken(switch), (PLAYLIST_FRAME, SONG))
        self.assertEqual(changes, [])

    def test_stop(self) -> None:
        """
        Stopping the switch from any state drops its live audio and
        gives the air back to the playlist; a live source attached after
        a restart goes on air as the first did.
        """
        for relay, frames, state in (
            (False, 0, SwitchState.PRESENTER_CUEING),
            (False, 3, SwitchState.PRESENTER_ON_AIR),
            (True, 0, SwitchState.RELAY_CUEING),
            (True, 3, SwitchState.RELAY_ON_AIR),
        ):
            switch, playlist, changes = self.build()
            switch.start()
            live = LiveSource(SHOW, prebuffer=0)
            switch.attach(live, relay=relay)
            if frames:
                live.feed(live_bytes(frames + 1))
            switch.next_frame()
            self.assertIs(switch.state, state)
            switch.stop()
            self.assertIs(switch.state, SwitchState.PLAYLIST)
            self.assertFalse(switch.on_air)
            self.assertIsNone(switch.live)
            self.assertFalse(playlist.started)
            switch.start()
            again = LiveSource(SHOW, prebuffer=0)
            switch.attach(again)
            again.feed(live_bytes(2))
            self.assertEqual(taken(switch), (LIVE_FRAME, SHOW))
            self.assertEqual(changes, [True] * (2 if frames else 1))
