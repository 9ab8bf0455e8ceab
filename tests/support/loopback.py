"""
End-to-end test support on loopback: the real reactor, a listener that
reads and parses a stream, ffmpeg as a listener, the fixture files, and
waiting for a condition without sleeping.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol, Protocol
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from radiod.ffmpeg.binary import find_ffmpeg
from radiod.testing import ListenerCapture

reactor: Any = _reactor


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""
The repository's folder.
"""

FIXTURES = os.path.join(ROOT, "tests", "fixtures")


FIRST = "Alpha Artist - First Song"


SECOND = "Beta Artist - Second Song"


DECODE_ERRORS = re.compile(
    r"error|invalid|header missing|could not|corrupt|skipping", re.IGNORECASE
)


def asynchronous(
    test: Callable[[Any], Coroutine[Any, Any, None]],
) -> Callable[[Any], Deferred[None]]:
    """
    Run a coroutine test method as a Deferred, which trial waits for.
    """

    def run(self: Any) -> Deferred[None]:
        return Deferred.fromCoroutine(test(self))

    run.__name__ = test.__name__
    run.__doc__ = test.__doc__
    return run


class FFmpeg(ProcessProtocol):
    """
    Collects an ffmpeg run's standard error and exit status.
    """

    def __init__(self) -> None:
        self.stderr = b""
        self.ended: Deferred[int] = Deferred()

    def errReceived(self, data: bytes) -> None:
        self.stderr += data

    def processEnded(self, reason: Failure) -> None:
        if reason.check(ProcessDone):
            self.ended.callback(0)
        elif reason.check(ProcessTerminated):
            self.ended.callback(getattr(reason.value, "exitCode", None) or -1)
        else:
            self.ended.errback(reason)


async def run_ffmpeg(url: str, seconds: float) -> tuple[int, str]:
    """
    Listen to C{url} with ffmpeg for C{seconds} of audio, decoding it.

    @return: the exit code and everything ffmpeg logged.
    """
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    protocol = FFmpeg()
    args = [ffmpeg, "-hide_banner", "-nostdin", "-v", "info", "-icy", "1"]
    args += ["-i", url, "-t", str(seconds), "-f", "null", "-"]
    process: IReactorProcess = reactor
    process.spawnProcess(protocol, ffmpeg, args, env=os.environ.copy())
    code = await protocol.ended
    return code, protocol.stderr.decode("utf-8", "replace")


def stream_titles(log: str) -> list[str]:
    """
    The C{StreamTitle} values ffmpeg printed in its input metadata.
    """
    return re.findall(r"StreamTitle\s*:\s*(.*?)\s*$", log, re.MULTILINE)


def decoded_seconds(log: str) -> float:
    """
    The audio time ffmpeg reports having decoded, from its last status.
    """
    times = re.findall(r"time=(\d+):(\d+):(\d+\.\d+)", log)
    if not times:
        return 0.0
    h, m, s = times[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)


class Reader(Protocol):
    """
    A listener that reads everything and notes when each byte arrived.
    """

    def __init__(self, request: bytes, clock: IReactorTime) -> None:
        self.request = request
        self.clock = clock
        self.capture = ListenerCapture()
        self.received = 0
        self.history: list[tuple[float, int]] = []
        self.gone: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)
        self.history.append((self.clock.seconds(), self.received))
        self.capture.feed(data)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if not self.gone.called:
            self.gone.callback(None)

    def received_by(self, when: float) -> int:
        """
        Bytes received up to time C{when}.
        """
        total = 0
        for at, count in self.history:
            if at > when:
                break
            total = count
        return total


async def wait_for(
    condition: Callable[[], bool], timeout: float, clock: IReactorTime, step: float = 0.05
) -> None:
    """
    Wait, without blocking the reactor, until C{condition()} holds.

    @raise AssertionError: if it does not within C{timeout} seconds.
    """
    if condition():
        return
    done: Deferred[None] = Deferred()
    deadline = clock.seconds() + timeout

    def check() -> None:
        if condition():
            loop.stop()
            done.callback(None)
        elif clock.seconds() > deadline:
            loop.stop()
            done.errback(AssertionError(f"timed out after {timeout} s"))

    loop = LoopingCall(check)
    loop.clock = clock
    loop.start(step)
    await done
