"""
End-to-end tests of conversion: a station on a loopback port playing a
library of every format through real ffmpeg, heard by a listener whose
every frame is checked.
"""

from __future__ import annotations

import os
import signal
from typing import Any, cast

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorProcess, IReactorTCP
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from radiod.audio.format import AudioFormat
from radiod.audio.frames import FrameSplitter
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ffmpeg.binary import find_ffmpeg
from radiod.ffmpeg.cache import ConversionCache
from radiod.ffmpeg.transcoder import ConversionError, Transcoder
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.support.loopback import DECODE_ERRORS, FFmpeg, Reader, asynchronous, wait_for
from tests.support.tools import require_ffmpeg

reactor: Any = _reactor

# extension: (encoder arguments, sample rate, channels)
FORMATS: dict[str, tuple[list[str], int, int]] = {
    "mp3": (["-c:a", "libmp3lame", "-b:a", "128k"], 44100, 2),
    "flac": (["-c:a", "flac"], 48000, 2),
    "ogg": (["-c:a", "libvorbis"], 44100, 2),
    "opus": (["-c:a", "libopus", "-b:a", "64k"], 48000, 2),
    "wav": (["-c:a", "pcm_s16le"], 22050, 1),
    "aiff": (["-c:a", "pcm_s16be", "-write_id3v2", "1"], 32000, 2),
    "m4a": (["-c:a", "aac", "-b:a", "96k"], 44100, 2),
    "aac": (["-c:a", "aac", "-b:a", "96k", "-f", "adts", "-write_id3v2", "1"], 44100, 1),
}


class Output(FFmpeg):
    """
    Collects everything a program writes, and its exit status.
    """

    def outReceived(self, data: bytes) -> None:
        self.stderr += data


async def run(args: list[str]) -> tuple[int, str]:
    """
    Run a program to its end without blocking the reactor.

    @return: its exit code and what it wrote.
    """
    protocol = Output()
    process: IReactorProcess = reactor
    process.spawnProcess(protocol, args[0], args, env=os.environ.copy())
    code = await protocol.ended
    return code, protocol.stderr.decode("utf-8", "replace")


