"""
End-to-end tests of who may listen (L{radiod.wire.admission}): a real
station on a loopback port, real listeners refused by its lists or
hearing it, and lists changed by a reload; and, through the stream server
in memory with a real source connection, listeners beyond a full mount's
limit sent to its fallback (C{fallback_when_full}).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import Clock
from twisted.logger import LogEvent, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.broadcast.mount import Mount
from radiod.broadcast.switch import Switch
from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.testing import FakeFrameSource
from radiod.wire.server import RadioFactory
from tests.broadcast.test_fallback import LIVE_FRAME, MUSIC_FRAME, SIZE, SONG
from tests.ingest.test_source import Connection, source_request
from tests.support.loopback import FIXTURES, Reader, asynchronous, wait_for

reactor: Any = _reactor

FORBIDDEN = b"403 Forbidden\n"


def logged(events: Sequence[LogEvent], text: str) -> list[str]:
    """
    The log lines, formatted, that contain C{text}.
    """
    return [line for line in (formatEvent(e) for e in events) if text in line]


class ListenerListTests(TestCase):
    """
    A station refuses the listeners its lists turn away with C{403} and
    nothing else, and streams to the others.
    """

    timeout = 60

    def music(self) -> str:
        folder = str(self.mktemp())
        os.makedirs(folder)
        shutil.copy(os.path.join(FIXTURES, "alpha-artist-first-song.mp3"), folder)
        return folder

    def write(self, text: str, path: str | None = None) -> str:
        """
        Write a list file; a new one unless C{path} is given.
        """
        path = path or str(self.mktemp())
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    async def start(self, config: StationConfig) -> tuple[StationService, int]:
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, port

    async def listen(self, port: int, path: str, headers: str = "") -> Reader:
        request = f"GET {path} HTTP/1.0\r\nIcy-MetaData: 1\r\n{headers}\r\n"
        reader = Reader(request.encode(), reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return reader

    def station(self, **server: Any) -> StationConfig:
        music = self.music()
        mounts = (MountConfig(name="/stream", music=music), MountConfig(name="/other", music=music))
        return StationConfig(port=0, interface="127.0.0.1", mounts=mounts, **server)

    async def refused(self, reader: Reader) -> None:
        """
        Check that C{reader} got a 403 and nothing else (no stream headers,
        no audio), and was closed.
        """
        await reader.gone
        capture = reader.capture
        self.assertEqual(capture.status_line, "HTTP/1.0 403 Forbidden")
        self.assertEqual(capture.headers["content-length"], str(len(FORBIDDEN)))
        # The body, which says so, and nothing after it.
        self.assertEqual(bytes(capture.audio), FORBIDDEN)
        self.assertNotIn("icy-name", capture.headers)

    async def streams(self, reader: Reader) -> None:
        """
        Check that C{reader} hears audio.
        """
        await wait_for(lambda: len(reader.capture.audio) > 10000, 10, reactor)
        self.assertEqual(reader.capture.status_line, "HTTP/1.0 200 OK")

    @asynchronous
    async def test_agents(self) -> None:
        """
        A listener whose user agent is on the deny list gets C{403} and
        nothing else, logged in one line naming the peer, the mount and
        the list; another streams.
        """
        agents = self.write("# scrapers\n*StreamRipper*\n")
        service, port = await self.start(self.station(deny_agents_file=agents))
        with capturedLogs() as events:
            denied = await self.listen(port, "/stream", "User-Agent: streamripper/1.64\r\n")
            await self.refused(denied)
        lines = logged(events, "Refused listener")
        self.assertEqual(len(lines), 1)
        self.assertIn("127.0.0.1:", lines[0])
        self.assertIn("on /stream: 403", lines[0])
        self.assertIn(f"deny_agents_file ({agents})", lines[0])
        self.assertEqual(service.mounts["/stream"].listeners, set())
        allowed = await self.listen(port, "/stream", "User-Agent: VLC/3.0.18\r\n")
        await self.streams(allowed)

    @asynchronous
    async def test_addresses(self) -> None:
        """
        A listener whose address is on the deny list gets C{403}; a
        mount's own list replaces the server's, and an allow list the
        address is not on refuses it too.
        """
        deny = self.write("127.0.0.1\n")
        config = self.station(deny_ips=deny)
        elsewhere = self.write("192.0.2.0/24\n")
        other = replace(config.mounts[1], deny_ips=elsewhere)
        config = replace(config, mounts=(config.mounts[0], other))
        service, port = await self.start(config)
        await self.refused(await self.listen(port, "/stream"))
        await self.refused(await self.listen(port, "/;"))
        await self.streams(await self.listen(port, "/other"))

        allow = self.write("10.0.0.0/8\n")
        service.reload(replace(config, allow_ips=allow))
        await self.refused(await self.listen(port, "/other"))

    @asynchronous
    async def test_forwarded(self) -> None:
        """
        Behind a trusted proxy, the address it forwards is the one the
        lists judge.
        """
        deny = self.write("192.0.2.66\n2001:db8::/32\n")
        config = self.station(deny_ips=deny, trusted_proxies=("127.0.0.1",))
        _, port = await self.start(config)
        for client in ("192.0.2.66", "2001:db8::7"):
            forwarded = f"X-Forwarded-For: {client}\r\n"
            await self.refused(await self.listen(port, "/stream", forwarded))
        await self.streams(await self.listen(port, "/stream", "X-Forwarded-For: 192.0.2.67\r\n"))

    @asynchronous
    async def test_reload(self) -> None:
        """
        A reload reads the lists again: the new rules apply to new
        listeners while those already listening stay; a list that no
        longer reads is logged and the rules in force kept.
        """
        deny = self.write("# nobody yet\n")
        config = self.station(deny_ips=deny)
        service, port = await self.start(config)
        staying = await self.listen(port, "/stream")
        await self.streams(staying)

        self.write("127.0.0.0/8\n", deny)
        service.reload(config)
        await self.refused(await self.listen(port, "/stream"))
        before = len(staying.capture.audio)
        await wait_for(lambda: len(staying.capture.audio) > before + 10000, 10, reactor)
        self.assertFalse(staying.gone.called)

        self.write("127.0.0.0/8\nnot an address\n", deny)
        with capturedLogs() as events:
            service.reload(config)
        lines = logged(events, "Listener lists not reloaded")
        self.assertEqual(len(lines), 1)
        self.assertIn(f"server.deny_ips: {deny} line 2: 'not an address'", lines[0])
        await self.refused(await self.listen(port, "/stream"))

        self.write("", deny)
        service.reload(config)
        await self.streams(await self.listen(port, "/stream"))

    @asynchronous
    async def test_hls(self) -> None:
        """
        A mount's HLS is refused to the listeners its lists turn away, with
        C{403}, and served to the others.
        """
        agents = self.write("*bot*\n")
        config = self.station(deny_agents_file=agents)
        hls = replace(config.mounts[0], hls=True, hls_segment=2.0, hls_part=0.5, hls_window=10.0)
        _, port = await self.start(replace(config, mounts=(hls,)))
        request = "GET /hls/stream/index.m3u8 HTTP/1.0\r\nUser-Agent: {}\r\n\r\n"
        denied = Reader(request.format("AnyBot/2").encode(), reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), denied)
        await denied.gone
        self.assertEqual(denied.capture.status_line, "HTTP/1.0 403 Forbidden")
        self.assertTrue(bytes(denied.capture.audio).endswith(FORBIDDEN))
        allowed = Reader(request.format("VLC/3.0.18").encode(), reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), allowed)
        await allowed.gone
        self.assertEqual(allowed.capture.status_line, "HTTP/1.0 200 OK")
        self.assertIn(b"#EXTM3U", bytes(allowed.capture.audio))


class FallbackWhenFullTests(SynchronousTestCase):
    """
    Through the stream server: a live mount at its own limit sends the
    next listeners to its fallback when it says so, and refuses them
    otherwise.
    """

    def build(self, when_full: bool, **limits: Any) -> tuple[Clock, RadioFactory]:
        clock = Clock()
        music_config = MountConfig(name="/music", metaint=1000, burst_size=0)
        live_config = MountConfig(
            name="/live",
            metaint=1000,
            burst_size=0,
            live_only=True,
            fallback="/music",
            max_listeners=1,
            fallback_when_full=when_full,
        )
        music = Mount(music_config, FakeFrameSource([(SONG, MUSIC_FRAME, 10**6)]), clock)
        live = Mount(live_config, Switch(None, name="/live"), clock)
        station = StationConfig(
            mounts=(music_config, live_config), source_password="hackme", **limits
        )
        factory = RadioFactory(clock, station, {"/music": music, "/live": live}, True)
        for mount in (music, live):
            mount.start()
            self.addCleanup(mount.stop)
        assert factory.sources is not None
        self.addCleanup(factory.sources.stop)
        clock.pump([0.1] * 5)
        source = Connection(factory, port=40001)
        source.send(source_request(mount="/live") + LIVE_FRAME.data * 200)
        clock.pump([0.1] * 5)
        return clock, factory

    def frames(self, conn: Connection) -> set[bytes]:
        audio = bytes(conn.capture().audio)
        return {audio[i : i + SIZE] for i in range(0, len(audio) - SIZE + 1, SIZE)}

    def test_sent_to_fallback(self) -> None:
        """
        With the live mount full, the next listener hears the fallback
        mount's audio, and stays there; the first hears the show.
        """
        clock, factory = self.build(when_full=True)
        first = Connection(factory, port=40002)
        first.send(b"GET /live HTTP/1.0\r\n\r\n")
        clock.pump([0.1] * 3)
        with capturedLogs() as events:
            extra = Connection(factory, port=40003)
            extra.send(b"GET /live HTTP/1.0\r\n\r\n")
        clock.pump([0.1] * 10)
        self.assertEqual(extra.capture().status_line, "HTTP/1.0 200 OK")
        self.assertFalse(extra.closed)
        self.assertEqual(self.frames(first), {LIVE_FRAME.data})
        self.assertEqual(self.frames(extra), {MUSIC_FRAME.data})
        self.assertEqual(len(factory.mounts["/music"].listeners), 1)
        self.assertEqual(
            [listener.home for listener in factory.mounts["/music"].listeners], ["/music"]
        )
        lines = logged(events, "is full")
        self.assertEqual(len(lines), 1)
        self.assertIn("Mount /live is full; listener 192.0.2.9:40003 hears /music", lines[0])

    def test_fallback_full(self) -> None:
        """
        When the fallback is full too, the listener is refused.
        """
        clock, factory = self.build(when_full=True)
        factory.mounts["/music"].config = replace(factory.mounts["/music"].config, max_listeners=1)
        for port in (40002, 40003):
            Connection(factory, port=port).send(b"GET /live HTTP/1.0\r\n\r\n")
        clock.pump([0.1] * 3)
        third = Connection(factory, port=40004)
        reply = third.send(b"GET /live HTTP/1.0\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.0 503 "), reply)

    def test_off(self) -> None:
        """
        Without C{fallback_when_full}, the extra listener gets C{503}.
        """
        clock, factory = self.build(when_full=False)
        Connection(factory, port=40002).send(b"GET /live HTTP/1.0\r\n\r\n")
        clock.pump([0.1] * 3)
        reply = Connection(factory, port=40003).send(b"GET /live HTTP/1.0\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.0 503 "), reply)
        self.assertIn(b"Mount /live is full", reply)
