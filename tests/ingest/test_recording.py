"""
Tests for L{radiod.ingest.recording}: live shows written to disk, alone and
through L{radiod.ingest.sources.Sources}.
"""

from __future__ import annotations

import errno
import os

from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ingest.recording import Recorder, RecordingFile, recording_name
from radiod.ingest.sources import Sources
from radiod.testing import FakeFrameSource
from radiod.wire.server import RadioFactory
from tests.ingest.test_source import (
    LIVE_FRAME,
    PASSWORD,
    PLAYLIST_FRAME,
    SONG,
    Connection,
    source_request,
)

START = 1704164645.0
"""
2024-01-02 03:04:05 UTC.
"""

STAMP = "20240102-030405"
SIZE = len(LIVE_FRAME.data)


class FullDisk:
    """
    A file on a full disk: every write fails with C{ENOSPC}.

    @ivar writes: write attempts.
    @ivar closed: whether it was closed.
    """

    def __init__(self) -> None:
        self.writes = 0
        self.closed = False

    def write(self, data: bytes, /) -> int:
        """
        Fail as a full disk does.
        """
        self.writes += 1
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


def read(path: str) -> bytes:
    """
    The current contents of a file.
    """
    with open(path, "rb") as f:
        return f.read()


class RecordingNameTests(SynchronousTestCase):
    """
    Tests for L{recording_name}.
    """

    def test_names(self) -> None:
        """
        The name is the mount without its leading slash (other slashes and
        unsafe characters become C{_}) and the UTC start time, with a
        numeric suffix when asked.
        """
        self.assertEqual(recording_name("/stream", START), f"stream-{STAMP}.mp3")
        self.assertEqual(recording_name("/live/show", START), f"live_show-{STAMP}.mp3")
        self.assertEqual(recording_name("/a:b\\c", START, 2), f"a_b_c-{STAMP}-2.mp3")


class RecorderTests(SynchronousTestCase):
    """
    Tests for L{Recorder} on its own.
    """

    def setUp(self) -> None:
        """
        A clock at L{START}, a fresh folder (not yet created) and a
        recording C{fsync}.
        """
        self.clock = Clock()
        self.clock.advance(START)
        self.directory = os.path.join(self.mktemp(), "rec")
        self.synced: list[int] = []

    def recorder(self, **kwargs: object) -> Recorder:
        """
        A recorder for C{/stream} into the test folder.
        """
        return Recorder(
            "/stream",
            self.directory,
            self.clock,
            fsync=self.synced.append,
            **kwargs,  # type: ignore[arg-type]
        )

    def test_write_flushed_and_synced(self) -> None:
        """
        Each batch is readable in the file as soon as it is written;
        C{fsync} runs at most once a second and once more at close.
        """
        recorder = self.recorder()
        recorder.write([LIVE_FRAME, LIVE_FRAME])
        path = os.path.join(self.directory, f"stream-{STAMP}.mp3")
        self.assertEqual(recorder.path, path)
        self.assertEqual(read(path), LIVE_FRAME.data * 2)
        self.assertEqual(self.synced, [])
        self.clock.advance(0.5)
        recorder.write([LIVE_FRAME])
        self.assertEqual(read(path), LIVE_FRAME.data * 3)
        self.assertEqual(len(self.synced), 0)
        self.clock.advance(0.5)
        recorder.write([LIVE_FRAME])
        self.assertEqual(len(self.synced), 1)
        recorder.write([LIVE_FRAME])
        self.assertEqual(len(self.synced), 1)
        recorder.close()
        self.assertEqual(len(self.synced), 2)
        self.assertEqual(read(path), LIVE_FRAME.data * 5)
        self.assertEqual(recorder.written, 5 * SIZE)
        recorder.write([LIVE_FRAME])
        self.assertEqual(read(path), LIVE_FRAME.data * 5)

    def test_collision(self) -> None:
        """
        A name already taken gets C{-1}, then C{-2}; the existing file is
        left alone.
        """
        os.makedirs(self.directory)
        taken = os.path.join(self.directory, f"stream-{STAMP}.mp3")
        with open(taken, "wb") as f:
            f.write(b"old")
        first = self.recorder()
        first.write([LIVE_FRAME])
        second = self.recorder()
        second.write([LIVE_FRAME])
        self.assertEqual(first.path, os.path.join(self.directory, f"stream-{STAMP}-1.mp3"))
        self.assertEqual(second.path, os.path.join(self.directory, f"stream-{STAMP}-2.mp3"))
        self.assertEqual(read(taken), b"old")

    def test_no_frames_no_file(self) -> None:
        """
        A show that never gives a whole frame leaves no file, not even
        the folder.
        """
        recorder = self.recorder()
        recorder.write([])
        recorder.close()
        self.assertIsNone(recorder.path)
        self.assertFalse(os.path.exists(self.directory))

    def test_disk_full(self) -> None:
        """
        A write failing with C{ENOSPC} is logged once, as an error naming
        the mount and the path; the file is closed, later batches are not
        attempted and nothing is raised.
        """
        disk = FullDisk()
        recorder = self.recorder(opener=lambda path: disk)
        with capturedLogs() as events:
            recorder.write([LIVE_FRAME])
            recorder.write([LIVE_FRAME])
            recorder.close()
        errors = [e for e in events if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["mount"], "/stream")
        self.assertEqual(errors[0]["path"], recorder.path)
        self.assertEqual(errors[0]["error"], os.strerror(errno.ENOSPC))
        self.assertTrue(recorder.failed)
        self.assertTrue(disk.closed)
        self.assertEqual(disk.writes, 1)
        self.assertEqual(recorder.written, 0)

    def test_folder_not_usable(self) -> None:
        """
        A C{record_dir} that is a file cannot hold recordings: the error is
        logged and the recorder gives up without raising.
        """
        os.makedirs(os.path.dirname(self.directory))
        with open(self.directory, "wb") as f:
            f.write(b"not a folder")
        recorder = self.recorder()
        with capturedLogs() as events:
            recorder.write([LIVE_FRAME])
        self.assertTrue(recorder.failed)
        self.assertEqual([e["path"] for e in events], [self.directory])


