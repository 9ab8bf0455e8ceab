"""
Tests for L{radiod.web.history}: the play history file.
"""

from __future__ import annotations

import json
import os
from collections import deque

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import HISTORY_SIZE, Mount
from radiod.config import MountConfig
from radiod.interfaces import Runner
from radiod.testing import FakeFrameSource, LaterRunner, silent_frame, synchronous_runner
from radiod.web.history import (
    FORMAT,
    HistoryError,
    Played,
    PlayHistory,
    decode_history,
    encode_history,
    merge_history,
    read_if_present,
    write_atomically,
)

ALPHA = TrackInfo("/music/a.mp3", "First Song", "Alpha Artist", "Album", 187.5)
BETA = TrackInfo(
    "/music/b.mp3", "Second Song", "Beta Artist", requested=True, art="0123456789abcdef"
)
LIVE = TrackInfo("", "Night Show")


tracks = st.builds(
    TrackInfo,
    path=st.text(max_size=20),
    title=st.text(min_size=1, max_size=20),
    artist=st.text(max_size=20),
    album=st.text(max_size=20),
    duration=st.floats(min_value=0, max_value=1e6),
)
played = st.lists(
    st.tuples(tracks, st.floats(min_value=0, max_value=4e9, allow_nan=False)), max_size=5
)


class CodecTests(SynchronousTestCase):
    """
    The file's contents, and merging them into a mount's history.
    """

    def test_round_trip(self) -> None:
        """
        What L{encode_history} writes, L{decode_history} reads back, in
        order, as JSON with a format number.
        """
        history = {"/stream": [(BETA, 200.0), (ALPHA, 100.5)], "/live": [(LIVE, 50.0)]}
        data = encode_history(history)
        self.assertEqual(json.loads(data)["format"], FORMAT)
        self.assertEqual(decode_history(data), history)

    @given(mounts=st.dictionaries(st.text(max_size=10), played, max_size=3))
    def test_any_text(self, mounts: dict[str, list[Played]]) -> None:
        """
        Any titles and names (even lone surrogates from undecodable file
        names) survive the round trip.
        """
        self.assertEqual(decode_history(encode_history(mounts)), mounts)

    def test_undecodable_file_name(self) -> None:
        """
        A file name that is not valid UTF-8 (a surrogate escape) is kept.
        """
        track = TrackInfo("/music/\udcff.mp3", "Odd")
        self.assertEqual(
            decode_history(encode_history({"/s": [(track, 1.0)]})), {"/s": [(track, 1.0)]}
        )

    def test_not_a_history(self) -> None:
        """
        Anything else is a L{HistoryError} with a short reason.
        """
        bad = [
            b"",
            b"{",
            b"\xff\xfe",
            b"[]",
            b'{"format": 2, "mounts": {}}',
            b'{"format": 1}',
            b'{"format": 1, "mounts": []}',
            b'{"format": 1, "mounts": {"/s": {}}}',
            b'{"format": 1, "mounts": {"/s": [1]}}',
            b'{"format": 1, "mounts": {"/s": [{"started": 1}]}}',
            b'{"format": 1, "mounts": {"/s": [{"title": 5, "started": 1}]}}',
            b'{"format": 1, "mounts": {"/s": [{"title": "t", "started": "x"}]}}',
            b'{"format": 1, "mounts": {"/s": [{"title": "t", "started": true}]}}',
            b'{"format": 1, "mounts": {"/s": [{"title": "t", "started": NaN}]}}',
            b"[" * 100000,
        ]
        for data in bad:
            with self.assertRaises(HistoryError, msg=repr(data[:40])):
                decode_history(data)

    def test_merge_after_new(self) -> None:
        """
        Saved tracks go after those played since, without duplicates, up
        to the history's length.
        """
        history: deque[Played] = deque([(BETA, 300.0)], maxlen=3)
        merge_history(history, [(BETA, 300.0), (ALPHA, 200.0), (LIVE, 100.0), (BETA, 50.0)])
        self.assertEqual(list(history), [(BETA, 300.0), (ALPHA, 200.0), (LIVE, 100.0)])

    def test_merge_full(self) -> None:
        """
        A full history takes nothing more.
        """
        history: deque[Played] = deque([(BETA, 300.0)], maxlen=1)
        merge_history(history, [(ALPHA, 200.0)])
        self.assertEqual(list(history), [(BETA, 300.0)])


