"""
End-to-end tests: the real station on a loopback port, with ffmpeg and raw
sockets as listeners.
"""

from __future__ import annotations

import os
import shutil
import socket
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore, IReactorTCP
from twisted.trial.unittest import TestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from tests.support.loopback import (
    DECODE_ERRORS,
    FIRST,
    FIXTURES,
    SECOND,
    Reader,
    Recording,
    Trail,
    asynchronous,
    check_heard,
    decoded_seconds,
    delivered,
    reactor,
    run_ffmpeg,
    stream_titles,
    wait_for,
)
from tests.support.tools import require_ffmpeg


class EndToEndTests(TestCase):
    """
    The station, started as in production, heard by real clients.
    """

    timeout = 90

    recording: Recording
    """
    What the station's mount put on air (see L{start_station}).
    """

    def setUp(self) -> None:
        require_ffmpeg()

    async def start_station(self, **settings: Any) -> tuple[StationService, str, Mount]:
        """
        Start a station playing the two fixture songs, in order, on a
        free loopback port, with L{recording} of its mount from its first
        audio.

        @return: the service, the stream URL and the mount.
        """
        music = self.mktemp()
        os.makedirs(music)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), music)
        mount = MountConfig(name="/stream", music=music, station_name="E2E FM", **settings)
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,))
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        self.recording = Recording(service.mounts["/stream"], reactor)
        service.startService()
        self.addCleanup(service.stopService)
        port = await service.listener.listening
        address: Any = port.getHost()
        return service, f"http://127.0.0.1:{address.port}/stream", service.mounts["/stream"]

    async def connect_reader(self, url: str, headers: bytes = b"") -> Reader:
        """
        Connect a reading listener to C{url}.
        """
        port = int(url.split(":")[2].split("/")[0])
        reader = Reader(b"GET /stream HTTP/1.0\r\n" + headers + b"\r\n", reactor)
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    @asynchronous
    async def test_ffmpeg_decodes_and_reports_title(self) -> None:
        """
        ffmpeg, as an independent listener, decodes six seconds of the
        stream, across a track change, with no error and reports the ICY
        title and station name.
        """
        service, url, mount = await self.start_station()
        code, log = await run_ffmpeg(url, 6)
        self.assertEqual(code, 0, log)
        self.assertEqual([line for line in log.splitlines() if DECODE_ERRORS.search(line)], [])
        self.assertIn(stream_titles(log)[0], (FIRST, SECOND))
        self.assertIn("E2E FM", log)
        self.assertGreaterEqual(decoded_seconds(log), 5.9)

    @asynchronous
    async def test_format_headers_from_the_first_instant(self) -> None:
        """
        A listener connecting the instant the port opens, before the
        programme has read its first track, gets C{icy-br} and
        C{ice-audio-info} in its reply all the same, then the audio.
        """
        service, url, mount = await self.start_station(burst_size=0)
        self.assertEqual(mount.audio.bitrate, 0, "the station had audio already")
        reader = await self.connect_reader(url)
        self.assertEqual(reader.capture.headers, {})
        await wait_for(lambda: bool(reader.capture.headers), 10, reactor)
        self.assertEqual(reader.capture.status_line, "HTTP/1.0 200 OK")
        self.assertEqual(reader.capture.headers["icy-br"], "128")
        self.assertEqual(
            reader.capture.headers["ice-audio-info"],
            "ice-samplerate=44100;ice-bitrate=128;ice-channels=2",
        )
        await wait_for(lambda: len(reader.capture.audio) > 4000, 10, reactor)

    @asynchronous
    async def test_title_changes_after_track_change(self) -> None:
        """
        ffmpeg reports the first song's title at the start and the second
        song's after the track changes; a listener connected throughout
        gets the new title in its stream where the new track's audio
        starts.
        """
        service, url, mount = await self.start_station(burst_size=0, metaint=2000)
        reader = await self.connect_reader(url, b"Icy-MetaData: 1\r\n")
        code, log = await run_ffmpeg(url, 0.5)
        self.assertEqual(code, 0, log)
        self.assertEqual(stream_titles(log)[0], FIRST)
        changed: Deferred[TrackInfo] = Deferred()
        mount.on_track_change.append(
            lambda track: None if changed.called else changed.callback(track)
        )
        track = await changed
        self.assertEqual(track.stream_title, SECOND)
        code, log = await run_ffmpeg(url, 0.5)
        self.assertEqual(code, 0, log)
        self.assertEqual(stream_titles(log)[0], SECOND)
        await wait_for(lambda: len(reader.capture.titles) >= 2, 10, reactor)
        titles = reader.capture.titles
        self.assertEqual([title for _, title in titles[:2]], [FIRST, SECOND])
        first_song = os.path.getsize(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"))
        self.assertLess(titles[1][0], first_song + 2000)

    @asynchronous
    async def test_stalled_listener_dropped_others_full_rate(self) -> None:
        """
        A listener that stops reading is disconnected once it lags past
        the queue size, while a reading listener keeps up with the stream
        all along: it is never dropped, and it receives every byte of the
        128 kbit/s stream, in order, from its burst to five seconds of
        audio after the other was dropped.  How fast the stream plays by
        the wall clock is measured by C{benchmarks/pacing.py}.
        """
        service, url, mount = await self.start_station(burst_size=8192, queue_size=32768)
        recording = self.recording
        heads: list[int] = []
        mount.on_listener_joined.append(lambda listener: heads.append(mount.buffer.head))
        reader = await self.connect_reader(url)
        port = int(url.split(":")[2].split("/")[0])
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(stalled.close)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.setblocking(False)
        stalled.connect_ex(("127.0.0.1", port))
        await wait_for(lambda: len(mount.listeners) == 1, 5, reactor)
        [kept] = mount.listeners
        trail = Trail(kept)
        self.addCleanup(trail.stop)
        stalled.send(b"GET /stream HTTP/1.0\r\n\r\n")
        await wait_for(lambda: len(mount.listeners) == 2, 5, reactor)
        await wait_for(lambda: mount.dropped == 1, 60, reactor)
        self.assertEqual(mount.listeners, {kept})

        # Five more seconds of audio, as the mount's own pacer plays them.
        dropped_at = recording.seconds
        await wait_for(lambda: recording.seconds >= dropped_at + 5, 30, reactor)
        upto = recording.end
        await delivered(kept, reader.capture, "/stream", upto, reactor)
        self.assertFalse(reader.gone.called)
        self.assertEqual(mount.listeners, {kept})
        self.assertEqual(mount.dropped, 1)
        check_heard(trail, {"/stream": recording}, reader.capture, upto)
        self.assertEqual(trail.mounts, ["/stream"])
        # It started no further back than its burst.
        self.assertLessEqual(heads[0] - trail.legs[0][1], 8192)
        kbits = len(recording.audio) * 8 / recording.seconds / 1000
        self.assertLess(abs(kbits - 128), 0.5, f"{kbits:.2f} kbit/s on air")
        assert mount.pacer is not None
        self.assertEqual(mount.pacer.underruns, 0)
