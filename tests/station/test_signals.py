"""
End-to-end tests of the signals an operator sends a running station:
C{twistd radiod} as a child process, reloaded with C{SIGHUP} and stopped
with C{SIGTERM} while a listener and a live source are connected.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import sys
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import ProcessProtocol, Protocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from radiod.audio.frames import FrameSplitter
from tests.support.loopback import FIXTURES, ROOT, Reader, asynchronous, wait_for
from tests.test_tls import make_authority, make_server_cert

reactor: Any = _reactor

PASSWORD = "sig-pw"

PATIENCE = 60
"""
Seconds a step may take before the test gives up: generous, because a
station starting on a busy machine (a benchmark beside the suite) is slow,
and the tests check what happens, not how fast.
"""

CONFIG = """\
[server]
port = {port}
interface = "127.0.0.1"
source_password = "{password}"

[[mount]]
name = "/stream"
music = "{music}"
record = true
record_dir = "{recordings}"
{more}
"""


def free_port() -> int:
    """
    A TCP port on 127.0.0.1 that was free a moment ago.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Twistd(ProcessProtocol):
    """
    The station's process: its output, and how it ended.

    @ivar ended: fires with the exit status, or with C{"killed by signal
        N"} when the process did not exit but was killed by a signal.
    """

    def __init__(self) -> None:
        self.output = bytearray()
        self.ended: Deferred[int | str] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    def errReceived(self, data: bytes) -> None:
        self.output += data

    def processEnded(self, reason: Failure) -> None:
        signal = getattr(reason.value, "signal", None)
        status = getattr(reason.value, "exitCode", None)
        if signal is not None or status is None:
            self.ended.callback(f"killed by signal {signal}")
        else:
            self.ended.callback(status)


def twistd(work: str, *arguments: str) -> tuple[Twistd, Any]:
    """
    Start C{twistd -n radiod} with C{arguments} in folder C{work}, logging
    to its output.

    @return: the process's protocol and its transport.
    """
    station = Twistd()
    env = dict(os.environ, PYTHONPATH=ROOT)
    process = reactor.spawnProcess(
        station,
        sys.executable,
        [
            sys.executable,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            "-n",
            "--pidfile=",
            "--logfile=-",
            "radiod",
            *arguments,
        ],
        env=env,
        path=work,
    )
    return station, process


class Closing(Reader):
    """
    A listener that also notes how its connection ended.
    """

    reason: Failure | None = None

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:  # noqa: B008
        self.reason = reason
        super().connectionLost(reason)


