"""
Tests for L{radiod.station.announce}: the station's events, sent to its
webhooks and its C{on_track} command.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig, WebhookConfig
from radiod.runner import thread_runner
from radiod.station.announce import PEAK_INTERVAL, Announcer
from radiod.station.service import StationService
from radiod.testing import FakeFrameSource
from tests.support.loopback import FIRST, FIXTURES, SECOND, reactor, wait_for


class Recorded:
    """
    Stands in for L{radiod.outbound.webhooks.Webhooks}: keeps what it is
    sent.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.webhooks = ()

    def send(self, event: str, document: Mapping[str, object]) -> None:
        self.events.append((event, dict(document)))

    def stop(self) -> Deferred[None]:
        return succeed(None)


class AnnouncerTests(SynchronousTestCase):
    """
    What the announcer makes of a mount's tracks and listener peaks.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.sent = Recorded()
        self.announcer = Announcer(self.clock, self.sent, None)  # type: ignore[arg-type]
        self.mount = Mount(MountConfig(name="/m"), FakeFrameSource([]), self.clock)
        self.announcer.watch(self.mount)

    def test_tracks(self) -> None:
        """
        Each new track is a C{track} event with its title and the mount's
        listeners; a jingle is not.
        """
        for callback in self.mount.on_track_change:
            callback(TrackInfo("/a.mp3", "Song", "Artist", "Album", 200.0))
            callback(TrackInfo("/id.mp3", "ID", jingle=True))
        self.assertEqual(
            self.sent.events,
            [
                (
                    "track",
                    {
                        "mount": "/m",
                        "title": "Song",
                        "artist": "Artist",
                        "album": "Album",
                        "duration": 200.0,
                        "requested": False,
                        "started": 1000.0,
                        "listeners": 0,
                    },
                )
            ],
        )

    def test_listener_peak(self) -> None:
        """
        A new peak is told once the check runs, and then at most once a
        minute, with the newest peak; a peak that did not grow is not.
        """
        self.announcer.up(["/m"])
        self.assertEqual(self.sent.events, [("station_up", {"mounts": ["/m"]})])
        self.sent.events.clear()
        self.mount.peak_listeners = 5
        self.clock.advance(PEAK_INTERVAL / 6)
        self.assertEqual(self.sent.events, [("listener_peak", {"mount": "/m", "listeners": 5})])
        self.mount.peak_listeners = 9
        self.clock.advance(PEAK_INTERVAL / 2)
        self.assertEqual(len(self.sent.events), 1)
        self.clock.advance(PEAK_INTERVAL / 2)
        self.assertEqual(self.sent.events[-1], ("listener_peak", {"mount": "/m", "listeners": 9}))
        self.clock.advance(PEAK_INTERVAL * 3)
        self.assertEqual(len(self.sent.events), 2)
        self.announcer.down()
        self.assertEqual(self.sent.events[-1], ("station_down", {}))


class Receiver(Resource):
    """
    A webhook receiver: keeps each POSTed body.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, Any]] = []

    def render_POST(self, request: Request) -> bytes:
        assert request.content is not None
        self.bodies.append(json.loads(request.content.read()))
        request.setResponseCode(204)
        return b""


class AnnounceEndToEndTests(TestCase):
    """
    A station with a webhook and an C{on_track} command: the receiver and
    the command hear about the station and its tracks.
    """

    async def test_station_events(self) -> None:
        """
        The webhook gets C{station_up}, a C{track} for each track as it
        airs (with its title) and C{station_down}; the command gets each
        track as JSON.
        """
        receiver = Receiver()
        web = reactor.listenTCP(0, Site(receiver), interface="127.0.0.1")
        self.addCleanup(web.stopListening)
        folder = self.mktemp()
        os.makedirs(folder)
        for track in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, track), folder)
        written = os.path.abspath(self.mktemp())
        script = f"import sys; data = sys.stdin.read(); open({written!r}, 'a').write(data)"
        command = f"{sys.executable} -c {json.dumps(script)}"
        url = f"http://127.0.0.1:{web.getHost().port}/hook"
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(MountConfig(name="/stream", music=folder, station_name="Hook FM"),),
            webhooks=(WebhookConfig(url=url, events=("track", "station_up", "station_down")),),
            on_track=command,
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        await service.listener.listening

        def titles() -> list[str]:
            return [
                f"{b['artist']} - {b['title']}" for b in receiver.bodies if b["event"] == "track"
            ]

        await wait_for(lambda: len(titles()) >= 3, 30, reactor)
        await service.stopService()
        self.assertEqual(receiver.bodies[0]["event"], "station_up")
        self.assertEqual(receiver.bodies[0]["station"], "Hook FM")
        self.assertEqual(titles()[:3], [FIRST, SECOND, FIRST])
        self.assertEqual(receiver.bodies[-1]["event"], "station_down")
        first = next(b for b in receiver.bodies if b["event"] == "track")
        self.assertEqual(first["mount"], "/stream")
        await wait_for(lambda: os.path.exists(written), 10, reactor)
        with open(written) as f:
            lines = [json.loads(line) for line in f.read().splitlines()]
        self.assertEqual(lines[0]["title"], "First Song")
        self.assertEqual(lines[0]["artist"], "Alpha Artist")
