"""
End-to-end tests of HLS on the station's site: a real station on a
loopback port with a ladder and HLS, real HTTP clients, and ffmpeg as a
player.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, cast

from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers

from radiod.audio.id3 import read_tag
from radiod.config import MountConfig, StationConfig
from radiod.hls import output as hls_output
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.wire.accesslog import Access
from tests.ingest.test_live_e2e import run
from tests.support.loopback import (
    FIRST,
    FIXTURES,
    SECOND,
    Reader,
    asynchronous,
    reactor,
    wait_for,
)
from tests.support.tools import require_ffmpeg

Reply = tuple[int, dict[str, str], bytes]


class HlsEndToEndTests(TestCase):
    """
    A mount at 128 kbit/s with a 64 kbit/s rung, served as HLS with
    two-second segments of half-second parts.
    """

    timeout = 150

    def setUp(self) -> None:
        require_ffmpeg()
        self.agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))

    async def start(self, hls_dir: str = "", name: str = "/stream") -> tuple[StationService, int]:
        folder = str(self.mktemp())
        os.makedirs(folder)
        for track in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, track), folder)
        mount = MountConfig(
            name=name,
            music=folder,
            station_name="HLS FM",
            bitrate=128,
            ladder=(64,),
            hls=True,
            hls_segment=2.0,
            hls_part=0.5,
            hls_window=10.0,
            hls_aac=(48,),
        )
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,), hls_dir=hls_dir)
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]

        def segments_on_every_rung() -> bool:
            output = service.hls.outputs.get(name.lstrip("/"))
            if output is None or len(output.renditions) < 3:
                return False
            return all(r.oldest is not None for r in output.renditions.values())

        await wait_for(segments_on_every_rung, 30, reactor)
        return service, port

    async def get(self, port: int, path: str, method: bytes = b"GET") -> Reply:
        url = f"http://127.0.0.1:{port}{path}".encode()
        response: Any = await self.agent.request(method, url, Headers())
        body = await readBody(response)
        headers = {
            name.decode().lower(): values[0].decode()
            for name, values in response.headers.getAllRawHeaders()
        }
        if isinstance(response.length, int):
            # The client keeps Content-Length out of the headers.
            headers["content-length"] = str(response.length)
        return response.code, headers, body

    @asynchronous
    async def test_playlists_and_segments(self) -> None:
        """
        The multivariant playlist lists both rungs; each media playlist
        lists segments and parts with their times; segments and parts
        are packed MP3 with an ID3 tag, cacheable for good, and playlists
        for a moment; every answer carries CORS.
        """
        service, port = await self.start()
        code, headers, body = await self.get(port, "/hls/stream/index.m3u8")
        self.assertEqual(code, 200)
        self.assertEqual(headers["content-type"], "application/vnd.apple.mpegurl")
        self.assertEqual(headers["cache-control"], "no-store")
        self.assertEqual(headers["access-control-allow-origin"], "*")
        text = body.decode()
        listed = re.findall(r"^(\S+\.m3u8)\?sid=[0-9a-f]{16}$", text, re.M)
        self.assertEqual(
            listed, ["stream/media.m3u8", "stream-64/media.m3u8", "stream-aac48/media.m3u8"]
        )
        self.assertEqual(text.count('CODECS="mp4a.40.34"'), 2)
        self.assertEqual(text.count('CODECS="mp4a.40.2"'), 1)
        for rung, kind in (("stream", "mp3"), ("stream-64", "mp3"), ("stream-aac48", "aac")):
            code, headers, body = await self.get(port, f"/hls/stream/{rung}/media.m3u8")
            self.assertEqual(code, 200)
            self.assertEqual(headers["cache-control"], "max-age=1")
            media = body.decode()
            self.assertIn("#EXT-X-PROGRAM-DATE-TIME:", media)
            self.assertIn("#EXT-X-PART-INF:PART-TARGET=0.49", media)
            self.assertIn("#EXT-X-PRELOAD-HINT:TYPE=PART", media)
            segment = re.findall(rf"^(\d+\.{kind})$", media, re.M)[-1]
            part = re.findall(rf'URI="(\d+\.\d+\.{kind})"', media)[-1]
            for name in (segment, part):
                code, headers, data = await self.get(port, f"/hls/stream/{rung}/{name}")
                self.assertEqual(code, 200)
                self.assertEqual(
                    headers["content-type"], "audio/mpeg" if kind == "mp3" else "audio/aac"
                )
                self.assertEqual(headers["cache-control"], "public, max-age=86400, immutable")
                self.assertEqual(headers["access-control-allow-origin"], "*")
                self.assertEqual(int(headers["content-length"]), len(data))
                ticks, texts, _ = read_tag(data)
                self.assertIsNotNone(ticks)
                self.assertIn(texts["TIT2"], ("First Song", "Second Song"))
            code, headers, data = await self.get(port, f"/hls/stream/{rung}/{segment}", b"HEAD")
            self.assertEqual((code, data), (200, b""))
            self.assertEqual(headers["cache-control"], "public, max-age=86400, immutable")

    @asynchronous
    async def test_blocking_reload_and_hint(self) -> None:
        """
        A playlist asked for with the next part's numbers is answered once
        that part exists, and lists it; the hinted part asked for before
        it exists is sent once it does.
        """
        service, port = await self.start()
        _, _, body = await self.get(port, "/hls/stream/stream/media.m3u8")
        hint = re.search(r'PRELOAD-HINT:TYPE=PART,URI="(\d+)\.(\d+)\.mp3"', body.decode())
        assert hint is not None
        msn, part = hint.groups()
        rendition = service.hls.outputs["stream"].renditions["stream"]
        self.assertFalse(rendition.has(int(msn), int(part)))
        code, headers, body = await self.get(
            port, f"/hls/stream/stream/media.m3u8?_HLS_msn={msn}&_HLS_part={part}"
        )
        self.assertEqual(code, 200)
        self.assertIn(f'URI="{msn}.{part}.mp3"', body.decode())
        self.assertEqual(headers["cache-control"], "max-age=12")
        upcoming = rendition.next_part()
        assert upcoming is not None
        self.assertFalse(rendition.has(*upcoming))
        code, _, data = await self.get(port, f"/hls/stream/stream/{upcoming[0]}.{upcoming[1]}.mp3")
        self.assertEqual(code, 200)
        self.assertEqual(data, rendition.part(*upcoming).data)  # type: ignore[union-attr]

    @asynchronous
    async def test_bad_requests(self) -> None:
        """
        Unknown mounts, rungs and files, a segment that left the window,
        and malformed or far-future blocking reloads each get a clear 4xx
        and one log line naming the client, while a listener of the
        stream hears on.
        """
        service, port = await self.start()
        listener = Reader(b"GET /stream HTTP/1.0\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), listener)
        self.addCleanup(lambda: listener.transport.loseConnection() if listener.transport else None)
        await wait_for(lambda: listener.received > 0, 10, reactor)
        rendition = service.hls.outputs["stream"].renditions["stream"]
        last = rendition.last
        assert last is not None
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        bad = {
            "/hls/nowhere/index.m3u8": 404,
            "/hls/stream/stream-32/media.m3u8": 404,
            "/hls/stream/stream/list.m3u8": 404,
            "/hls/stream/stream/1.mp3": 404,
            "/hls/stream/stream/../index.m3u8": 404,
            # Far enough ahead that new segments made meanwhile, on a
            # loaded machine, never reach them.
            f"/hls/stream/stream/{last[0] + 100}.0.mp3": 404,
            "/hls/stream/stream/media.m3u8?_HLS_part=1": 400,
            "/hls/stream/stream/media.m3u8?_HLS_msn=x": 400,
            "/hls/stream/stream/media.m3u8?_HLS_msn=-1": 400,
            f"/hls/stream/stream/media.m3u8?_HLS_msn={last[0] + 100}": 400,
        }
        before = listener.received
        for path, status in bad.items():
            code, headers, _ = await self.get(port, path)
            self.assertEqual(code, status, path)
            self.assertEqual(headers["access-control-allow-origin"], "*")
        refusals = [e for e in events if e.get("log_format", "").startswith("Refused")]
        self.assertEqual(len(refusals), len(bad))
        self.assertTrue(all(e["peer"].startswith("127.0.0.1") for e in refusals))
        await wait_for(lambda: listener.received > before + 16000, 10, reactor)
        self.assertFalse(listener.gone.called)

    @asynchronous
    async def test_sessions_count_as_listeners(self) -> None:
        """
        Each opening of the multivariant playlist gives its player a
        session of its own in the variant URLs; a player reloading its
        media playlist counts as a listener of the mount in the status
        pages and metrics, and a few segment lengths after it stops, it
        is gone, with one access-log line for the whole session (its
        single requests are not logged one by one).
        """
        service, port = await self.start()
        accesses: list[Access] = []
        service.factory.on_access.append(accesses.append)
        _, headers, body = await self.get(port, "/hls/stream/index.m3u8")
        self.assertEqual(headers["cache-control"], "no-store")
        first = re.findall(r"^(stream/media\.m3u8\?sid=[0-9a-f]{16})$", body.decode(), re.M)
        _, _, again = await self.get(port, "/hls/stream/index.m3u8")
        second = re.findall(r"^(stream/media\.m3u8\?sid=[0-9a-f]{16})$", again.decode(), re.M)
        self.assertEqual((len(first), len(second)), (1, 1))
        self.assertNotEqual(first, second)
        for _ in range(3):
            for path in (first[0], second[0]):
                code, _, _ = await self.get(port, f"/hls/stream/{path}")
                self.assertEqual(code, 200)
        mount = service.mounts["/stream"]
        self.assertEqual(mount.hls_listeners, 2)
        _, _, status = await self.get(port, "/status-json.xsl")
        source = json.loads(status)["icestats"]["source"]
        sources = source if isinstance(source, list) else [source]
        main = next(each for each in sources if each["listenurl"].endswith("/stream"))
        self.assertEqual(main["listeners"], 2)
        _, _, metrics = await self.get(port, "/metrics")
        self.assertIn('radiod_hls_listeners{mount="/stream"} 2.0', metrics.decode())
        self.assertIn('radiod_listeners{mount="/stream"} 2.0', metrics.decode())
        await wait_for(lambda: mount.hls_listeners == 0, 20, reactor)
        sessions = [a for a in accesses if a.target == "/hls/stream/stream/media.m3u8"]
        self.assertEqual(len(sessions), 2)
        self.assertTrue(all(a.status == 200 and a.duration > 0 for a in sessions))
        self.assertEqual([a.target for a in accesses if a.target and "sid=" in a.target], [])

    @asynchronous
    async def test_mount_name_with_slashes(self) -> None:
        """
        A mount named C{/radio/main} is served under C{/hls/radio/main/},
        its rungs beside it, and the playlists' relative addresses lead
        there.
        """
        _, port = await self.start(name="/radio/main")
        _, _, body = await self.get(port, "/hls/radio/main/index.m3u8")
        variants = re.findall(r"^(\S+)\?sid=\S+$", body.decode(), re.M)
        self.assertEqual(variants[:2], ["radio/main/media.m3u8", "radio/main-64/media.m3u8"])
        code, _, media = await self.get(port, "/hls/radio/main/radio/main/media.m3u8")
        self.assertEqual(code, 200)
        segment = re.findall(r"^(\d+\.mp3)$", media.decode(), re.M)[-1]
        code, _, _ = await self.get(port, f"/hls/radio/main/radio/main/{segment}")
        self.assertEqual(code, 200)
        report = re.search(r'RENDITION-REPORT:URI="([^"]+)"', media.decode())
        assert report is not None
        self.assertEqual(report.group(1)[:6], "../../")
        code, _, _ = await self.get(port, f"/hls/radio/main/{report.group(1)[6:]}")
        self.assertEqual(code, 200)

    @asynchronous
    async def test_time_shift(self) -> None:
        """
        With a window longer than memory, segments that left memory are
        read from the store on disk, the same bytes; C{start=} in the
        window makes the playlists say where to start, and a time outside
        it is refused.
        """
        self.patch(hls_output, "MEMORY", 4.0)
        service, port = await self.start()
        output = service.hls.outputs["stream"]
        rendition = output.renditions["stream"]

        def on_disk_only() -> bool:
            oldest = rendition.oldest
            return oldest is not None and rendition.segment(oldest) is None

        await wait_for(on_disk_only, 40, reactor)
        sequence = rendition.oldest
        code, headers, data = await self.get(port, f"/hls/stream/stream/{sequence}.mp3")
        self.assertEqual(code, 200)
        self.assertEqual(headers["cache-control"], "public, max-age=86400, immutable")
        self.assertEqual(read_tag(data)[0] is not None, True)
        path = os.path.join(service.hls.stores["stream"].path, "stream", f"{sequence}.mp3")
        with open(path, "rb") as file:
            self.assertTrue(file.read() == data)
        oldest = rendition.entries()[0]
        moment = oldest.started + 1.0
        _, _, body = await self.get(port, f"/hls/stream/index.m3u8?start={moment}")
        variant = re.findall(r"^(stream/media\.m3u8\?\S+)$", body.decode(), re.M)[0]
        self.assertIn(f"&start={moment}", variant)
        _, _, media = await self.get(port, f"/hls/stream/{variant}")
        found = re.search(r"#EXT-X-START:TIME-OFFSET=([\d.]+),PRECISE=YES", media.decode())
        assert found is not None
        self.assertLess(abs(float(found.group(1)) - 1.0), 0.01)
        for moment in (oldest.started - 60, 4e9, float("nan")):
            code, _, _ = await self.get(port, f"/hls/stream/index.m3u8?start={moment}")
            self.assertEqual(code, 400, moment)

    @asynchronous
    async def test_icy_listener_in_the_past(self) -> None:
        """
        C{?offset=} on the stream URL starts an ICY listener that many
        seconds in the past, from the time-shift store: the audio is the
        mount's, with its titles, and decodes; a listener without it is
        at the live point as always; an offset outside the window gets
        C{400}.
        """
        self.patch(hls_output, "MEMORY", 4.0)
        service, port = await self.start()
        rendition = service.hls.outputs["stream"].renditions["stream"]
        await wait_for(lambda: len(rendition.entries()) >= 4, 40, reactor)
        request = b"GET /stream?offset=5 HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n"
        past = Reader(request, reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), past)
        self.addCleanup(lambda: past.transport.loseConnection() if past.transport else None)
        await wait_for(
            lambda: len(past.capture.audio) > 40000 and bool(past.capture.titles), 30, reactor
        )
        self.assertIn(" 200 ", past.capture.status_line)
        self.assertIn(past.capture.titles[0][1], (FIRST, SECOND))
        live = service.mounts["/stream"]
        self.assertEqual(len(live.listeners), 0)
        # Counted with the mount, as one of its listeners.
        self.assertEqual((live.shifted_listeners, live.audience), (1, 1))
        self.assertEqual(service.factory.listener_count, 1)
        heard = self.mktemp() + ".mp3"
        with open(heard, "wb") as file:
            file.write(bytes(past.capture.audio))
        code, log = await run(
            ["-hide_banner", "-nostdin", "-v", "error", "-i", heard, "-f", "null", "-"]
        )
        self.assertEqual((code, log), (0, ""))
        assert past.transport is not None
        past.transport.loseConnection()
        await wait_for(lambda: live.audience == 0, 10, reactor)
        self.assertEqual(service.factory.listener_count, 0)
        for offset in ("3600", "x", "-5"):
            reply = Reader(f"GET /stream?offset={offset} HTTP/1.0\r\n\r\n".encode(), reactor)
            await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reply)
            await reply.gone
            self.assertIn(" 400 ", reply.capture.status_line, offset)

    @asynchronous
    async def test_folder(self) -> None:
        """
        With C{hls_dir}, the segments and plain playlists are also files
        in the mount's folder, the same bytes as served.
        """
        root = self.mktemp()
        service, port = await self.start(hls_dir=root)
        folder = os.path.join(root, "stream", "stream-64")
        await wait_for(lambda: os.path.exists(os.path.join(folder, "media.m3u8")), 20, reactor)
        await service.hls.folders["stream"].done()
        with open(os.path.join(folder, "media.m3u8")) as file:
            listed = re.findall(r"^(\d+\.mp3)$", file.read(), re.M)
        self.assertTrue(listed)
        for name in listed[-2:]:
            _, _, served = await self.get(port, f"/hls/stream/stream-64/{name}")
            with open(os.path.join(folder, name), "rb") as file:
                self.assertEqual(file.read(), served)
        self.assertTrue(os.path.exists(os.path.join(root, "stream", "index.m3u8")))

    @asynchronous
    async def test_ffmpeg_plays_every_rung(self) -> None:
        """
        ffmpeg plays the multivariant playlist and each rendition's media
        playlist (MP3 and AAC) for 30 seconds without an error.
        """
        _, port = await self.start()
        base = f"http://127.0.0.1:{port}/hls/stream"
        urls = [f"{base}/index.m3u8"] + [
            f"{base}/{rung}/media.m3u8" for rung in ("stream", "stream-64", "stream-aac48")
        ]
        quiet = ["-hide_banner", "-nostdin", "-v", "error"]
        players = [run([*quiet, "-i", url, "-t", "30", "-f", "null", "-"]) for url in urls]
        for player in players:
            code, log = await player
            self.assertEqual((code, log), (0, ""))