class SignalTests(TestCase):
    """
    C{SIGHUP} reloads the configuration; C{SIGTERM} stops cleanly.
    """

    timeout = 300

    async def connect(self, port: int, protocol: Protocol) -> None:
        """
        Connect, retrying while the station is still starting (for up to a
        minute: a station starting on a busy machine may take a while).
        """
        last: Exception | None = None
        deadline = reactor.seconds() + 60
        while reactor.seconds() < deadline:
            try:
                await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), protocol)
                return
            except Exception as error:
                last = error
                pause: Deferred[None] = Deferred()
                reactor.callLater(0.1, pause.callback, None)
                await pause
        raise AssertionError(f"station never listened: {last}")

    async def ask(self, port: int, request: bytes) -> Reader:
        """
        Send a request; return the reader once the status line arrived.
        """
        reader = Reader(request, reactor)
        await self.connect(port, reader)
        await wait_for(lambda: bool(reader.capture.status_line), PATIENCE, reactor)
        return reader

    @asynchronous
    async def test_hangup_then_terminate(self) -> None:
        """
        With a listener and a recorded live source connected: C{SIGHUP}
        with a new mount in the file makes it serve without touching the
        listener; C{SIGTERM} then closes the listener cleanly (FIN, not a
        reset), ends the process with status 0, and leaves the recording
        holding every frame the source sent.
        """
        work = os.path.abspath(self.mktemp())
        music = os.path.join(work, "music")
        recordings = os.path.join(work, "recordings")
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        port = free_port()
        path = os.path.join(work, "radiod.toml")
        settings = {"port": port, "password": PASSWORD, "music": music, "recordings": recordings}
        with open(path, "w") as f:
            f.write(CONFIG.format(more="", **settings))

        station, process = twistd(work, "--config", path)
        self.addCleanup(lambda: None if station.ended.called else process.signalProcess("KILL"))

        listener = Closing(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await self.connect(port, listener)
        await wait_for(lambda: len(listener.capture.audio) > 20000, PATIENCE, reactor)

        with open(path, "w") as f:
            f.write(
                CONFIG.format(more=f'\n[[mount]]\nname = "/new"\nmusic = "{music}"\n', **settings)
            )
        process.signalProcess("HUP")
        for _ in range(50):
            newcomer = await self.ask(port, b"GET /new HTTP/1.0\r\n\r\n")
            if newcomer.capture.status_line == "HTTP/1.0 200 OK":
                break
            pause: Deferred[None] = Deferred()
            reactor.callLater(0.1, pause.callback, None)
            await pause
        self.assertEqual(newcomer.capture.status_line, "HTTP/1.0 200 OK")
        await wait_for(lambda: len(newcomer.capture.audio) > 5000, PATIENCE, reactor)
        assert newcomer.transport is not None
        newcomer.transport.loseConnection()
        self.assertFalse(listener.gone.called)

        # A file that does not load is refused; the station plays on.
        with open(path, "w") as f:
            f.write("[server]\nport = 'eighty'\n")
        process.signalProcess("HUP")
        await wait_for(lambda: b"Reload refused" in station.output, PATIENCE, reactor)
        self.assertIn(b"server.port: must be an integer", station.output)
        self.assertEqual(
            (await self.ask(port, b"GET /new HTTP/1.0\r\n\r\n")).capture.status_line,
            "HTTP/1.0 200 OK",
        )

        with open(os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3"), "rb") as f:
            splitter = FrameSplitter()
            frames = splitter.feed(f.read()) + splitter.finish()
        audio = b"".join(frame.data for frame in frames)
        token = base64.b64encode(f"source:{PASSWORD}".encode()).decode()
        source = Reader(
            b"PUT /stream HTTP/1.1\r\nAuthorization: Basic "
            + token.encode()
            + b"\r\nContent-Type: audio/mpeg\r\nice-name: Signal Show\r\n\r\n"
            + audio,
            reactor,
        )
        await self.connect(port, source)
        await wait_for(
            lambda: any(title == "Signal Show" for _, title in listener.capture.titles),
            PATIENCE,
            reactor,
        )

        process.signalProcess("TERM")
        code = await station.ended
        output = station.output.decode("utf-8", "replace")
        self.assertEqual(code, 0, output)
        await listener.gone
        assert listener.reason is not None
        self.assertTrue(listener.reason.check(ConnectionDone), listener.reason)
        self.assertNotIn("Traceback", output)
        [recording] = os.listdir(recordings)
        with open(os.path.join(recordings, recording), "rb") as f:
            self.assertEqual(f.read(), audio)

    @asynchronous
    async def test_terminate_exit_status(self) -> None:
        """
        C{SIGTERM} to an idle station ends it with exit status 0, not by
        the signal.
        """
        work = os.path.abspath(self.mktemp())
        os.makedirs(work)
        port = free_port()
        station, process = twistd(work, "--port", str(port), "--interface", "127.0.0.1")
        self.addCleanup(lambda: None if station.ended.called else process.signalProcess("KILL"))
        await self.ask(port, b"GET /status-json.xsl HTTP/1.0\r\n\r\n")
        process.signalProcess("TERM")
        self.assertEqual(await station.ended, 0, station.output.decode("utf-8", "replace"))


class FailedStartTests(TestCase):
    """
    A station that cannot open a port it was told to open does not run:
    it says which port and why in one line, and exits with a non-zero
    status at once, so that a supervisor sees the failure.
    """

    timeout = 180

    async def taken_port(self, *arguments: str) -> tuple[int | str, str]:
        """
        Start a station with C{arguments} while another socket holds the
        port named C{{taken}} in them; return its exit status and output.
        """
        work = os.path.abspath(self.mktemp())
        os.makedirs(work)
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = str(holder.getsockname()[1])
        free = str(free_port())
        given = [a.replace("{taken}", taken).replace("{free}", free) for a in arguments]
        station, process = twistd(work, *given)
        self.addCleanup(lambda: None if station.ended.called else process.signalProcess("KILL"))
        ended = Deferred[int | str]()
        station.ended.addCallback(ended.callback)
        timer = reactor.callLater(PATIENCE, ended.callback, f"still running after {PATIENCE} s")
        status = await ended
        if timer.active():
            timer.cancel()
        return status, station.output.decode("utf-8", "replace")

    @asynchronous
    async def test_main_port_taken(self) -> None:
        """
        The main port taken: one line naming it and the reason, no claim
        to be listening, exit status 1.
        """
        status, output = await self.taken_port("--port", "{taken}", "--interface", "127.0.0.1")
        self.assertEqual(status, 1, output)
        port = output.split("cannot listen on port ", 1)[-1].split(":", 1)[0]
        self.assertTrue(port.isdigit(), output)
        self.assertIn(f"cannot listen on port {port}: Address already in use", output)
        self.assertNotIn("radiod listening on", output)
        self.assertNotIn("Traceback", output)

    @asynchronous
    async def test_tls_port_taken(self) -> None:
        """
        The TLS port taken, the main port free: the same, naming the TLS
        port.
        """
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        authority = make_authority(folder)
        cert, key = make_server_cert(folder, authority, ["localhost"])
        status, output = await self.taken_port(
            "--port",
            "{free}",
            "--interface",
            "127.0.0.1",
            "--tls-port",
            "{taken}",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        )
        self.assertEqual(status, 1, output)
        self.assertIn("cannot listen on TLS port ", output)
        self.assertIn("Address already in use", output)
        self.assertNotIn("radiod listening on", output)
