"""
Tests for L{radiod.web.events}: the station page's event streams, in memory.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace
from typing import Any

from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod import testing
from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig
from radiod.ingest.stream import StreamInfo
from radiod.library.library import Library
from radiod.library.programme import Programme
from radiod.testing import FakeFrameSource, silent_frame, synchronous_runner
from radiod.web.events import (
    EVENTS_PATH,
    KEEPALIVE,
    RECENT,
    RETRY,
    TICK,
    EventStreams,
    burst_seconds,
    describe_mount,
    describe_next,
    describe_track,
)
from radiod.web.page import StationPage
from radiod.web.tree import station_site
from radiod.wire.server import RadioFactory, RadioProtocol
from radiod.wire.stream import AUDIO_WAIT
from tests.web.test_admin import write_track

ALPHA = TrackInfo("/a.mp3", "First Song", "Alpha Artist", "Tests", 2.6)
BETA = TrackInfo("/b.mp3", "Second Song", "Beta Artist")
FRAME = silent_frame()
FRAMES_PER_TRACK = 100  # about 2.6 s each
TRACK_SECONDS = FRAMES_PER_TRACK * FRAME.header.duration


def read_stream(value: bytes) -> tuple[str, list[tuple[str, Any]]]:
    """
    Split what an event stream client received into the response head and
    its events: C{(type, data)}, the data parsed as JSON, or C{(":",
    text)} for a comment.
    """
    head, _, body = value.partition(b"\r\n\r\n")
    events: list[tuple[str, Any]] = []
    for block in body.decode("utf-8").split("\n\n"):
        if not block:
            continue
        fields: dict[str, str] = {}
        data: list[str] = []
        comments: list[str] = []
        for line in block.split("\n"):
            name, _, field = line.partition(":")
            field = field.removeprefix(" ")
            if name == "data":
                data.append(field)
            elif name == "":
                comments.append(field)
            else:
                fields[name] = field
        if data:
            events.append((fields.get("event", "message"), json.loads("\n".join(data))))
        else:
            events.append((":", "\n".join(comments)))
    return head.decode("utf-8"), events


class Connection(testing.Connection[RadioProtocol]):
    """
    One in-memory client connection to a L{RadioProtocol}, that asks for
    event streams and reads them.
    """

    def get(self, target: str, method: str = "GET", headers: str = "") -> None:
        """
        Send a request.
        """
        self.send(f"{method} {target} HTTP/1.1\r\nHost: radio.example\r\n{headers}\r\n")

    def read(self) -> tuple[str, list[tuple[str, Any]]]:
        """
        The head and the events received so far.
        """
        return read_stream(self.received())

    def events(self) -> list[tuple[str, Any]]:
        """
        The events received so far.
        """
        return self.read()[1]


class EventStreamsTests(SynchronousTestCase):
    """
    L{EventStreams} serves one event stream per client at L{EVENTS_PATH}.
    """

    def build(
        self, start: bool = True, max_streams: int = 10, **station: Any
    ) -> tuple[Clock, RadioFactory, EventStreams, Mount]:
        """
        A factory with mounts C{/stream} (two tracks of about 2.6 s
        taking turns) and C{/other}, and event streams.
        """
        clock = Clock()
        self.addCleanup(lambda: self.assertEqual(clock.getDelayedCalls(), []))
        configs = (
            MountConfig(name="/stream", station_name="Test FM", description="Tests all day"),
            MountConfig(name="/other", station_name="Other FM"),
        )
        config = replace(StationConfig(port=8000, mounts=configs), **station)
        mounts = {}
        for mount_config in configs:
            source = FakeFrameSource(
                [(ALPHA, FRAME, FRAMES_PER_TRACK), (BETA, FRAME, FRAMES_PER_TRACK)]
            )
            mount = Mount(mount_config, source, clock)
            if start:
                mount.start()
            self.addCleanup(mount.stop)
            mounts[mount_config.name] = mount
        factory = RadioFactory(clock, config, mounts, accept_sources=True)
        station_site(factory, clock)
        page = StationPage(clock, factory, max_streams=max_streams)
        if start:
            clock.advance(0)
        self.addCleanup(page.close)
        return clock, factory, page.events, mounts["/stream"]

    def open(self, factory: RadioFactory, query: str = "?mount=/stream") -> Connection:
        """
        Open an event stream.
        """
        connection = Connection(factory)
        connection.get(EVENTS_PATH + query)
        return connection

    def test_head_and_snapshot(self) -> None:
        """
        A stream answers 200 with C{text/event-stream}, no caching, no
        length, and starts with the reconnection delay and a C{snapshot}
        of the mount: station, now playing, listeners, recently played.
        """
        clock, factory, streams, mount = self.build()
        clock.pump([0.1] * 10)
        connection = self.open(factory)
        head, events = connection.read()
        lines = head.split("\r\n")
        self.assertEqual(lines[0], "HTTP/1.0 200 OK")
        self.assertIn("Content-Type: text/event-stream; charset=utf-8", lines)
        self.assertIn("Cache-Control: no-cache", lines)
        self.assertNotIn("Content-Length", head)
        self.assertTrue(
            connection.transport.value()
            .partition(b"\r\n\r\n")[2]
            .startswith(f"retry: {RETRY}\nevent: snapshot\n".encode())
        )
        self.assertFalse(connection.closed)
        [(kind, state)] = events
        self.assertEqual(kind, "snapshot")
        self.assertEqual(state["mount"], "/stream")
        self.assertEqual(
            state["station"],
            {"name": "Test FM", "description": "Tests all day", "genre": "", "url": ""},
        )
        self.assertEqual(state["now_playing"]["title"], "First Song")
        self.assertEqual(state["now_playing"]["artist"], "Alpha Artist")
        self.assertEqual(state["now_playing"]["album"], "Tests")
        self.assertEqual(state["now_playing"]["stream_title"], "Alpha Artist - First Song")
        self.assertFalse(state["now_playing"]["live"])
        self.assertEqual(state["listeners"], 0)
        self.assertEqual(state["recent"], [])
        # The scripted source is no programme: what comes next is unknown.
        self.assertIsNone(state["next"])
        self.assertEqual(
            state["mounts"],
            [{"name": "/stream", "station": "Test FM"}, {"name": "/other", "station": "Other FM"}],
        )
        self.assertEqual(
            (state["stream"], state["m3u"], state["pls"]),
            ("/stream", "/stream.m3u", "/stream.pls"),
        )
        self.assertEqual(state["time"], clock.seconds())
        # A player connecting now gets all the audio aired (a second of
        # it at 128 kbit/s), less than the burst of 64 KiB.
        self.assertEqual(state["burst_seconds"], round(len(mount.buffer) / 16000, 3))
        self.assertEqual(state["full_burst_seconds"], 4.096)
        [stream] = streams.streams
        body = connection.transport.value().partition(b"\r\n\r\n")[2]
        self.assertEqual(stream.request.code, 200)
        self.assertEqual(stream.request.sentLength, len(body))

    def test_default_art(self) -> None:
        """
        A track without cover art is shown with the station's default
        picture when it has one, and with none otherwise.
        """
        for default, art in (("", None), ("/srv/default.png", "/art/default")):
            clock, factory, streams, mount = self.build(default_art=default)
            clock.pump([0.1] * 10)
            [(kind, state)] = self.open(factory).events()
            self.assertEqual(state["now_playing"]["art"], art)

    def test_not_a_listener(self) -> None:
        """
        An event stream is not counted as a listener of its mount.
        """
        clock, factory, streams, mount = self.build()
        self.open(factory)
        self.assertEqual(len(mount.listeners), 0)
        self.assertEqual(factory.listener_count, 0)

    def test_default_mount(self) -> None:
        """
        Without a C{mount} parameter the stream follows the default mount;
        a mount named without its slash is found too.
        """
        clock, factory, streams, mount = self.build()
        [(_, state)] = self.open(factory, "").events()
        self.assertEqual(state["mount"], "/stream")
        [(_, state)] = self.open(factory, "?mount=other").events()
        self.assertEqual(state["mount"], "/other")
        self.assertEqual(state["station"]["name"], "Other FM")
        [(_, state)] = self.open(factory, "?mount=%2Fother").events()
        self.assertEqual(state["mount"], "/other")

    def test_unknown_mount(self) -> None:
        """
        An unknown mount is refused with 404 and no stream is opened.
        """
        clock, factory, streams, mount = self.build()
        connection = self.open(factory, "?mount=/nowhere")
        self.assertTrue(connection.transport.value().startswith(b"HTTP/1.0 404 "))
        self.assertTrue(connection.closed)
        self.assertEqual(streams.streams, set())

    def test_methods(self) -> None:
        """
        C{HEAD} gets the headers and no stream; other methods get 405.
        """
        clock, factory, streams, mount = self.build()
        head = Connection(factory)
        head.get(EVENTS_PATH, "HEAD")
        self.assertTrue(head.transport.value().startswith(b"HTTP/1.0 200 OK\r\n"))
        self.assertIn(b"Content-Type: text/event-stream", head.transport.value())
        self.assertTrue(head.transport.value().endswith(b"\r\n\r\n"))
        self.assertTrue(head.closed)
        post = Connection(factory)
        post.get(EVENTS_PATH, "POST")
        self.assertTrue(post.transport.value().startswith(b"HTTP/1.0 405 "))
        self.assertEqual(streams.streams, set())
        self.assertEqual(mount.on_track_change, [])

    def test_track_change(self) -> None:
        """
        When a new track reaches the head of the stream, every stream on
        the mount gets a C{track} event carrying the new state, the
        previous track first in C{recent}.
        """
        clock, factory, streams, mount = self.build()
        connection = self.open(factory)
        another = self.open(factory)
        clock.pump([0.1] * int(TRACK_SECONDS * 10 + 5))
        events = connection.events()
        self.assertEqual([kind for kind, _ in events], ["snapshot", "track"])
        self.assertEqual(another.events()[1], events[1])
        state = events[1][1]
        self.assertEqual(state["now_playing"]["title"], "Second Song")
        self.assertEqual(state["now_playing"]["started"], mount.track_started)
        self.assertEqual([track["title"] for track in state["recent"]], ["First Song"])
        clock.pump([0.1] * int(TRACK_SECONDS * 10 + 5))
        state = connection.events()[-1][1]
        self.assertEqual(state["now_playing"]["title"], "First Song")
        self.assertEqual(
            [track["title"] for track in state["recent"]], ["Second Song", "First Song"]
        )

    def test_live_title_change(self) -> None:
        """
        A metadata update for a live source gives the stream a C{track}
        event with the new title once its audio reaches the head, split
        into artist and title and marked live.
        """
        clock, factory, streams, mount = self.build(source_password="hackme")
        connection = self.open(factory)
        source = Connection(factory, port=40001)
        auth = base64.b64encode(b"source:hackme").decode()
        source.get(
            "/stream",
            "PUT",
            f"Authorization: Basic {auth}\r\nContent-Type: audio/mpeg\r\n",
        )
        self.assertIn(b"200 OK", source.transport.value())
        source.protocol.dataReceived(silent_frame(fill=0x55).data * 400)
        clock.pump([0.1] * 20)
        state = connection.events()[-1][1]
        self.assertTrue(state["now_playing"]["live"])
        update = Connection(factory, port=40002)
        update.get(
            "/admin/metadata?mount=/stream&mode=updinfo&song=DJ%20Night%20-%20First%20Tune",
            headers=f"Authorization: Basic {auth}\r\n",
        )
        self.assertIn(b"200 OK", update.transport.value())
        clock.pump([0.1] * 5)
        kind, state = connection.events()[-1]
        self.assertEqual(kind, "track")
        self.assertEqual(state["now_playing"]["title"], "First Tune")
        self.assertEqual(state["now_playing"]["artist"], "DJ Night")
        self.assertEqual(state["now_playing"]["stream_title"], "DJ Night - First Tune")
        self.assertTrue(state["now_playing"]["live"])
        source.lose()

    def test_listener_count(self) -> None:
        """
        Every L{TICK} seconds the listener count is checked, and a
        C{listeners} event sent when it changed since last sent.
        """
        clock, factory, streams, mount = self.build(start=False)
        connection = self.open(factory)
        listener = Connection(factory, port=40001)
        listener.get("/stream")
        # The mount plays nothing: the reply waits for its audio, then
        # goes without it.
        clock.advance(AUDIO_WAIT)
        self.assertEqual(len(mount.listeners), 1)
        clock.advance(TICK)
        self.assertEqual(connection.events()[-1], ("listeners", {"listeners": 1}))
        count = len(connection.events())
        clock.advance(TICK)
        self.assertEqual(len(connection.events()), count)
        listener.lose()
        clock.advance(TICK)
        self.assertEqual(connection.events()[-1], ("listeners", {"listeners": 0}))

    def test_keepalive(self) -> None:
        """
        A stream with nothing to say gets a comment once it has been
        silent for L{KEEPALIVE} seconds, and not before.
        """
        clock, factory, streams, mount = self.build(start=False)
        connection = self.open(factory)
        [(kind, state)] = connection.events()
        self.assertIsNone(state["now_playing"])
        clock.advance(KEEPALIVE - TICK)
        self.assertEqual(len(connection.events()), 1)
        clock.advance(TICK)
        self.assertEqual(connection.events()[1:], [(":", "")])
        clock.advance(KEEPALIVE - TICK)
        self.assertEqual(len(connection.events()), 2)
        clock.advance(TICK)
        self.assertEqual(connection.events()[1:], [(":", ""), (":", "")])

    def test_cleanup_on_disconnect(self) -> None:
        """
        The streams of a mount share one observer of its track changes;
        when the last client goes away the observer is removed, and once
        no stream is left no timer is left either.
        """
        clock, factory, streams, mount = self.build()
        observers = list(mount.on_track_change)
        first = self.open(factory)
        second = self.open(factory)
        other = self.open(factory, "?mount=/other")
        self.assertEqual(len(mount.on_track_change), len(observers) + 1)
        self.assertEqual(len(factory.mounts["/other"].on_track_change), 1)
        self.assertTrue(clock.getDelayedCalls())
        first.lose()
        self.assertEqual(len(streams.streams), 2)
        self.assertEqual(len(mount.on_track_change), len(observers) + 1)
        other.lose()
        self.assertEqual(factory.mounts["/other"].on_track_change, [])
        second.lose()
        self.assertEqual(streams.streams, set())
        self.assertEqual(mount.on_track_change, observers)
        for each in factory.mounts.values():
            each.stop()
        self.assertEqual(clock.getDelayedCalls(), [])
        written = len(first.transport.value())
        clock.pump([0.1] * 60)
        self.assertEqual(len(first.transport.value()), written)

    def test_stop_producing(self) -> None:
        """
        A stream is its request's producer: the connection's pauses and
        resumes reach it, and a transport that stops its producer (as TCP
        does when the connection is lost) ends the stream the same way.
        """
        clock, factory, streams, mount = self.build()
        connection = self.open(factory)
        [stream] = streams.streams
        self.assertTrue(verifyObject(IPushProducer, stream))
        self.assertIs(stream.request.producer, stream)
        channel = connection.transport.producer
        assert channel is not None
        channel.pauseProducing()
        self.assertTrue(stream.paused)
        channel.resumeProducing()
        self.assertFalse(stream.paused)
        channel.stopProducing()
        self.assertEqual(streams.streams, set())
        self.assertEqual(mount.on_track_change, [])
        connection.lose()

    def test_cap(self) -> None:
        """
        Streams beyond the limit are refused with 503 and a
        C{Retry-After}; once one ends another is accepted.
        """
        clock, factory, streams, mount = self.build(max_streams=2)
        first = self.open(factory)
        self.open(factory)
        third = self.open(factory)
        value = third.transport.value()
        self.assertTrue(value.startswith(b"HTTP/1.0 503 "))
        self.assertIn(b"Retry-After: 30\r\n", value)
        self.assertTrue(third.closed)
        self.assertEqual(streams.refused, 1)
        self.assertEqual(len(streams.streams), 2)
        first.lose()
        fourth = self.open(factory)
        self.assertEqual(fourth.events()[0][0], "snapshot")

    def test_paused(self) -> None:
        """
        While the client does not read, events are held back; when it
        reads again it gets a fresh snapshot instead of what it missed.
        """
        clock, factory, streams, mount = self.build()
        connection = self.open(factory)
        [stream] = streams.streams
        stream.pauseProducing()
        clock.pump([0.1] * int(TRACK_SECONDS * 10 + 5))
        self.assertEqual(len(connection.events()), 1)
        stream.resumeProducing()
        kind, state = connection.events()[-1]
        self.assertEqual(kind, "snapshot")
        self.assertEqual(state["now_playing"]["title"], "Second Song")
        stream.pauseProducing()
        stream.resumeProducing()
        self.assertEqual(len(connection.events()), 2)

    def test_mount_removed(self) -> None:
        """
        When the followed mount is removed (a live mount whose source
        left), the stream gets a C{gone} event and is closed.
        """
        clock, factory, streams, mount = self.build()
        connection = self.open(factory, "?mount=/other")
        del factory.mounts["/other"]
        clock.advance(TICK)
        self.assertEqual(connection.events()[-1], ("gone", {"mount": "/other"}))
        self.assertTrue(connection.closed)
        self.assertEqual(streams.streams, set())
        connection.lose()

    def test_close(self) -> None:
        """
        L{EventStreams.close} ends every stream.
        """
        clock, factory, streams, mount = self.build()
        connections = [self.open(factory), self.open(factory, "?mount=/other")]
        streams.close()
        self.assertTrue(all(connection.closed for connection in connections))
        self.assertEqual(streams.streams, set())
        self.assertEqual(mount.on_track_change, [])

    def test_data_stays_framed(self) -> None:
        """
        Titles holding line breaks or markup cannot break the framing: the
        JSON escapes line breaks, and the client gets the title back as
        it was.
        """
        clock, factory, streams, mount = self.build(start=False)
        mount.now_playing = TrackInfo("/x.mp3", "</script>\n\nevent: evil\r\ndata: {}", "<b>")
        connection = self.open(factory)
        [(kind, state)] = connection.events()
        self.assertEqual(state["now_playing"]["title"], mount.now_playing.title)
        self.assertEqual(state["now_playing"]["artist"], "<b>")


class UpNextTests(SynchronousTestCase):
    """
    Events carry the track up next on a mount that plays its library.
    """

    def build(self) -> tuple[Clock, RadioFactory, Programme]:
        """
        A factory whose mount C{/stream} plays a library of three tracks
        (C{a.mp3}, C{b.mp3}, C{c.mp3}, about half a minute each) in
        order, its first track on air, and event streams.
        """
        clock = Clock()
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        for name in ("a.mp3", "b.mp3", "c.mp3"):
            write_track(folder, name, 1200)
        programme = Programme(
            Library(folder, synchronous_runner),
            clock,
            synchronous_runner,
            rescan_interval=0,
            name="/stream",
        )
        config = MountConfig(name="/stream")
        mount = Mount(config, programme, clock)
        mount.start()
        self.addCleanup(mount.stop)
        factory = RadioFactory(
            clock, StationConfig(port=8000, mounts=(config,)), {"/stream": mount}
        )
        station_site(factory, clock)
        page = StationPage(clock, factory)
        self.addCleanup(page.close)
        clock.pump([0.1] * 5)
        return clock, factory, programme

    def open(self, factory: RadioFactory) -> Connection:
        connection = Connection(factory)
        connection.get(EVENTS_PATH + "?mount=/stream")
        return connection

    def test_snapshot_and_track(self) -> None:
        """
        The snapshot names the track up next; when it starts, the C{track}
        event names the one after it.
        """
        clock, factory, programme = self.build()
        connection = self.open(factory)
        [(kind, state)] = connection.events()
        self.assertEqual(state["now_playing"]["title"], "a")
        following = state["next"]
        self.assertEqual((following["title"], following["artist"]), ("b", ""))
        self.assertGreater(following["duration"], 30)
        playing = programme.playing
        while programme.playing is playing:
            clock.advance(0.1)
        clock.advance(0.1)
        kind, state = connection.events()[-1]
        self.assertEqual(kind, "track")
        self.assertEqual(state["now_playing"]["title"], "b")
        self.assertEqual(state["next"]["title"], "c")

    def test_next_changes(self) -> None:
        """
        When the track up next changes while a track plays (another is
        queued), the streams get a C{next} event at the next check, once.
        """
        clock, factory, programme = self.build()
        connection = self.open(factory)
        clock.advance(TICK)
        self.assertEqual([kind for kind, _ in connection.events()], ["snapshot"])
        programme.queue(programme.library.tracks[2].path)
        clock.advance(TICK)
        kind, state = connection.events()[-1]
        self.assertEqual(kind, "next")
        self.assertEqual(state["next"]["title"], "c")
        clock.advance(TICK)
        self.assertEqual([kind for kind, _ in connection.events()], ["snapshot", "next"])


class DescribeTests(SynchronousTestCase):
    """
    L{describe_mount} and L{describe_track} say what the page shows.
    """

    def mount(self) -> Mount:
        return Mount(
            MountConfig(name="/live", station_name="Configured", genre="Jazz"),
            FakeFrameSource([]),
            Clock(),
        )

    def test_source_info(self) -> None:
        """
        What a live source says about its stream replaces the configured
        name, description, genre and URL, where it says anything.
        """
        mount = self.mount()
        info = StreamInfo(name="Tonight's Show", description="Live", url="http://show.example/")
        state = describe_mount(mount, [mount], info, 10.0)
        self.assertEqual(
            state["station"],
            {
                "name": "Tonight's Show",
                "description": "Live",
                "genre": "Jazz",
                "url": "http://show.example/",
            },
        )
        self.assertEqual(state["mounts"], [{"name": "/live", "station": "Configured"}])

    def test_recent(self) -> None:
        """
        Recently played lists the tracks before the current one, newest
        first, at most L{RECENT}.
        """
        mount = self.mount()
        tracks = [TrackInfo(f"/{n}.mp3", f"Song {n}") for n in range(RECENT + 5)]
        for number, track in enumerate(tracks):
            mount.history.appendleft((track, float(number)))
        mount.now_playing = tracks[-1]
        mount.track_started = float(len(tracks) - 1)
        state = describe_mount(mount, [mount], None, 100.0)
        self.assertEqual(state["now_playing"]["title"], tracks[-1].title)
        self.assertEqual(
            [track["title"] for track in state["recent"]],
            [f"Song {n}" for n in range(RECENT + 3, 3, -1)],
        )
        self.assertEqual(state["recent"][0]["started"], float(RECENT + 3))

    def test_next(self) -> None:
        """
        The track up next is described by its title, artist, album,
        duration and whether a listener requested it, or C{None} when it
        is not known.
        """
        mount = self.mount()
        state = describe_mount(mount, [mount], None, 10.0, TrackInfo("/n.mp3", "N", "A", "B", 3))
        self.assertEqual(
            state["next"],
            {
                "title": "N",
                "artist": "A",
                "album": "B",
                "duration": 3,
                "requested": False,
                "art": None,
            },
        )
        requested = TrackInfo("/n.mp3", "N", requested=True)
        described = describe_next(requested)
        assert described is not None
        self.assertTrue(described["requested"])
        self.assertIsNone(describe_mount(mount, [mount], None, 10.0)["next"])
        self.assertIsNone(describe_next(None))

    def test_art(self) -> None:
        """
        Each track gives the path of its cover art; one without gives the
        station's default picture when it has one, else C{None}.
        """
        mount = self.mount()
        own = TrackInfo("/a.mp3", "A", art="0123456789abcdef")
        bare = TrackInfo("/b.mp3", "B")
        mount.history.appendleft((bare, 1.0))
        mount.history.appendleft((own, 2.0))
        mount.now_playing = own
        state = describe_mount(mount, [mount], None, 10.0, bare)
        self.assertEqual(state["now_playing"]["art"], "/art/0123456789abcdef")
        self.assertEqual([track["art"] for track in state["recent"]], [None])
        self.assertIsNone(state["next"]["art"])
        state = describe_mount(mount, [mount], None, 10.0, bare, default_art=True)
        self.assertEqual(state["now_playing"]["art"], "/art/0123456789abcdef")
        self.assertEqual([track["art"] for track in state["recent"]], ["/art/default"])
        self.assertEqual(state["next"]["art"], "/art/default")

    def test_burst(self) -> None:
        """
        L{burst_seconds} tells how far behind the head a player that
        connects starts: the audio the mount holds, up to its burst size,
        in seconds at its bitrate; and the full burst.  Before any audio
        it is not known; with no burst it is 0.
        """
        clock = Clock()
        source = FakeFrameSource([(ALPHA, FRAME, FRAMES_PER_TRACK)])
        mount = Mount(MountConfig(name="/stream", burst_size=32000), source, clock)
        self.assertIsNone(burst_seconds(mount))
        state = describe_mount(mount, [mount], None, clock.seconds())
        self.assertEqual((state["burst_seconds"], state["full_burst_seconds"]), (None, None))
        mount.start()
        self.addCleanup(mount.stop)
        clock.pump([0.1] * 10)
        held = len(mount.buffer)
        self.assertLess(held, 32000)
        self.assertEqual(burst_seconds(mount), (held / 16000, 2.0))
        state = describe_mount(mount, [mount], None, clock.seconds())
        self.assertEqual(
            (state["burst_seconds"], state["full_burst_seconds"]), (round(held / 16000, 3), 2.0)
        )
        clock.pump([0.1] * 20)
        self.assertEqual(burst_seconds(mount), (2.0, 2.0))
        mount.reconfigure(replace(mount.config, burst_size=0))
        self.assertEqual(burst_seconds(mount), (0.0, 0.0))

    def test_live_title_split(self) -> None:
        """
        A live title with no artist is split at the first C{" - "}; a
        file's title never is.
        """
        track = describe_track(TrackInfo("", "DJ - Tune - Remix"), 1.0)
        self.assertEqual((track["artist"], track["title"]), ("DJ", "Tune - Remix"))
        track = describe_track(TrackInfo("/a.mp3", "Left - Right"), 1.0)
        self.assertEqual((track["artist"], track["title"]), ("", "Left - Right"))
        track = describe_track(TrackInfo("", "Morning Show"), 1.0)
        self.assertEqual(
            (track["artist"], track["title"], track["live"]), ("", "Morning Show", True)
        )
