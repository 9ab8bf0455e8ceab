"""
Tests for L{radiod.station.playlistlog}: Icecast's playlist log.
"""

from __future__ import annotations

import os
import re
import shutil

from twisted.internet.interfaces import IReactorCore
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.playlistlog import playlist_line
from radiod.station.service import StationService
from tests.support.loopback import FIRST, FIXTURES, SECOND, asynchronous, reactor, wait_for

LINE = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\|([^|]*)\|(\d+)\|(.*)$")


class PlaylistLineTests(SynchronousTestCase):
    """
    L{playlist_line} writes Icecast's fields, keeping each one whole.
    """

    def test_line(self) -> None:
        line = playlist_line(1_767_780_000.0, "/stream", 12, "Artist | Band - Title\nTwo")
        match = LINE.match(line)
        assert match is not None, line
        self.assertEqual(match.groups(), ("/stream", "12", "Artist Band - Title Two"))


class PlaylistLogTests(TestCase):
    """
    A station with C{playlist_log} writes a line per track change.
    """

    @asynchronous
    async def test_station(self) -> None:
        folder = os.path.abspath(str(self.mktemp()))
        music = os.path.join(folder, "music")
        os.makedirs(music)
        for track in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, track), music)
        path = os.path.join(folder, "playlist.log")
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(MountConfig(name="/stream", music=music),),
            state_dir=os.path.join(folder, "state"),
            stats_database="off",
            playlist_log=path,
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)

        def lines() -> list[str]:
            if not os.path.exists(path):
                return []
            with open(path, encoding="utf-8") as f:
                return f.read().splitlines()

        await wait_for(lambda: len(lines()) >= 2, 30, reactor)
        fields = []
        for line in lines()[:2]:
            match = LINE.match(line)
            assert match is not None, line
            fields.append(match.groups())
        self.assertEqual(fields, [("/stream", "0", FIRST), ("/stream", "0", SECOND)])
