"""
End-to-end tests of the bitrate ladder: the real station on a loopback
port with C{bitrate = 128} and C{ladder = [64, 32]}, ffmpeg converting, raw
sockets listening to every rung, and ffmpeg as a live source and as a
decoder.
"""

from __future__ import annotations

import os
import shutil
import signal
from dataclasses import replace
from typing import Any

from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorTime
from twisted.trial.unittest import TestCase

from radiod.audio.frames import FrameSplitter
from radiod.config import MountConfig, StationConfig
from radiod.ffmpeg.converter import FfmpegConverter
from radiod.ffmpeg.ladder import RungSource
from radiod.runner import thread_runner
from radiod.station import service as service_module
from radiod.station.service import StationService
from tests.ingest.test_live_e2e import LIVE_TITLE, PASSWORD, TONE, run
from tests.station.test_workers import free_port
from tests.support.loopback import (
    DECODE_ERRORS,
    FIRST,
    FIXTURES,
    SECOND,
    Reader,
    asynchronous,
    reactor,
    wait_for,
)
from tests.support.tools import require_ffmpeg

RUNGS = {"/stream": (128, 44100), "/stream-64": (64, 44100), "/stream-32": (32, 22050)}


class TitleReader(Reader):
    """
    A listener that also notes the time each ICY title arrived.

    @ivar changes: (clock time, title) of each title, in order.
    """

    def __init__(self, request: bytes, clock: IReactorTime) -> None:
        super().__init__(request, clock)
        self.changes: list[tuple[float, str]] = []

    def dataReceived(self, data: bytes) -> None:
        seen = len(self.capture.titles)
        super().dataReceived(data)
        for _, title in self.capture.titles[seen:]:
            if not self.changes or self.changes[-1][1] != title:
                self.changes.append((self.clock.seconds(), title))


def offsets(readers: dict[str, TitleReader], title: str, when: float) -> dict[str, float]:
    """
    How long after the main mount's listener each listener got the title
    change to C{title} nearest to C{when} (negative for before).
    """
    times = {}
    for name, reader in readers.items():
        changes = [t for t, seen in reader.changes[1:] if seen == title]
        times[name] = min(changes, key=lambda t: abs(t - when))
    return {name: at - times["/stream"] for name, at in times.items()}


