"""
End-to-end tests of dead-air detection: a real ffmpeg measuring real
audio, and the real station on a loopback port with ffmpeg pushing a live
show that falls silent for a while, raw sockets listening throughout.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorProcess
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from radiod.audio.frames import Frame, FrameSplitter
from radiod.config import MountConfig, StationConfig
from radiod.ffmpeg.binary import find_ffmpeg
from radiod.ingest.silence import WINDOW, SilenceDetector
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.support.loopback import FIRST, FIXTURES, SECOND, FFmpeg, Reader, asynchronous, wait_for
from tests.support.tools import require_ffmpeg

reactor: Any = _reactor

PASSWORD = "s3cret-pw"
LIVE_TITLE = "Live Show"
PLAYLIST_TITLES = (FIRST, SECOND)

SOUND = 4.0
"""
Seconds of sound the show opens with.
"""

DEAD_AIR = 5.0
"""
Seconds of dead air in the middle of the show: more than the mounts'
silence timeout.
"""

SOUND_AGAIN = 8.0
"""
Seconds of sound that end the show: more than the recovery, with time
left for listeners to hear the show again.
"""

SILENCE_TIMEOUT = 2.0
"""
The mounts' C{silence_timeout}.
"""


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


async def make_show(path: str, sound: float, dead_air: float, sound_again: float) -> None:
    """
    Write an MP3 file of 44.1 kHz stereo at 128 kbit/s (the format of the
    playlist fixtures): a tone for C{sound} seconds, digital silence for
    C{dead_air} seconds, and another tone for C{sound_again} seconds.
    """
    stereo = "aformat=sample_fmts=fltp:sample_rates=44100:channel_layouts=stereo"
    graph = ";".join(
        [
            f"sine=frequency=440:sample_rate=44100:duration={sound},{stereo}[a]",
            f"anullsrc=r=44100:cl=stereo,atrim=duration={dead_air},{stereo}[b]",
            f"sine=frequency=660:sample_rate=44100:duration={sound_again},{stereo}[c]",
            "[a][b][c]concat=n=3:v=0:a=1[show]",
        ]
    )
    code, log = await run(
        [
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-filter_complex",
            graph,
            "-map",
            "[show]",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            "-write_xing",
            "0",
            "-id3v2_version",
            "0",
            "-f",
            "mp3",
            "-y",
            path,
        ]
    )
    assert code == 0, log


def read_frames(path: str) -> list[Frame]:
    """
    The whole frames of an MP3 file.
    """
    with open(path, "rb") as f:
        data = f.read()
    splitter = FrameSplitter()
    return splitter.feed(data) + splitter.finish()


def whole_frames(audio: bytes) -> bytes:
    """
    C{audio} up to the end of its last whole frame: a listener's
    connection may be read in the middle of a frame.

    @raise AssertionError: if anything but whole frames comes before.
    """
    splitter = FrameSplitter()
    frames = splitter.feed(audio) + splitter.finish()
    whole = b"".join(frame.data for frame in frames)
    assert splitter.garbage_bytes == 0, f"{splitter.garbage_bytes} bytes are not audio"
    assert audio.startswith(whole), "the audio is not whole frames"
    assert len(audio) - len(whole) < 2000, "more than a frame was left over"
    return whole


class DetectorEndToEndTests(TestCase):
    """
    A L{SilenceDetector} running the real ffmpeg.
    """

    timeout = 60

    def setUp(self) -> None:
        require_ffmpeg()

    @asynchronous
    async def test_levels(self) -> None:
        """
        ffmpeg measures a tone as sound and digital silence as dead air,
        window by window, every window of the audio fed.
        """
        show = self.mktemp() + ".mp3"
        await make_show(show, 2.0, 2.0, 1.0)
        frames = read_frames(show)
        ffmpeg = find_ffmpeg()
        assert ffmpeg is not None
        levels: list[float] = []
        ended: Deferred[None] = Deferred()
        reasons: list[Failure] = []

        def gone(reason: Failure) -> None:
            reasons.append(reason)
            ended.callback(None)

        detector = SilenceDetector(
            reactor, ffmpeg, 44100, lambda seconds, level: levels.append(level), gone
        )
        detector.feed(frames)
        assert detector.transport is not None
        detector.transport.closeStdin()
        await ended
        self.assertEqual(detector.describe(reasons[0]), "ffmpeg exited with status 0")
        seconds = sum(frame.duration for frame in frames)
        self.assertEqual(len(levels), math.ceil(seconds / WINDOW - 1e-6), levels)
        # Two seconds of tone, two of silence, one of tone: the windows at
        # the edges hold some of both.
        self.assertTrue(all(level > -30.0 for level in levels[0:3]), levels)
        self.assertTrue(all(level < -90.0 for level in levels[5:7]), levels)
        self.assertTrue(all(level > -30.0 for level in levels[8:10]), levels)


class SilenceEndToEndTests(TestCase):
    """
    A live show with dead air in the middle, pushed by ffmpeg to the real
    station, with real listeners.
    """

    timeout = 120

    def setUp(self) -> None:
        require_ffmpeg()

    def music(self) -> str:
        """
        A fresh folder with the two playlist fixtures.
        """
        folder: str = self.mktemp()
        os.makedirs(folder)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), folder)
        return folder

    async def start(self, mounts: tuple[MountConfig, ...]) -> tuple[StationService, int]:
        """
        Start a station with C{mounts}; return it and its listener port.
        """
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=mounts, source_password=PASSWORD
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, port

    async def listen(self, port: int, mount: str, metadata: bool = True) -> Reader:
        """
        Connect a listener to C{mount}, asking for ICY metadata or not.
        """
        request = f"GET {mount} HTTP/1.0\r\n".encode()
        if metadata:
            request += b"Icy-MetaData: 1\r\n"
        reader = Reader(request + b"\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    def push(self, show: str, port: int, mount: str) -> Deferred[int]:
        """
        Push the MP3 file C{show} to C{mount} with ffmpeg, in real time.

        @return: fires with ffmpeg's exit code once it has sent it all.
        """
        ffmpeg = find_ffmpeg()
        assert ffmpeg is not None
        protocol = FFmpeg()
        args = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-re", "-i", show]
        args += ["-c", "copy", "-content_type", "audio/mpeg", "-ice_name", LIVE_TITLE]
        args += ["-f", "mp3", f"icecast://source:{PASSWORD}@127.0.0.1:{port}{mount}"]
        process: IReactorProcess = reactor
        process.spawnProcess(protocol, ffmpeg, args, env=os.environ.copy())
        return protocol.ended

    async def check_decodes(self, reader: Reader) -> None:
        """
        Check that what C{reader} received decodes with ffmpeg without a
        word on its error log.
        """
        received = self.mktemp() + ".mp3"
        with open(received, "wb") as f:
            f.write(whole_frames(bytes(reader.capture.audio)))
        code, log = await run(
            ["-hide_banner", "-nostdin", "-v", "error", "-i", received, "-f", "null", "-"]
        )
        self.assertEqual((code, log), (0, ""))

    @asynchronous
    async def test_dead_air_off_the_air_and_back(self) -> None:
        """
        A show that falls silent for longer than the mount's silence
        timeout is taken off the air while its source stays connected: the
        listeners hear the playlist again, and the show again once it has
        sounded for a few seconds, then the playlist after the show.  The
        callbacks are told both moves, the switch counts one, the mount's
        recording has the whole show, dead air included, and what every
        listener received decodes without an error.
        """
        show = self.mktemp() + ".mp3"
        await make_show(show, SOUND, DEAD_AIR, SOUND_AGAIN)
        record_dir = self.mktemp()
        stream = MountConfig(
            name="/stream",
            music=self.music(),
            metaint=2000,
            burst_size=0,
            silence_timeout=SILENCE_TIMEOUT,
            record=True,
            record_dir=record_dir,
        )
        service, port = await self.start((stream,))
        sources = service.factory.sources
        assert sources is not None
        told: list[tuple[str, str, bool]] = []
        sources.on_silence.append(lambda *said: told.append(said))
        reader = await self.listen(port, "/stream")
        plain = await self.listen(port, "/stream", metadata=False)
        await wait_for(lambda: len(reader.capture.titles) >= 1, 20, reactor)

        pushed = self.push(show, port, "/stream")
        connected: list[bool] = []

        def reached(runs: int) -> Callable[[], bool]:
            """
            A condition: the listener has heard C{runs} runs of playlist
            or live titles in turn; it notes whether the source was
            connected when the last began.
            """

            def check() -> bool:
                if len(_runs([title for _, title in reader.capture.titles])) < runs:
                    return False
                connected.append("/stream" in sources.connected)
                return True

            return check

        # The playlist, the show, the playlist in the dead air, the show
        # again, and the playlist after it.
        await wait_for(reached(2), 30, reactor)
        await wait_for(reached(3), 30, reactor)
        await wait_for(reached(4), 30, reactor)
        self.assertEqual(await pushed, 0)
        await wait_for(reached(5), 30, reactor)

        titles = _runs([title for _, title in reader.capture.titles])
        self.assertEqual([title in PLAYLIST_TITLES for title in titles], [True, False] * 2 + [True])
        self.assertEqual(connected, [True, True, True, False])
        self.assertEqual(
            [(mount, silent) for mount, _, silent in told], [("/stream", True), ("/stream", False)]
        )
        self.assertTrue(told[0][1].startswith("127.0.0.1:"))
        switch = service.mounts["/stream"].switch
        assert switch is not None
        self.assertEqual((switch.mutes, switch.muted), (1, 0))
        self.assertFalse(reader.gone.called)
        self.assertFalse(plain.gone.called)

        (recording,) = os.listdir(record_dir)
        recorded = sum(frame.duration for frame in read_frames(os.path.join(record_dir, recording)))
        self.assertGreater(recorded, SOUND + DEAD_AIR + SOUND_AGAIN - 1.0)
        await self.check_decodes(reader)
        await self.check_decodes(plain)

    @asynchronous
    async def test_live_only_mount_falls_back(self) -> None:
        """
        On a live-only mount, dead air sends the listeners to its fallback
        mount, on the same connection, while the source stays connected,
        and sound brings them back to the show.
        """
        show = self.mktemp() + ".mp3"
        await make_show(show, SOUND, DEAD_AIR, SOUND_AGAIN)
        radio = MountConfig(name="/radio", music=self.music(), metaint=2000, burst_size=0)
        live = MountConfig(
            name="/live",
            live_only=True,
            fallback="/radio",
            metaint=2000,
            silence_timeout=SILENCE_TIMEOUT,
        )
        service, port = await self.start((radio, live))
        sources = service.factory.sources
        assert sources is not None
        reader = await self.listen(port, "/live")
        await wait_for(lambda: len(reader.capture.titles) >= 1, 20, reactor)
        live_mount = service.mounts["/live"]
        radio_mount = service.mounts["/radio"]
        self.assertEqual(len(radio_mount.listeners), 1)

        pushed = self.push(show, port, "/live")
        await wait_for(lambda: len(live_mount.listeners) == 1, 30, reactor)
        await wait_for(lambda: len(radio_mount.listeners) == 1, 30, reactor)
        self.assertIn("/live", sources.connected)
        self.assertEqual(live_mount.listeners, set())
        await wait_for(lambda: len(live_mount.listeners) == 1, 30, reactor)
        self.assertIn("/live", sources.connected)
        self.assertEqual(await pushed, 0)
        await wait_for(lambda: len(radio_mount.listeners) == 1, 30, reactor)

        def titles() -> list[bool]:
            runs = _runs([title for _, title in reader.capture.titles])
            return [title in PLAYLIST_TITLES for title in runs]

        await wait_for(lambda: len(titles()) >= 5, 30, reactor)
        self.assertEqual(titles(), [True, False] * 2 + [True])
        self.assertFalse(reader.gone.called)
        await self.check_decodes(reader)


def _runs(titles: list[str]) -> list[str]:
    """
    C{titles} with each run of playlist titles, or of the live title, made
    one.
    """
    runs: list[str] = []
    for title in titles:
        if not runs or (title in PLAYLIST_TITLES) != (runs[-1] in PLAYLIST_TITLES):
            runs.append(title)
    return runs
