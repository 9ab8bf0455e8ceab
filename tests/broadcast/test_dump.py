"""
Tests for L{radiod.broadcast.dump}: what a mount airs, written to dump files
named, rotated and reopened as Icecast's C{<dump-file>} is.
"""

from __future__ import annotations

import calendar
import errno
import os

from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.frames import Frame
from radiod.audio.track import Play, TrackInfo
from radiod.broadcast.dump import DumpFile, DumpTarget, dump_path, next_boundary
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.interfaces import Frames
from radiod.testing import FakeFrameSource, read_frames, silent_frame

START = float(calendar.timegm((2026, 12, 7, 14, 23, 10, 0, 0, 0)))
"""
2026-12-07 14:23:10 UTC.
"""

SONG = Play(1, TrackInfo("/a.mp3", "First Song", "Alpha Artist"))

SMALL = silent_frame(fill=0x11)
LARGE = silent_frame(padding=True, fill=0x22)
HUGE = silent_frame(bitrate=320, fill=0x33)


def numbered(count: int) -> list[Frame]:
    """
    C{count} frames told apart by their payload and, every third one, by
    their length (a padded frame is a byte longer).
    """
    return [silent_frame(padding=index % 3 == 0, fill=index % 256) for index in range(count)]


def aired(frames: list[Frame]) -> Frames:
    """
    Frames as a mount airs them, all of one play.
    """
    return [(frame, SONG) for frame in frames]


def read(path: str) -> bytes:
    """
    The current contents of a file.
    """
    with open(path, "rb") as f:
        return f.read()


def at(hour: int, minute: int, second: float = 0.0) -> float:
    """
    A time on 2026-12-07, UTC.
    """
    return calendar.timegm((2026, 12, 7, hour, minute, 0, 0, 0, 0)) + second


class FullDisk:
    """
    A file on a full disk: every write fails with C{ENOSPC}.

    @ivar closed: whether it was closed.
    """

    def __init__(self) -> None:
        self.closed = False

    def write(self, data: bytes, /) -> int:
        """
        Fail as a full disk does.
        """
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        """
        Nothing buffered.
        """

    def fileno(self) -> int:
        """
        No real descriptor.
        """
        return -1

    def close(self) -> None:
        """
        Remember the close.
        """
        self.closed = True


class DumpPathTests(SynchronousTestCase):
    """
    Tests for L{dump_path} and L{next_boundary}.
    """

    def test_plain(self) -> None:
        """
        A path without a pattern, not stamped and without a suffix, is
        used as it is.
        """
        self.assertEqual(dump_path("/d/show.mp3", START, False), "/d/show.mp3")

    def test_stamped(self) -> None:
        """
        A stamped path gets the UTC time before its extension, then the
        suffix.
        """
        self.assertEqual(dump_path("/d/show.mp3", START, True), "/d/show-20261207-142310.mp3")
        self.assertEqual(dump_path("/d/show.mp3", START, True, 2), "/d/show-20261207-142310-2.mp3")
        self.assertEqual(dump_path("/d.x/show", START, True), "/d.x/show-20261207-142310")

    def test_pattern(self) -> None:
        """
        A path with a C{%} is a C{strftime} pattern, expanded in UTC,
        folders included; a suffix goes before the extension.
        """
        self.assertEqual(
            dump_path("/d/%Y/dump-%Y%m%d-%H%M%S.mp3", START, False),
            "/d/2026/dump-20261207-142310.mp3",
        )
        self.assertEqual(dump_path("/d/%d%%.mp3", START, False, 1), "/d/07%-1.mp3")

    def test_boundary(self) -> None:
        """
        Boundaries are whole multiples of the interval since the epoch: a
        time on a boundary belongs to the interval it starts.
        """
        self.assertEqual(next_boundary(START, 3600), at(15, 0))
        self.assertEqual(next_boundary(at(15, 0), 3600), at(16, 0))
        self.assertEqual(next_boundary(START, 86400), at(0, 0) + 86400)
        self.assertEqual(next_boundary(START, 60), at(14, 24))


