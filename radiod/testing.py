# -*- test-case-name: tests.test_testing -*-
"""
Fakes and helpers shared by radiod's tests (and useful to anyone testing
code built on radiod): synthetic frames, a scripted frame source, a
synchronous runner, a clock whose system time can be stepped, a transport
that pushes back like a slow client, a parser for what a listener
receives, a client connection to a server in memory, a runner whose work
runs when the test says, a converter that converts nothing, and a process
reactor whose children the test plays.

Each fake provides the interface of what it stands in for and behaves
like it where a test can tell; C{tests/test_testing.py} runs the same
checks against the fake and the real thing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, AnyStr, Generic, Protocol, TypeVar

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ProcessDone, ProcessExitedAlready
from twisted.internet.interfaces import (
    IAddress,
    IProcessProtocol,
    IProcessTransport,
    IReactorProcess,
)
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from zope.interface import implementer

from radiod.audio.block import read_block
from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, FrameSplitter, build_header, parse_header
from radiod.audio.icy import IcyDemuxer, parse_metadata
from radiod.audio.track import TrackInfo
from radiod.interfaces import IFrameSource

__all__ = [
    "Connection",
    "FakeConverter",
    "FakeConverters",
    "FakeFrameSource",
    "FakeProcess",
    "FakeProcessReactor",
    "LaterRunner",
    "ListenerCapture",
    "MetadataInterleaver",
    "Reply",
    "SlowTransport",
    "SteppedClock",
    "parse_reply",
    "read_frames",
    "silent_frame",
    "synchronous_runner",
]

_T = TypeVar("_T")
_P = TypeVar("_P", bound=TwistedProtocol)
_P_co = TypeVar("_P_co", bound=TwistedProtocol, covariant=True)


def synchronous_runner(work: Callable[[], _T]) -> Deferred[_T]:
    """
    A L{radiod.interfaces.Runner} that runs C{work} at once, on the
    calling thread, and returns an already-fired Deferred.

    Like L{radiod.runner.thread_runner}, it turns whatever C{work} raises
    (any L{BaseException}, as Twisted's thread pool does) into the
    Deferred's failure.

    @param work: the blocking callable.
    @return: a Deferred that has fired with its result or failure.
    """
    try:
        return succeed(work())
    except BaseException:
        return fail()


class LaterRunner:
    """
    A L{radiod.interfaces.Runner} whose work runs when the test says, as
    work handed to L{radiod.runner.thread_runner} finishes some time
    later: each piece waits in L{pending} until the test runs it with
    L{run} (the oldest, or any other, as threads may finish out of order)
    or L{run_all}.

    As with the thread runner, the Deferred returned has no result yet; it
    fires, when the work has run, with its result, or with what it raised
    (any L{BaseException}, as Twisted's thread pool does) as its failure.

    @ivar pending: the work not yet run, each with the Deferred it fires,
        oldest first; a test may take work out of it to run it itself.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Callable[[], object], Deferred[Any]]] = []

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]:
        """
        Keep C{work} until the test runs it.

        @param work: the blocking callable.
        @return: a Deferred that fires once C{work} has run.
        """
        done: Deferred[_T] = Deferred()
        self.pending.append((work, done))
        return done

    def run(self, index: int = 0) -> None:
        """
        Run the work at C{index} in L{pending} (by default the oldest; -1
        for the latest, as a thread that finishes before those started
        earlier would) and fire its Deferred with the outcome.

        @raise IndexError: if there is no such work.
        """
        work, done = self.pending.pop(index)
        try:
            result = work()
        except BaseException:
            done.errback()
        else:
            done.callback(result)

    def run_all(self) -> None:
        """
        Run the pending work in order, oldest first, until none is left,
        including work handed over meanwhile.
        """
        while self.pending:
            self.run()


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

    @param version: the MPEG version: C{"1"}, C{"2"} or C{"2.5"}.
    @param bitrate: kbit/s, one the version and layer allow.
    @param sample_rate: samples per second, one the version allows.
    @param channels: 1 or 2.
    @param padding: whether the frame has its padding slot.
    @param layer: the MPEG layer, 1 to 3.
    @param fill: the byte the payload is made of.
    @return: the frame, as the real parser reads it.
    """
    header_bytes = build_header(version, layer, bitrate, sample_rate, padding, channels)
    header = parse_header(header_bytes)
    assert header is not None
    return Frame(header, header_bytes + bytes([fill]) * (header.length - 4))


@dataclass
class _Segment:
    """
    One scripted track of a L{FakeFrameSource}.
    """

    track: TrackInfo
    frame: Frame
    count: int


@implementer(IFrameSource)
class FakeFrameSource:
    """
    A frame source that plays scripted tracks of synthetic frames, round
    after round, as a programme plays its library (every frame of a track
    with the same L{TrackInfo}).  Unlike a programme, it plays whether
    started or not.

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
        """
        Note that the source was started.
        """
        self.started = True

    def stop(self) -> None:
        """
        Note that the source was stopped.
        """
        self.started = False

    def next_frame(self) -> tuple[Frame, TrackInfo] | None:
        """
        The next scripted frame and its track, or L{None} while not
        L{ready} (or with nothing scripted).
        """
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
    slowly: while more than C{threshold} bytes are written and not yet
    L{drain}ed, each write pauses its streaming producer (again, if it is
    paused already), and draining resumes it once, as Twisted does with
    its send buffer.

    @ivar threshold: the bytes it holds before it pauses its producer.
    @ivar aborted: whether L{abortConnection} was called.
    @ivar paused_producer: whether it paused its producer and has not
        resumed it since.
    @ivar written_chunks: the size of each write, in order.
    """

    def __init__(self, threshold: int = 65536) -> None:
        """
        @param threshold: the bytes it holds before it pauses its
            producer; by default, as much as a Twisted transport buffers
            (C{FileDescriptor.bufferSize}).
        """
        super().__init__()
        self.threshold = threshold
        self.aborted = False
        self.paused_producer = False
        self.written_chunks: list[int] = []
        self._pending = 0

    def write(self, data: bytes) -> None:
        """
        Hold C{data} for the peer; pause the streaming producer if more
        than the threshold is held.
        """
        super().write(data)
        self.written_chunks.append(len(data))
        self._pending += len(data)
        if self._pending > self.threshold and self.producer is not None and self.streaming:
            self.paused_producer = True
            self.producer.pauseProducing()

    def writeSequence(self, data: Iterable[bytes | memoryview]) -> None:
        """
        Write the pieces of C{data} joined, in one write.
        """
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
        """
        Close at once, noting that it was aborted.
        """
        self.aborted = True
        self.loseConnection()


@dataclass
class ListenerCapture:
    """
    What a listener received: the response head, the audio, and each ICY
    title with the audio offset where it arrived.

    @ivar status_line: the response's first line.
    @ivar headers: its header fields by lower-cased name.
    @ivar audio: the audio received, without ICY metadata.
    @ivar titles: each C{StreamTitle} received, with the length of
        L{audio} when it arrived.
    @ivar blocks: the metadata blocks received, empty ones included.
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
    A L{radiod.interfaces.Converter} that records what it is fed and
    converts nothing by itself: a test hands out "converted" frames with
    L{emit} and ends it with L{end}.

    Like the real one, it takes no more input once finishing or stopped,
    and reports its end once.

    @ivar target: the format asked for.
    @ivar fed: the frames fed so far.
    @ivar finishing: whether L{finish} was called.
    @ivar stopped: whether L{stop} was called.
    @ivar ends_on_stop: whether L{stop} ends it at once, or only L{end}
        does (like a process, which ends some time after it is killed).
    @ivar exited: whether its end was reported.
    """

    def __init__(
        self,
        target: AudioFormat,
        deliver: Callable[[list[Frame]], None],
        ended: Callable[[bool], None],
        ends_on_stop: bool = True,
    ) -> None:
        """
        @param target: the format to convert to.
        @param deliver: called with converted frames (see L{emit}).
        @param ended: called once, when it ends, with whether it ended
            as asked.
        @param ends_on_stop: see L{ends_on_stop}.
        """
        self.target = target
        self._deliver = deliver
        self._ended = ended
        self.fed: list[Frame] = []
        self.finishing = False
        self.stopped = False
        self.ends_on_stop = ends_on_stop
        self.exited = False

    def feed(self, frames: list[Frame]) -> None:
        """
        Record C{frames} as fed, unless it is finishing, stopped or ended.
        """
        if self.finishing or self.stopped or self.exited:
            return
        self.fed.extend(frames)

    def finish(self) -> None:
        """
        The input ended: note it; the test ends the converter with L{end}.
        """
        self.finishing = True

    def stop(self) -> None:
        """
        Note that it was stopped, and end it (not cleanly) at once when
        L{ends_on_stop}.
        """
        self.stopped = True
        if self.ends_on_stop:
            self._end(False)

    def emit(self, frames: list[Frame]) -> None:
        """
        Hand converted frames to the live source.
        """
        self._deliver(frames)

    def end(self, clean: bool = True) -> None:
        """
        End, as after L{finish} (C{clean}) or by dying; nothing more
        happens if it has ended already.
        """
        self._end(clean)

    def _end(self, clean: bool) -> None:
        if self.exited:
            return
        self.exited = True
        self._ended(clean)


class FakeConverters:
    """
    A L{radiod.interfaces.MakeConverter} that makes L{FakeConverter}s and
    keeps them, or makes none when C{available} is false (as the real one
    does without ffmpeg).

    @ivar available: whether it makes converters.
    @ivar ends_on_stop: given to each converter made (see
        L{FakeConverter.ends_on_stop}).
    @ivar made: the converters made, in order.
    """

    def __init__(self, available: bool = True, ends_on_stop: bool = True) -> None:
        """
        @param available: see L{available}.
        @param ends_on_stop: see L{ends_on_stop}.
        """
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
        """
        Make a converter to C{target}, or none when not L{available}.

        @param target: the format to convert to.
        @param deliver: called with converted frames.
        @param ended: called once when the converter ends.
        @param name: the mount's name, for logs.
        """
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
    @return: the reply.
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


class _ServerFactory(Protocol[_P_co]):
    """
    A factory that builds a protocol for each connection it accepts.
    """

    def buildProtocol(self, addr: IAddress | None) -> _P_co: ...


class Connection(Generic[_P]):
    """
    One client's connection to a server, in memory: the protocol that
    C{factory} builds for a client at C{host}, port C{port}, connected to
    a L{StringTransport} that keeps what the server writes.

    The same bytes sent get the same reply as on a TCP connection to the
    same factory.  Closing is only noted, as L{StringTransport} notes it:
    when the server closes, L{closed} turns true and its protocol is not
    told the connection was lost; the test says when the client leaves,
    with L{lose}.

    @ivar transport: the server's transport: what it wrote is its
        C{value()}.
    @ivar protocol: the server's protocol for this connection.
    """

    def __init__(
        self,
        factory: _ServerFactory[_P],
        port: int = 40000,
        host: str = "192.0.2.9",
        transport: StringTransport | None = None,
    ) -> None:
        """
        @param factory: the server's factory (a station's
            L{radiod.wire.server.RadioFactory}, say).
        @param port: the client's port.
        @param host: the client's address, IPv4 or IPv6.
        @param transport: the transport to connect the protocol to (a
            L{SlowTransport}, say), or L{None} for a new
            L{StringTransport}; it is given the client's address as its
            peer.
        """
        address = (IPv6Address if ":" in host else IPv4Address)("TCP", host, port)
        if transport is None:
            transport = StringTransport()
        transport.peerAddr = address
        self.transport = transport
        self.protocol: _P = factory.buildProtocol(address)
        self.protocol.makeConnection(transport)

    def send(self, data: bytes | str) -> bytes:
        """
        The client sends C{data} (text as UTF-8).

        @return: everything the server has written so far (see
            L{received}).
        """
        self.protocol.dataReceived(data.encode("utf-8") if isinstance(data, str) else data)
        return self.received()

    def received(self) -> bytes:
        """
        Everything the server has written so far.
        """
        return bytes(self.transport.value())

    def capture(self) -> ListenerCapture:
        """
        Everything the server has written so far, read as a listener reads
        it.
        """
        capture = ListenerCapture()
        capture.feed(self.received())
        return capture

    def reply(self) -> Reply:
        """
        Everything the server has written so far, read as a complete reply.

        @raise ValueError: if it holds no complete head.
        """
        return parse_reply(self.received())

    @property
    def closed(self) -> bool:
        """
        Whether the server has closed the connection.
        """
        return bool(self.transport.disconnecting)

    def lose(self, reason: Failure | None = None) -> None:
        """
        The client goes away: the server's protocol is told the connection
        was lost.

        @param reason: why, by default a clean close (L{ConnectionDone}),
            as TCP reports a client that closed its end.
        """
        self.protocol.connectionLost(reason or Failure(ConnectionDone()))


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
        """
        @param protocol: its process protocol.
        @param executable: the program asked for.
        @param args: its arguments.
        @param pid: the process id to report while it runs.
        """
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
        """
        Close its standard input.
        """
        self.stdin_closed = True

    def closeStdout(self) -> None:
        """
        Stop reading its standard output (noted as L{lost}).
        """
        self.lost = True

    def closeStderr(self) -> None:
        """
        Stop reading its standard error (nothing to note).
        """

    def closeChildFD(self, descriptor: int) -> None:
        """
        Close one of its pipes; closing 0 closes its standard input.
        """
        if descriptor == 0:
            self.stdin_closed = True

    def writeToChild(self, childFD: int, data: bytes) -> None:
        """
        Write C{data} to one of its pipes (all recorded in L{written}).
        """
        self.written += data

    def loseConnection(self) -> None:
        """
        Close its pipes.
        """
        self.stdin_closed = True
        self.lost = True

    def signalProcess(self, signalID: str | int) -> None:
        """
        Record the signal, by name (C{"KILL"}) or number, as sent.

        @raise ProcessExitedAlready: if it has ended, as a real process
            transport does.
        """
        if self.ended:
            raise ProcessExitedAlready()
        self.signals.append(str(signalID))

    def write(self, data: bytes) -> None:
        """
        Write C{data} to its standard input.
        """
        self.written += data

    def writeSequence(self, data: Iterable[bytes]) -> None:
        """
        Write each of C{data} to its standard input.
        """
        self.written += b"".join(data)

    def getPeer(self) -> IAddress:
        """
        The process's address (it has none worth the name).
        """
        return _ProcessAddress()

    def getHost(self) -> IAddress:
        """
        This end's address (there is none worth the name).
        """
        return _ProcessAddress()

    # What Twisted's process transports also do

    def pauseProducing(self) -> None:
        """
        Stop reading its output.
        """
        self.paused = True

    def resumeProducing(self) -> None:
        """
        Read its output again.
        """
        self.paused = False


@implementer(IAddress)
class _ProcessAddress:
    """
    The address of a fake process (it has none).
    """


@implementer(IReactorProcess)
class FakeProcessReactor:
    """
    Spawns L{FakeProcess}es instead of processes, connecting each to its
    protocol at once, as a reactor does.

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
        """
        Start a fake process (see L{IReactorProcess.spawnProcess}); only
        the protocol, executable and arguments (as text) are kept.

        @return: the process, already connected to C{processProtocol}.
        """
        process = FakeProcess(
            processProtocol,
            executable,
            [os.fsdecode(arg) for arg in args],
            10000 + len(self.spawned),
        )
        self.spawned.append(process)
        processProtocol.makeConnection(process)
        return process


