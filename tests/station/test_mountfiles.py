"""
Tests for L{radiod.station.mountfiles}: a station's mounts get the intro
and the dump file their configuration names, on start and on reload.
"""

from __future__ import annotations

import os
from dataclasses import replace

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.station.mountfiles import MountFiles
from radiod.testing import FakeFrameSource, silent_frame, synchronous_runner

FRAME = silent_frame(fill=0x55)
INTRO = silent_frame(fill=0x33)
TRACK = TrackInfo("/a.mp3", "First Song", "Alpha Artist")


class MountFilesTests(SynchronousTestCase):
    """
    L{MountFiles} reads intros and keeps dump files for the mounts it
    watches.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.files = MountFiles(self.clock, synchronous_runner)

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def write(self, name: str, data: bytes) -> str:
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def mount(self, **settings: object) -> Mount:
        config = replace(MountConfig(name="/m"), **settings)  # type: ignore[arg-type]
        mount = Mount(config, FakeFrameSource([(TRACK, FRAME, 1000)]), self.clock)
        mount.start()
        self.addCleanup(mount.stop)
        return mount

    def test_intro(self) -> None:
        """
        A watched mount gets its intro's frames; a reload naming no intro
        takes it away.
        """
        path = self.write("intro.mp3", INTRO.data * 4)
        mount = self.mount(intro=path)
        self.files.watch(mount)
        assert mount.intro is not None
        self.assertEqual(mount.intro.data, INTRO.data * 4)
        mount.reconfigure(replace(mount.config, intro=""))
        self.files.watch(mount)
        self.assertIsNone(mount.intro)

    def test_intro_read_again(self) -> None:
        """
        L{MountFiles.reopen} (on SIGHUP) reads an intro file again.
        """
        path = self.write("intro.mp3", INTRO.data * 4)
        mount = self.mount(intro=path)
        self.files.watch(mount)
        self.write("intro.mp3", INTRO.data * 2)
        self.files.watch(mount)
        assert mount.intro is not None
        self.assertEqual(len(mount.intro.data), 4 * len(INTRO.data))
        self.files.reopen()
        self.assertEqual(mount.intro.data, INTRO.data * 2)

    def test_bad_intro(self) -> None:
        """
        An intro that cannot be read, or holds no MP3 audio, is logged in
        one line naming the mount and the file; the mount has none.
        """
        missing = self.path("missing.mp3")
        junk = self.write("junk.mp3", b"not audio" * 100)
        for path, reason in ((missing, "No such file or directory"), (junk, "no MP3 audio")):
            mount = self.mount(intro=path)
            with capturedLogs() as events:
                self.files.watch(mount)
            self.assertIsNone(mount.intro)
            lines = [formatEvent(e) for e in events]
            self.assertEqual(len(lines), 1, lines)
            self.assertIn(f"Intro {path} of /m not read, listeners join without it: ", lines[0])
            self.assertIn(reason, lines[0])

    def test_dump(self) -> None:
        """
        A watched mount with a dump file writes what it airs there; a
        reload with another file closes the first; forgetting the mount
        closes the second.
        """
        first = self.path("first.mp3")
        mount = self.mount(dump_file=first)
        self.files.watch(mount)
        self.clock.pump([0.1] * 10)
        dump = self.files.dumps["/m"]
        self.assertIn(dump, mount.on_air)
        with open(first, "rb") as f:
            written = f.read()
        self.assertTrue(written)
        self.assertEqual(written, FRAME.data * (len(written) // len(FRAME.data)))
        second = self.path("second.mp3")
        mount.reconfigure(replace(mount.config, dump_file=second))
        self.files.watch(mount)
        self.assertTrue(dump.closed)
        self.assertNotIn(dump, mount.on_air)
        self.clock.pump([0.1] * 10)
        self.assertTrue(os.path.getsize(second))
        again = self.files.dumps["/m"]
        self.files.forget(mount)
        self.assertTrue(again.closed)
        self.assertEqual(self.files.dumps, {})

    def test_unchanged(self) -> None:
        """
        Watching a mount again with the same settings keeps its dump file.
        """
        mount = self.mount(dump_file=self.path("d.mp3"), dump_size=100_000)
        self.files.watch(mount)
        dump = self.files.dumps["/m"]
        mount.reconfigure(replace(mount.config, genre="jazz"))
        self.files.watch(mount)
        self.assertIs(self.files.dumps["/m"], dump)
        self.files.close()
        self.assertTrue(dump.closed)
