"""
End-to-end test of live sources: the real station on a loopback port,
ffmpeg pushing a live stream over the Icecast protocol, and a raw socket
listening throughout.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorProcess
from twisted.trial.unittest import TestCase

from radiod.audio.frames import FrameSplitter
from radiod.config import MountConfig, StationConfig
from radiod.ffmpeg.binary import find_ffmpeg
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.support.loopback import (
    DECODE_ERRORS,
    FIRST,
    FIXTURES,
    SECOND,
    FFmpeg,
    Reader,
    asynchronous,
    wait_for,
)
from tests.support.tools import require_ffmpeg

reactor: Any = _reactor

PASSWORD = "s3cret-pw"
LIVE_TITLE = "Live Show"
TONE = os.path.join(FIXTURES, "tone-mpeg1-44100-128k-cbr.mp3")


async def run(args: list[str]) -> tuple[int, str]:
    """
    Run ffmpeg with C{args}; return its exit code and log.
    """
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    protocol = FFmpeg()
    process: IReactorProcess = reactor
    process.spawnProcess(protocol, ffmpeg, [ffmpeg, *args], env=os.environ.copy())
    code = await protocol.ended
    return code, protocol.stderr.decode("utf-8", "replace")


class LiveEndToEndTests(TestCase):
    """
    A live source taking over a playlist mount, with real clients.
    """

    timeout = 90

    def setUp(self) -> None:
        require_ffmpeg()

    @asynchronous
    async def test_ffmpeg_source_takes_over_and_leaves(self) -> None:
        """
        ffmpeg pushing to a playlist mount with the source password (PUT,
        C{Expect: 100-continue}) takes it over: a listener connected
        throughout stays connected, gets the playlist's title, then the
        live stream's name, then a playlist title again after ffmpeg
        finishes, and what it received decodes without errors.
        """
        await self.take_over([])

    @asynchronous
    async def test_ffmpeg_legacy_source(self) -> None:
        """
        The same holds for ffmpeg's legacy C{SOURCE} request.
        """
        await self.take_over(["-legacy_icecast", "1"])

    @asynchronous
    async def test_other_format_converted(self) -> None:
        """
        A source sending 22.05 kHz mono to a mount whose music is 44.1 kHz
        stereo goes on air converted: every frame the listener receives is
        44.1 kHz stereo, and ffmpeg decodes the whole stream through
        playlist, live and playlist without a warning.
        """
        tone = [
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=660:duration=4:sample_rate=22050",
            "-ac",
            "1",
            "-ar",
            "22050",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "48k",
        ]
        audio = await self.take_over([], tone)
        splitter = FrameSplitter()
        frames = splitter.feed(audio) + splitter.finish()
        self.assertEqual({(f.header.sample_rate, f.header.channels) for f in frames}, {(44100, 2)})
        received = self.mktemp() + ".mp3"
        with open(received, "wb") as f:
            f.write(audio)
        code, log = await run(
            [
                "-hide_banner",
                "-nostdin",
                "-v",
                "warning",
                "-i",
                received,
                "-f",
                "wav",
                "-y",
                self.mktemp() + ".wav",
            ]
        )
        self.assertEqual(code, 0, log)
        complaints = [line for line in log.splitlines() if "Estimating duration" not in line]
        self.assertEqual(complaints, [])

    @asynchronous
    async def test_live_only_mount_falls_back(self) -> None:
        """
        A listener of a live-only mount with no source hears its fallback's
        music; when ffmpeg goes live on the mount the listener hears the
        show, and the music again after it, on one connection, and ffmpeg
        decodes all it received without an error.
        """
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        mounts = (
            MountConfig(name="/radio", music=music, metaint=2000, burst_size=0),
            MountConfig(name="/live", live_only=True, fallback="/radio", metaint=2000),
        )
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=mounts, source_password=PASSWORD
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]

        reader = Reader(b"GET /live HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(reader.capture.titles) >= 1, 10, reactor)
        self.assertEqual(len(service.mounts["/radio"].listeners), 1)

        code, log = await run(
            [
                "-hide_banner",
                "-nostdin",
                "-re",
                "-i",
                TONE,
                "-c",
                "copy",
                "-content_type",
                "audio/mpeg",
                "-ice_name",
                LIVE_TITLE,
                "-f",
                "mp3",
                f"icecast://source:{PASSWORD}@127.0.0.1:{port}/live",
            ]
        )
        self.assertEqual(code, 0, log)

        def back_to_music() -> bool:
            titles = [title for _, title in reader.capture.titles]
            return LIVE_TITLE in titles and titles[-1] != LIVE_TITLE

        await wait_for(back_to_music, 15, reactor)
        titles = [title for _, title in reader.capture.titles]
        live_at = titles.index(LIVE_TITLE)
        self.assertIn(titles[live_at - 1], (FIRST, SECOND))
        self.assertIn(titles[live_at + 1], (FIRST, SECOND))
        self.assertFalse(reader.gone.called)
        self.assertEqual(len(service.mounts["/radio"].listeners), 1)
        self.assertEqual(service.mounts["/live"].listeners, set())

        received = self.mktemp() + ".mp3"
        with open(received, "wb") as f:
            f.write(bytes(reader.capture.audio))
        code, log = await run(
            ["-hide_banner", "-nostdin", "-v", "error", "-i", received, "-f", "null", "-"]
        )
        self.assertEqual(code, 0, log)
        self.assertEqual([line for line in log.splitlines() if DECODE_ERRORS.search(line)], [])

    async def take_over(self, source_options: list[str], source: list[str] | None = None) -> bytes:
        """
        Start a station, listen, push the tone fixture (or the input and
        encoding options in C{source}) with ffmpeg (with C{source_options})
        and check the listener's titles and audio.

        @return: the audio the listener received.
        """
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        mount_config = MountConfig(
            name="/stream", music=music, station_name="E2E FM", metaint=2000, burst_size=0
        )
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=(mount_config,), source_password=PASSWORD
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        mount = service.mounts["/stream"]

        reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(reader.capture.titles) >= 1, 10, reactor)

        code, log = await run(
            [
                "-hide_banner",
                "-nostdin",
                "-re",
                *(source or ["-stream_loop", "2", "-i", TONE, "-c", "copy"]),
                "-content_type",
                "audio/mpeg",
                "-ice_name",
                LIVE_TITLE,
                *source_options,
                "-f",
                "mp3",
                f"icecast://source:{PASSWORD}@127.0.0.1:{port}/stream",
            ]
        )
        self.assertEqual(code, 0, log)

        def back_to_playlist() -> bool:
            titles = [title for _, title in reader.capture.titles]
            return LIVE_TITLE in titles and titles[-1] != LIVE_TITLE

        await wait_for(back_to_playlist, 15, reactor)
        titles = [title for _, title in reader.capture.titles]
        self.assertIn(titles[0], (FIRST, SECOND))
        live_at = titles.index(LIVE_TITLE)
        self.assertIn(titles[live_at - 1], (FIRST, SECOND))
        self.assertIn(titles[live_at + 1], (FIRST, SECOND))
        self.assertFalse(reader.gone.called)
        self.assertEqual(len(mount.listeners), 1)
        assert service.factory.sources is not None
        self.assertEqual(service.factory.sources.connected, {})

        received = self.mktemp() + ".mp3"
        with open(received, "wb") as f:
            f.write(bytes(reader.capture.audio))
        code, log = await run(
            ["-hide_banner", "-nostdin", "-v", "error", "-i", received, "-f", "null", "-"]
        )
        self.assertEqual(code, 0, log)
        self.assertEqual([line for line in log.splitlines() if DECODE_ERRORS.search(line)], [])
        # Live audio is about 4 s of the stream: at 128 kbit/s, >= 60 KB.
        self.assertGreater(len(reader.capture.audio), 60000)
        return bytes(reader.capture.audio)