class DumpFileTests(SynchronousTestCase):
    """
    Tests for L{DumpFile} writing real files.
    """

    def setUp(self) -> None:
        """
        A clock at L{START}, a fresh folder (not yet created) and a
        recording C{fsync}.
        """
        self.clock = Clock()
        self.clock.advance(START)
        self.directory = os.path.join(os.path.abspath(self.mktemp()), "dumps")
        self.synced: list[int] = []

    def dump(self, path: str = "show.mp3", **kwargs: object) -> DumpFile:
        """
        A dump of C{/stream} to C{path} in the test folder.
        """
        kwargs.setdefault("fsync", self.synced.append)
        dump = DumpFile(
            "/stream",
            os.path.join(self.directory, path),
            self.clock,
            **kwargs,  # type: ignore[arg-type]
        )
        self.addCleanup(dump.close)
        return dump

    def files(self) -> list[str]:
        """
        The names in the test folder, sorted.
        """
        return sorted(os.listdir(self.directory))

    def assertWholeFrames(self, names: list[str], frames: list[Frame]) -> None:
        """
        The files called C{names}, in order, hold C{frames} byte for byte,
        each starting and ending at a frame boundary.
        """
        remaining = list(frames)
        for name in names:
            content = read(os.path.join(self.directory, name))
            taken = 0
            size = 0
            while size < len(content) and taken < len(remaining):
                size += len(remaining[taken].data)
                taken += 1
            self.assertEqual(content, b"".join(frame.data for frame in remaining[:taken]), name)
            self.assertEqual(read_frames(content), remaining[:taken], name)
            remaining = remaining[taken:]
        self.assertEqual(remaining, [])

    def test_byte_exact(self) -> None:
        """
        Every frame aired is in the file, byte for byte and in order, as
        soon as its batch is aired, in a folder created for it.
        """
        frames = numbered(12)
        dump = self.dump()
        path = os.path.join(self.directory, "show.mp3")
        dump(aired(frames[:5]))
        self.assertEqual(dump.path, path)
        self.assertEqual(read(path), b"".join(frame.data for frame in frames[:5]))
        dump(aired(frames[5:]))
        self.assertEqual(read(path), b"".join(frame.data for frame in frames))
        self.assertEqual(dump.written, sum(len(frame.data) for frame in frames))
        self.assertEqual(self.files(), ["show.mp3"])

    def test_nothing_aired_no_file(self) -> None:
        """
        A dump that never gets a frame leaves no file, not even the folder.
        """
        dump = self.dump()
        dump([])
        dump.close()
        self.assertIsNone(dump.path)
        self.assertFalse(os.path.exists(self.directory))

    def test_append_across_restart(self) -> None:
        """
        Without a pattern and without rotation, a dump appends to what an
        earlier run left in the file.
        """
        os.makedirs(self.directory)
        path = os.path.join(self.directory, "show.mp3")
        with open(path, "wb") as f:
            f.write(SMALL.data)
        first = self.dump()
        first(aired([LARGE]))
        first.close()
        second = self.dump()
        second(aired([HUGE]))
        second.close()
        self.assertEqual(read(path), SMALL.data + LARGE.data + HUGE.data)
        self.assertEqual(self.files(), ["show.mp3"])

    def test_fsync(self) -> None:
        """
        The file is synced at most once a second while written, once more
        when closed, and nothing is written after closing.
        """
        dump = self.dump()
        dump(aired([SMALL]))
        self.clock.advance(0.5)
        dump(aired([SMALL]))
        self.assertEqual(self.synced, [])
        self.clock.advance(0.5)
        dump(aired([SMALL]))
        dump(aired([SMALL]))
        self.assertEqual(len(self.synced), 1)
        dump.close()
        self.assertEqual(len(self.synced), 2)
        dump(aired([SMALL]))
        self.assertEqual(read(os.path.join(self.directory, "show.mp3")), SMALL.data * 4)

    def test_unsyncable(self) -> None:
        """
        A file that cannot be synced (C{EINVAL}, as C{/dev/null} answers)
        is still written, and nothing is logged.
        """

        def unsyncable(fd: int) -> None:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

        dump = self.dump(fsync=unsyncable)
        with capturedLogs() as events:
            dump(aired([SMALL]))
            self.clock.advance(2)
            dump(aired([LARGE]))
            dump.close()
        self.assertEqual([e for e in events if e["log_level"] >= LogLevel.warn], [])
        self.assertFalse(dump.failed)
        self.assertEqual(read(os.path.join(self.directory, "show.mp3")), SMALL.data + LARGE.data)

    def test_size_rotation(self) -> None:
        """
        With C{max_size}, a file is cut before the frame that would take it
        past the limit: no file is larger, every file holds whole frames,
        and together they hold every frame in order.  The files are named
        after their opening time, numbered within one second.
        """
        frames = numbered(20)
        dump = self.dump(max_size=1300)
        dump(aired(frames[:7]))
        dump(aired(frames[7:]))
        dump.close()
        # 3 frames of 417 or 418 bytes fit in 1300 bytes, a 4th does not.
        names = ["show-20261207-142310.mp3"] + [
            f"show-20261207-142310-{n}.mp3" for n in range(1, 7)
        ]
        self.assertEqual(self.files(), sorted(names))
        for name in names:
            self.assertLessEqual(os.path.getsize(os.path.join(self.directory, name)), 1300)
        self.assertWholeFrames(names, frames)
        self.assertEqual(dump.files, 7)

    def test_frame_over_limit(self) -> None:
        """
        A frame larger than C{max_size} is never split: it gets a file of
        its own.
        """
        dump = self.dump(max_size=500)
        dump(aired([SMALL, HUGE, SMALL]))
        dump.close()
        names = ["show-20261207-142310.mp3", "show-20261207-142310-1.mp3"]
        names.append("show-20261207-142310-2.mp3")
        self.assertEqual(self.files(), sorted(names))
        self.assertWholeFrames(names, [SMALL, HUGE, SMALL])
        self.assertEqual(
            [os.path.getsize(os.path.join(self.directory, n)) for n in names],
            [len(SMALL.data), len(HUGE.data), len(SMALL.data)],
        )

    def test_time_rotation(self) -> None:
        """
        With C{rotate_every=3600}, a file opened at 14:23:10 takes every
        batch until 15:00:00, when the next file starts; that one runs to
        16:00:00.
        """
        dump = self.dump(rotate_every=3600)
        dump(aired([SMALL]))
        self.clock.advance(at(14, 59, 59.9) - self.clock.seconds())
        dump(aired([LARGE]))
        self.assertEqual(self.files(), ["show-20261207-142310.mp3"])
        self.clock.advance(at(15, 0) - self.clock.seconds())
        dump(aired([HUGE, SMALL]))
        self.clock.advance(at(15, 59, 59) - self.clock.seconds())
        dump(aired([LARGE]))
        self.clock.advance(at(16, 0, 0.1) - self.clock.seconds())
        dump(aired([SMALL]))
        names = ["show-20261207-142310.mp3", "show-20261207-150000.mp3", "show-20261207-160000.mp3"]
        self.assertEqual(self.files(), names)
        self.assertWholeFrames(names, [SMALL, LARGE, HUGE, SMALL, LARGE, SMALL])

    def test_rotation_syncs(self) -> None:
        """
        A file is synced before it is closed for the next one.
        """
        dump = self.dump(rotate_every=60)
        dump(aired([SMALL]))
        self.clock.advance(60)
        dump(aired([SMALL]))
        self.assertEqual(len(self.synced), 1)

    def test_strftime_names(self) -> None:
        """
        A C{strftime} pattern is expanded in UTC when each file opens, the
        folders it names created.
        """
        dump = self.dump("%Y/%m/dump-%Y%m%d-%H%M%S.mp3", rotate_every=3600)
        dump(aired([SMALL]))
        self.clock.advance(at(15, 0, 1) - self.clock.seconds())
        dump(aired([LARGE]))
        folder = os.path.join(self.directory, "2026", "12")
        self.assertEqual(
            sorted(os.listdir(folder)), ["dump-20261207-142310.mp3", "dump-20261207-150001.mp3"]
        )
        self.assertEqual(read(os.path.join(folder, "dump-20261207-150001.mp3")), LARGE.data)

    def test_collision(self) -> None:
        """
        A pattern coarser than the rotation gives one name to several
        files: each new one gets the next free number, and a file left
        by an earlier run is never written to.
        """
        os.makedirs(self.directory)
        taken = os.path.join(self.directory, "dump-20261207.mp3")
        with open(taken, "wb") as f:
            f.write(b"old")
        dump = self.dump("dump-%Y%m%d.mp3", rotate_every=3600)
        dump(aired([SMALL]))
        self.clock.advance(3600)
        dump(aired([LARGE]))
        self.assertEqual(
            self.files(), ["dump-20261207-1.mp3", "dump-20261207-2.mp3", "dump-20261207.mp3"]
        )
        self.assertEqual(read(taken), b"old")
        self.assertEqual(read(os.path.join(self.directory, "dump-20261207-2.mp3")), LARGE.data)

    def test_pattern_restart(self) -> None:
        """
        A pattern without rotation opens a new file on each start, even
        within the same second.
        """
        first = self.dump("show-%H%M%S.mp3")
        first(aired([SMALL]))
        first.close()
        second = self.dump("show-%H%M%S.mp3")
        second(aired([LARGE]))
        second.close()
        self.assertEqual(self.files(), ["show-142310-1.mp3", "show-142310.mp3"])
        self.assertEqual(read(os.path.join(self.directory, "show-142310-1.mp3")), LARGE.data)

    def test_reopen(self) -> None:
        """
        After log rotation moved the file away, L{DumpFile.reopen} syncs
        and closes it, and later frames go to a new file at the path.
        """
        dump = self.dump()
        path = os.path.join(self.directory, "show.mp3")
        dump(aired([SMALL, LARGE]))
        os.rename(path, path + ".1")
        dump(aired([HUGE]))
        dump.reopen()
        self.assertEqual(len(self.synced), 1)
        dump(aired([SMALL]))
        self.assertEqual(read(path + ".1"), SMALL.data + LARGE.data + HUGE.data)
        self.assertEqual(read(path), SMALL.data)
        self.assertEqual(dump.files, 2)

    def test_folder_in_the_way(self) -> None:
        """
        A folder where the file should be is logged once, as an error
        naming the mount, the path and the error; the mount's other
        observers still see every batch, nothing is raised, and nothing
        more is tried until L{DumpFile.reopen}.
        """
        path = os.path.join(self.directory, "show.mp3")
        os.makedirs(path)
        clock = self.clock
        mount = Mount(MountConfig(name="/stream"), FakeFrameSource([]), clock)
        dump = self.dump()
        seen: list[Frames] = []
        mount.on_air.extend([dump, seen.append])
        with capturedLogs() as events:
            mount.air(aired([SMALL]))
            clock.advance(5000)
            mount.air(aired([LARGE]))
        self.assertEqual(seen, [aired([SMALL]), aired([LARGE])])
        errors = [e for e in events if e["log_level"] >= LogLevel.warn]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["log_level"], LogLevel.error)
        self.assertEqual(errors[0]["mount"], "/stream")
        self.assertEqual(errors[0]["path"], path)
        self.assertEqual(errors[0]["error"], os.strerror(errno.EISDIR))
        self.assertTrue(dump.failed)
        os.rmdir(path)
        mount.air(aired([HUGE]))
        self.assertFalse(os.path.exists(path))
        dump.reopen()
        self.assertFalse(dump.failed)
        mount.air(aired([SMALL]))
        self.assertEqual(read(path), SMALL.data)

    def test_retry_at_boundary(self) -> None:
        """
        With time rotation, a dump stopped by an error tries again at the
        next boundary; a failure that goes on is logged only once.
        """
        disks: list[DumpTarget] = [FullDisk(), FullDisk()]

        def opener(path: str, mode: str) -> DumpTarget:
            if disks:
                return disks.pop(0)
            return open(path, mode)

        dump = self.dump(rotate_every=3600, opener=opener)
        with capturedLogs() as events:
            dump(aired([SMALL]))
            self.clock.advance(at(14, 59) - self.clock.seconds())
            dump(aired([SMALL]))
            self.assertEqual(len(disks), 1)
            self.clock.advance(at(15, 0) - self.clock.seconds())
            dump(aired([SMALL]))
            self.assertEqual(disks, [])
            self.assertTrue(dump.failed)
            self.clock.advance(at(16, 0) - self.clock.seconds())
            dump(aired([LARGE]))
        errors = [e for e in events if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["error"], os.strerror(errno.ENOSPC))
        self.assertFalse(dump.failed)
        self.assertEqual(self.files(), ["show-20261207-160000.mp3"])
        self.assertEqual(read(os.path.join(self.directory, "show-20261207-160000.mp3")), LARGE.data)

    def test_bad_pattern(self) -> None:
        """
        A pattern that C{strftime} refuses is logged as an error naming
        the mount, and nothing is raised to the mount.
        """
        dump = self.dump("show-%Y\x00.mp3")
        with capturedLogs() as events:
            dump(aired([SMALL]))
        errors = [e for e in events if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["mount"], "/stream")
        self.assertIn("null", errors[0]["error"])
        self.assertTrue(dump.failed)

    def test_failed_file_closed(self) -> None:
        """
        The file a write failed on is closed.
        """
        disk = FullDisk()
        dump = self.dump(opener=lambda path, mode: disk)
        with capturedLogs():
            dump(aired([SMALL]))
        self.assertTrue(disk.closed)

    def test_negative_settings(self) -> None:
        """
        A negative size or interval is refused.
        """
        self.assertRaises(ValueError, DumpFile, "/stream", "x.mp3", self.clock, max_size=-1)
        self.assertRaises(ValueError, DumpFile, "/stream", "x.mp3", self.clock, rotate_every=-1)
