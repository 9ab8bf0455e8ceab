"""
End-to-end test support on loopback: the real reactor, a listener that
reads and parses a stream, ffmpeg as a listener, the fixture files,
waiting for a condition without sleeping, and a record of what a mount
put on air to check listeners against.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, cast

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol, Protocol
from twisted.internet.task import LoopingCall
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.python.failure import Failure

from radiod.broadcast.listener import Listener
from radiod.broadcast.mount import Mount
from radiod.ffmpeg.binary import find_ffmpeg
from radiod.interfaces import Frames
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


class Recording:
    """
    Everything a mount puts on air from the moment this is made, in order:
    what each of its listeners must receive, byte for byte, from where it
    started, and how much audio time that is by the frames' own durations.

    A listener that got every byte of it kept up with the mount's pacer,
    whatever the wall clock says: this is what end-to-end tests check
    instead of a rate over a few seconds of wall time, which a busy
    machine throws.

    @ivar mount: the mount recorded.
    @ivar start: the stream offset of the first byte recorded (the
        mount's head when the recording began; 0 before any audio).
    @ivar audio: the bytes recorded.
    @ivar seconds: the audio time recorded.
    @ivar broadcasts: for each broadcast, the clock time it went on air
        and the audio time recorded up to and including it.
    """

    def __init__(self, mount: Mount, clock: IReactorTime) -> None:
        """
        @param mount: the mount to record.
        @param clock: the mount's clock, to note when audio went on air.
        """
        self.mount = mount
        self._clock = clock
        self.start = mount.buffer.head
        self.audio = bytearray()
        self.seconds = 0.0
        self.broadcasts: list[tuple[float, float]] = []
        mount.on_air.append(self._broadcast)

    def _broadcast(self, frames: Frames) -> None:
        # Observers run before the frames join the buffer, at its head.
        assert self.mount.buffer.head == self.end, "the recording missed audio"
        for frame, _ in frames:
            self.audio += frame.data
            self.seconds += frame.duration
        self.broadcasts.append((self._clock.seconds(), self.seconds))

    @property
    def end(self) -> int:
        """
        The stream offset just past the last byte recorded.
        """
        return self.start + len(self.audio)

    def seconds_since(self, when: float) -> float:
        """
        The audio time put on air after the first broadcast at or after
        the clock time C{when}.

        A pacer never sends a frame before its start time has come, so at
        least this much time, less one frame's duration, has passed on
        the mount's clock since C{when}, however busy the machine.
        """
        for at, recorded in self.broadcasts:
            if at >= when:
                return self.seconds - recorded
        return 0.0

    def stop(self) -> None:
        """
        Stop recording.
        """
        if self._broadcast in self.mount.on_air:
            self.mount.on_air.remove(self._broadcast)


class Trail:
    """
    Where one listener's audio came from: the mounts it heard, in turn, as
    it was moved between them (see L{radiod.broadcast.fallback}), each
    from the stream offset there where it joined.

    Moves are taken from the log event each one makes, which names the
    listener; L{stop} when done.

    @ivar legs: for each mount heard, in order: its name, the stream
        offset there of the first byte heard from it, and that byte's
        index in the listener's audio.
    """

    def __init__(self, listener: Listener) -> None:
        """
        @param listener: the listener to follow, before it is moved.
        """
        self._listener = listener
        self.legs: list[tuple[str, int, int]] = [
            (listener.mount.name, listener.position - listener.sent, 0)
        ]
        self._observer = cast(ILogObserver, self._logged)
        globalLogPublisher.addObserver(self._observer)

    def _logged(self, event: LogEvent) -> None:
        listener = self._listener
        if (
            event.get("log_namespace") == _MOUNT_NAMESPACE
            and event.get("listener") == listener.id
            and "target" in event
        ):
            # Moved: it goes on from the new mount's head, after what it
            # was sent from the old one.
            leg = (listener.mount.name, listener.position, listener.sent)
            if leg != self.legs[-1]:
                self.legs.append(leg)

    @property
    def mounts(self) -> list[str]:
        """
        The names of the mounts heard, in turn.
        """
        return [name for name, _, _ in self.legs]

    def stop(self) -> None:
        """
        Stop following the listener.
        """
        globalLogPublisher.removeObserver(self._observer)


_MOUNT_NAMESPACE = f"{Mount.__module__}.{Mount.__qualname__}"


async def delivered(
    listener: Listener, capture: ListenerCapture, mount: str, upto: int, clock: IReactorTime
) -> None:
    """
    Wait until C{listener} has been sent, from C{mount}, the audio up to
    the stream offset C{upto} there, and its client has received all it
    was sent.

    @raise AssertionError: if that takes more than ten seconds each.
    """
    await wait_for(lambda: listener.mount.name == mount and listener.position >= upto, 10, clock)
    sent = listener.sent
    await wait_for(lambda: len(capture.audio) >= sent, 10, clock)


def _first_difference(a: bytes, b: bytes) -> int:
    """
    The index of the first byte where C{a} and C{b} differ, or the length
    of the shorter when one starts the other.
    """
    for at, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return at
    return min(len(a), len(b))


def check_heard(
    trail: Trail, recordings: Mapping[str, Recording], capture: ListenerCapture, upto: int
) -> None:
    """
    Check that a listener received what went on air, byte for byte and in
    order, on each mount it heard, from where it joined each one, to at
    least the stream offset C{upto} on the last.

    @param trail: the listener's, begun before it was first moved.
    @param recordings: the mounts' recordings by mount name, each begun
        before the listener joined the mount.
    @param capture: what its client received.
    @raise AssertionError: if it did not.
    """
    audio = bytes(capture.audio)
    legs = trail.legs
    for index, (name, offset, first) in enumerate(legs):
        last = legs[index + 1][2] if index + 1 < len(legs) else len(audio)
        recording = recordings.get(name)
        assert recording is not None, f"the listener heard {name}, which was not recorded"
        assert offset >= recording.start, (
            f"the listener joined {name} at {offset}, before its recording ({recording.start})"
        )
        heard = audio[first:last]
        at = offset - recording.start
        expected = bytes(recording.audio[at : at + len(heard)])
        if heard != expected:
            differ = _first_difference(heard, expected)
            raise AssertionError(
                f"byte {first + differ} of the {len(audio)} the listener received differs "
                f"from what went on air on {name} at {offset + differ} "
                f"({len(expected)} bytes on air there from where it joined)"
            )
    name, offset, first = legs[-1]
    reached = offset + len(audio) - first
    assert reached >= upto, f"the listener received {name} up to {reached}, not {upto}"
