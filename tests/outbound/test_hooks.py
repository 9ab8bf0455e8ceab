"""
Tests for L{radiod.outbound.hooks}: the C{on_track} command, with fake
processes on a L{Clock}, then with real ones.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import AnyStr

from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.interfaces import IProcessProtocol
from twisted.internet.task import Clock
from twisted.logger import LogEvent, LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.outbound.hooks import TIMEOUT, TrackHook, track_document
from radiod.testing import FakeProcess, FakeProcessReactor
from tests.support.loopback import asynchronous, reactor, wait_for

PYTHON = sys.executable

TRACK = {
    "mount": "/stream",
    "title": "First Song",
    "artist": "Alpha Artist",
    "album": "Alpha",
    "started": 1000.5,
    "listeners": 3,
}


def python(program: str, *arguments: str) -> str:
    """
    The command line that runs C{program} with Python, and C{arguments}.
    """
    return shlex.join([PYTHON, "-c", program, *arguments])


def messages(events: Sequence[LogEvent], level: LogLevel | None = None) -> list[str]:
    """
    The hook's log lines among C{events} (of C{level}, if given),
    formatted.
    """
    return [
        formatEvent(event)
        for event in events
        if str(event.get("log_namespace", "")).startswith("radiod.outbound.hooks")
        and (level is None or event.get("log_level") == level)
    ]


def track(title: str) -> dict[str, object]:
    """
    L{TRACK}, titled C{title}.
    """
    return {**TRACK, "title": title}


class DocumentTests(SynchronousTestCase):
    """
    What the command reads.
    """

    def test_document(self) -> None:
        """
        The track is one line of compact JSON in UTF-8, and a newline.
        """
        self.assertEqual(
            track_document({"title": "\xe9t\xe9", "listeners": 2}),
            '{"title":"\xe9t\xe9","listeners":2}\n'.encode(),
        )

    def test_refused(self) -> None:
        """
        A value JSON cannot write is an error.
        """
        self.assertRaises(TypeError, track_document, {"a": object()})
        self.assertRaises(ValueError, track_document, {"a": float("inf")})


class RefusingReactor(FakeProcessReactor):
    """
    A process reactor that cannot start any process.
    """

    def spawnProcess(
        self,
        processProtocol: IProcessProtocol,
        executable: bytes | str,
        args: Sequence[bytes | str],
        env: Mapping[AnyStr, AnyStr] | None = None,
        path: bytes | str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: bool = False,
        childFDs: Mapping[int, str | int] | None = None,
    ) -> FakeProcess:
        raise PermissionError(13, "Permission denied")


class FakeProcessTests(SynchronousTestCase):
    """
    L{TrackHook} with fake processes on a L{Clock}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.processes = FakeProcessReactor()

    def hook(self, command: str = "", timeout: float = TIMEOUT) -> TrackHook:
        """
        A hook running C{command} (by default Python with arguments) as a
        fake process; the clock must have no calls left at the end.
        """
        built = TrackHook(self.processes, command or python("pass", "a b"), self.clock, timeout)
        self.addCleanup(lambda: self.assertEqual(self.clock.getDelayedCalls(), []))
        return built

    def test_run(self) -> None:
        """
        A run is the command's words, without a shell, found on the path;
        it reads the track as JSON, and its standard input is closed.
        """
        hook = self.hook()
        hook.run(TRACK)
        [process] = self.processes.spawned
        self.assertEqual(process.executable, PYTHON)
        self.assertEqual(process.args, [PYTHON, "-c", "pass", "a b"])
        self.assertEqual(json.loads(process.written), TRACK)
        self.assertTrue(process.written.endswith(b"\n"))
        self.assertTrue(process.stdin_closed)
        self.assertTrue(hook.running)
        with capturedLogs() as events:
            process.end()
        self.assertFalse(hook.running)
        self.assertEqual(messages(events), [])
        self.assertEqual((hook.runs, hook.skipped, hook.failed), (1, 0, 0))

    def test_newest_waits(self) -> None:
        """
        Tracks that come while a run is under way wait for it; only the
        newest is kept, and the one it replaces is logged as skipped.
        """
        hook = self.hook()
        hook.run(track("one"))
        hook.run(track("two"))
        with capturedLogs() as events:
            hook.run(track("three"))
        self.assertEqual(len(self.processes.spawned), 1)
        [line] = messages(events)
        self.assertIn("skipped the track two", line)
        self.processes.spawned[0].end()
        self.assertEqual(len(self.processes.spawned), 2)
        self.assertEqual(json.loads(self.processes.spawned[1].written)["title"], "three")
        self.processes.spawned[1].end()
        self.assertEqual(len(self.processes.spawned), 2)
        self.assertEqual((hook.runs, hook.skipped), (2, 1))

    def test_timeout(self) -> None:
        """
        A run longer than the timeout is killed, its pipes closed, and that
        is logged in one line.
        """
        hook = self.hook(timeout=5.0)
        hook.run(TRACK)
        [process] = self.processes.spawned
        self.clock.advance(4.999)
        self.assertEqual(process.signals, [])
        self.clock.advance(0.001)
        self.assertEqual(process.signals, ["KILL"])
        self.assertTrue(process.lost)
        with capturedLogs() as events:
            process.end(Failure(ProcessTerminated(signal=signal.SIGKILL)))
        [line] = messages(events)
        self.assertIn("took longer than 5 s; killed", line)
        self.assertEqual(hook.failed, 1)

    def test_timeout_after_exit(self) -> None:
        """
        A run whose program exited but whose pipes are held open past the
        timeout is let go of all the same.
        """
        hook = self.hook(timeout=5.0)
        hook.run(TRACK)
        [process] = self.processes.spawned
        process.ended = True
        self.clock.advance(5.0)
        self.assertTrue(process.lost)
        process.end()
        self.assertFalse(hook.running)

    def test_exit_status(self) -> None:
        """
        A run that exits with a status other than 0 is logged in one line,
        with the first line of its standard error.
        """
        hook = self.hook()
        hook.run(TRACK)
        [process] = self.processes.spawned
        process.output(b"\n  Traceback: boom  \n", 2)
        process.output(b"second line\n", 2)
        with capturedLogs() as events:
            process.end(Failure(ProcessTerminated(exitCode=3)))
        [line] = messages(events)
        self.assertIn("exited with status 3: Traceback: boom", line)
        self.assertNotIn("second", line)
        self.assertNotIn("\n", line)
        self.assertEqual(hook.failed, 1)

    def test_signal(self) -> None:
        """
        A run killed by a signal (not for its time) is logged in one line.
        """
        hook = self.hook()
        hook.run(TRACK)
        with capturedLogs() as events:
            self.processes.spawned[0].end(Failure(ProcessTerminated(signal=signal.SIGTERM)))
        [line] = messages(events)
        self.assertIn(f"was killed by signal {int(signal.SIGTERM)}", line)

    def test_output_ignored(self) -> None:
        """
        What a run writes to its standard output is not logged.
        """
        hook = self.hook()
        hook.run(TRACK)
        with capturedLogs() as events:
            self.processes.spawned[0].output(b"hello\n")
            self.processes.spawned[0].end(Failure(ProcessDone(0)))
        self.assertEqual(messages(events), [])

    def test_missing_program(self) -> None:
        """
        A program that cannot be found is one log line, and nothing runs.
        """
        hook = self.hook("radiod-no-such-program --flag")
        with capturedLogs() as events:
            hook.run(TRACK)
        [line] = messages(events)
        self.assertIn("Cannot find the on_track program radiod-no-such-program", line)
        self.assertEqual(self.processes.spawned, [])
        self.assertFalse(hook.running)
        self.assertEqual(hook.skipped, 1)

    def test_cannot_start(self) -> None:
        """
        A program that cannot be started is one log line; the next track
        is tried again.
        """
        hook = TrackHook(RefusingReactor(), python("pass"), self.clock)
        with capturedLogs() as events:
            hook.run(TRACK)
            hook.run(TRACK)
        lines = messages(events)
        self.assertEqual(len(lines), 2)
        self.assertIn("Cannot run the on_track program", lines[0])
        self.assertIn("Permission denied", lines[0])
        self.assertFalse(hook.running)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop(self) -> None:
        """
        L{TrackHook.stop} forgets the waiting track, kills the run under
        way, and fires once it has ended, without a log line; nothing runs
        after it.
        """
        hook = self.hook()
        hook.run(track("one"))
        hook.run(track("two"))
        [process] = self.processes.spawned
        stopped = hook.stop()
        self.assertEqual(process.signals, ["KILL"])
        self.assertNoResult(stopped)
        with capturedLogs() as events:
            process.end(Failure(ProcessTerminated(signal=signal.SIGKILL)))
        self.successResultOf(stopped)
        self.assertEqual(messages(events), [])
        hook.run(track("three"))
        self.assertEqual(len(self.processes.spawned), 1)
        self.successResultOf(hook.stop())

    def test_stop_idle(self) -> None:
        """
        L{TrackHook.stop} with nothing running fires at once.
        """
        self.successResultOf(self.hook().stop())

    def test_bad_command(self) -> None:
        """
        A command that cannot be split into words, or has none, is refused.
        """
        self.assertRaises(ValueError, TrackHook, self.processes, "notify 'unclosed", self.clock)
        self.assertRaises(ValueError, TrackHook, self.processes, "  ", self.clock)