async def make_track(
    path: str, seconds: float, title: str, encoder: list[str], rate: int, channels: int
) -> None:
    """
    Write a tagged tone of C{seconds} with ffmpeg.
    """
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    source = f"sine=frequency=440:sample_rate={rate}:duration={seconds}"
    args = [ffmpeg, "-hide_banner", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", source]
    args += ["-ac", str(channels), "-metadata", f"title={title}", "-metadata", "artist=Fixture"]
    code, log = await run([*args, *encoder, path])
    assert code == 0, log


async def encoders() -> set[str]:
    """
    The names of the encoders of the ffmpeg found.
    """
    ffmpeg = find_ffmpeg()
    assert ffmpeg is not None
    _, listing = await run([ffmpeg, "-hide_banner", "-encoders"])
    return {line.split()[1] for line in listing.splitlines() if len(line.split()) > 1}


class ConversionEndToEndTests(TestCase):
    """
    Libraries of mixed formats played by a real station through real
    ffmpeg.
    """

    timeout = 120

    def setUp(self) -> None:
        require_ffmpeg()
        self.music = os.path.abspath(self.mktemp())
        os.makedirs(self.music)
        self.cache = os.path.abspath(self.mktemp())
        self.events: list[LogEvent] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    async def start_station(self, **settings: Any) -> tuple[StationService, int, Mount]:
        """
        Start a station playing the music folder in order on a free
        loopback port.

        @return: the service, its port and its mount.
        """
        mount = MountConfig(name="/stream", music=self.music, **settings)
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(mount,),
            cache_dir=self.cache,
            state_dir=os.path.abspath(self.mktemp()),
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = await service.listener.listening
        address: Any = port.getHost()
        return service, address.port, service.mounts["/stream"]

    async def listen(self, port: int) -> Reader:
        """
        Connect a listener that asks for ICY titles.
        """
        reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    def streams(self, reader: Reader) -> set[tuple[int, int, int]]:
        """
        The (MPEG version, sample rate, channels) of every frame the
        listener received.
        """
        splitter = FrameSplitter()
        frames = splitter.feed(bytes(reader.capture.audio))
        self.assertGreater(len(frames), 100)
        self.assertEqual(splitter.garbage_bytes, 0)
        return {
            (int(float(f.header.version)), f.header.sample_rate, f.header.channels) for f in frames
        }

    async def assert_decodes(self, reader: Reader) -> None:
        """
        ffmpeg decodes every whole frame the listener received without an
        error.
        """
        splitter = FrameSplitter()
        frames = splitter.feed(bytes(reader.capture.audio))
        path = os.path.abspath(self.mktemp()) + ".mp3"
        with open(path, "wb") as f:
            f.write(b"".join(frame.data for frame in frames))
        ffmpeg = find_ffmpeg()
        assert ffmpeg is not None
        code, log = await run([ffmpeg, "-v", "error", "-i", path, "-f", "null", "-"])
        self.assertEqual(code, 0, log)
        self.assertEqual([line for line in log.splitlines() if DECODE_ERRORS.search(line)], [])

    def titles(self, reader: Reader) -> list[str]:
        """
        The titles the listener was sent, without repeats in a row.
        """
        titles: list[str] = []
        for _, title in reader.capture.titles:
            if not titles or titles[-1] != title:
                titles.append(title)
        return titles

    def skipped(self) -> list[LogEvent]:
        return [e for e in self.events if str(e.get("log_format", "")).startswith("Skipping")]

    @asynchronous
    async def test_every_format(self) -> None:
        """
        MP3, FLAC, Ogg Vorbis, Opus, WAV, AIFF, M4A and raw AAC tracks all
        play through one mount: the listener hears each title from its
        tags, in one format throughout (the first track's), that ffmpeg
        decodes without an error.  Only the files not in that format are
        converted.
        """
        names = []
        available = await encoders()
        for number, (extension, (encoder, rate, channels)) in enumerate(FORMATS.items()):
            if encoder[1] not in available:
                continue
            name = f"{number:02d}.{extension}"
            path = os.path.join(self.music, name)
            await make_track(path, 1.5, f"Tone {extension.upper()}", encoder, rate, channels)
            names.append(extension)
        service, port, mount = await self.start_station(burst_size=0)
        reader = await self.listen(port)
        expected = [f"Fixture - Tone {extension.upper()}" for extension in names]
        await wait_for(lambda: self.titles(reader)[: len(expected)] == expected, 90, reactor)
        self.assertEqual(self.titles(reader)[: len(expected)], expected)
        self.assertEqual(self.streams(reader), {(1, 44100, 2)})
        await self.assert_decodes(reader)
        self.assertEqual(service.transcoder.conversions, len(names) - 1)
        self.assertEqual(self.skipped(), [])
        self.assertEqual(mount.audio.sample_rate, 44100)

    @asynchronous
    async def test_mixed_sample_rates(self) -> None:
        """
        A library of MP3s at several sample rates and channel counts plays
        in the first track's format from start to end: the ones in it play
        untouched, the others are converted once, and come from the cache
        the next time round.
        """
        mp3 = FORMATS["mp3"][0]
        for name, rate, channels in (
            ("a", 48000, 2),
            ("b", 44100, 2),
            ("c", 22050, 1),
            ("d", 48000, 2),
            ("e", 32000, 1),
        ):
            path = os.path.join(self.music, f"{name}.mp3")
            await make_track(path, 1.0, f"Tone {name}", mp3, rate, channels)
        service, port, mount = await self.start_station(burst_size=0)
        reader = await self.listen(port)
        round_trip = [f"Fixture - Tone {name}" for name in "abcdeab"]
        await wait_for(lambda: self.titles(reader)[:7] == round_trip, 60, reactor)
        self.assertEqual(self.streams(reader), {(1, 48000, 2)})
        await self.assert_decodes(reader)
        self.assertEqual(service.transcoder.conversions, 3)
        programme: Any = mount.switch.playlist if mount.switch is not None else None
        self.assertEqual(programme.format, AudioFormat(48000, 2, 128))
        converted = [name for name in os.listdir(self.cache) if name.endswith(".mp3")]
        self.assertEqual(len(converted), 3)

    @asynchronous
    async def test_broken_and_killed(self) -> None:
        """
        A corrupt file and a file whose ffmpeg dies midway are skipped
        with a log line each, and the stream goes on with the next track.
        """
        mp3 = FORMATS["mp3"][0]
        await make_track(os.path.join(self.music, "a.mp3"), 2.0, "Tone a", mp3, 44100, 2)
        with open(os.path.join(self.music, "b.flac"), "wb") as f:
            f.write(b"fLaC" + os.urandom(4000))
        long = os.path.join(self.music, "c.wav")
        await make_track(long, 600, "Tone c", ["-c:a", "pcm_s16le"], 8000, 1)
        await make_track(os.path.join(self.music, "d.mp3"), 1.0, "Tone d", mp3, 44100, 2)
        service, port, mount = await self.start_station(burst_size=0)
        reader = await self.listen(port)
        transcoder = service.transcoder
        # b.flac fails first; then c.wav converts (for a few seconds).
        await wait_for(lambda: len(self.skipped()) == 1 and bool(transcoder.runs), 30, reactor)
        [run] = transcoder.runs
        assert run.transport is not None and run.transport.pid is not None
        os.kill(run.transport.pid, signal.SIGKILL)
        expected = ["Fixture - Tone a", "Fixture - Tone d", "Fixture - Tone a"]
        await wait_for(lambda: self.titles(reader)[:3] == expected, 30, reactor)
        reasons = {os.path.basename(e["path"]): e["reason"] for e in self.skipped()}
        self.assertEqual(set(reasons), {"b.flac", "c.wav"})
        self.assertTrue(reasons["b.flac"].startswith("ffmpeg exited with status"), reasons)
        self.assertEqual(reasons["c.wav"], "ffmpeg was killed by signal 9")
        self.assertEqual(self.streams(reader), {(1, 44100, 2)})
        self.assertEqual([name for name in os.listdir(self.cache) if "part" in name], [])

    @asynchronous
    async def test_normalized(self) -> None:
        """
        With normalization, each file without a ReplayGain tag is measured
        once; the measurements are kept in the cache and used the next
        time round, and every track plays converted to its gain.
        """
        mp3 = FORMATS["mp3"][0]
        for name in ("a", "b"):
            path = os.path.join(self.music, f"{name}.mp3")
            await make_track(path, 1.0, f"Tone {name}", mp3, 44100, 2)
        service, port, mount = await self.start_station(burst_size=0, normalize=True)
        reader = await self.listen(port)
        expected = [f"Fixture - Tone {name}" for name in "abab"]
        await wait_for(lambda: self.titles(reader)[:4] == expected, 60, reactor)
        transcoder = service.transcoder
        self.assertEqual((transcoder.measurements, transcoder.conversions), (2, 2))
        measured = [name for name in os.listdir(self.cache) if name.endswith(".json")]
        self.assertEqual(len(measured), 2)
        await self.assert_decodes(reader)


class KillTests(TestCase):
    """
    A real ffmpeg conversion killed midway leaves nothing in the cache.
    """

    timeout = 60

    @asynchronous
    async def test_killed_leaves_nothing(self) -> None:
        """
        The conversion fails naming the signal, and neither a converted
        file nor a partial one is left.
        """
        ffmpeg = require_ffmpeg()
        source = os.path.abspath(self.mktemp()) + ".wav"
        await make_track(source, 600, "Long", ["-c:a", "pcm_s16le"], 8000, 1)
        folder = os.path.abspath(self.mktemp())
        core: IReactorCore = reactor
        runner = thread_runner(core, reactor.getThreadPool())
        transcoder = Transcoder(
            reactor, reactor, runner, ConversionCache(folder, 1 << 30, runner), ffmpeg
        )
        converted = transcoder.convert(source, AudioFormat(44100, 2, 128), 0.0, 600, "/t")
        await wait_for(lambda: bool(transcoder.runs), 10, reactor)
        [run] = transcoder.runs
        assert run.transport is not None and run.transport.pid is not None
        os.kill(run.transport.pid, signal.SIGKILL)
        with self.assertRaises(ConversionError) as caught:
            await converted
        self.assertEqual(str(caught.exception), "ffmpeg was killed by signal 9")
        self.assertEqual(os.listdir(folder), [])
