"""
Tests for the shared fakes in L{radiod.testing}: each provides the
interface of what it stands in for, with the same signatures, and behaves
like it.  Where a test can run the real thing too, the same checks run
against both: a programme and the fake frame source, Twisted's L{Clock}
and L{SteppedClock}, the thread runner and the synchronous and later
ones, a TCP transport and L{SlowTransport}, a TCP connection and
L{Connection}, the ffmpeg converter and the fake one, real child
processes and fake ones.
"""

from __future__ import annotations

import inspect
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from twisted.internet import tcp
from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.error import (
    ConnectionDone,
    ProcessDone,
    ProcessExitedAlready,
    ProcessTerminated,
)
from twisted.internet.interfaces import (
    IConsumer,
    IProcessTransport,
    IPushProducer,
    IReactorCore,
    IReactorProcess,
    IReactorTime,
)
from twisted.internet.protocol import Factory, ProcessProtocol
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface import Interface, implementer
from zope.interface.verify import verifyObject

import radiod.testing
from radiod.audio.format import AudioFormat
from radiod.audio.frames import Frame, FrameSplitter
from radiod.audio.icy import encode_metadata
from radiod.audio.track import TrackInfo
from radiod.broadcast.listener import ListenerTransport
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ffmpeg.converter import FfmpegConverter, ffmpeg_converters
from radiod.interfaces import Converter, IFrameSource, MakeConverter, Runner
from radiod.library.library import Library
from radiod.library.programme import Programme
from radiod.outbound.authconfig import UrlAuthConfig
from radiod.outbound.urlauth import (
    CANCELLED,
    AuthRequest,
    AuthResult,
    UrlAuth,
    UrlAuthenticator,
)
from radiod.runner import thread_runner
from radiod.testing import (
    Connection,
    FakeConverter,
    FakeConverters,
    FakeFrameSource,
    FakeProcess,
    FakeProcessReactor,
    FakeUrlAuthenticator,
    LaterRunner,
    ListenerCapture,
    SlowTransport,
    SteppedClock,
    parse_reply,
    silent_frame,
    synchronous_runner,
)
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory
from tests.support.loopback import FIXTURES, Reader, asynchronous, reactor, wait_for

CD = AudioFormat(44100, 2, 128)
STEREO = silent_frame()
MONO_22K = silent_frame(version="2", bitrate=48, sample_rate=22050, channels=1)

ECHO = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"
"""
A child that writes back what it reads, and exits when its input ends.
"""


def parameters(function: Callable[..., object]) -> list[tuple[str, object]]:
    """
    The name and default of each parameter of C{function}, C{self} left
    out; a name that can only be passed by position shows as C{"/"}.
    """
    found = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name == "self":
            continue
        positional = parameter.kind is inspect.Parameter.POSITIONAL_ONLY
        found.append(("/" if positional else parameter.name, parameter.default))
    return found


def declared(interface: type[Interface], name: str) -> list[tuple[str, object]]:
    """
    The name and default of each parameter of the method C{name} as
    C{interface} declares it (L{inspect.Parameter.empty} for none).
    """
    info = interface[name].getSignatureInfo()
    optional: dict[str, object] = info["optional"]
    return [(each, optional.get(each, inspect.Parameter.empty)) for each in info["positional"]]


class DocumentedTests(SynchronousTestCase):
    """
    Every public name in L{radiod.testing} says what it is for.
    """

    def test_docstrings(self) -> None:
        """
        Each name in C{__all__}, and each public method and property its
        classes define, has a docstring.
        """
        missing = []
        for name in radiod.testing.__all__:
            value = getattr(radiod.testing, name)
            if not inspect.getdoc(value):
                missing.append(name)
            if not inspect.isclass(value):
                continue
            for member, attribute in vars(value).items():
                if member.startswith("_") and member != "__call__":
                    continue
                if callable(attribute) or isinstance(attribute, property):
                    if not getattr(attribute, "__doc__", None):
                        missing.append(f"{name}.{member}")
        self.assertEqual(missing, [])


class FrameSourceTests(SynchronousTestCase):
    """
    L{FakeFrameSource} plays like a programme playing a library.
    """

    def plays(self, source: IFrameSource) -> list[tuple[bytes, str]]:
        """
        Start C{source} and take ten frames: each one's data and its
        track's file name.  Every frame of a track comes with the same
        L{TrackInfo}.
        """
        self.assertTrue(verifyObject(IFrameSource, source))
        source.start()
        self.addCleanup(source.stop)
        played = []
        previous: TrackInfo | None = None
        for _ in range(10):
            item = source.next_frame()
            assert item is not None
            frame, track, starts = item
            played.append((frame.data, os.path.basename(track.path)))
            if previous is not None and previous.path == track.path:
                self.assertFalse(starts)
            previous = track
        return played

    def test_plays_like_a_programme(self) -> None:
        """
        Scripted as a library of two files is, the fake plays what a
        programme plays from the files: each track's frames in order,
        round after round.
        """
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        a, b = os.path.join(folder, "a.mp3"), os.path.join(folder, "b.mp3")
        one, two = silent_frame(fill=1), silent_frame(fill=2)
        for path, frame, count in ((a, one, 3), (b, two, 2)):
            with open(path, "wb") as f:
                f.write(frame.data * count)
        programme = Programme(
            Library(folder, synchronous_runner),
            Clock(),
            synchronous_runner,
            rescan_interval=0,
            name="/test",
        )
        fake = FakeFrameSource([(TrackInfo(a, "a"), one, 3), (TrackInfo(b, "b"), two, 2)])
        expected = ([(one.data, "a.mp3")] * 3 + [(two.data, "b.mp3")] * 2) * 2
        self.assertEqual(self.plays(programme), expected)
        self.assertEqual(self.plays(fake), expected)

    def test_not_ready(self) -> None:
        """
        While not ready, the fake has no frame, as a programme whose read
        has not finished has none; then it goes on where it was.
        """
        a, b = TrackInfo("/a", "A"), TrackInfo("/b", "B")
        source = FakeFrameSource([(a, silent_frame(), 2), (b, silent_frame(bitrate=64), 1)])
        source.start()
        tracks = []
        for _ in range(4):
            item = source.next_frame()
            assert item is not None
            tracks.append(item[1])
        source.ready = False
        self.assertIsNone(source.next_frame())
        source.ready = True
        item = source.next_frame()
        assert item is not None
        tracks.append(item[1])
        self.assertEqual(tracks, [a, a, b, a, a])
        self.assertEqual(source.handed, 5)


