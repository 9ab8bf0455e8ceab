"""
Tests for L{radiod.library.programme}: a library played as one frame source.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

from mutagen.id3 import ID3, TXXX
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessTerminated
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame
from radiod.audio.splice import CuePoints, Join
from radiod.audio.track import Cue
from radiod.broadcast.fallback import Fallbacks
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, PlaylistConfig, StationConfig
from radiod.ffmpeg.cache import ConversionCache
from radiod.ffmpeg.transcoder import Transcoder
from radiod.interfaces import IFrameSource, Runner
from radiod.library.library import Library
from radiod.library.programme import Playlist, Programme
from radiod.library.rotation import Aired, Rules
from radiod.station.service import StationService
from radiod.testing import FakeProcess, FakeProcessReactor, silent_frame, synchronous_runner
from radiod.testing import LaterRunner as LaterRunner  # tests.station.test_faults imports it here


def write_track(folder: str, name: str, frames: int, bitrate: int = 128) -> str:
    """
    Write an MP3 file of C{frames} silent frames; return its path.
    """
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(silent_frame(bitrate=bitrate).data * frames)
    return path


class ProgrammeTests(SynchronousTestCase):
    """
    The programme plays every playable file, in order or shuffled, and
    copes with the library changing under it.
    """

    def build(
        self, files: dict[str, int], shuffle: bool = False, seed: int = 1
    ) -> tuple[str, Clock, Programme]:
        """
        A started programme over a fresh folder holding C{files} (name to
        frame count), using a synchronous runner.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        for name, count in files.items():
            write_track(folder, name, count)
        clock = Clock()
        programme = Programme(
            Library(folder, synchronous_runner),
            clock,
            synchronous_runner,
            shuffle=shuffle,
            rescan_interval=10,
            rng=random.Random(seed),
            name="/test",
        )
        programme.start()
        self.addCleanup(programme.stop)
        return folder, clock, programme

    def plays(self, programme: Programme, count: int) -> list[tuple[str, int]]:
        """
        The next C{count} plays as (file name, frames) pairs.
        """
        plays: list[tuple[str, int]] = []
        while len(plays) < count + 1:
            item = programme.next_frame()
            self.assertIsNotNone(item, plays)
            assert item is not None
            frame, track, starts = item
            self.assertIsInstance(frame, Frame)
            if starts or not plays:
                plays.append((os.path.basename(track.path), 0))
            name, frames = plays[-1]
            plays[-1] = (name, frames + 1)
        return plays[:count]

    def test_provides_interface(self) -> None:
        """
        A programme is a frame source.
        """
        folder, clock, programme = self.build({"a.mp3": 3})
        self.assertTrue(verifyObject(IFrameSource, programme))

    def test_sequential_repeats(self) -> None:
        """
        Without shuffle, files play whole in path order, round after round.
        """
        folder, clock, programme = self.build({"b.mp3": 4, "a.mp3": 3, "c.mp3": 5})
        self.assertEqual(
            self.plays(programme, 6),
            [("a.mp3", 3), ("b.mp3", 4), ("c.mp3", 5)] * 2,
        )

    def test_track_titles(self) -> None:
        """
        Frames carry the track they belong to, with its title from the
        file name when there are no tags.
        """
        folder, clock, programme = self.build({"Some Artist - Some Song.mp3": 2})
        item = programme.next_frame()
        assert item is not None
        self.assertEqual(item[1].stream_title, "Some Artist - Some Song")

    def test_shuffle_rounds(self) -> None:
        """
        With shuffle every round plays every file once, the order changes
        between rounds, and a round does not start with the file that
        ended the previous one.
        """
        names = {f"{n:02}.mp3": 1 for n in range(8)}
        folder, clock, programme = self.build(names, shuffle=True)
        plays = [name for name, _ in self.plays(programme, 8 * 6)]
        rounds = [plays[i : i + 8] for i in range(0, len(plays), 8)]
        for round_ in rounds:
            self.assertEqual(sorted(round_), sorted(names))
        self.assertGreater(len({tuple(r) for r in rounds}), 1)
        for before, after in itertools.pairwise(rounds):
            self.assertNotEqual(before[-1], after[0])

    def test_added_file_joins(self) -> None:
        """
        A file added to the folder plays after the next rescan, without a
        restart.
        """
        folder, clock, programme = self.build({"a.mp3": 2, "c.mp3": 2})
        self.assertEqual(self.plays(programme, 1), [("a.mp3", 2)])
        write_track(folder, "b.mp3", 2)
        clock.advance(10)
        names = [name for name, _ in self.plays(programme, 4)]
        self.assertIn("b.mp3", names)

    def test_added_file_does_not_repeat_read_ahead(self) -> None:
        """
        In order, adding a file while a track plays neither repeats the
        track already read ahead nor skips any: the new file takes its place
        in the round.
        """
        folder, clock, programme = self.build({"a.mp3": 2, "b.mp3": 2, "c.mp3": 2})
        self.assertEqual(self.plays(programme, 1), [("a.mp3", 2)])
        write_track(folder, "d.mp3", 2)
        clock.advance(10)
        self.assertEqual(
            [name for name, _ in self.plays(programme, 5)],
            ["b.mp3", "c.mp3", "d.mp3", "a.mp3", "b.mp3"],
        )

    def test_removed_file_leaves(self) -> None:
        """
        A file removed from the folder is not played after the next
        rescan.
        """
        folder, clock, programme = self.build({"a.mp3": 2, "b.mp3": 2, "c.mp3": 2})
        os.remove(os.path.join(folder, "c.mp3"))
        clock.advance(10)
        names = [name for name, _ in self.plays(programme, 6)]
        self.assertNotIn("c.mp3", names)

    def test_replaced_file_reread(self) -> None:
        """
        A file replaced on disk (new length) plays with its new content.
        """
        folder, clock, programme = self.build({"a.mp3": 2, "b.mp3": 3})
        self.assertEqual(self.plays(programme, 1), [("a.mp3", 2)])
        path = write_track(folder, "b.mp3", 7)
        os.utime(path, (1, 1))
        clock.advance(10)
        self.assertIn(("b.mp3", 7), self.plays(programme, 3))

    def test_vanished_file_skipped(self) -> None:
        """
        A file that disappears before it is read is skipped with a log
        line, and the programme goes on with the next one.
        """
        folder, clock, programme = self.build({"a.mp3": 2, "b.mp3": 2, "c.mp3": 2})
        # a.mp3 is playing and b.mp3 is already read: c.mp3 is next to read.
        programme.next_frame()
        os.remove(os.path.join(folder, "c.mp3"))
        with capturedLogs() as events:
            names = [name for name, _ in self.plays(programme, 4)]
        self.assertNotIn("c.mp3", names)
        self.assertTrue(any(e.get("path", "").endswith("c.mp3") for e in events), "skip not logged")
        self.assertEqual(programme.skipped, 1)

    def test_corrupt_file_skipped(self) -> None:
        """
        A file holding no MP3 audio is skipped, logged with its reason.
        """
        folder, clock, programme = self.build({"a.mp3": 2, "c.mp3": 2})
        with open(os.path.join(folder, "b.mp3"), "wb") as f:
            f.write(b"RIFF" + os.urandom(5000))
        clock.advance(10)
        with capturedLogs() as events:
            names = [name for name, _ in self.plays(programme, 4)]
        self.assertNotIn("b.mp3", names)
        reasons = [e["reason"] for e in events if e.get("path", "").endswith("b.mp3")]
        self.assertTrue(reasons)

    def test_all_broken_does_not_spin(self) -> None:
        """
        When no file can be played the programme reports no frame instead
        of looping forever, and plays again once a good file appears.
        """
        folder, clock, programme = self.build({"a.mp3": 2})
        programme.next_frame()
        programme.next_frame()
        with open(os.path.join(folder, "a.mp3"), "wb") as f:
            f.write(b"not audio at all" * 100)
        os.utime(os.path.join(folder, "a.mp3"), (5, 5))
        clock.advance(10)
        for _ in range(5):
            programme.next_frame()
        self.assertIsNone(programme.next_frame())
        write_track(folder, "b.mp3", 2)
        clock.advance(10)
        self.assertIsNotNone(programme.next_frame())

    def test_not_ready_until_read(self) -> None:
        """
        With a runner that finishes later (a thread), the programme has no
        frame until the first file is read, then plays it.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        write_track(folder, "a.mp3", 2)
        runner = LaterRunner()
        programme = Programme(Library(folder, runner), Clock(), runner, rescan_interval=0)
        programme.start()
        self.addCleanup(programme.stop)
        self.assertIsNone(programme.next_frame())
        self.assertTrue(runner.pending)
        runner.run_all()
        self.assertIsNotNone(programme.next_frame())
        self.assertIsNotNone(programme.next_frame())

    def test_stop_cancels_rescans(self) -> None:
        """
        A stopped programme leaves no timer behind.
        """
        folder, clock, programme = self.build({"a.mp3": 2})
        programme.stop()
        self.assertEqual(clock.getDelayedCalls(), [])


class LifecycleTests(SynchronousTestCase):
    """
    A programme is stopped, starting (its first scan under way) or
    running; inputs that mean nothing in its state are ignored.
    """

    def test_start_twice(self) -> None:
        """
        Starting a started programme changes nothing: one timer rescans,
        and none is left once it stops.
        """
        _, clock, programme = build_programme(self, {"a.mp3": 2})
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        programme.start()
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        self.assertEqual(frame_names(programme, 3), ["a.mp3"] * 3)
        programme.stop()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_restart(self) -> None:
        """
        A stopped programme started again scans again, plays on, and
        rescans on its timer.
        """
        folder, clock, programme = build_programme(self, {"a.mp3": 2})
        self.assertEqual(frame_names(programme, 1), ["a.mp3"])
        programme.stop()
        self.assertEqual(frame_names(programme, 1), ["-"])
        programme.start()
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        self.assertEqual(frame_names(programme, 2), ["a.mp3"] * 2)
        write_track(folder, "b.mp3", 2)
        clock.advance(10)
        self.assertIn("b.mp3", frame_names(programme, 6))

    def test_stopped_while_starting(self) -> None:
        """
        A programme stopped during its first scan reads nothing and sets
        no timer when the scan ends, yet L{Programme.started} fires.
        """
        runner = LaterRunner()
        _, clock, programme = build_programme(self, {"a.mp3": 2}, runner)
        programme.stop()
        self.assertNoResult(programme.started)
        runner.run_all()
        self.successResultOf(programme.started)
        self.assertEqual(runner.pending, [])
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertIsNone(programme.next_frame())

    def test_replaced_while_read(self) -> None:
        """
        A file replaced on disk while it is being read ahead is read
        again once that read ends: its new content plays, in its place in
        the round.
        """
        runner = LaterRunner()
        folder, clock, programme = build_programme(self, {"a.mp3": 1, "b.mp3": 3}, runner)
        runner.run_all()
        self.assertEqual(frame_names(programme, 1), ["a.mp3"])
        [_] = runner.pending
        path = write_track(folder, "b.mp3", 7)
        os.utime(path, (1, 1))
        clock.advance(10)
        with capturedLogs() as events:
            runner.run(-1)
        self.assertTrue(any(e.get("outcome") == "it is read again" for e in events), "not logged")
        runner.run_all()
        self.assertEqual(frame_names(programme, 7), ["b.mp3"] * 7)
        self.assertEqual(programme.skipped, 0)

    def test_removed_while_read(self) -> None:
        """
        A file that leaves the library while it is being read ahead is
        left out once that read ends, neither put back nor counted as
        skipped, and the next is read instead.
        """
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        for name in ("a.mp3", "b.mp3", "c.mp3"):
            write_track(folder, name, 1)
        playlist = os.path.join(folder, "list.m3u")
        with open(playlist, "w") as f:
            f.write("a.mp3\nb.mp3\nc.mp3\n")
        runner = LaterRunner()
        clock = Clock()
        programme = Programme(Library(playlist, runner), clock, runner, rescan_interval=10)
        programme.start()
        self.addCleanup(programme.stop)
        runner.run_all()
        self.assertEqual(frame_names(programme, 1), ["a.mp3"])
        with open(playlist, "w") as f:
            f.write("a.mp3\nc.mp3\n")
        clock.advance(10)
        runner.run(-1)
        runner.run_all()
        self.assertEqual(frame_names(programme, 1), ["c.mp3"])
        b = os.path.join(folder, "b.mp3")
        self.assertNotIn(b, programme.upcoming)
        self.assertNotIn(b, programme.queued)
        self.assertEqual(programme.skipped, 0)


class NextTrackTests(SynchronousTestCase):
    """
    L{Programme.next_track} tells what plays next without changing it.
    """

    def test_read_ahead(self) -> None:
        """
        While a track plays, the next is the one read ahead; asking does
        not change the order.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        for name in ("a.mp3", "b.mp3", "c.mp3"):
            write_track(folder, name, 2)
        programme = Programme(
            Library(folder, synchronous_runner), Clock(), synchronous_runner, rescan_interval=0
        )
        programme.start()
        self.addCleanup(programme.stop)
        programme.next_frame()
        upcoming = programme.next_track()
        assert upcoming is not None
        self.assertEqual(os.path.basename(upcoming.path), "b.mp3")
        self.assertEqual(programme.next_track(), upcoming)
        for _ in range(2):
            programme.next_frame()
        item = programme.next_frame()
        assert item is not None
        self.assertEqual(os.path.basename(item[1].path), "b.mp3")
        following = programme.next_track()
        assert following is not None
        self.assertEqual(os.path.basename(following.path), "c.mp3")

    def test_while_reading(self) -> None:
        """
        While the next file is still being read, it is already named; a
        file known to be broken is passed over.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        for name in ("a.mp3", "b.mp3", "c.mp3"):
            write_track(folder, name, 2)
        runner = LaterRunner()
        programme = Programme(Library(folder, runner), Clock(), runner, rescan_interval=0)
        self.assertIsNone(programme.next_track())
        programme.start()
        self.addCleanup(programme.stop)
        runner.run_all()
        programme.next_frame()
        self.assertTrue(runner.pending)
        upcoming = programme.next_track()
        assert upcoming is not None
        self.assertEqual(os.path.basename(upcoming.path), "b.mp3")
        programme.broken.add(upcoming.path)
        later = programme.next_track()
        assert later is not None
        self.assertEqual(os.path.basename(later.path), "c.mp3")


def build_programme(
    test: SynchronousTestCase,
    files: dict[str, int],
    runner: Runner = synchronous_runner,
) -> tuple[str, Clock, Programme]:
    """
    A started programme in library order over a fresh folder holding
    C{files} (name to frame count), rescanning every 10 seconds.
    """
    folder = os.path.abspath(test.mktemp())
    os.makedirs(folder)
    for name, count in files.items():
        write_track(folder, name, count)
    clock = Clock()
    programme = Programme(Library(folder, runner), clock, runner, rescan_interval=10, name="/t")
    programme.start()
    test.addCleanup(programme.stop)
    return folder, clock, programme


def track_names(programme: Programme, count: int) -> list[str]:
    """
    The file names of the next C{count} tracks, as their first frames come.
    """
    names: list[str] = []
    while len(names) < count:
        cue = programme.next_frame()
        assert cue is not None
        if cue.starts:
            names.append(os.path.basename(cue.track.path))
    return names


def frame_names(programme: Programme, count: int) -> list[str]:
    """
    The file names of the next C{count} frames (C{"-"} for no frame).
    """
    names = []
    for _ in range(count):
        item = programme.next_frame()
        names.append(os.path.basename(item[1].path) if item is not None else "-")
    return names


class RulesTests(SynchronousTestCase):
    """
    The next track obeys the rotation rules, and the best one is taken
    when none can.
    """

    def test_artist_separation(self) -> None:
        """
        With an artist separation, a track of the artist just played
        waits while another artist's can play; when every track left
        breaks the rule, the one whose artist aired longest ago plays, and
        the log says why.
        """
        files = {"A - one.mp3": 3, "A - two.mp3": 3, "B - three.mp3": 3, "B - four.mp3": 3}
        _, _, plain = build_programme(self, files)
        self.assertEqual(
            track_names(plain, 4), ["A - one.mp3", "A - two.mp3", "B - four.mp3", "B - three.mp3"]
        )
        _, _, programme = build_programme(self, files)
        programme.rules = Rules(artist_separation=3600.0)
        with capturedLogs() as events:
            names = track_names(programme, 4)
        self.assertEqual(names, ["A - one.mp3", "B - four.mp3", "A - two.mp3", "B - three.mp3"])
        self.assertEqual(sorted(names), sorted(files))
        relaxed = [e for e in events if e.get("log_format", "").startswith("Rotation rules")]
        self.assertEqual([e["mount"] for e in relaxed], ["/t"] * len(relaxed))
        self.assertTrue(relaxed)
        self.assertEqual([a.artist for a in programme.aired][:2], ["A", "B"])


class SkipTests(SynchronousTestCase):
    """
    L{Programme.skip} moves on to the next track from the next frame.
    """

    def test_next_frame_is_next_track(self) -> None:
        """
        After a skip the next frame is the first of the track read ahead;
        that track then plays whole, and the round goes on.
        """
        _, _, programme = build_programme(self, {"a.mp3": 5, "b.mp3": 3, "c.mp3": 2})
        self.assertEqual(frame_names(programme, 2), ["a.mp3"] * 2)
        skipped = programme.skip()
        assert skipped is not None
        self.assertEqual(os.path.basename(skipped.path), "a.mp3")
        self.assertEqual(frame_names(programme, 6), ["b.mp3"] * 3 + ["c.mp3"] * 2 + ["a.mp3"])
        assert programme.playing is not None
        self.assertEqual(os.path.basename(programme.playing.path), "a.mp3")

    def test_new_play_marked(self) -> None:
        """
        The first frame of every track starts a play, and no other does:
        the track after a skip is a new play, even of the same file (a
        library of one track starts it again), as is the same track when
        it comes round again.
        """
        _, _, programme = build_programme(self, {"a.mp3": 5})
        first = programme.next_frame()
        assert first is not None
        self.assertTrue(first.starts)
        following = programme.next_frame()
        assert following is not None
        self.assertFalse(following.starts)
        programme.skip()
        second = programme.next_frame()
        assert second is not None
        self.assertEqual(second.track.path, first.track.path)
        self.assertTrue(second.starts)
        marks = []
        for _ in range(9):
            cue = programme.next_frame()
            assert cue is not None
            marks.append(cue.starts)
        self.assertEqual(marks, [False] * 4 + [True] + [False] * 4)

    def test_waits_for_read(self) -> None:
        """
        When the next track is still being read, the current one plays on
        until it is ready, then the next frame is the next track's.
        """
        runner = LaterRunner()
        _, _, programme = build_programme(self, {"a.mp3": 5, "b.mp3": 3}, runner)
        runner.run_all()
        self.assertEqual(frame_names(programme, 1), ["a.mp3"])
        self.assertTrue(runner.pending)
        programme.skip()
        self.assertEqual(frame_names(programme, 2), ["a.mp3"] * 2)
        runner.run_all()
        self.assertEqual(frame_names(programme, 3), ["b.mp3"] * 3)

    def test_track_ending_meanwhile(self) -> None:
        """
        A skipped track that ends before the next is read is not followed
        by a second skip: the next track plays whole.
        """
        runner = LaterRunner()
        _, _, programme = build_programme(self, {"a.mp3": 2, "b.mp3": 3, "c.mp3": 1}, runner)
        runner.run_all()
        self.assertEqual(frame_names(programme, 1), ["a.mp3"])
        programme.skip()
        self.assertEqual(frame_names(programme, 2), ["a.mp3", "-"])
        runner.run_all()
        self.assertEqual(frame_names(programme, 3), ["b.mp3"] * 3)

    def test_nothing_playing(self) -> None:
        """
        Before the first frame there is nothing to skip.
        """
        _, _, programme = build_programme(self, {"a.mp3": 2, "b.mp3": 2})
        self.assertIsNone(programme.skip())
        self.assertEqual(frame_names(programme, 2), ["a.mp3"] * 2)

    def test_paced_on_a_clock(self) -> None:
        """
        On a paced mount the skip shows at the next tick: the mount's
        title changes to the next track.
        """
        _, clock, programme = build_programme(self, {"a.mp3": 1000, "b.mp3": 1000})
        mount = Mount(MountConfig(name="/t", burst_size=0), programme, clock)
        mount.start()
        self.addCleanup(mount.stop)
        clock.pump([0.1] * 5)
        assert mount.now_playing is not None
        self.assertEqual(os.path.basename(mount.now_playing.path), "a.mp3")
        programme.skip()
        clock.advance(0.1)
        assert mount.now_playing is not None
        self.assertEqual(os.path.basename(mount.now_playing.path), "b.mp3")


class QueueTests(SynchronousTestCase):
    """
    L{Programme.queue} plays a library track next, then the round goes on.
    """

    def test_plays_next(self) -> None:
        """
        A queued track plays after the current one, before the track read
        ahead from the round, which follows it; the round goes on without
        the queued track.
        """
        folder, _, programme = build_programme(
            self, {"a.mp3": 2, "b.mp3": 1, "c.mp3": 1, "d.mp3": 1}
        )
        self.assertEqual(frame_names(programme, 1), ["a.mp3"])
        self.assertEqual(programme.queue(os.path.join(folder, "d.mp3")), 1)
        upcoming = programme.next_track()
        assert upcoming is not None
        self.assertEqual(os.path.basename(upcoming.path), "d.mp3")
        self.assertEqual(
            frame_names(programme, 6), ["a.mp3", "d.mp3", "b.mp3", "c.mp3", "a.mp3", "a.mp3"]
        )

    def test_in_order(self) -> None:
        """
        Tracks queued one after another play in that order, and each is
        told its place.
        """
        folder, _, programme = build_programme(self, {"a.mp3": 1, "b.mp3": 1, "c.mp3": 1})
        frame_names(programme, 1)
        self.assertEqual(programme.queue(os.path.join(folder, "c.mp3")), 1)
        self.assertEqual(programme.queue(os.path.join(folder, "a.mp3")), 2)
        self.assertEqual(programme.queue(os.path.join(folder, "c.mp3")), 3)
        names = ("c.mp3", "a.mp3", "c.mp3")
        self.assertEqual(programme.queued, [os.path.join(folder, name) for name in names])
        self.assertEqual(frame_names(programme, 5), ["c.mp3", "a.mp3", "c.mp3", "b.mp3", "a.mp3"])

    def test_the_track_read_ahead(self) -> None:
        """
        Queueing the track the round reads next keeps it next, once.
        """
        folder, _, programme = build_programme(self, {"a.mp3": 1, "b.mp3": 1, "c.mp3": 1})
        frame_names(programme, 1)
        b = os.path.join(folder, "b.mp3")
        self.assertEqual(programme.queue(b), 1)
        self.assertEqual(programme.queued, [b])
        self.assertEqual(frame_names(programme, 4), ["b.mp3", "c.mp3", "a.mp3", "b.mp3"])

    def test_while_reading(self) -> None:
        """
        Queued while the round's next track is being read, the queued one
        still comes first and the other is read again after it.
        """
        runner = LaterRunner()
        folder, _, programme = build_programme(self, {"a.mp3": 1, "b.mp3": 1, "c.mp3": 1}, runner)
        runner.run_all()
        self.assertEqual(frame_names(programme, 1), ["a.mp3"])
        self.assertTrue(runner.pending)
        self.assertEqual(programme.queue(os.path.join(folder, "c.mp3")), 1)
        runner.run_all()
        self.assertEqual(frame_names(programme, 1), ["c.mp3"])
        runner.run_all()
        self.assertEqual(frame_names(programme, 1), ["b.mp3"])

    def test_then_skip(self) -> None:
        """
        Queue a track, then skip: it plays from the next frame.
        """
        folder, _, programme = build_programme(self, {"a.mp3": 9, "b.mp3": 1, "c.mp3": 1})
        frame_names(programme, 1)
        programme.queue(os.path.join(folder, "c.mp3"))
        programme.skip()
        self.assertEqual(frame_names(programme, 2), ["c.mp3", "b.mp3"])

    def test_not_in_library(self) -> None:
        """
        A path the library does not list cannot be queued.
        """
        folder, _, programme = build_programme(self, {"a.mp3": 1})
        with self.assertRaises(KeyError):
            programme.queue(os.path.join(folder, "missing.mp3"))
        with self.assertRaises(KeyError):
            programme.queue("/etc/passwd")
        self.assertEqual(programme.queued, [])

    def test_removed_file_leaves_queue(self) -> None:
        """
        A queued file removed from the library before it plays is dropped
        from the queue at the next rescan.
        """
        folder, clock, programme = build_programme(
            self, {"a.mp3": 1, "b.mp3": 1, "c.mp3": 1, "d.mp3": 1}
        )
        frame_names(programme, 1)
        programme.queue(os.path.join(folder, "c.mp3"))
        programme.queue(os.path.join(folder, "d.mp3"))
        os.remove(os.path.join(folder, "c.mp3"))
        os.remove(os.path.join(folder, "d.mp3"))
        clock.advance(10)
        self.assertEqual(programme.queued, [])
        self.assertEqual(frame_names(programme, 3), ["b.mp3", "a.mp3", "b.mp3"])

    def test_broken_file_tried_again(self) -> None:
        """
        Queueing a file that could not be played gives it another try.
        """
        folder, _, programme = build_programme(self, {"a.mp3": 1, "b.mp3": 1})
        frame_names(programme, 1)
        path = os.path.join(folder, "b.mp3")
        programme.broken.add(path)
        programme.queue(path)
        self.assertNotIn(path, programme.broken)
        self.assertEqual(frame_names(programme, 1), ["b.mp3"])


SUMMARY = (
    b"[Parsed_ebur128_0 @ 0x1] Summary:\n\n  Integrated loudness:\n    I:         -11.0 LUFS\n"
    b"    Threshold: -21.0 LUFS\n\n  True peak:\n    Peak:       -0.5 dBFS\n"
)


def play_ffmpeg(process: FakeProcess, frames: int = 4) -> None:
    """
    Play ffmpeg's part for a process a transcoder spawned: report the
    loudness of a measurement, or write the output of a conversion in
    the format its arguments ask for; then exit.
    """
    args = process.args
    if "null" in args:
        process.output(SUMMARY, 2)
    else:
        rate = int(args[args.index("-ar") + 1])
        channels = int(args[args.index("-ac") + 1])
        bitrate = int(args[args.index("-b:a") + 1].rstrip("k"))
        frame = silent_frame(
            version="1" if rate >= 32000 else "2",
            sample_rate=rate,
            channels=channels,
            bitrate=bitrate,
        )
        with open(args[-1].removeprefix("file:"), "wb") as f:
            f.write(frame.data * frames)
    process.end()


class FormatTests(SynchronousTestCase):
    """
    A programme plays one format: MP3s in it as they are, everything else
    converted by ffmpeg (here a fake) ahead of its turn.
    """

    def setUp(self) -> None:
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.reactor = FakeProcessReactor()
        self.clock = Clock()
        self.transcoder = Transcoder(
            self.reactor,
            self.clock,
            synchronous_runner,
            ConversionCache(self.mktemp(), 1 << 30, synchronous_runner),
            "ffmpeg",
        )

    def write(self, name: str, count: int = 3, **kwargs: Any) -> str:
        """
        Write an MP3 of C{count} frames made by L{silent_frame}.
        """
        path = os.path.join(self.folder, name)
        with open(path, "wb") as f:
            f.write(silent_frame(**kwargs).data * count)
        return path

    def other(self, name: str) -> str:
        """
        Write a file in another format (its content only matters to a
        real ffmpeg).
        """
        path = os.path.join(self.folder, name)
        with open(path, "wb") as f:
            f.write(b"fLaC" + bytes(100))
        return path

    def build(self, transcoder: Transcoder | None = None, **kwargs: Any) -> Programme:
        programme = Programme(
            Library(self.folder, synchronous_runner),
            self.clock,
            synchronous_runner,
            rescan_interval=10,
            name="/t",
            transcoder=transcoder or self.transcoder,
            **kwargs,
        )
        programme.start()
        self.addCleanup(programme.stop)
        return programme

    def running(self) -> list[FakeProcess]:
        """
        The ffmpeg processes that have not ended.
        """
        return [process for process in self.reactor.spawned if not process.ended]

    def play(
        self, programme: Programme, tracks: int
    ) -> list[tuple[str, set[tuple[int, int, int]]]]:
        """
        The next C{tracks} plays: each file's name and the (sample rate,
        channels, bitrate) of its frames, with ffmpeg's part played
        whenever the programme waits for it.
        """
        plays: list[tuple[str, set[tuple[int, int, int]]]] = []
        while len(plays) <= tracks:
            item = programme.next_frame()
            if item is None:
                running = self.running()
                self.assertTrue(running, f"nothing to play after {plays}")
                play_ffmpeg(running[0])
                continue
            frame, track, starts = item
            if starts or not plays:
                plays.append((os.path.basename(track.path), set()))
            header = frame.header
            plays[-1][1].add((header.sample_rate, header.channels, header.bitrate))
        return plays[:tracks]

    def test_matching_untouched(self) -> None:
        """
        MP3 files at the first track's sample rate and channels play as
        they are, whatever their bitrate, without ffmpeg; the format is
        the first track's.
        """
        self.write("a.mp3", bitrate=128)
        self.write("b.mp3", bitrate=192)
        self.write("c.mp3", bitrate=64)
        programme = self.build()
        plays = self.play(programme, 6)
        self.assertEqual([name for name, _ in plays], ["a.mp3", "b.mp3", "c.mp3"] * 2)
        self.assertEqual(self.reactor.spawned, [])
        self.assertEqual(programme.format, AudioFormat(44100, 2, 128))

    def test_steady_format(self) -> None:
        """
        Files at other sample rates or channel counts are converted to the
        first track's format, which never changes.
        """
        self.write("a.mp3", sample_rate=48000, bitrate=192)
        self.write("b.mp3", sample_rate=44100)
        self.write("c.mp3", version="2", sample_rate=22050, channels=1, bitrate=64)
        programme = self.build()
        plays = self.play(programme, 6)
        self.assertEqual([name for name, _ in plays], ["a.mp3", "b.mp3", "c.mp3"] * 2)
        self.assertEqual({stream for _, streams in plays for stream in streams}, {(48000, 2, 192)})
        self.assertEqual(programme.format, AudioFormat(48000, 2, 192))
        # Converted once each; the second round comes from the cache.
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertIn("48000", self.reactor.spawned[0].args)

    def test_first_not_mp3(self) -> None:
        """
        A first track in another format sets 44100 Hz stereo 128 kbit/s
        for whatever the configuration leaves open.
        """
        self.other("a.flac")
        self.write("b.mp3", sample_rate=48000)
        programme = self.build(target=AudioFormat(0, 1, 0))
        plays = self.play(programme, 2)
        self.assertEqual(programme.format, AudioFormat(44100, 1, 128))
        self.assertEqual([streams for _, streams in plays], [{(44100, 1, 128)}] * 2)

    def test_configured(self) -> None:
        """
        A fully configured format holds from the start; with a bitrate set,
        MP3s at another bitrate, or in VBR, are converted.
        """
        self.write("a.mp3", bitrate=128)
        self.write("b.mp3", bitrate=192)
        path = os.path.join(self.folder, "c.mp3")
        with open(path, "wb") as f:
            f.write(silent_frame(bitrate=128).data + silent_frame(bitrate=160).data)
        programme = self.build(target=AudioFormat(44100, 2, 128))
        self.assertEqual(programme.format, AudioFormat(44100, 2, 128))
        plays = self.play(programme, 3)
        self.assertEqual({stream for _, streams in plays for stream in streams}, {(44100, 2, 128)})
        converted = [os.path.basename(p.args[p.args.index("-i") + 1]) for p in self.reactor.spawned]
        self.assertEqual(converted, ["b.mp3", "c.mp3"])

    def test_failed_conversion_skipped(self) -> None:
        """
        A file ffmpeg cannot convert is skipped with a log line, and the
        next plays.
        """
        self.write("a.mp3")
        bad = self.other("b.flac")
        self.write("c.mp3")
        programme = self.build()
        with capturedLogs() as events:
            programme.next_frame()
            [process] = self.running()
            process.output(b"b.flac: Invalid data found when processing input\n", 2)
            process.end(Failure(ProcessTerminated(exitCode=1)))
            plays = self.play(programme, 2)
        self.assertEqual([name for name, _ in plays], ["a.mp3", "c.mp3"])
        self.assertEqual(programme.skipped, 1)
        self.assertIn(bad, programme.broken)
        skips = [e for e in events if e.get("log_format", "").startswith("Skipping")]
        self.assertEqual(
            skips[0]["reason"],
            "ffmpeg exited with status 1: b.flac: Invalid data found when processing input",
        )

    def test_hung_conversion_skipped(self) -> None:
        """
        A conversion still running at its time limit is killed, the file
        skipped, and the stream goes on.
        """
        self.write("a.mp3")
        self.other("b.flac")
        programme = self.build()
        programme.next_frame()
        [process] = self.running()
        self.clock.advance(900)
        self.assertEqual(process.signals, ["KILL"])
        process.end(Failure(ProcessTerminated(signal=9)))
        self.assertEqual([name for name, _ in self.play(programme, 2)], ["a.mp3", "a.mp3"])
        self.assertEqual(programme.skipped, 1)

    def test_no_ffmpeg(self) -> None:
        """
        Without ffmpeg, files that need converting are skipped with a log
        line; MP3s in the format play.
        """
        self.write("a.mp3")
        flac = self.other("b.flac")
        self.write("c.mp3", sample_rate=48000)
        transcoder = Transcoder(
            self.reactor,
            self.clock,
            synchronous_runner,
            ConversionCache(self.mktemp(), 1 << 30, synchronous_runner),
            None,
        )
        with capturedLogs() as events:
            programme = self.build(transcoder)
            plays = self.play(programme, 3)
        self.assertEqual([name for name, _ in plays], ["a.mp3"] * 3)
        reasons = {e["path"]: e["reason"] for e in events if "reason" in e and "path" in e}
        self.assertEqual(
            reasons[flac], "needs converting to 44100 Hz stereo 128 kbit/s, and there is no ffmpeg"
        )
        self.assertEqual(len(reasons), 2)

    def test_replaygain(self) -> None:
        """
        With normalization, a ReplayGain tag's gain is applied by
        converting; a gain near 0 dB leaves an MP3 untouched.  Nothing is
        measured.
        """
        for name, gain in (("a.mp3", "-6.00 dB"), ("b.mp3", "+0.20 dB")):
            path = self.write(name)
            tag = ID3()
            tag.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=[gain]))
            tag.save(path)
        programme = self.build(normalize=True)
        plays = self.play(programme, 2)
        self.assertEqual([name for name, _ in plays], ["a.mp3", "b.mp3"])
        [process] = self.reactor.spawned
        self.assertIn("volume=-6.00dB", process.args)
        self.assertEqual(self.transcoder.measurements, 0)

    def test_measured_once(self) -> None:
        """
        With normalization, a file without a tag is measured once; the
        measurement and the conversion with its gain come from the cache
        from then on.
        """
        self.write("a.mp3")
        self.write("b.mp3")
        programme = self.build(normalize=True)
        self.play(programme, 2)
        self.assertEqual(self.transcoder.measurements, 2)
        self.assertEqual(self.transcoder.conversions, 2)
        self.assertIn("volume=-7.00dB", self.reactor.spawned[1].args)
        self.play(programme, 4)
        self.assertEqual(len(self.reactor.spawned), 4)

    def test_format_for_live(self) -> None:
        """
        Live audio on the mount is converted to the programme's fixed
        format, rather than to the format of the audio last played.
        """
        self.write("a.mp3", sample_rate=48000)
        programme = self.build()
        mount = Mount(MountConfig(name="/t"), programme, self.clock)
        fallbacks = Fallbacks({"/t": mount}, self.clock)
        self.play(programme, 1)
        mount.audio.sample_rate = 22050
        self.assertEqual(fallbacks.format_for(mount), AudioFormat(48000, 2, 128))


class ReloadFormatTests(SynchronousTestCase):
    """
    A station's reload keeps each mount's format.
    """

    def test_music_swapped(self) -> None:
        """
        A mount whose music changes plays the new music in the format it
        had; a changed format key is logged and waits for a restart; a
        changed C{normalize} applies to the next track.
        """
        first = os.path.abspath(self.mktemp())
        second = os.path.abspath(self.mktemp())
        for folder, rate in ((first, 44100), (second, 48000)):
            os.makedirs(folder)
            with open(os.path.join(folder, "a.mp3"), "wb") as f:
                f.write(silent_frame(sample_rate=rate).data * 3)
        mount = MountConfig(name="/s", music=first)
        config = StationConfig(port=0, mounts=(mount,), cache_dir=self.mktemp())
        service = StationService(config, Clock(), synchronous_runner)
        station = service.mounts["/s"]
        station.start()
        self.addCleanup(station.stop)
        assert station.switch is not None
        old: Any = station.switch.playlist
        self.assertEqual(old.format, AudioFormat(44100, 2, 128))
        changed = replace(mount, music=second, sample_rate=48000, normalize=True)
        with capturedLogs() as events:
            service.reload(replace(config, mounts=(changed,)))
        new: Any = station.switch.playlist
        self.assertIsNot(new, old)
        self.assertEqual(new.format, AudioFormat(44100, 2, 128))
        # Still any bitrate passes, as configured at the start.
        self.assertEqual(new.requested, AudioFormat(0, 0, 0))
        self.assertTrue(new.normalize)
        self.assertTrue(any("only on restart" in e.get("log_format", "") for e in events))


PARIS = ZoneInfo("Europe/Paris")


class FakeRequest:
    """
    A listener's request as L{RequestSource} hands it out.
    """

    def __init__(self, request_id: str, path: str) -> None:
        self.id = request_id
        self.path = path


class FakeRequests:
    """
    A L{RequestSource} holding requests in order, recording what started.
    """

    def __init__(self) -> None:
        self.pending: list[FakeRequest] = []
        self.started_ids: list[str] = []

    def next_playable(
        self, aired: Sequence[Aired], rules: Rules, starts_at: float
    ) -> FakeRequest | None:
        return self.pending[0] if self.pending else None

    def started(self, request_id: str, now: float) -> None:
        self.started_ids.append(request_id)
        self.pending = [r for r in self.pending if r.id != request_id]

    def forget(self, paths_present: AbstractSet[str]) -> None:
        self.pending = [r for r in self.pending if r.path in paths_present]


class PlaylistsTests(SynchronousTestCase):
    """
    A programme with extra playlists beside its music: jingles after so
    many songs or at the top of the hour, scheduled shows, weighted
    playlists, listeners' requests, as the clock runs.
    """

    sources: list[str]
    last_path: str | None

    def folder(self, files: dict[str, int]) -> str:
        folder = os.path.abspath(str(self.mktemp()))
        os.makedirs(folder)
        for name, count in files.items():
            write_track(folder, name, count)
        return folder

    def build(
        self,
        music: dict[str, int],
        playlists: list[tuple[PlaylistConfig, dict[str, int]]],
        start: datetime = datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        zone: tzinfo = UTC,
        requests: FakeRequests | None = None,
    ) -> tuple[Clock, Programme]:
        clock = Clock()
        clock.advance(start.timestamp())
        extra = []
        for config, files in playlists:
            location = self.folder(files)
            extra.append(
                Playlist(
                    replace(config, music=location),
                    Library(location, synchronous_runner),
                    random.Random(1),
                )
            )
        programme = Programme(
            Library(self.folder(music), synchronous_runner),
            clock,
            synchronous_runner,
            rescan_interval=0,
            name="/t",
            playlists=extra,
            zone=zone,
            requests=requests,
        )
        programme.start()
        self.addCleanup(programme.stop)
        return clock, programme

    def air(self, clock: Clock, programme: Programme, count: int) -> list[tuple[float, Cue]]:
        """
        Hand out frames as the pacer would, the clock moving on by each
        frame's length, until C{count} items have started (a jingle
        without a title of its own shows as a frame that starts nothing
        on a new file).

        @return: the first cue of each item, with its clock time.
        """
        items: list[tuple[float, Cue]] = []
        path = self.last_path
        while len(items) < count:
            cue = programme.next_frame()
            assert cue is not None
            current = programme.playing
            assert current is not None
            if cue.starts or current.path != path:
                items.append((clock.seconds(), cue))
                path = current.path
                self.sources.append(os.path.basename(current.path))
            clock.advance(cue.frame.header.duration)
        self.last_path = path
        return items

    def setUp(self) -> None:
        self.sources = []
        self.last_path = None

    def test_jingle_every_two_songs(self) -> None:
        """
        C{every_songs = 2}: a jingle after every two songs.  A jingle with
        a title of its own goes out under it, as a play of its own, marked
        a jingle and kept out of the rules' memory; one without keeps the
        title on the air and starts no play.
        """
        ids = PlaylistConfig(name="ids", music="", every_songs=2, jingle=True, title="Radio X")
        clock, programme = self.build(
            {"a.mp3": 40, "b.mp3": 40, "c.mp3": 40}, [(ids, {"id1.mp3": 10})]
        )
        items = self.air(clock, programme, 7)
        self.assertEqual(
            self.sources, ["a.mp3", "b.mp3", "id1.mp3", "c.mp3", "a.mp3", "id1.mp3", "b.mp3"]
        )
        jingle = items[2][1]
        self.assertTrue(jingle.starts)
        self.assertEqual((jingle.track.title, jingle.track.jingle), ("Radio X", True))
        self.assertNotIn("id1.mp3", [os.path.basename(a.path) for a in programme.aired])

        self.sources, self.last_path = [], None
        quiet = PlaylistConfig(name="ids", music="", every_songs=2, jingle=True)
        clock, programme = self.build({"a.mp3": 40, "b.mp3": 40}, [(quiet, {"id1.mp3": 10})])
        items = self.air(clock, programme, 4)
        self.assertEqual(self.sources, ["a.mp3", "b.mp3", "id1.mp3", "a.mp3"])
        under = items[2][1]
        self.assertFalse(under.starts)
        self.assertEqual(os.path.basename(under.track.path), "b.mp3")

    def test_top_of_the_hour(self) -> None:
        """
        C{every_minutes = 60, at_minute = 0}: the ID plays at the first
        song end after the hour, once.
        """
        top = PlaylistConfig(name="top", music="", every_minutes=60, at_minute=0, jingle=True)
        start = datetime(2026, 3, 2, 11, 59, 57, tzinfo=UTC)
        clock, programme = self.build({"a.mp3": 40, "b.mp3": 40}, [(top, {"top.mp3": 10})], start)
        items = self.air(clock, programme, 8)
        tops = [at for (at, _), name in zip(items, self.sources, strict=True) if name == "top.mp3"]
        self.assertEqual(len(tops), 1)
        noon = datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp()
        self.assertGreaterEqual(tops[0], noon)
        self.assertLess(tops[0], noon + 1.1)

    def test_scheduled_show(self) -> None:
        """
        A show scheduled from 06:00 in Paris replaces the music from the
        first song end at or after 06:00.
        """
        show = PlaylistConfig(name="morning", music="", schedule=("Mon-Fri 06:00-10:00",))
        start = datetime(2026, 3, 2, 5, 59, 57, tzinfo=PARIS)
        clock, programme = self.build(
            {"a.mp3": 40, "b.mp3": 40}, [(show, {"m1.mp3": 40, "m2.mp3": 40})], start, PARIS
        )
        items = self.air(clock, programme, 7)
        six = datetime(2026, 3, 2, 6, tzinfo=PARIS).timestamp()
        for (at, _), name in zip(items, self.sources, strict=True):
            self.assertEqual(name.startswith("m"), at >= six, (name, at - six))
        self.assertIn("m1.mp3", self.sources)

    def test_weighted(self) -> None:
        """
        A playlist of weight 2 beside the music's 1 gives two songs for
        each of the music's.
        """
        new = PlaylistConfig(name="new", music="", weight=2, order="sequential")
        clock, programme = self.build({"a.mp3": 4, "b.mp3": 4}, [(new, {"x.mp3": 4, "y.mp3": 4})])
        self.air(clock, programme, 6)
        self.assertEqual(self.sources, ["x.mp3", "a.mp3", "y.mp3", "x.mp3", "b.mp3", "y.mp3"])

    def test_request(self) -> None:
        """
        A listener's request plays as soon as a song's turn comes, marked
        as requested, and its queue hears that it started; the round goes
        on without it.
        """
        requests = FakeRequests()
        clock, programme = self.build({"a.mp3": 4, "b.mp3": 4, "c.mp3": 4}, [], requests=requests)
        self.air(clock, programme, 1)
        # The second item was read ahead when the first began.
        requests.pending.append(FakeRequest("r1", programme.library.tracks[2].path))
        items = self.air(clock, programme, 3)
        self.assertEqual(self.sources, ["a.mp3", "b.mp3", "c.mp3", "a.mp3"])
        self.assertTrue(items[1][1].track.requested)
        self.assertEqual(requests.started_ids, ["r1"])

    def test_empty_playlist(self) -> None:
        """
        A scheduled playlist with nothing to play is passed over with one
        warning, and the music goes on.
        """
        show = PlaylistConfig(name="empty", music="", schedule=("daily 00:00-00:00",))
        with capturedLogs() as events:
            clock, programme = self.build({"a.mp3": 4, "b.mp3": 4}, [(show, {})])
            self.air(clock, programme, 4)
        self.assertEqual(self.sources, ["a.mp3", "b.mp3", "a.mp3", "b.mp3"])
        warned = [e for e in events if "nothing to play" in e.get("log_format", "")]
        self.assertEqual([e["playlist"] for e in warned], ["empty"])

    def test_set_playlists(self) -> None:
        """
        A reload that adds a jingle playlist brings jingles from the next
        choice on.
        """
        clock, programme = self.build({"a.mp3": 4, "b.mp3": 4}, [])
        self.air(clock, programme, 2)
        folder = self.folder({"id.mp3": 2})
        ids = PlaylistConfig(name="ids", music=folder, every_songs=1, jingle=True, title="ID")
        programme.set_playlists([ids], lambda music: Library(music, synchronous_runner))
        self.air(clock, programme, 4)
        self.assertIn("id.mp3", self.sources[3:])


OVERLAP = silent_frame(fill=1)
"""
The frame a L{FakeJoiner} renders overlaps with: told apart from the
tracks' frames by its payload.
"""


class FakeJoiner:
    """
    Stands in for the L{Transcoder}'s autocue and crossfade: no silence to
    skip, and an overlap of C{seconds} of L{OVERLAP} frames replacing as
    many frames at the end of one track and the start of the next.
    """

    available = True

    def __init__(self) -> None:
        self.joins: list[tuple[int, int, float]] = []

    def cue_points(self, source: str, duration: float, name: str = "") -> Deferred[CuePoints]:
        return succeed(CuePoints(0.0, 1e9))

    def crossfade(
        self,
        outgoing: Sequence[Frame],
        incoming: Sequence[Frame],
        seconds: float,
        target: AudioFormat,
        fade_in: bool = False,
        name: str = "",
    ) -> Deferred[Join]:
        self.joins.append((len(outgoing), len(incoming), seconds))
        count = min(round(seconds / OVERLAP.duration), len(outgoing) // 2, len(incoming) // 2)
        return succeed(Join(len(outgoing) - count, (OVERLAP,) * count, count, incoming[count]))


class CrossfadeTests(SynchronousTestCase):
    """
    With a crossfade, the end of one track and the start of the next are
    replaced by the overlap rendered for them, frame for frame.
    """

    def build(
        self, crossfade: float, jingle_crossfade: float = -1.0
    ) -> tuple[Programme, FakeJoiner]:
        folder = os.path.abspath(str(self.mktemp()))
        os.makedirs(folder)
        for name in ("a.mp3", "b.mp3"):
            write_track(folder, name, 40)
        ids = os.path.abspath(str(self.mktemp()))
        os.makedirs(ids)
        write_track(ids, "id.mp3", 20)
        joiner = FakeJoiner()
        playlists = []
        if jingle_crossfade != -1.0:
            config = PlaylistConfig(
                name="ids",
                music=ids,
                every_songs=2,
                jingle=True,
                title="ID",
                crossfade=jingle_crossfade,
            )
            playlists.append(Playlist(config, Library(ids, synchronous_runner), random.Random(1)))
        programme = Programme(
            Library(folder, synchronous_runner),
            Clock(),
            synchronous_runner,
            rescan_interval=0,
            name="/t",
            transcoder=cast(Transcoder, joiner),
            crossfade=crossfade,
            playlists=playlists,
        )
        programme.start()
        self.addCleanup(programme.stop)
        return programme, joiner

    def frames(self, programme: Programme, count: int) -> list[str]:
        """
        The next C{count} frames: the file each belongs to, C{"x"} for an
        overlap frame, with C{"+"} before a frame that starts a play.
        """
        out = []
        for _ in range(count):
            cue = programme.next_frame()
            assert cue is not None
            name = "x" if cue.frame.data == OVERLAP.data else os.path.basename(cue.track.path)[0]
            out.append(("+" if cue.starts else "") + name)
        return out

    def test_overlap_spliced(self) -> None:
        """
        A 10-frame crossfade: the last 10 frames of a track and the first
        10 of the next are replaced by 10 overlap frames, which start the
        next track's play; the next goes on from its 11th frame, and
        fades into the one after the same way.
        """
        programme, joiner = self.build(crossfade=10 * OVERLAP.duration)
        frames = self.frames(programme, 70)
        overlap = ["+x"] + ["x"] * 9
        self.assertEqual(frames, ["+a"] + ["a"] * 29 + overlap + ["b"] * 20 + overlap)
        self.assertEqual(joiner.joins[0][2], 10 * OVERLAP.duration)

    def test_no_crossfade(self) -> None:
        """
        Without a crossfade, tracks follow each other whole.
        """
        programme, joiner = self.build(crossfade=0.0)
        self.assertEqual(self.frames(programme, 80), ["+a"] + ["a"] * 39 + ["+b"] + ["b"] * 39)
        self.assertEqual(joiner.joins, [])

    def test_jingles_not_faded(self) -> None:
        """
        A jingle playlist with C{crossfade = 0} joins its neighbours
        without overlaps, while songs still crossfade into each other.
        """
        programme, joiner = self.build(crossfade=10 * OVERLAP.duration, jingle_crossfade=0.0)
        frames = self.frames(programme, 150)
        self.assertEqual(frames[:30], ["+a"] + ["a"] * 29)
        self.assertEqual(frames[30:40], ["+x"] + ["x"] * 9)
        # b then plays to its end, straight into the ID, then a whole.
        self.assertEqual(frames[40:70], ["b"] * 30)
        self.assertEqual(frames[70], "+i")
        self.assertEqual(frames[90], "+a")

    def test_skip_fades(self) -> None:
        """
        A skip with a crossfade plays on for a second, then fades into the
        next track rather than cutting.
        """
        programme, joiner = self.build(crossfade=5 * OVERLAP.duration)
        self.assertEqual(self.frames(programme, 2), ["+a", "a"])
        programme.skip()
        frames = self.frames(programme, 60)
        lead = frames.index("+x")
        self.assertGreater(lead, 20)
        self.assertLess(lead, 40)
        self.assertEqual(frames[lead : lead + 5], ["+x"] + ["x"] * 4)
        self.assertEqual(frames[lead + 5], "b")

    def test_crossfade_longer_than_half_a_track(self) -> None:
        """
        A crossfade longer than half a track is warned about once, naming
        the track; the track overlaps by what the renderer allows.
        """
        with capturedLogs() as events:
            programme, joiner = self.build(crossfade=0.8)
            programme.rescan()
        warned = [e for e in events if "longer than half" in e.get("log_format", "")]
        self.assertEqual(len(warned), 1)
        self.assertEqual(warned[0]["seconds"], 0.8)
        self.assertTrue(warned[0]["path"].endswith(".mp3"))