def read_frames(
    data: bytes | bytearray | memoryview, splitter: FrameSplitter | None = None
) -> list[Frame]:
    """
    Split a whole file into a list of its audio frames (see
    L{radiod.audio.block.read_block}, which the station uses).

    @param splitter: a fresh splitter, whose counters the caller may read
        afterwards; a new one by default.
    @raise UnsupportedAudio: as L{read_block} does.
    """
    return list(read_block(data, splitter))


class MetadataInterleaver:
    """
    Insert metadata blocks into one listener's audio every C{metaint} bytes.

    The interleaver only counts; the caller decides what each block says.
    Audio is never copied: the pieces returned are the input itself or
    memoryview slices of it.

    @ivar metaint: the number of audio bytes between blocks.
    """

    __slots__ = ("_until_block", "metaint")

    def __init__(self, metaint: int) -> None:
        """
        @param metaint: the C{icy-metaint} announced to this listener.
        @raise ValueError: if C{metaint} is not positive.
        """
        if metaint <= 0:
            raise ValueError(f"metaint must be positive, not {metaint}")
        self.metaint = metaint
        self._until_block = metaint

    @property
    def until_block(self) -> int:
        """
        The number of audio bytes still to write before the next block; 0
        means a block is due before the next audio byte.
        """
        return self._until_block

    def interleave(
        self, audio: bytes | memoryview, block_at: Callable[[int], bytes]
    ) -> list[bytes | memoryview]:
        """
        Split C{audio} around the metadata blocks that fall inside it.

        A block is only written in front of the audio that follows it: one
        due exactly at the end of C{audio} is written at the start of the next
        call. So C{block_at(offset)} is always called with
        C{0 <= offset < len(audio)}, the index of the first audio byte after
        the block, in increasing order.

        @param audio: the next audio bytes for this listener.
        @param block_at: returns the block to insert before C{audio[offset]},
            either a full block from L{encode_metadata} or L{EMPTY_BLOCK}.
        @return: the pieces to write, in order.
        """
        size = len(audio)
        until = self._until_block
        if size <= until:
            self._until_block = until - size
            return [audio] if size else []
        view = audio if isinstance(audio, memoryview) else memoryview(audio)
        pieces: list[bytes | memoryview] = []
        position = 0
        metaint = self.metaint
        while position + until < size:
            offset = position + until
            if until:
                pieces.append(view[position:offset])
            pieces.append(block_at(offset))
            position = offset
            until = metaint
        pieces.append(view[position:])
        self._until_block = until - (size - position)
        return pieces
