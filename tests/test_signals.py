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

from radiod.frames import FrameSplitter
from tests.test_e2e import FIXTURES, Reader, asynchronous, wait_for

reactor: Any = _reactor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "sig-pw"

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
    The station's process: its output, and when it ended.
    """

    def __init__(self) -> None:
        self.output = bytearray()
        self.ended: Deferred[int] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    def errReceived(self, data: bytes) -> None:
        self.output += data

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(getattr(reason.value, "exitCode", None) or 0)


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

    timeout = 90

    async def connect(self, port: int, protocol: Protocol) -> None:
        """
        Connect, retrying while the station is still starting.
        """
        last: Exception | None = None
        for _ in range(100):
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
        await wait_for(lambda: bool(reader.capture.status_line), 10, reactor)
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
                "--config",
                path,
            ],
            env=env,
            path=work,
        )
        self.addCleanup(lambda: None if station.ended.called else process.signalProcess("KILL"))

        listener = Closing(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await self.connect(port, listener)
        await wait_for(lambda: len(listener.capture.audio) > 20000, 20, reactor)

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
        await wait_for(lambda: len(newcomer.capture.audio) > 5000, 10, reactor)
        assert newcomer.transport is not None
        newcomer.transport.loseConnection()
        self.assertFalse(listener.gone.called)

        # A file that does not load is refused; the station plays on.
        with open(path, "w") as f:
            f.write("[server]\nport = 'eighty'\n")
        process.signalProcess("HUP")
        await wait_for(lambda: b"Reload refused" in station.output, 10, reactor)
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
            20,
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