class SilentFrameTests(SynchronousTestCase):
    """
    L{silent_frame} makes frames the real parser reads as real ones.
    """

    def test_like_a_real_frame(self) -> None:
        """
        The default frame has the header fields and length of a real
        frame of the tone fixture (128 kbit/s, 44.1 kHz stereo).
        """
        splitter = FrameSplitter()
        with open(os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3"), "rb") as f:
            real = splitter.feed(f.read()) + splitter.finish()
        for padding in (False, True):
            fake = silent_frame(padding=padding).header
            header = next(frame.header for frame in real if frame.header.padding == padding)
            fields = ("version", "layer", "bitrate", "sample_rate", "channels", "samples", "length")
            self.assertEqual(
                [getattr(fake, field) for field in fields],
                [getattr(header, field) for field in fields],
            )

    def test_parsed_back(self) -> None:
        """
        Frames of every MPEG version split back into the same frames, with
        the header asked for.
        """
        for version, rate, bitrate in (("1", 48000, 320), ("2", 22050, 64), ("2.5", 8000, 8)):
            for channels in (1, 2):
                frame = silent_frame(version, bitrate, rate, channels, fill=7)
                splitter = FrameSplitter()
                frames = splitter.feed(frame.data * 3) + splitter.finish()
                self.assertEqual(frames, [frame] * 3)
                self.assertEqual(
                    (frame.header.version, frame.header.sample_rate, frame.header.channels),
                    (version, rate, channels),
                )


class ClockTests(SynchronousTestCase):
    """
    L{SteppedClock} is a L{Clock} until its system clock is stepped.
    """

    def trace(self, clock: Clock) -> list[tuple[str, float]]:
        """
        Schedule, cancel, delay, reset and run calls on C{clock}; return
        what ran, when, with the pending calls' times along the way.
        """
        ran: list[tuple[str, float]] = []

        def call(name: str) -> Callable[[], None]:
            return lambda: ran.append((name, clock.seconds()))

        def chained() -> None:
            ran.append(("chained", clock.seconds()))
            clock.callLater(0, call("now"))

        clock.callLater(1.0, call("one"))
        clock.callLater(2.0, call("two"))
        clock.callLater(2.0, call("two again"))
        clock.callLater(3.0, call("cancelled")).cancel()
        clock.callLater(4.0, call("delayed")).delay(1.0)
        clock.callLater(4.0, call("reset")).reset(0.5)
        clock.callLater(2.5, chained)
        ran.append(("pending", float(len(clock.getDelayedCalls()))))
        clock.advance(1.5)
        clock.pump([0.5, 0.5, 0.5])
        ran.append(("pending", float(len(clock.getDelayedCalls()))))
        clock.advance(10)
        ran.append(("pending", float(len(clock.getDelayedCalls()))))
        return ran

    def test_provides(self) -> None:
        """
        It provides L{IReactorTime}, as L{Clock} does.
        """
        self.assertTrue(verifyObject(IReactorTime, Clock()))
        self.assertTrue(verifyObject(IReactorTime, SteppedClock(1000.0)))

    def test_like_clock(self) -> None:
        """
        Unstepped, it runs calls exactly as L{Clock} does.
        """
        expected = [
            ("pending", 6.0),
            ("reset", 1.5),
            ("one", 1.5),
            ("two", 2.0),
            ("two again", 2.0),
            ("chained", 2.5),
            ("now", 2.5),
            ("pending", 1.0),
            ("delayed", 13.0),
            ("pending", 0.0),
        ]
        self.assertEqual(self.trace(Clock()), expected)
        self.assertEqual(self.trace(SteppedClock()), expected)

    def test_step(self) -> None:
        """
        A step moves the system clock alone: no time passes and nothing
        runs, but calls are due at times on the system clock, as on a
        reactor; L{SteppedClock.elapsed} goes on with the time passed.
        """
        clock = SteppedClock(100.0)
        ran: list[float] = []
        clock.callLater(5, lambda: ran.append(clock.elapsed()))
        clock.step(10)
        self.assertEqual((clock.seconds(), clock.wall(), clock.elapsed()), (110, 110, 100))
        self.assertEqual(ran, [])
        clock.advance(0)
        self.assertEqual(ran, [100])
        clock.callLater(1, lambda: ran.append(clock.elapsed()))
        clock.step(-60)
        clock.advance(30)
        self.assertEqual(ran, [100])
        clock.advance(31)
        self.assertEqual(ran, [100, 161])


class Stop(BaseException):
    """
    Raised by work, and not an L{Exception}.
    """


def stop() -> None:
    """
    Work that raises L{Stop}.
    """
    raise Stop()


class RunnerTests(TestCase):
    """
    L{synchronous_runner} gives what L{thread_runner} gives, at once, and
    L{LaterRunner} gives it when the test says.
    """

    timeout = 30

    async def check(self, runner: Runner) -> None:
        """
        C{runner} fires with the work's result, or fails with what it
        raised, an exception or not.
        """
        self.assertEqual(await runner(lambda: 3), 3)
        with self.assertRaises(ZeroDivisionError):
            await runner(lambda: 1 // 0)
        with self.assertRaises(Stop):
            await runner(stop)

    def test_signature(self) -> None:
        """
        Both take the work alone.
        """
        core: IReactorCore = reactor
        real: Runner = thread_runner(core, reactor.getThreadPool())
        fake: Runner = synchronous_runner
        later: Runner = LaterRunner()
        self.assertEqual(parameters(fake), parameters(real))
        self.assertEqual(parameters(type(later).__call__), parameters(real))

    @asynchronous
    async def test_thread_runner(self) -> None:
        """
        The real runner, on Twisted's thread pool.
        """
        core: IReactorCore = reactor
        await self.check(thread_runner(core, reactor.getThreadPool()))

    @asynchronous
    async def test_synchronous_runner(self) -> None:
        """
        The fake, whose Deferreds have fired by the time it returns.
        """
        await self.check(synchronous_runner)
        self.assertEqual(self.successResultOf(synchronous_runner(lambda: 3)), 3)
        self.failureResultOf(synchronous_runner(stop), Stop)

    @asynchronous
    async def test_later_runner(self) -> None:
        """
        The fake whose work runs when the test says, here as soon as it is
        handed over.
        """
        later = LaterRunner()

        def runner(work: Callable[[], Any]) -> Deferred[Any]:
            done = later(work)
            later.run_all()
            return done

        await self.check(runner)

    @asynchronous
    async def test_not_yet(self) -> None:
        """
        The thread runner's Deferred has no result when it is returned, nor
        has the later runner's, whose work has not run yet either.
        """
        core: IReactorCore = reactor
        real = thread_runner(core, reactor.getThreadPool())(lambda: 3)
        self.assertNoResult(real)
        self.assertEqual(await real, 3)
        ran: list[int] = []
        later = LaterRunner()
        done = later(lambda: ran.append(3))
        self.assertNoResult(done)
        self.assertEqual(ran, [])
        later.run()
        self.assertEqual((ran, self.successResultOf(done), later.pending), ([3], None, []))


class LaterRunnerTests(SynchronousTestCase):
    """
    L{LaterRunner} runs its work when the test says, in any order.
    """

    def test_order(self) -> None:
        """
        L{LaterRunner.run} runs the oldest work, or the one at the index
        given; L{LaterRunner.run_all} runs the rest in order, with work
        handed over meanwhile.
        """
        later = LaterRunner()
        ran: list[str] = []

        def work(name: str) -> Callable[[], str]:
            def run() -> str:
                ran.append(name)
                if name == "c":
                    later(work("e"))
                return name

            return run

        done = [later(work(name)) for name in "abcd"]
        later.run(-1)
        self.assertEqual(ran, ["d"])
        self.assertEqual(self.successResultOf(done[3]), "d")
        self.assertNoResult(done[0])
        later.run()
        self.assertEqual(ran, ["d", "a"])
        later.run_all()
        self.assertEqual(ran, ["d", "a", "b", "c", "e"])
        self.assertEqual([self.successResultOf(each) for each in done[:3]], ["a", "b", "c"])
        self.assertEqual(later.pending, [])
        self.assertRaises(IndexError, later.run)

    def test_failures(self) -> None:
        """
        What the work raises, an exception or not, is its Deferred's
        failure, and the work after it still runs.
        """
        later = LaterRunner()
        divided = later(lambda: 1 // 0)
        stopped = later(stop)
        last = later(lambda: 3)
        later.run_all()
        self.failureResultOf(divided, ZeroDivisionError)
        self.failureResultOf(stopped, Stop)
        self.assertEqual(self.successResultOf(last), 3)


@implementer(IPushProducer)
class RecordingProducer:
    """
    A push producer that notes each call it gets.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:
        """
        Note a pause.
        """
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        """
        Note a resume.
        """
        self.calls.append("resume")

    def stopProducing(self) -> None:
        """
        Note a stop.
        """
        self.calls.append("stop")


class Accepted(TwistedProtocol):
    """
    The server's end of a connection, handed to C{accepted} once made.
    """

    def __init__(self, accepted: Deferred[Accepted]) -> None:
        self.accepted = accepted

    def connectionMade(self) -> None:
        """
        Hand this connection to the test.
        """
        self.accepted.callback(self)


class TransportTests(TestCase):
    """
    L{SlowTransport} pushes back on its producer as a TCP transport does.
    """

    timeout = 30

    async def check(self, transport: IConsumer, drain: Callable[[], Awaitable[int]]) -> None:
        """
        Past the threshold every write pauses the streaming producer; once
        the peer has read everything, it is resumed once.

        @param drain: lets the peer read; returns the bytes it got.
        """
        producer = RecordingProducer()
        transport.registerProducer(producer, True)
        transport.write(b"x" * 65536)
        self.assertEqual(producer.calls, [])
        transport.write(b"y")
        self.assertEqual(producer.calls, ["pause"])
        transport.write(b"z")
        self.assertEqual(producer.calls, ["pause", "pause"])
        self.assertEqual(await drain(), 65538)
        self.assertEqual(producer.calls, ["pause", "pause", "resume"])
        transport.unregisterProducer()

    @asynchronous
    async def test_tcp(self) -> None:
        """
        A real TCP connection on loopback.
        """
        accepted: Deferred[Accepted] = Deferred()
        factory = Factory.forProtocol(lambda: Accepted(accepted))
        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
        self.addCleanup(port.stopListening)
        peer = Reader(b"", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), peer)
        server = await accepted
        assert server.transport is not None
        self.addCleanup(server.transport.loseConnection)

        async def drain() -> int:
            await wait_for(lambda: peer.received == 65538, 10, reactor)
            return peer.received

        await self.check(IConsumer(server.transport), drain)

    @asynchronous
    async def test_slow_transport(self) -> None:
        """
        The fake, whose peer reads when the test L{drains<SlowTransport.drain>}
        it; it holds as much as a Twisted transport buffers.
        """
        transport = SlowTransport()
        self.assertEqual(transport.threshold, FileDescriptor.bufferSize)

        async def drain() -> int:
            return len(transport.drain())

        await self.check(transport, drain)

    def test_listener_transport(self) -> None:
        """
        It has what a listener needs of its transport, called the same
        way.
        """
        for name in ("write", "registerProducer", "unregisterProducer", "loseConnection"):
            self.assertEqual(
                len(parameters(getattr(SlowTransport, name))),
                len(parameters(getattr(ListenerTransport, name))),
                name,
            )
        self.assertEqual(parameters(SlowTransport.abortConnection), [])
        transport = SlowTransport()
        transport.abortConnection()
        self.assertTrue(transport.aborted)
        self.assertTrue(transport.disconnecting)


class Asker(TwistedProtocol):
    """
    A client that sends its request once connected and keeps what it
    receives until the server closes the connection.

    @ivar answered: fires with everything received, once closed.
    """

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.received = b""
        self.answered: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        """
        Send the request.
        """
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        """
        Keep what the server wrote.
        """
        self.received += data

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:  # noqa: B008
        """
        Hand over everything received.
        """
        self.answered.callback(self.received)


class Recorder(TwistedProtocol):
    """
    A server's end of a connection: keeps what it receives, and why the
    connection was lost.

    @ivar lost: fires once the connection is lost.
    """

    def __init__(self) -> None:
        self.data = b""
        self.reason: Failure | None = None
        self.lost: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        """
        Keep what the client sent.
        """
        self.data += data

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:  # noqa: B008
        """
        Note why, and fire L{lost}.
        """
        self.reason = reason
        self.lost.callback(None)


class Recorders(Factory):
    """
    Builds a L{Recorder} for each connection, and keeps them.
    """

    def __init__(self) -> None:
        self.built: list[Recorder] = []

    def buildProtocol(self, addr: object) -> Recorder:
        """
        A new recorder.
        """
        recorder = Recorder()
        self.built.append(recorder)
        return recorder


def undated(reply: bytes) -> bytes:
    """
    C{reply} without its C{Date} header, which the site takes from the
    system clock.
    """
    return re.sub(rb"\r\nDate: [^\r]*", b"", reply)


class ConnectionTests(TestCase):
    """
    A L{Connection} gives a server what a TCP connection gives it, and the
    client what the server sends back.
    """

    timeout = 30

    def station(self, clock: IReactorTime) -> RadioFactory:
        """
        A station on C{clock}, with its site and one mount, C{/stream}, not
        started.
        """
        config = MountConfig(name="/stream")
        mount = Mount(config, FakeFrameSource([]), clock)
        factory = RadioFactory(
            clock, StationConfig(port=8000, mounts=(config,)), {"/stream": mount}
        )
        station_site(factory, clock)
        return factory

    async def listen(self, factory: Factory) -> int:
        """
        Serve C{factory} on loopback until the test ends.

        @return: the port.
        """
        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
        self.addCleanup(port.stopListening)
        number: int = port.getHost().port
        return number

    @asynchronous
    async def test_same_replies(self) -> None:
        """
        The same requests get the same replies, byte for byte, in memory as
        on TCP connections to the same station, which closes each once it
        has answered: refusals by the stream server, a playlist and a
        C{404} from its site (whose C{Date}, from the system clock, is left
        out).
        """
        real = await self.listen(self.station(reactor))
        memory = self.station(Clock())
        requests = (
            b"POST /stream HTTP/1.0\r\n\r\n",
            b"BOGUS\r\n\r\n",
            b"GET /stream.m3u HTTP/1.0\r\nHost: radio.example:8000\r\n\r\n",
            b"GET /nowhere HTTP/1.1\r\nHost: radio.example\r\n\r\n",
        )
        for request in requests:
            client = Asker(request)
            await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", real), client)
            received = await client.answered
            connection = Connection(memory)
            self.assertEqual(undated(connection.send(request)), undated(received))
            self.assertTrue(connection.closed)
            self.assertEqual(connection.reply(), parse_reply(connection.received()))
            self.assertEqual(connection.capture().status_line, received.split(b"\r\n")[0].decode())

    @asynchronous
    async def test_client(self) -> None:
        """
        The server's protocol is connected, gets what the client sends,
        has the client's address as its peer, and is told, with
        L{ConnectionDone}, when the client closes its end.
        """
        factory = Recorders()
        port = await self.listen(factory)
        client = Asker(b"hello")
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
        await wait_for(
            lambda: bool(factory.built) and factory.built[0].data == b"hello", 10, reactor
        )
        [server] = factory.built
        assert client.transport is not None and server.transport is not None
        self.assertEqual(server.transport.getPeer(), client.transport.getHost())
        client.transport.loseConnection()
        await server.lost

        memory = Recorders()
        connection = Connection(memory, 5000, "192.0.2.9")
        connection.send("hel")
        connection.send(b"lo")
        self.assertEqual(connection.protocol.data, server.data)
        self.assertIs(connection.protocol.transport, connection.transport)
        self.assertEqual(connection.transport.getPeer(), IPv4Address("TCP", "192.0.2.9", 5000))
        self.assertIsNone(connection.protocol.reason)
        connection.lose()
        assert server.reason is not None and connection.protocol.reason is not None
        self.assertEqual(type(connection.protocol.reason.value), type(server.reason.value))
        self.assertTrue(server.reason.check(ConnectionDone))
        self.assertFalse(connection.closed)

    def test_addresses_and_transports(self) -> None:
        """
        An IPv6 client has an IPv6 peer address; a transport handed over is
        the one the protocol is connected to, with the client as its peer.
        """
        six = Connection(Recorders(), 1, "2001:db8::1")
        self.assertEqual(six.transport.getPeer(), IPv6Address("TCP", "2001:db8::1", 1))
        slow = SlowTransport()
        connection = Connection(Recorders(), 2, transport=slow)
        self.assertIs(connection.transport, slow)
        self.assertIs(connection.protocol.transport, slow)
        self.assertEqual(slow.getPeer(), IPv4Address("TCP", "192.0.2.9", 2))


class ListenerCaptureTests(SynchronousTestCase):
    """
    L{ListenerCapture} reads what a listener is sent.
    """

    def test_fed_in_pieces(self) -> None:
        """
        The capture separates headers, audio and titles with their audio
        offsets, however the bytes are cut.
        """
        block = encode_metadata("Artist - Title")
        stream = b"a" * 4 + block + b"b" * 4 + b"\x00" + b"c" * 2
        capture = ListenerCapture()
        head = b"HTTP/1.0 200 OK\r\nicy-metaint:4\r\nicy-name:X\r\n\r\n"
        for i in range(0, len(head + stream), 3):
            capture.feed((head + stream)[i : i + 3])
        self.assertEqual(capture.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(capture.headers["icy-name"], "X")
        self.assertEqual(bytes(capture.audio), b"aaaabbbbcc")
        self.assertEqual(capture.titles, [(4, "Artist - Title")])
        self.assertEqual(capture.blocks, 2)

    def test_real_listener(self) -> None:
        """
        What a mount's listener writes, with metadata, is read back as
        the audio that went on air from where it started and the title
        of each track, at metadata positions.
        """
        clock = Clock()
        a = TrackInfo("/a.mp3", "First", "Artist")
        b = TrackInfo("/b.mp3", "Second", "Artist")
        source = FakeFrameSource([(a, silent_frame(fill=1), 30), (b, silent_frame(fill=2), 30)])
        mount = Mount(MountConfig(name="/stream", metaint=1000, burst_size=0), source, clock)
        mount.start()
        self.addCleanup(mount.stop)
        clock.pump([0.1] * 3)
        transport = StringTransport()
        listener = mount.add_listener(transport, "192.0.2.1:5000", True)
        clock.pump([0.1] * 30)
        data = b"HTTP/1.0 200 OK\r\nicy-metaint: 1000\r\n\r\n" + transport.value()
        capture = ListenerCapture()
        for i in range(0, len(data), 333):
            capture.feed(data[i : i + 333])
        start = listener.position - listener.sent
        on_air = b"".join(bytes(chunk.view[at:]) for chunk, at in mount.buffer.read(start))
        self.assertEqual(bytes(capture.audio), on_air)
        self.assertEqual(
            [title for _, title in capture.titles][:3],
            ["Artist - First", "Artist - Second", "Artist - First"],
        )
        self.assertTrue(all(at % 1000 == 0 for at, _ in capture.titles))
        # A block after every 1000 bytes of audio that some audio follows.
        self.assertEqual(capture.blocks, (len(capture.audio) - 1) // 1000)


class ReplyTests(SynchronousTestCase):
    """
    L{parse_reply} splits a server's reply.
    """

    def test_parse(self) -> None:
        """
        The status, the header fields by lower-cased name, and the body.
        """
        reply = parse_reply(b"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nNo.")
        self.assertEqual(
            (reply.status, reply.headers, reply.body), (404, {"content-type": "text/plain"}, b"No.")
        )

    def test_incomplete(self) -> None:
        """
        A reply without a complete head is an error.
        """
        self.assertRaises(ValueError, parse_reply, b"HTTP/1.0 200 OK\r\nContent-Type: x\r\n")


class ConverterRig(Protocol):
    """
    A converter maker, and the test's part in what a converter runs.

    @ivar delivered: the converted frames delivered.
    @ivar ended: each end reported, with whether it ended as asked.
    """

    delivered: list[Frame]
    ended: list[bool]

    def make(self) -> Converter:
        """
        Start a converter to 44.1 kHz stereo.
        """

    def fed(self) -> bytes:
        """
        What the conversion was given.
        """

    def output(self, frames: list[Frame]) -> None:
        """
        The conversion puts out C{frames}.
        """

    def finished(self) -> bool:
        """
        Whether the conversion was told its input ended.
        """

    def killed(self) -> bool:
        """
        Whether the conversion was told to end at once.
        """

    def exit(self, clean: bool) -> None:
        """
        The conversion ends: as asked (C{clean}), or by dying.
        """


class FfmpegRig:
    """
    The ffmpeg converter, whose ffmpeg is a L{FakeProcess}: each method
    does what L{ConverterRig} says.
    """

    def __init__(self) -> None:
        self.reactor = FakeProcessReactor()
        self.clock = Clock()
        self.delivered: list[Frame] = []
        self.ended: list[bool] = []
        self.converters = ffmpeg_converters(self.reactor, self.clock, "/usr/bin/ffmpeg")

    def make(self) -> Converter:
        converter = self.converters(CD, self.delivered.extend, self.ended.append, "/stream")
        assert converter is not None
        return converter

    @property
    def process(self) -> FakeProcess:
        return self.reactor.spawned[-1]

    def fed(self) -> bytes:
        return self.process.written

    def output(self, frames: list[Frame]) -> None:
        self.process.output(b"".join(frame.data for frame in frames))

    def finished(self) -> bool:
        return self.process.stdin_closed

    def killed(self) -> bool:
        return self.process.signals == ["KILL"]

    def exit(self, clean: bool) -> None:
        if clean:
            self.process.end()
        elif self.killed():
            self.process.end(Failure(ProcessTerminated(signal=signal.SIGKILL)))
        else:
            self.process.end(Failure(ProcessTerminated(exitCode=1)))


class FakeRig:
    """
    L{FakeConverters}, whose converters end at once when stopped, or only
    when the test ends them: each method does what L{ConverterRig} says.
    """

    def __init__(self, ends_on_stop: bool) -> None:
        self.converters = FakeConverters(ends_on_stop=ends_on_stop)
        self.delivered: list[Frame] = []
        self.ended: list[bool] = []

    def make(self) -> Converter:
        converter = self.converters(CD, self.delivered.extend, self.ended.append, "/stream")
        assert converter is not None
        return converter

    @property
    def converter(self) -> FakeConverter:
        return self.converters.made[-1]

    def fed(self) -> bytes:
        return b"".join(frame.data for frame in self.converter.fed)

    def output(self, frames: list[Frame]) -> None:
        self.converter.emit(frames)

    def finished(self) -> bool:
        return self.converter.finishing

    def killed(self) -> bool:
        return self.converter.stopped

    def exit(self, clean: bool) -> None:
        self.converter.end(clean)


class ConverterTests(SynchronousTestCase):
    """
    L{FakeConverters} and its L{FakeConverter}s take the calls, and keep
    the promises, of the ffmpeg converter.
    """

    def rigs(self) -> list[ConverterRig]:
        """
        The real converter and the fake, both ways it can end.
        """
        return [FfmpegRig(), FakeRig(ends_on_stop=True), FakeRig(ends_on_stop=False)]

    def test_signatures(self) -> None:
        """
        The fake maker takes what L{radiod.interfaces.MakeConverter} is
        given, by the names the real one uses, and the fake converter has
        the methods of L{radiod.interfaces.Converter}, taking the same
        arguments as the real one's.
        """
        maker: MakeConverter = FakeConverters()
        real = ffmpeg_converters(FakeProcessReactor(), Clock(), "/usr/bin/ffmpeg")
        self.assertEqual(parameters(type(maker).__call__), parameters(real))
        for name in ("feed", "finish", "stop"):
            self.assertEqual(
                parameters(getattr(FakeConverter, name)), parameters(getattr(Converter, name))
            )
            self.assertEqual(
                parameters(getattr(FakeConverter, name)),
                parameters(getattr(FfmpegConverter, name)),
            )

    def test_converts_then_finishes(self) -> None:
        """
        What is fed goes to the conversion; what it puts out is delivered
        in whole frames; once finished, nothing more is taken in, and when
        the conversion ends, every frame put out has been delivered and
        the end is reported, once, as clean.
        """
        for rig in self.rigs():
            converter = rig.make()
            converter.feed([MONO_22K] * 3)
            self.assertEqual(rig.fed(), MONO_22K.data * 3)
            rig.output([STEREO] * 4)
            converter.finish()
            self.assertTrue(rig.finished())
            converter.feed([MONO_22K])
            self.assertEqual(rig.fed(), MONO_22K.data * 3)
            self.assertEqual(rig.ended, [])
            rig.exit(True)
            self.assertEqual([frame.data for frame in rig.delivered], [STEREO.data] * 4)
            self.assertEqual(rig.ended, [True])

    def test_stop(self) -> None:
        """
        Stopped, it takes nothing more in and tells the conversion to end
        now; its end is reported once, as not clean.
        """
        for rig in self.rigs():
            converter = rig.make()
            converter.feed([MONO_22K])
            converter.stop()
            self.assertTrue(rig.killed())
            converter.feed([MONO_22K])
            self.assertEqual(rig.fed(), MONO_22K.data)
            rig.exit(False)
            self.assertEqual(rig.ended, [False])

    def test_dies(self) -> None:
        """
        A conversion that dies on its own ends the converter, reported
        once, as not clean.
        """
        for rig in self.rigs():
            converter = rig.make()
            converter.feed([MONO_22K])
            with capturedLogs():
                rig.exit(False)
            self.assertEqual(rig.ended, [False])

    def test_unavailable(self) -> None:
        """
        A maker that cannot convert (the real one without ffmpeg) makes
        no converter.
        """
        delivered: list[Frame] = []
        ended: list[bool] = []
        makers: list[MakeConverter] = [
            FakeConverters(available=False),
            ffmpeg_converters(FakeProcessReactor(), Clock(), None),
        ]
        for make in makers:
            with capturedLogs():
                self.assertIsNone(make(CD, delivered.extend, ended.append, "/stream"))
        self.assertEqual((delivered, ended), ([], []))


class Child(ProcessProtocol):
    """
    A child process's protocol: notes the transport it is connected to,
    its standard output, and how it ended.

    @ivar reason: how it ended, once L{ended} has fired.
    """

    def __init__(self) -> None:
        self.connected_to: object = None
        self.out = b""
        self.reason: Failure | None = None
        self.ended: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        """
        Note the transport.
        """
        self.connected_to = self.transport

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Keep the standard output.
        """
        if childFD == 1:
            self.out += data

    def processEnded(self, reason: Failure) -> None:
        """
        Note how it ended, and fire L{ended}.
        """
        self.reason = reason
        self.ended.callback(None)


class ProcessRig(Protocol):
    """
    A reactor to spawn children with, and the test's part in what they
    do.
    """

    reactor: IReactorProcess

    def echoed(self, transport: IProcessTransport) -> None:
        """
        The child has read its input to the end: it writes it back and
        exits.
        """

    def killed(self, transport: IProcessTransport) -> None:
        """
        The child was sent C{SIGKILL}: it dies of it.
        """


class RealProcesses:
    """
    The reactor, and real children, which play their own part (see
    L{ProcessRig}).
    """

    def __init__(self) -> None:
        self.reactor: IReactorProcess = reactor

    def echoed(self, transport: IProcessTransport) -> None:
        pass

    def killed(self, transport: IProcessTransport) -> None:
        pass


class FakeProcesses:
    """
    L{FakeProcessReactor}, whose children the test plays (see
    L{ProcessRig}).
    """

    def __init__(self) -> None:
        self.reactor: IReactorProcess = FakeProcessReactor()

    def echoed(self, transport: IProcessTransport) -> None:
        assert isinstance(transport, FakeProcess) and transport.stdin_closed
        transport.output(transport.written)
        transport.end()

    def killed(self, transport: IProcessTransport) -> None:
        assert isinstance(transport, FakeProcess) and transport.signals == ["KILL"]
        transport.end(Failure(ProcessTerminated(signal=signal.SIGKILL)))


class ProcessTests(TestCase):
    """
    L{FakeProcessReactor} spawns, and L{FakeProcess} is, what the reactor
    spawns: a child process's transport, connected to its protocol.
    """

    timeout = 30

    def test_provides(self) -> None:
        """
        The fake reactor provides L{IReactorProcess} and its processes
        L{IProcessTransport}, with the parameters the interfaces declare.
        """
        processes = FakeProcessReactor()
        self.assertTrue(verifyObject(IReactorProcess, processes))
        process = processes.spawnProcess(ProcessProtocol(), "true", ["true"])
        self.assertTrue(verifyObject(IProcessTransport, process))
        self.assertEqual(
            parameters(FakeProcessReactor.spawnProcess), declared(IReactorProcess, "spawnProcess")
        )
        for name in IProcessTransport.names(all=True):
            if name != "pid":
                self.assertEqual(
                    parameters(getattr(FakeProcess, name)), declared(IProcessTransport, name), name
                )

    def spawn(self, rig: ProcessRig, child: Child, program: str) -> IProcessTransport:
        """
        Spawn Python running C{program} as C{child}; it is connected to
        the transport returned, which has a process id.
        """
        transport = rig.reactor.spawnProcess(
            child, sys.executable, [sys.executable, "-c", program], env=os.environ.copy()
        )
        self.assertIs(child.connected_to, transport)
        self.assertTrue(verifyObject(IProcessTransport, transport))
        self.assertIsInstance(transport.pid, int)
        return transport

    async def check_echo(self, rig: ProcessRig) -> None:
        """
        What is written to the child's input is what it reads, and its
        input ends when closed; once it has exited cleanly it has no
        process id, and signalling it is an error.
        """
        child = Child()
        transport = self.spawn(rig, child, ECHO)
        transport.write(b"hello, ")
        transport.writeSequence([b"child", b"."])
        transport.closeStdin()
        rig.echoed(transport)
        await child.ended
        reason = child.reason
        assert reason is not None
        self.assertTrue(reason.check(ProcessDone))
        self.assertEqual(child.out, b"hello, child.")
        self.assertIsNone(transport.pid)
        self.assertRaises(ProcessExitedAlready, transport.signalProcess, "KILL")

    async def check_kill(self, rig: ProcessRig) -> None:
        """
        A child sent C{"KILL"} dies of C{SIGKILL}.
        """
        child = Child()
        transport = self.spawn(rig, child, ECHO)
        transport.signalProcess("KILL")
        rig.killed(transport)
        await child.ended
        reason = child.reason
        assert reason is not None
        self.assertTrue(reason.check(ProcessTerminated))
        self.assertEqual(getattr(reason.value, "signal", None), signal.SIGKILL)
        self.assertIsNone(transport.pid)
        self.assertRaises(ProcessExitedAlready, transport.signalProcess, "KILL")

    @asynchronous
    async def test_real(self) -> None:
        """
        Real children, spawned by the reactor.
        """
        await self.check_echo(RealProcesses())
        await self.check_kill(RealProcesses())

    @asynchronous
    async def test_fake(self) -> None:
        """
        Fake children, played by the test.
        """
        await self.check_echo(FakeProcesses())
        await self.check_kill(FakeProcesses())

    def test_fake_records(self) -> None:
        """
        A fake process keeps what the test checks: the program and its
        arguments, what was written, the signals sent, whether its input
        was closed and its output paused.
        """
        processes = FakeProcessReactor()
        process = processes.spawnProcess(ProcessProtocol(), b"ffmpeg", [b"ffmpeg", "-i"])
        self.assertEqual((process.executable, process.args), (b"ffmpeg", ["ffmpeg", "-i"]))
        process.writeToChild(0, b"a")
        process.pauseProducing()
        self.assertTrue(process.paused)
        process.resumeProducing()
        process.signalProcess("TERM")
        process.closeChildFD(0)
        process.loseConnection()
        self.assertEqual(
            (process.written, process.signals, process.stdin_closed, process.paused, process.lost),
            (b"a", ["TERM"], True, False, True),
        )
        self.assertEqual(processes.spawned, [process])


class SilentAuthServer(Resource):
    """
    An auth server that never answers.

    @ivar asked: how many requests it received.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def render_POST(self, request: Request) -> int:
        self.asked += 1
        return NOT_DONE_YET


class UrlAuthRig(Protocol):
    """
    Something that asks an auth server, and how many questions reached
    the server, which answers none.
    """

    auth: UrlAuth

    def asked(self) -> int:
        """
        How many questions reached the auth server.
        """


class RealUrlAuth:
    """
    L{UrlAuthenticator} asking a silent auth server on loopback.
    """

    def __init__(self, url: str, server: SilentAuthServer) -> None:
        config = UrlAuthConfig(listener_add=url, stream_auth=url, timeout=60)
        self.auth: UrlAuth = UrlAuthenticator(reactor, config, "radio.example", 8000)
        self._server = server

    def asked(self) -> int:
        return self._server.asked


class FakeUrlAuth:
    """
    L{FakeUrlAuthenticator} holding every question.
    """

    def __init__(self) -> None:
        self.fake = FakeUrlAuthenticator(hold=True)
        self.auth: UrlAuth = self.fake

    def asked(self) -> int:
        return len(self.fake.listeners_added) + len(self.fake.sources)


class UrlAuthenticatorTests(TestCase):
    """
    L{FakeUrlAuthenticator} has the methods of L{UrlAuthenticator}, and
    answers questions cancelled or cut short by closing as it does.
    """

    timeout = 60

    def test_signatures(self) -> None:
        """
        Each method takes the same parameters as the real one's.
        """
        for name in (
            "listener_add",
            "listener_remove",
            "mount_add",
            "mount_remove",
            "stream_auth",
            "close",
        ):
            self.assertEqual(
                parameters(getattr(FakeUrlAuthenticator, name)),
                parameters(getattr(UrlAuthenticator, name)),
                name,
            )

    async def check(self, rig: UrlAuthRig) -> None:
        """
        A question waiting for the auth server fires with a refusal when
        cancelled; closing fires those waiting with one too, and the
        questions after it at once, without asking.
        """
        listener = AuthRequest(mount="/live", client=1, ip="192.0.2.1")
        refused = AuthResult(False, "", None, CANCELLED)
        first = rig.auth.listener_add(listener)
        await wait_for(lambda: rig.asked() == 1, 10, reactor)
        self.assertNoResult(first)
        first.cancel()
        self.assertEqual(self.successResultOf(first), refused)
        second = rig.auth.listener_add(listener)
        source = rig.auth.stream_auth("/live", "192.0.2.2", "source", "pw")
        await wait_for(lambda: rig.asked() == 3, 10, reactor)
        self.assertNoResult(second)
        self.assertNoResult(source)
        await rig.auth.close()
        self.assertEqual(
            (self.successResultOf(second), self.successResultOf(source)), (refused, refused)
        )
        self.assertEqual(self.successResultOf(rig.auth.listener_add(listener)), refused)
        self.assertEqual(self.successResultOf(rig.auth.stream_auth("/live", "", "", "")), refused)
        await wait_for(
            lambda: not [each for each in reactor.getReaders() if isinstance(each, tcp.Connection)],
            10,
            reactor,
        )
        self.assertEqual(rig.asked(), 3)

    @asynchronous
    async def test_real(self) -> None:
        """
        The real one, asking a real auth server.
        """
        server = SilentAuthServer()
        port = reactor.listenTCP(0, Site(server), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        await self.check(RealUrlAuth(f"http://127.0.0.1:{port.getHost().port}/auth", server))

    @asynchronous
    async def test_fake(self) -> None:
        """
        The fake, holding its questions.
        """
        await self.check(FakeUrlAuth())
