# -*- test-case-name: tests.test_testing -*-
"""
Fakes and helpers shared by radiod's tests (and useful to anyone testing
code built on radiod): synthetic frames, a scripted frame source, a
synchronous runner, a transport that pushes back like a slow client, a
parser for what a listener receives, and a converter that converts
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import AnyStr, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import (
    IAddress,
    IProcessProtocol,
    IProcessTransport,
    IReactorProcess,
)
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from zope.interface import implementer

from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, build_header, parse_header
from radiod.audio.icy import IcyDemuxer, parse_metadata
from radiod.audio.track import TrackInfo
from radiod.interfaces import IFrameSource

__all__ = [
    "FakeConverter",
    "FakeConverters",
    "FakeFrameSource",
    "FakeProcess",
    "FakeProcessReactor",
    "ListenerCapture",
    "Reply",
    "SlowTransport",
    "SteppedClock",
    "parse_reply",
    "silent_frame",
    "synchronous_runner",
]

_T = TypeVar("_T")


def synchronous_runner(work: Callable[[], _T]) -> Deferred[_T]:
    """
    A L{radiod.interfaces.Runner} that runs C{work} at once, on the
    calling thread, and returns an already-fired Deferred.
    """
    try:
        return succeed(work())
    except Exception:
        return fail()


def silent_frame(
    version: str = "1",
    bitrate: int = 128,
    sample_rate: int = 44100,
    channels: int = 2,
    padding: bool = False,
    layer: int = 3,
    fill: int = 0,
) -> Frame:
    """
    A frame with a real header and a payload of C{fill} bytes (all zero
    decodes as silence for layer III main data of length zero).
    """
    header_bytes = build_header(version, layer, bitrate, sample_rate, padding, channels)
    header = parse_header(header_bytes)
    assert header is not None
    return Frame(header, header_bytes + bytes([fill]) * (header.length - 4))


@dataclass
class _Segment:
    track: TrackInfo
    frame: Frame
    count: int


@implementer(IFrameSource)
class FakeFrameSource:
    """
    A frame source that plays scripted tracks of synthetic frames, round
    after round.

    @ivar ready: while false, L{next_frame} returns L{None} (an underrun).
    @ivar started: whether L{start} was called (and L{stop} not since).
    @ivar handed: frames handed out so far.
    """

    def __init__(self, segments: Iterable[tuple[TrackInfo, Frame, int]]) -> None:
        """
        @param segments: (track, frame, count): play C{count} copies of
            C{frame} as C{track}, then the next segment.
        """
        self._segments = [_Segment(*segment) for segment in segments]
        self._index = 0
        self._played = 0
        self.ready = True
        self.started = False
        self.handed = 0

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def next_frame(self) -> tuple[Frame, TrackInfo] | None:
        if not self.ready or not self._segments:
            return None
        segment = self._segments[self._index]
        if self._played >= segment.count:
            self._index = (self._index + 1) % len(self._segments)
            self._played = 0
            segment = self._segments[self._index]
        self._played += 1
        self.handed += 1
        return segment.frame, segment.track


class SteppedClock(Clock):
    """
    A L{Clock} on a machine whose system clock can be stepped.

    Time passes with L{advance}, as on any L{Clock}; L{step} moves the
    system clock alone, as an NTP correction does.  Like Twisted's
    reactors, it keeps time by the system clock (L{wall}) and puts its
    timers at absolute times on it, until something gives it another
    C{seconds} (see L{radiod.station.steady.SteadyTime}).

    @ivar stepped: seconds the system clock was stepped by in all.
    """

    def __init__(self, start: float = 0.0) -> None:
        """
        @param start: the system clock's time at first, in seconds since
            the epoch.
        """
        super().__init__()
        self.rightNow = start
        self.stepped = 0.0

    def wall(self) -> float:
        """
        The system clock: the time passed, plus every step.
        """
        return self.rightNow + self.stepped

    def elapsed(self) -> float:
        """
        A clock that is never stepped: the time passed alone.
        """
        return self.rightNow

    def seconds(self) -> float:
        """
        The system clock, as Twisted's reactors read it.
        """
        return self.wall()

    def step(self, amount: float) -> None:
        """
        Step the system clock by C{amount} seconds (back when negative);
        no time passes and no timer runs.
        """
        self.stepped += amount


class SlowTransport(StringTransport):
    """
    A StringTransport that behaves like a TCP transport whose peer reads
    slowly: once more than C{threshold} bytes are written and not yet
    L{drain}ed, it pauses its streaming producer, as Twisted does when its
    send buffer fills.
    """

    def __init__(self, threshold: int = 65536) -> None:
        super().__init__()
        self.threshold = threshold
        self.aborted = False
        self.paused_producer = False
        self.written_chunks: list[int] = []
        self._pending = 0

    def write(self, data: bytes) -> None:
        super().write(data)
        self.written_chunks.append(len(data))
        self._pending += len(data)
        if (
            self._pending > self.threshold
            and self.producer is not None
            and self.streaming
            and not self.paused_producer
        ):
            self.paused_producer = True
            self.producer.pauseProducing()

    def writeSequence(self, data: Iterable[bytes | memoryview]) -> None:
        self.write(b"".join(data))

    def drain(self) -> bytes:
        """
        The peer reads everything written so far; resume the producer.
        """
        data: bytes = self.value()
        self.clear()
        self._pending = 0
        if self.producer is not None and self.paused_producer:
            self.paused_producer = False
            self.producer.resumeProducing()
        return data

    def abortConnection(self) -> None:
        self.aborted = True
        self.loseConnection()


@dataclass
class ListenerCapture:
    """
    What a listener received: the response head, the audio, and each ICY
    title with the audio offset where it arrived.
    """

    status_line: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    audio: bytearray = field(default_factory=bytearray)
    titles: list[tuple[int, str]] = field(default_factory=list)
    blocks: int = 0
    _head: bytearray = field(default_factory=bytearray)
    _demuxer: IcyDemuxer | None = None
    _done: bool = False

    def feed(self, data: bytes) -> None:
        """
        Parse more of the listener's byte stream.
        """
        if not self._done:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self._head[:end]).decode("latin-1").split("\r\n")
            self.status_line = lines[0]
            for line in lines[1:]:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
            data = bytes(self._head[end + 4 :])
            self._done = True
            metaint = int(self.headers.get("icy-metaint", "0"))
            self._demuxer = IcyDemuxer(metaint) if metaint else None
        if self._demuxer is None:
            self.audio += data
            return
        for kind, payload in self._demuxer.feed(data):
            if kind == "audio":
                self.audio += payload
            else:
                self.blocks += 1
                if payload:
                    title = parse_metadata(payload).get("StreamTitle", "")
                    self.titles.append((len(self.audio), title))


class FakeConverter:
    """
    A converter that records what it is fed and converts nothing by
    itself: a test hands out "converted" frames with L{emit} and ends it
    with L{end}.

    @ivar target: the format asked for.
    @ivar fed: the frames fed so far.
    @ivar finishing: whether L{finish} was called.
    @ivar stopped: whether L{stop} was called.
    @ivar ends_on_stop: whether L{stop} ends it at once, or only L{end}
        does (like a process, which ends some time after it is killed).
    """

    def __init__(
        self,
        target: AudioFormat,
        deliver: Callable[[list[Frame]], None],
        ended: Callable[[bool], None],
        ends_on_stop: bool = True,
    ) -> None:
        self.target = target
        self._deliver = deliver
        self._ended = ended
        self.fed: list[Frame] = []
        self.finishing = False
        self.stopped = False
        self.ends_on_stop = ends_on_stop

    def feed(self, frames: list[Frame]) -> None:
        self.fed.extend(frames)

    def finish(self) -> None:
        self.finishing = True

    def stop(self) -> None:
        self.stopped = True
        if self.ends_on_stop:
            self._ended(False)

    def emit(self, frames: list[Frame]) -> None:
        """
        Hand converted frames to the live source.
        """
        self._deliver(frames)

    def end(self, clean: bool = True) -> None:
        """
        End, as after L{finish} (C{clean}) or by dying.
        """
        self._ended(clean)


class FakeConverters:
    """
    A L{radiod.ffmpeg.converter.MakeConverter} that makes L{FakeConverter}s and
    keeps them, or makes none when C{available} is false.

    @ivar ends_on_stop: given to each converter made (see
        L{FakeConverter.ends_on_stop}).
    """

    def __init__(self, available: bool = True, ends_on_stop: bool = True) -> None:
        self.available = available
        self.ends_on_stop = ends_on_stop
        self.made: list[FakeConverter] = []

    def __call__(
        self,
        target: AudioFormat,
        deliver: Callable[[list[Frame]], None],
        ended: Callable[[bool], None],
        name: str,
    ) -> FakeConverter | None:
        if not self.available:
            return None
        converter = FakeConverter(target, deliver, ended, self.ends_on_stop)
        self.made.append(converter)
        return converter


@dataclass(frozen=True)
class Reply:
    """
    A complete HTTP reply, as a client received it.

    @ivar status: the status code.
    @ivar headers: the header fields by lower-cased name (the last value
        of a repeated one).
    @ivar body: what followed the head.
    """

    status: int
    headers: dict[str, str]
    body: bytes


def parse_reply(data: bytes) -> Reply:
    """
    Split a reply into its status, headers and body.

    @param data: everything the server wrote.
    @raise ValueError: if C{data} holds no complete head.
    """
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        raise ValueError(f"no complete reply head in {data[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(lines[0].split()[1]), headers, body)


@implementer(IProcessTransport)
class FakeProcess:
    """
    A child process that never runs, as L{FakeProcessReactor} spawns it:
    the test plays its part (L{output}, L{end}) and checks what was done
    to it.

    @ivar protocol: its process protocol.
    @ivar executable: the program asked for.
    @ivar args: its arguments.
    @ivar pid: a made-up process id.
    @ivar signals: the signals sent to it, in order.
    @ivar paused: whether reading its output is paused.
    @ivar stdin_closed: whether its standard input was closed.
    @ivar lost: whether its pipes were closed (L{loseConnection}).
    @ivar ended: whether it has exited (L{end}).
    @ivar written: what was written to its standard input.
    """

    def __init__(
        self, protocol: IProcessProtocol, executable: bytes | str, args: list[str], pid: int
    ) -> None:
        self.protocol = protocol
        self.executable = executable
        self.args = args
        self.pid: int | None = pid
        self.signals: list[str] = []
        self.paused = False
        self.stdin_closed = False
        self.lost = False
        self.ended = False
        self.written = b""

    def output(self, data: bytes, fd: int = 1) -> None:
        """
        The process writes C{data} to its standard output (or C{fd}).
        """
        self.protocol.childDataReceived(fd, data)

    def end(self, reason: Failure | None = None) -> None:
        """
        The process exits: by default cleanly, or as C{reason} says.
        """
        self.ended = True
        self.pid = None
        self.protocol.processEnded(reason or Failure(ProcessDone(0)))

    # IProcessTransport

    def closeStdin(self) -> None:
        self.stdin_closed = True

    def closeStdout(self) -> None:
        self.lost = True

    def closeStderr(self) -> None:
        pass

    def closeChildFD(self, descriptor: int) -> None:
        if descriptor == 0:
            self.stdin_closed = True

    def writeToChild(self, childFD: int, data: bytes) -> None:
        self.written += data

    def loseConnection(self) -> None:
        self.stdin_closed = True
        self.lost = True

    def signalProcess(self, signalID: str | int) -> None:
        if self.ended:
            raise ProcessExitedAlready()
        self.signals.append(str(signalID))

    def write(self, data: bytes) -> None:
        self.written += data

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.written += b"".join(data)

    def getPeer(self) -> IAddress:
        return _ProcessAddress()

    def getHost(self) -> IAddress:
        return _ProcessAddress()

    # What Twisted's process transports also do

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False


@implementer(IAddress)
class _ProcessAddress:
    """
    The address of a fake process (it has none).
    """


@implementer(IReactorProcess)
class FakeProcessReactor:
    """
    Spawns L{FakeProcess}es instead of processes.

    @ivar spawned: every process spawned, in order.
    """

    def __init__(self) -> None:
        self.spawned: list[FakeProcess] = []

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
        process = FakeProcess(
            processProtocol, executable, [str(arg) for arg in args], 10000 + len(self.spawned)
        )
        self.spawned.append(process)
        processProtocol.makeConnection(process)
        return process