class SourceRecordingTests(SynchronousTestCase):
    """
    Live sources on a mount that records, through L{Sources}.
    """

    def build(self, record: bool = True) -> tuple[Clock, RadioFactory, Mount, Sources]:
        """
        A station at L{START} with one playlist mount C{/stream} that
        records into a fresh folder, accepting sources.
        """
        clock = Clock()
        clock.advance(START)
        self.directory = os.path.join(self.mktemp(), "rec")
        config = MountConfig(
            name="/stream", metaint=1000, burst_size=0, record=record, record_dir=self.directory
        )
        stream = Mount(config, FakeFrameSource([(SONG, PLAYLIST_FRAME, 10000)]), clock)
        stream.start()
        self.addCleanup(stream.stop)
        station = StationConfig(mounts=(config,), source_password=PASSWORD)
        factory = RadioFactory(clock, station, {"/stream": stream}, accept_sources=True)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        return clock, factory, stream, factory.sources

    def files(self) -> list[str]:
        """
        The recordings made, sorted.
        """
        return sorted(os.listdir(self.directory))

    def test_show_recorded(self) -> None:
        """
        A show is written as it arrives, whole frames only: garbage before
        the audio and a cut-off last frame are dropped.  Mid-show the file
        already holds every frame the splitter has confirmed; when the
        source leaves it holds exactly the whole frames sent.
        """
        clock, factory, _, sources = self.build()
        source = Connection(factory, port=2)
        source.send(source_request() + b"garbage" + LIVE_FRAME.data[:100])
        source.send(LIVE_FRAME.data[100:] + LIVE_FRAME.data * 19)
        clock.pump([0.1] * 5)
        path = os.path.join(self.directory, f"stream-{STAMP}.mp3")
        self.assertEqual(sources.recordings["/stream"].path, path)
        self.assertEqual(read(path), LIVE_FRAME.data * 19)
        source.send(LIVE_FRAME.data * 10 + LIVE_FRAME.data[:200])
        self.assertEqual(read(path), LIVE_FRAME.data * 30)
        source.protocol.connectionLost()
        self.assertEqual(read(path), LIVE_FRAME.data * 30)
        self.assertEqual(self.files(), [f"stream-{STAMP}.mp3"])
        self.assertEqual(sources.recordings, {})

    def test_second_show(self) -> None:
        """
        A second show makes a second file, named by its own start time;
        a show starting in the same second gets a numbered name.
        """
        clock, factory, _, _ = self.build()
        for port, later in ((2, 0.0), (3, 60.0), (4, 0.0)):
            clock.advance(later)
            source = Connection(factory, port=port)
            source.send(source_request() + LIVE_FRAME.data * 5)
            source.protocol.connectionLost()
        self.assertEqual(
            self.files(),
            [f"stream-{STAMP}.mp3", "stream-20240102-030505-1.mp3", "stream-20240102-030505.mp3"],
        )
        for name in self.files():
            self.assertEqual(read(os.path.join(self.directory, name)), LIVE_FRAME.data * 5)

    def test_server_stop_closes(self) -> None:
        """
        Stopping the sources (the server stopping) closes the recording
        with every frame received.
        """
        _, factory, _, sources = self.build()
        source = Connection(factory, port=2)
        source.send(source_request() + LIVE_FRAME.data * 7)
        recorder = sources.recordings["/stream"]
        sources.stop()
        self.assertTrue(recorder.closed)
        self.assertFalse(recorder.failed)
        assert recorder.path is not None
        self.assertEqual(read(recorder.path), LIVE_FRAME.data * 7)

    def test_failing_disk_spares_listeners(self) -> None:
        """
        When the recording's writes fail, the error is logged once with
        the mount and path, and a listener still hears every live frame
        without being disconnected.
        """
        clock, factory, _, sources = self.build()
        disks: list[FullDisk] = []

        def full(path: str) -> RecordingFile:
            disks.append(FullDisk())
            return disks[-1]

        sources.make_recorder = lambda config: Recorder(
            config.name, config.record_dir, clock, opener=full
        )
        listener = Connection(factory, port=1)
        listener.send(b"GET /stream HTTP/1.0\r\n\r\n")
        source = Connection(factory, port=2)
        with capturedLogs() as events:
            source.send(source_request() + LIVE_FRAME.data * 15)
            clock.pump([0.1] * 5)
            source.send(LIVE_FRAME.data * 15)
            source.protocol.connectionLost()
            clock.pump([0.1] * 20)
        errors = [e for e in events if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["mount"], "/stream")
        self.assertEqual(errors[0]["path"], os.path.join(self.directory, f"stream-{STAMP}.mp3"))
        self.assertEqual([d.writes for d in disks], [1])
        self.assertFalse(listener.closed)
        self.assertEqual(bytes(listener.capture().audio).count(LIVE_FRAME.data), 30)

    def test_not_recording(self) -> None:
        """
        With C{record} off, a show writes nothing, not even the folder.
        """
        clock, factory, _, sources = self.build(record=False)
        source = Connection(factory, port=2)
        source.send(source_request() + LIVE_FRAME.data * 10)
        source.protocol.connectionLost()
        clock.pump([0.1] * 20)
        self.assertEqual(sources.recordings, {})
        self.assertFalse(os.path.exists(self.directory))
