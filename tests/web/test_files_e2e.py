"""
End-to-end tests of on-demand files: the real station on a loopback port,
raw sockets and ffmpeg as clients.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import Reply, parse_reply
from radiod.web.files import mount_libraries
from tests.support.loopback import DECODE_ERRORS, FIXTURES, FFmpeg, asynchronous, reactor, wait_for
from tests.support.tools import require_ffmpeg

SONG = "alpha-artist-first-song.mp3"


class Client(Protocol):
    """
    Sends one request and keeps everything the server answers.

    @ivar paused: whether to stop reading once the first bytes came.
    """

    def __init__(self, request: bytes, pause_after: int = 0) -> None:
        self.request = request
        self.data = bytearray()
        self.pause_after = pause_after
        self.gone: Deferred[None] = Deferred()
        self.started: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        if self.pause_after and len(self.data) >= self.pause_after and not self.started.called:
            assert self.transport is not None
            self.transport.pauseProducing()  # type: ignore[attr-defined]
            self.started.callback(None)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:  # noqa: B008
        if not self.gone.called:
            self.gone.callback(None)


def make_audio(path: str, source: str, seconds: float, title: str, ffmpeg: str) -> None:
    """
    Write a FLAC file of C{seconds} of an ffmpeg test source (a blocking
    set-up step, before the reactor runs the test).
    """
    subprocess.run(
        [
            *(ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", source),
            *("-t", str(seconds), "-metadata", f"title={title}", "-metadata", "artist=Test", path),
        ],
        check=True,
    )


class OnDemandEndToEndTests(TestCase):
    """
    A station's library listed and its files fetched over real sockets.
    """

    timeout = 90

    def setUp(self) -> None:
        self.ffmpeg = require_ffmpeg()

    async def start(self, long: bool = False) -> str:
        """
        Start a station whose library holds the fixture song and a tone
        (and with C{long}, ten minutes of silence).

        @return: the station's base URL.
        """
        music = os.path.abspath(self.mktemp())
        os.makedirs(music)
        shutil.copy(os.path.join(FIXTURES, SONG), music)
        make_audio(
            os.path.join(music, "tone.flac"), "sine=f=440:sample_rate=44100", 8, "Tone", self.ffmpeg
        )
        if long:
            make_audio(
                os.path.join(music, "silence.flac"),
                "anullsrc=r=44100:cl=stereo",
                600,
                "Silence",
                self.ffmpeg,
            )
        self.music = music
        mount = MountConfig(name="/stream", music=music)
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,))
        service = StationService(config, reactor, thread_runner(reactor, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        self.service = service
        port = await service.listener.listening
        address: Any = port.getHost()
        self.port = address.port
        [library] = mount_libraries(service.mounts)
        await wait_for(lambda: len(library.tracks) > 0, 20, reactor)
        return f"http://127.0.0.1:{self.port}"

    async def fetch(self, target: str, headers: str = "", method: str = "GET") -> Reply:
        client = await self.connect(f"{method} {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n")
        await client.gone
        return parse_reply(bytes(client.data))

    async def connect(self, request: str | bytes, pause_after: int = 0) -> Client:
        raw = request.encode("latin-1") if isinstance(request, str) else request
        client = Client(raw, pause_after)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", self.port), client)
        self.addCleanup(lambda: client.transport.loseConnection() if client.transport else None)
        return client

    async def ids(self) -> dict[str, str]:
        """
        The library's file ids by title.
        """
        reply = await self.fetch("/library")
        self.assertEqual(reply.status, 200)
        return {track["title"]: track["id"] for track in json.loads(reply.body)["tracks"]}

    async def decode(self, target: str) -> str:
        """
        Fetch C{target} and have ffmpeg decode what came; fail unless it
        does so cleanly.  (ffmpeg's own HTTP client reports an error at
        the end of any body whose length was not given, so it reads a
        copy on disk.)

        @return: what ffmpeg logged.
        """
        reply = await self.fetch(target)
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["content-type"], "audio/mpeg")
        self.assertNotIn("content-length", reply.headers)
        copy = self.mktemp() + ".mp3"
        with open(copy, "wb") as f:
            f.write(reply.body)
        protocol = FFmpeg()
        process: IReactorProcess = reactor
        args = [self.ffmpeg, "-hide_banner", "-nostdin", "-v", "info", "-i", copy]
        process.spawnProcess(protocol, self.ffmpeg, [*args, "-f", "null", "-"], env=None)
        code = await protocol.ended
        log = protocol.stderr.decode("utf-8", "replace")
        self.assertEqual(code, 0, log)
        self.assertEqual([line for line in log.splitlines() if DECODE_ERRORS.search(line)], [])
        return log

    @asynchronous
    async def test_listing(self) -> None:
        """
        The listing names both files, with their formats and durations.
        """
        await self.start()
        reply = await self.fetch("/library?limit=10")
        self.assertEqual(reply.status, 200)
        document = json.loads(reply.body)
        self.assertEqual(document["total"], 2)
        formats = {track["format"] for track in document["tracks"]}
        self.assertEqual(formats, {"mp3", "flac"})
        tone = next(track for track in document["tracks"] if track["format"] == "flac")
        self.assertLess(abs(tone["duration"] - 8.0), 0.1, tone)
        self.assertEqual((await self.fetch("/library?format=mp4")).status, 400)

    @asynchronous
    async def test_ranges_byte_exact(self) -> None:
        """
        Whole files and single ranges of them (Safari's two-byte probe and
        suffix ranges among them) arrive byte for byte as on disk.
        """
        await self.start()
        ids = await self.ids()
        for title, name in (("First Song", SONG), ("Tone", "tone.flac")):
            with open(os.path.join(self.music, name), "rb") as f:
                data = f.read()
            size = len(data)
            target = "/files/" + ids[title]
            whole = await self.fetch(target)
            self.assertEqual(whole.status, 200)
            self.assertEqual(whole.body, data)
            self.assertEqual(whole.headers["content-length"], str(size))
            for header, start, end in [
                ("bytes=0-1", 0, 1),
                ("bytes=0-0", 0, 0),
                ("bytes=1-1", 1, 1),
                ("bytes=0-", 0, size - 1),
                ("bytes=1000-", 1000, size - 1),
                ("bytes=-1", size - 1, size - 1),
                ("bytes=-128", size - 128, size - 1),
                ("bytes=-1000000", 0, size - 1),
                ("bytes=4096-8191", 4096, 8191),
                ("bytes=65535-65537", 65535, 65537),
                ("bytes=70000-2000000", 70000 if size > 70000 else 0, size - 1),
                (f"bytes={size - 1}-", size - 1, size - 1),
            ]:
                if start >= size or (header.startswith("bytes=70000") and size <= 70000):
                    continue
                reply = await self.fetch(target, f"Range: {header}\r\n")
                self.assertEqual(reply.status, 206, header)
                self.assertEqual(reply.body, data[start : end + 1], header)
                self.assertEqual(reply.headers["content-range"], f"bytes {start}-{end}/{size}")
                self.assertEqual(reply.headers["content-length"], str(end - start + 1))

    @asynchronous
    async def test_unsatisfiable(self) -> None:
        await self.start()
        ids = await self.ids()
        size = os.path.getsize(os.path.join(self.music, SONG))
        reply = await self.fetch("/files/" + ids["First Song"], f"Range: bytes={size}-\r\n")
        self.assertEqual(reply.status, 416)
        self.assertEqual(reply.headers["content-range"], f"bytes */{size}")

    @asynchronous
    async def test_traversal(self) -> None:
        """
        Paths instead of ids, in any encoding, reach nothing.
        """
        await self.start()
        song = (await self.ids())["First Song"]
        for target in (
            "/files/../../../../etc/passwd",
            "/files/..%2f..%2f..%2f..%2fetc%2fpasswd",
            "/files/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
            "/files//etc/passwd",
            "/files/" + SONG,
            "/files/" + os.path.join(self.music, SONG),
            "/files/..\\..\\etc\\passwd",
            f"/files/{song}%00",
            f"/files/{song}/../{song}",
        ):
            reply = await self.fetch(target)
            self.assertIn(reply.status, (400, 404), target)
            self.assertNotIn(b"root:", reply.body)

    @asynchronous
    async def test_transcode(self) -> None:
        """
        C{?bitrate=64} streams MP3 at 64 kbit/s that ffmpeg decodes
        cleanly, the whole file long.
        """
        await self.start()
        tone = (await self.ids())["Tone"]
        log = await self.decode(f"/files/{tone}?bitrate=64")
        self.assertRegex(log, r"Audio: mp3.*64 kb/s")
        self.assertLess(abs(self.decoded(log) - 8.0), 0.2, log)
        reply = await self.fetch(f"/files/{tone}?bitrate=64", method="HEAD")
        self.assertEqual(reply.headers["content-type"], "audio/mpeg")

    @asynchronous
    async def test_transcode_seek(self) -> None:
        """
        C{start} seeks: five seconds into the eight-second tone, three are
        left.
        """
        await self.start()
        tone = (await self.ids())["Tone"]
        log = await self.decode(f"/files/{tone}?bitrate=128&start=5")
        self.assertRegex(log, r"Audio: mp3.*128 kb/s")
        self.assertLess(abs(self.decoded(log) - 3.0), 0.2, log)

    @staticmethod
    def decoded(log: str) -> float:
        times = re.findall(r"time=(\d+):(\d+):(\d+\.\d+)", log)
        h, m, s = times[-1]
        return int(h) * 3600 + int(m) * 60 + float(s)

    @asynchronous
    async def test_ffmpeg_killed_when_client_leaves(self) -> None:
        """
        A client that stops reading holds ffmpeg back (its output stops
        being read); when the client leaves, its ffmpeg is gone within a
        second.
        """
        await self.start(long=True)
        silence = (await self.ids())["Silence"]
        client = await self.connect(
            f"GET /files/{silence}?bitrate=320 HTTP/1.0\r\n\r\n", pause_after=1
        )
        await client.started
        files = self.service.files
        [transcode] = list(files.transcodes)
        pid = transcode.pid
        assert pid is not None
        os.kill(pid, 0)
        sent = -1

        def stalled() -> bool:
            nonlocal sent
            now = transcode.request.sentLength
            steady, sent = now == sent, now
            return steady

        await wait_for(stalled, 30, reactor, step=0.5)
        self.assertFalse(transcode.ended)
        self.assertLess(transcode.request.sentLength, 24_000_000)
        assert client.transport is not None
        client.transport.loseConnection()
        left = reactor.seconds()
        await wait_for(lambda: transcode.ended, 1, reactor, step=0.02)
        self.assertLess(reactor.seconds() - left, 1.0)
        self.assertRaises(ProcessLookupError, os.kill, pid, 0)
        self.assertEqual(files.transcodes, set())

    @asynchronous
    async def test_missing_ffmpeg(self) -> None:
        """
        Without ffmpeg, a transcode is refused with 503 saying so.
        """
        await self.start()
        tone = (await self.ids())["Tone"]
        self.service.files.ffmpeg = None
        reply = await self.fetch(f"/files/{tone}?bitrate=64")
        self.assertEqual(reply.status, 503)
        self.assertIn(b"ffmpeg", reply.body)
