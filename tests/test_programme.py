"""
Tests for L{radiod.programme}: a library played as one frame source.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable
from typing import TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.frames import Frame
from radiod.interfaces import IFrameSource
from radiod.library import Library
from radiod.programme import Programme
from radiod.testing import silent_frame, synchronous_runner

_T = TypeVar("_T")


def write_track(folder: str, name: str, frames: int, bitrate: int = 128) -> str:
    """
    Write an MP3 file of C{frames} silent frames; return its path.
    """
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(silent_frame(bitrate=bitrate).data * frames)
    return path


class LaterRunner:
    """
    A runner whose work runs only when the test says so, as a thread
    would finish later.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Callable[[], object], Deferred[object]]] = []

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]:
        done: Deferred[_T] = Deferred()
        self.pending.append((work, done))  # type: ignore[arg-type]
        return done

    def run_all(self) -> None:
        while self.pending:
            work, done = self.pending.pop(0)
            try:
                result = work()
            except Exception as error:
                done.errback(error)
            else:
                done.callback(result)


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
        current = None
        while len(plays) < count + 1:
            item = programme.next_frame()
            self.assertIsNotNone(item, plays)
            assert item is not None
            frame, track = item
            self.assertIsInstance(frame, Frame)
            if track is not current:
                current = track
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