class LadderEndToEndTests(TestCase):
    """
    A mount and its rungs at 64 and 32 kbit/s, heard by real clients.
    """

    timeout = 120

    def setUp(self) -> None:
        require_ffmpeg()

    def music(self) -> str:
        folder = str(self.mktemp())
        os.makedirs(folder)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), folder)
        return folder

    async def start(self, workers: int = 1) -> tuple[StationService, int]:
        mount = MountConfig(
            name="/stream",
            music=self.music(),
            station_name="Ladder FM",
            bitrate=128,
            ladder=(64, 32),
            metaint=2000,
            burst_size=16000,
        )
        port = free_port() if workers > 1 else 0
        config = StationConfig(
            port=port,
            interface="127.0.0.1",
            mounts=(mount,),
            source_password=PASSWORD,
            workers=workers,
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        bound = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, bound

    async def listen(self, port: int, path: str) -> TitleReader:
        reader = TitleReader(f"GET {path} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode(), reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    async def listen_all(self, service: StationService, port: int) -> dict[str, TitleReader]:
        await wait_for(lambda: all(service.mounts[n].buffer.head for n in RUNGS), 20, reactor)
        return {name: await self.listen(port, name) for name in RUNGS}

    async def check_audio(self, name: str, reader: TitleReader) -> None:
        """
        Every frame C{reader} received has its rung's bitrate and sample
        rate, and ffmpeg decodes them all without an error.
        """
        bitrate, sample_rate = RUNGS[name]
        splitter = FrameSplitter()
        frames = splitter.feed(bytes(reader.capture.audio)) + splitter.finish()
        self.assertGreater(len(frames), 50)
        self.assertEqual(
            {(f.header.bitrate, f.header.sample_rate, f.header.channels) for f in frames},
            {(bitrate, sample_rate, 2)},
            name,
        )
        received = self.mktemp() + ".mp3"
        with open(received, "wb") as f:
            f.write(bytes(reader.capture.audio))
        code, log = await run(
            ["-hide_banner", "-nostdin", "-v", "error", "-i", received, "-f", "null", "-"]
        )
        self.assertEqual(code, 0, log)
        self.assertEqual([line for line in log.splitlines() if DECODE_ERRORS.search(line)], [])

    @asynchronous
    async def test_rungs_play_in_step(self) -> None:
        """
        Listeners of the mount and of both rungs hear the same titles: each
        title change reaches every rung within a second of the main mount.
        Each rung's audio is at its own bitrate (the 32 kbit/s rung at
        22.05 kHz), decodes without an error, and its headers carry the
        station's name and the rung's bitrate.
        """
        service, port = await self.start()
        readers = await self.listen_all(service, port)

        def changed_twice() -> bool:
            return all(len(reader.changes) >= 3 for reader in readers.values())

        await wait_for(changed_twice, 30, reactor)
        main = readers["/stream"].changes
        for when, title in main[1:3]:
            for name, offset in offsets(readers, title, when).items():
                self.assertLess(abs(offset), 1.0, f"{title} on {name}: {offset:+.3f} s")
        self.assertEqual({title for _, title in main}, {FIRST, SECOND})
        for name, reader in readers.items():
            self.assertEqual(reader.capture.headers["icy-name"], "Ladder FM")
            self.assertEqual(reader.capture.headers["icy-br"], str(RUNGS[name][0]))
            self.assertEqual(
                reader.capture.headers["icy-metaint"], str(2000 * RUNGS[name][0] // 128)
            )
            await self.check_audio(name, reader)

    @asynchronous
    async def test_live_show_on_every_rung(self) -> None:
        """
        A live source (ffmpeg) on the main mount is heard on every rung,
        its title reaching each within a second of the main mount, and the
        music comes back on all of them after it.  A source for a rung is
        refused.
        """
        service, port = await self.start()
        readers = await self.listen_all(service, port)
        await wait_for(lambda: all(r.changes for r in readers.values()), 10, reactor)

        refused = Reader(
            b"PUT /stream-64 HTTP/1.1\r\nAuthorization: Basic c291cmNlOnMzY3JldC1wdw==\r\n"
            b"Content-Type: audio/mpeg\r\n\r\n",
            reactor,
        )
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), refused)
        await refused.gone
        self.assertTrue(refused.capture.status_line.endswith("403 Forbidden"), refused.capture)

        started = reactor.seconds()
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
                f"icecast://source:{PASSWORD}@127.0.0.1:{port}/stream",
            ]
        )
        self.assertEqual(code, 0, log)

        def back_to_music() -> bool:
            return all(
                any(title == LIVE_TITLE for _, title in reader.changes)
                and reader.changes[-1][1] != LIVE_TITLE
                for reader in readers.values()
            )

        await wait_for(back_to_music, 20, reactor)
        for name, offset in offsets(readers, LIVE_TITLE, started + 1.0).items():
            self.assertLess(abs(offset), 1.0, f"live title on {name}: {offset:+.3f} s")
        for name, reader in readers.items():
            self.assertFalse(reader.gone.called, name)
            await self.check_audio(name, reader)

    @asynchronous
    async def test_workers_serve_rungs(self) -> None:
        """
        With two processes, listeners of a rung reach both, and all hear
        the rung's audio with its titles.
        """
        service, port = await self.start(workers=2)
        pool = service.pool
        assert pool is not None
        await wait_for(lambda: any(worker.ready for worker in pool.workers), 20, reactor)
        rung = service.mounts["/stream-64"]
        await wait_for(lambda: rung.buffer.head > 8000, 20, reactor)
        readers = [await self.listen(port, "/stream-64") for _ in range(12)]
        await wait_for(lambda: all(len(r.capture.audio) > 16000 for r in readers), 30, reactor)
        here = len(rung.listeners)
        self.assertTrue(0 < here < 12, f"{here} of 12 listeners in the main process")
        for reader in readers:
            splitter = FrameSplitter()
            frames = splitter.feed(bytes(reader.capture.audio))
            self.assertEqual({frame.header.bitrate for frame in frames}, {64})
            titles = {title for _, title in reader.capture.titles}
            self.assertTrue(titles and titles <= {FIRST, SECOND}, titles)

    @asynchronous
    async def test_reload(self) -> None:
        """
        Reloading with another ladder keeps the listeners of rungs still
        listed (with the new settings for newcomers), closes those of rungs
        no longer listed, and starts new rungs; a rung's name can become a
        mount's.
        """
        service, port = await self.start()
        kept = await self.listen(port, "/stream-64")
        dropped = await self.listen(port, "/stream-32")
        await wait_for(lambda: bool(kept.capture.audio and dropped.capture.audio), 20, reactor)
        mount = replace(service.config.mounts[0], ladder=(64, 96), station_name="New FM")
        service.reload(replace(service.config, mounts=(mount,)))
        await dropped.gone
        self.assertEqual(list(service.mounts), ["/stream", "/stream-64", "/stream-96"])
        self.assertEqual(list(service.factory.mounts), ["/stream", "/stream-64", "/stream-96"])
        await wait_for(lambda: service.mounts["/stream-96"].buffer.head > 0, 20, reactor)
        newcomer = await self.listen(port, "/stream-96")
        before = kept.received
        await wait_for(lambda: len(newcomer.capture.audio) > 12000, 20, reactor)
        await wait_for(lambda: kept.received > before + 4000, 20, reactor)
        self.assertFalse(kept.gone.called)
        self.assertEqual(newcomer.capture.headers["icy-name"], "New FM")
        self.assertEqual(newcomer.capture.headers["icy-br"], "96")
        renamed = await self.listen(port, "/stream-64")
        await wait_for(lambda: bool(renamed.capture.headers), 10, reactor)
        self.assertEqual(renamed.capture.headers["icy-name"], "New FM")

        music = MountConfig(name="/stream-96", music=self.music(), station_name="Music")
        service.reload(replace(service.config, mounts=(replace(mount, ladder=()), music)))
        await kept.gone
        await newcomer.gone
        self.assertEqual(list(service.factory.mounts), ["/stream", "/stream-96"])
        self.assertIsNotNone(service.mounts["/stream-96"].switch)
        gone = await self.listen(port, "/stream-64")
        await gone.gone
        self.assertTrue(gone.capture.status_line.startswith("HTTP/1.0 404"))
        mount_now = await self.listen(port, "/stream-96")
        await wait_for(lambda: len(mount_now.capture.audio) > 4000, 20, reactor)
        self.assertEqual(mount_now.capture.headers["icy-name"], "Music")

    @asynchronous
    async def test_no_ffmpeg(self) -> None:
        """
        Without ffmpeg the station serves its mount and no rung: a rung's
        URL is not found.
        """
        self.patch(service_module, "find_ffmpeg", lambda: None)
        service, port = await self.start()
        self.assertEqual(list(service.factory.mounts), ["/stream"])
        reader = await self.listen(port, "/stream-64")
        await reader.gone
        self.assertTrue(reader.capture.status_line.startswith("HTTP/1.0 404"))

    @asynchronous
    async def test_ffmpeg_killed(self) -> None:
        """
        When a rung's ffmpeg dies, another takes over after a pause; the
        rung's listener stays connected throughout and hears its audio
        again, still decodable.
        """
        service, port = await self.start()
        readers = await self.listen_all(service, port)
        rung = service.mounts["/stream-64"].source
        assert isinstance(rung, RungSource)
        converter = rung.converter
        assert isinstance(converter, FfmpegConverter) and converter.transport is not None
        pid: Any = converter.transport.pid
        os.kill(pid, signal.SIGKILL)
        await wait_for(lambda: rung.converter not in (None, converter), 20, reactor)
        self.assertEqual(rung.failures, 1)
        reader = readers["/stream-64"]
        before = reader.received
        await wait_for(lambda: reader.received > before + 16000, 20, reactor)
        self.assertFalse(reader.gone.called)
        await self.check_audio("/stream-64", reader)