RECORD = """
import json, os, sys
document = json.load(sys.stdin)
document["marker"] = os.environ.get("RADIOD_HOOK_TEST")
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(document) + "\\n")
"""

GATED = """
import json, os, sys, time
document = json.load(sys.stdin)
with open(sys.argv[1], "a") as f:
    f.write(document["title"] + "\\n")
while not os.path.exists(sys.argv[2]):
    time.sleep(0.01)
"""

FAILING = """
import sys
sys.stderr.write("the hook failed\\nTraceback follows\\n")
sys.exit(4)
"""

SLEEPING = """
import sys, time
sys.stdin.read()
time.sleep(60)
"""


class RealProcessTests(TestCase):
    """
    L{TrackHook} running real processes, with the real reactor.
    """

    timeout = 30

    def setUp(self) -> None:
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder, True)

    def hook(self, command: str, timeout: float = TIMEOUT) -> TrackHook:
        """
        A hook running C{command}, stopped at the end of the test.
        """
        built = TrackHook(reactor, command, reactor, timeout)
        self.addCleanup(built.stop)
        return built

    def lines(self, name: str) -> list[str]:
        """
        The lines of the file C{name} in the test's folder (none if it is
        missing).
        """
        path = os.path.join(self.folder, name)
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return f.read().splitlines()

    @asynchronous
    async def test_track(self) -> None:
        """
        The command reads the track as JSON, in radiod's environment.
        """
        os.environ["RADIOD_HOOK_TEST"] = "inherited"
        self.addCleanup(os.environ.pop, "RADIOD_HOOK_TEST", None)
        out = os.path.join(self.folder, "out")
        hook = self.hook(python(RECORD, out))
        with capturedLogs() as events:
            hook.run(TRACK)
            await wait_for(lambda: not hook.running, 10, reactor)
        [line] = self.lines("out")
        self.assertEqual(json.loads(line), {**TRACK, "marker": "inherited"})
        self.assertEqual(messages(events), [])

    @asynchronous
    async def test_newest_waits(self) -> None:
        """
        While a slow run is under way, only the newest of the tracks that
        came runs next.
        """
        out = os.path.join(self.folder, "out")
        gate = os.path.join(self.folder, "gate")
        hook = self.hook(python(GATED, out, gate))
        hook.run(track("one"))
        await wait_for(lambda: self.lines("out") == ["one"], 10, reactor)
        hook.run(track("two"))
        hook.run(track("three"))
        with open(gate, "w"):
            pass
        await wait_for(lambda: hook.runs == 2 and not hook.running, 10, reactor)
        self.assertEqual(self.lines("out"), ["one", "three"])
        self.assertEqual(hook.skipped, 1)

    @asynchronous
    async def test_failure(self) -> None:
        """
        A run that exits with a status other than 0 is logged in one line,
        with the first line of its standard error.
        """
        hook = self.hook(python(FAILING))
        with capturedLogs() as events:
            hook.run(TRACK)
            await wait_for(lambda: not hook.running, 10, reactor)
        [line] = messages(events)
        self.assertIn("exited with status 4: the hook failed", line)
        self.assertNotIn("Traceback", line)

    def test_missing_program(self) -> None:
        """
        A program that does not exist is one log line, not a crash.
        """
        missing = os.path.join(self.folder, "no-such-program")
        hook = self.hook(shlex.join([missing, "--title"]))
        with capturedLogs() as events:
            hook.run(TRACK)
            self.assertFalse(hook.running)
        [line] = messages(events)
        self.assertIn(f"Cannot find the on_track program {missing}", line)

    @asynchronous
    async def test_timeout(self) -> None:
        """
        A run longer than the timeout is killed.
        """
        hook = self.hook(python(SLEEPING), timeout=0.3)
        with capturedLogs() as events:
            hook.run(TRACK)
            await wait_for(lambda: not hook.running, 10, reactor)
        [line] = messages(events)
        self.assertIn("took longer than 0.3 s; killed", line)
        self.assertEqual(hook.failed, 1)

    @asynchronous
    async def test_stop(self) -> None:
        """
        L{TrackHook.stop} kills the run under way and waits for it.
        """
        hook = self.hook(python(SLEEPING))
        hook.run(TRACK)
        await hook.stop()
        self.assertFalse(hook.running)
