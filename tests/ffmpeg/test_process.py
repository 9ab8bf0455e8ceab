"""
Tests for L{radiod.ffmpeg.process}: what every ffmpeg child process has in
common, with fake processes and a clock, and with a real tiny child
process.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost, ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.ffmpeg.process import STDERR_KEPT, FfmpegProcess
from radiod.testing import FakeProcess, FakeProcessReactor

reactor: Any = _reactor


class Process(FfmpegProcess):
    """
    An L{FfmpegProcess} that notes what it reads, when it is overdue and
    how it ends.

    @ivar out: what it read on its standard output.
    @ivar overdue_calls: how many times L{overdue} was called.
    @ivar reason: the reason given to C{processEnded}, once it was called.
    @ivar ended: fires with C{None} once C{processEnded} was called.
    """

    def __init__(self) -> None:
        super().__init__()
        self.out = b""
        self.overdue_calls = 0
        self.reason: Failure | None = None
        self.ended: Deferred[None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out += data

    def overdue(self) -> None:
        self.overdue_calls += 1

    def processEnded(self, reason: Failure) -> None:
        super().processEnded(reason)
        self.reason = reason
        self.ended.callback(None)

    async def end(self) -> Failure:
        """
        Wait for the process to end; return the reason it ended.
        """
        await self.ended
        assert self.reason is not None
        return self.reason


class ProcessTests(SynchronousTestCase):
    """
    L{FfmpegProcess} with fake processes and a clock.
    """

    def reason(self, process: Process) -> Failure:
        """
        The reason C{process} ended, which it has.
        """
        self.successResultOf(process.ended)
        assert process.reason is not None
        return process.reason

    def start(self) -> tuple[Clock, Process, FakeProcess]:
        """
        A process started on a fake reactor, with a clock checked to be
        left with nothing scheduled.
        """
        clock = Clock()
        self.addCleanup(lambda: self.assertEqual(clock.getDelayedCalls(), []))
        process = Process()
        processes = FakeProcessReactor()
        transport = process.start(processes, ["/usr/bin/ffmpeg", "-i", "pipe:0", "pipe:1"])
        [spawned] = processes.spawned
        self.assertIs(transport, spawned)
        self.assertIs(process.transport, spawned)
        return clock, process, spawned

    def test_start(self) -> None:
        """
        The first argument is the executable, and the whole command line
        is the process's arguments.
        """
        clock, process, spawned = self.start()
        self.assertEqual(spawned.executable, "/usr/bin/ffmpeg")
        self.assertEqual(spawned.args, ["/usr/bin/ffmpeg", "-i", "pipe:0", "pipe:1"])
        self.assertFalse(process.exited)
        spawned.output(b"audio")
        self.assertEqual(process.out, b"audio")
        spawned.end()
        self.assertTrue(process.exited)
        self.assertEqual(process.killed_for, "")

    def test_stderr_tail(self) -> None:
        """
        Only the end of a long standard error is kept, and its last line
        that is not blank is at hand.
        """
        clock, process, spawned = self.start()
        self.assertEqual(process.stderr, "")
        self.assertEqual(process.last_line, "")
        for _ in range(100):
            spawned.output(b"x" * 1000 + b"\n", 2)
        spawned.output(b"  the end  \n\n", 2)
        self.assertLessEqual(len(process.stderr), STDERR_KEPT)
        self.assertTrue(process.stderr.endswith("  the end  \n\n"))
        self.assertEqual(process.last_line, "the end")
        spawned.end()

    def test_stderr_decoded(self) -> None:
        """
        Bytes that are not UTF-8 are replaced, not an error.
        """
        clock, process, spawned = self.start()
        spawned.output(b"caf\xe9\n", 2)
        self.assertEqual(process.last_line, "caf\ufffd")
        spawned.end()

    def test_kill(self) -> None:
        """
        Killing sends C{SIGKILL} once, however often it is asked for, and
        the first reason is kept.
        """
        clock, process, spawned = self.start()
        process.kill("was stopped")
        process.kill("was stopped again")
        self.assertEqual(spawned.signals, ["KILL"])
        self.assertEqual(process.killed_for, "was stopped")
        spawned.end(Failure(ProcessTerminated(signal=9)))
        self.assertEqual(process.describe(self.reason(process)), "ffmpeg was stopped")

    def test_kill_exited(self) -> None:
        """
        A process that has exited already is not signalled: once it has
        ended, killing does nothing; before the end is told, the error its
        transport raises is ignored.
        """
        clock, process, spawned = self.start()
        spawned.ended = True
        process.kill("was stopped")
        self.assertEqual(spawned.signals, [])
        spawned.end()
        clock, ended, gone = self.start()
        gone.end()
        ended.kill("was stopped")
        self.assertEqual(gone.signals, [])
        self.assertEqual(ended.killed_for, "")

    def test_kill_before_start(self) -> None:
        """
        A process not started yet cannot be signalled; its reason is kept.
        """
        process = Process()
        process.kill("was stopped")
        self.assertEqual(process.killed_for, "was stopped")

    def test_time_limit(self) -> None:
        """
        A process still running at its time limit is told it is overdue,
        then killed, and said to have ended for the limit's reason.
        """
        clock, process, spawned = self.start()
        process.kill_after(clock, 60, "took longer than 60 s")
        clock.advance(59)
        self.assertEqual((process.overdue_calls, spawned.signals), (0, []))
        clock.advance(1)
        self.assertEqual((process.overdue_calls, spawned.signals), (1, ["KILL"]))
        spawned.end(Failure(ProcessTerminated(signal=9)))
        reason = self.reason(process)
        self.assertEqual(process.describe(reason), "ffmpeg took longer than 60 s")

    def test_time_limit_replaced(self) -> None:
        """
        A new time limit replaces the one before.
        """
        clock, process, spawned = self.start()
        process.kill_after(clock, 10, "first")
        process.kill_after(clock, 20, "second")
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(20)
        self.assertEqual(process.killed_for, "second")
        spawned.end(Failure(ProcessTerminated(signal=9)))

    def test_time_limit_cancelled(self) -> None:
        """
        The time limit goes once the process ends, or once it is killed
        for another reason.
        """
        clock, process, spawned = self.start()
        process.kill_after(clock, 60, "took longer than 60 s")
        spawned.end()
        self.assertEqual(clock.getDelayedCalls(), [])
        clock, process, spawned = self.start()
        process.kill_after(clock, 60, "took longer than 60 s")
        process.kill("was stopped")
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(process.overdue_calls, 0)
        spawned.end(Failure(ProcessTerminated(signal=9)))

    def test_describe(self) -> None:
        """
        An end is described by its exit status or signal, followed by the
        last line of the standard error when there is one.
        """
        clock, process, spawned = self.start()
        describe = process.describe
        self.assertEqual(
            describe(Failure(ProcessTerminated(exitCode=1))), "ffmpeg exited with status 1"
        )
        self.assertEqual(
            describe(Failure(ProcessTerminated(signal=15))), "ffmpeg was killed by signal 15"
        )
        self.assertEqual(describe(Failure(ProcessDone(0))), "ffmpeg exited with status 0")
        spawned.output(b"first\n/m/bad.flac: Invalid data found\n", 2)
        self.assertEqual(
            describe(Failure(ProcessTerminated(exitCode=1))),
            "ffmpeg exited with status 1: /m/bad.flac: Invalid data found",
        )
        self.assertEqual(
            describe(Failure(ConnectionLost("pipe broke"))),
            "ffmpeg failed: Connection to the other side was lost in a non-clean fashion:"
            " pipe broke.: /m/bad.flac: Invalid data found",
        )
        spawned.end()


class RealProcessTests(TestCase):
    """
    L{FfmpegProcess} with a real child process (Python standing in for
    ffmpeg).
    """

    timeout = 30

    def start(self, script: str) -> Process:
        process = Process()
        process.start(reactor, [sys.executable, "-c", script])
        return process

    async def test_pipes(self) -> None:
        """
        The process reads its standard input, writes its standard output
        and error through pipes, and its exit status and last error line
        describe its end.
        """
        process = self.start(
            "import sys\n"
            "data = sys.stdin.buffer.read()\n"
            "sys.stdout.buffer.write(data.upper())\n"
            "sys.stderr.write('warming up\\nbad input\\n')\n"
            "sys.exit(3)\n"
        )
        assert process.transport is not None
        process.transport.write(b"audio")
        process.transport.closeStdin()
        reason = await process.end()
        self.assertEqual(process.out, b"AUDIO")
        self.assertEqual(process.describe(reason), "ffmpeg exited with status 3: bad input")

    async def test_kill(self) -> None:
        """
        A process killed ends by C{SIGKILL}, described by why it was
        killed.
        """
        process = self.start("import sys\nsys.stdin.read()\n")
        process.kill("was stopped")
        reason = await process.end()
        value = reason.value
        assert isinstance(value, ProcessTerminated)
        self.assertEqual(value.signal, 9)
        self.assertEqual(process.describe(reason), "ffmpeg was stopped")