class FileTests(SynchronousTestCase):
    """
    Reading and writing the file.
    """

    def test_write_atomically(self) -> None:
        """
        The folder is created, the file replaced whole, and no temporary
        file is left behind.
        """
        folder = os.path.join(self.mktemp(), "state")
        path = os.path.join(folder, "history.json")
        write_atomically(path, b"one")
        write_atomically(path, b"two")
        self.assertEqual(read_if_present(path), b"two")
        self.assertEqual(os.listdir(folder), ["history.json"])

    def test_write_fails_cleanly(self) -> None:
        """
        A write that cannot finish raises and leaves no temporary file.
        """
        folder = self.mktemp()
        path = os.path.join(folder, "history.json")
        os.makedirs(path)
        with self.assertRaises(OSError):
            write_atomically(path, b"data")
        self.assertEqual(os.listdir(folder), ["history.json"])

    def test_read_missing(self) -> None:
        """
        A missing file reads as None.
        """
        self.assertIsNone(read_if_present(os.path.join(self.mktemp(), "nothing.json")))


class PlayHistoryTests(SynchronousTestCase):
    """
    The history of a station's mounts kept in a file across restarts.
    """

    def build(
        self, path: str | None = None, runner: Runner = synchronous_runner
    ) -> tuple[Clock, dict[str, Mount], PlayHistory]:
        """
        A history over one mount C{/stream} (not started) in a fresh folder.
        """
        clock = Clock()
        clock.advance(1_800_000_000)
        mount = Mount(
            MountConfig(name="/stream"), FakeFrameSource([(ALPHA, silent_frame(), 1)]), clock
        )
        mounts = {"/stream": mount}
        if path is None:
            path = os.path.join(self.mktemp(), "history.json")
        history = PlayHistory(path, mounts, clock, runner, delay=5.0)
        return clock, mounts, history

    def saved(self, history: PlayHistory) -> dict[str, list[Played]]:
        """
        What the file holds now.
        """
        data = read_if_present(history.path)
        assert data is not None
        return decode_history(data)

    def test_no_file(self) -> None:
        """
        Without a file, loading changes nothing and logs nothing.
        """
        clock, mounts, history = self.build()
        with capturedLogs() as events:
            self.successResultOf(history.load())
        self.assertEqual(events, [])
        self.assertEqual(list(mounts["/stream"].history), [])

    def test_changes_coalesce(self) -> None:
        """
        Changes are written once, a few seconds after the first.
        """
        clock, mounts, history = self.build()
        history.load()
        mount = mounts["/stream"]
        mount.history.appendleft((ALPHA, clock.seconds()))
        history.changed()
        clock.advance(2)
        mount.history.appendleft((BETA, clock.seconds()))
        history.changed()
        self.assertFalse(os.path.exists(history.path))
        clock.advance(3)
        self.assertEqual(history.writes, 1)
        self.assertEqual(self.saved(history), {"/stream": list(mount.history)})
        clock.advance(60)
        self.assertEqual(history.writes, 1)

    def test_restart(self) -> None:
        """
        A new station reading the file has the old tracks after the ones
        it played before the file was read.
        """
        clock, mounts, history = self.build()
        history.load()
        mounts["/stream"].history.appendleft((ALPHA, 100.0))
        history.changed()
        self.successResultOf(history.stop())
        clock, mounts, again = self.build(history.path)
        mounts["/stream"].history.appendleft((BETA, 200.0))
        self.successResultOf(again.load())
        self.assertEqual(list(mounts["/stream"].history), [(BETA, 200.0), (ALPHA, 100.0)])

    def test_restart_capped(self) -> None:
        """
        The merged history keeps at most L{HISTORY_SIZE} tracks a mount.
        """
        path = os.path.join(self.mktemp(), "history.json")
        old = [(ALPHA, float(n)) for n in range(HISTORY_SIZE, 0, -1)]
        write_atomically(path, encode_history({"/stream": old, "/gone": old}))
        clock, mounts, history = self.build(path)
        mounts["/stream"].history.appendleft((BETA, 1000.0))
        history.load()
        entries = list(mounts["/stream"].history)
        self.assertEqual(len(entries), HISTORY_SIZE)
        self.assertEqual(entries[:2], [(BETA, 1000.0), (ALPHA, float(HISTORY_SIZE))])

    def test_corrupt_file(self) -> None:
        """
        A file that is not a history is reported in one log line and
        ignored; the next write replaces it.
        """
        path = os.path.join(self.mktemp(), "history.json")
        write_atomically(path, b'{"format": 1, "mounts": {"/stream": [{"title": 3}]}}')
        clock, mounts, history = self.build(path)
        with capturedLogs() as events:
            history.load()
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["log_level"].name, "warn")
        self.assertEqual(events[0]["path"], path)
        self.assertIn("'title' must be text", events[0]["reason"])
        self.assertEqual(list(mounts["/stream"].history), [])
        mounts["/stream"].history.appendleft((ALPHA, 5.0))
        history.changed()
        clock.advance(5)
        self.assertEqual(self.saved(history), {"/stream": [(ALPHA, 5.0)]})

    def test_unreadable_file(self) -> None:
        """
        A file that cannot be read at all is reported and ignored too.
        """
        path = self.mktemp()
        os.makedirs(path)
        clock, mounts, history = self.build(path)
        with capturedLogs() as events:
            self.successResultOf(history.load())
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["log_format"], "Ignoring the play history in {path}: {reason}")

    def test_write_failure_logged(self) -> None:
        """
        A write that fails is logged; the station goes on.
        """
        path = self.mktemp()
        os.makedirs(path)
        clock, mounts, history = self.build(path)
        history.load()
        with capturedLogs() as events:
            history.changed()
            clock.advance(5)
        self.assertEqual(
            [event["log_format"] for event in events],
            ["Cannot write the play history to {path}: {reason}"],
        )
        self.assertEqual(history.writes, 0)

    def test_no_write_before_read(self) -> None:
        """
        Nothing is written before the file was read, so a slow read never
        loses the saved history; once read, the changes are written.
        """
        path = os.path.join(self.mktemp(), "history.json")
        write_atomically(path, encode_history({"/stream": [(ALPHA, 1.0)]}))
        runner = LaterRunner()
        clock, mounts, history = self.build(path, runner)
        history.load()
        mounts["/stream"].history.appendleft((BETA, 2.0))
        history.changed()
        clock.advance(10)
        self.successResultOf(history.flush())
        self.assertEqual(len(runner.pending), 1)
        runner.run_all()
        clock.advance(5)
        runner.run_all()
        self.assertEqual(self.saved(history), {"/stream": [(BETA, 2.0), (ALPHA, 1.0)]})

    def test_stop_waits_for_write(self) -> None:
        """
        Stopping while a write runs waits for it, then writes what changed
        meanwhile; after that nothing more is written.
        """
        runner = LaterRunner()
        clock, mounts, history = self.build(runner=runner)
        history.load()
        runner.run_all()
        mounts["/stream"].history.appendleft((ALPHA, 1.0))
        history.changed()
        clock.advance(5)
        self.assertEqual(len(runner.pending), 1)
        mounts["/stream"].history.appendleft((BETA, 2.0))
        history.changed()
        stopped = history.stop()
        self.assertNoResult(stopped)
        runner.run()
        self.assertNoResult(stopped)
        self.assertEqual(len(runner.pending), 1)
        runner.run_all()
        self.successResultOf(stopped)
        self.assertEqual(history.writes, 2)
        self.assertEqual(self.saved(history), {"/stream": [(BETA, 2.0), (ALPHA, 1.0)]})
        history.changed()
        clock.advance(60)
        self.assertEqual(runner.pending, [])
        self.assertEqual(clock.getDelayedCalls(), [])
