"""
End-to-end test of HLS behind a cache: the real station on a loopback
port serving a mount as HLS, a real nginx in front of it configured as
C{docs/scaling.md} says (a cache with a lock), and fifty players fetching
playlists and segments through nginx at once.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectError, ProcessDone, ProcessTerminated
from twisted.internet.interfaces import IReactorCore, IReactorProcess, IReactorTime
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.iweb import IResponse

from radiod.audio.id3 import read_tag
from radiod.config import MountConfig, StationConfig
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.web.hls import HlsResource
from radiod.web.site import StationRequest
from tests.ingest.test_live_e2e import run
from tests.station.test_workers import free_port
from tests.support.loopback import FIXTURES, asynchronous, reactor, wait_for
from tests.support.tools import require_ffmpeg, require_tool

_log = Logger()

CLIENTS = 50
"""
Players fetching through nginx at once.
"""

LISTENING = 20.0
"""
Seconds each player keeps reloading the playlist.
"""

PLAYLIST = "/hls/stream/stream/media.m3u8"

_SEGMENT = re.compile(r"^/hls/[^?]*\.mp3(?:\?.*)?$")

NGINX_CONF = """\
{user}worker_processes 1;
pid {folder}/nginx.pid;
lock_file {folder}/nginx.lock;
error_log {folder}/error.log info;

events {{
    worker_connections 1024;
}}

http {{
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;

    log_format hls '$upstream_cache_status $upstream_status $status $request_uri';
    access_log {folder}/access.log hls;

    proxy_cache_path {folder}/cache levels=1:2 keys_zone=radiod_hls:4m
                     max_size=256m inactive=10m use_temp_path=off;

    map "$uri $arg_sid" $radiod_per_player {{
        "~/index\\.m3u8 "   1;
        "~ [0-9a-f]+$"     1;
        default            "";
    }}

    upstream radiod {{
        server 127.0.0.1:{upstream};
    }}

    server {{
        listen 127.0.0.1:{port};

        location /hls/ {{
            proxy_pass http://radiod;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;

            proxy_buffering on;
            proxy_cache radiod_hls;
            proxy_cache_key $proxy_host$uri$is_args$args;
            proxy_cache_bypass $radiod_per_player;
            proxy_no_cache $radiod_per_player;
            proxy_cache_valid 200 1s;
            proxy_cache_use_stale updating;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 10s;
            proxy_cache_lock_age 10s;
            proxy_read_timeout 10s;

            add_header X-Cache-Status $upstream_cache_status always;
        }}

        location / {{
            proxy_pass http://radiod;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
"""
"""
nginx's configuration: the one in C{docs/scaling.md}, with every file in
the test's folder, a log of cache statuses, and the lock and read
timeouts above radiod's longest hold here (three segments of 2 s).
"""


def find_nginx() -> str | None:
    """
    The path of nginx, if it is installed.
    """
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"
    return found


class Nginx(ProcessProtocol):
    """
    nginx as a child process: collects what it writes and its end.
    """

    def __init__(self) -> None:
        self.output = b""
        self.ended: Deferred[int] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    def errReceived(self, data: bytes) -> None:
        self.output += data

    def processEnded(self, reason: Failure) -> None:
        if reason.check(ProcessTerminated):
            self.ended.callback(getattr(reason.value, "exitCode", None) or -1)
        else:
            reason.trap(ProcessDone)
            self.ended.callback(0)

    def stop(self) -> Deferred[int]:
        """
        End nginx (a fast shutdown) and fire once it has ended.
        """
        if not self.ended.called and self.transport is not None:
            self.transport.signalProcess("TERM")
        return self.ended


@dataclass
class Player:
    """
    One HLS player's record.

    @ivar segments: the body of each segment fetched, by media sequence
        number, in the order fetched.
    @ivar playlists: how many playlists it fetched.
    @ivar problems: what went wrong, if anything.
    """

    segments: dict[int, bytes] = field(default_factory=dict)
    playlists: int = 0
    problems: list[str] = field(default_factory=list)


def media_entries(text: str) -> tuple[float, list[tuple[int, str]]]:
    """
    The target duration of a media playlist and its segments, each with
    its media sequence number, oldest first (parts are not segments).
    """
    target = 0.0
    sequence = 0
    uris = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif line and not line.startswith("#"):
            uris.append(line)
    return target, [(sequence + index, uri) for index, uri in enumerate(uris)]


def header(response: IResponse, name: str) -> str:
    """
    The value of a response header, or C{""}.
    """
    values: Sequence[str] | None = response.headers.getRawHeaders(name)
    return values[0] if values else ""


def nginx_log(folder: str) -> str:
    """
    A summary of nginx's access log in C{folder}: its requests for
    segments and for playlists, counted by cache status, and how many of
    each it passed on to radiod.
    """
    kinds: dict[str, Counter[str]] = {"segments": Counter(), "playlists": Counter()}
    passed: Counter[str] = Counter()
    with open(os.path.join(folder, "access.log"), encoding="utf-8") as f:
        for line in f:
            cache, upstream, _, target = line.split()
            kind = "segments" if _SEGMENT.match(target) else "playlists"
            kinds[kind][cache] += 1
            if upstream != "-":
                passed[kind] += 1
    parts = []
    for kind, counts in kinds.items():
        statuses = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
        parts.append(f"{kind} {sum(counts.values())} ({statuses}; {passed[kind]} to radiod)")
    return "; ".join(parts)


class NginxCacheEndToEndTests(TestCase):
    """
    radiod's HLS behind a caching nginx, as C{docs/scaling.md} sets it up.
    """

    timeout = 150

    def setUp(self) -> None:
        require_ffmpeg()
        self.nginx = require_tool("nginx", find_nginx(), "apt-get install nginx")
        # A new connection for every request, as many players make.
        self.agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))

    def music(self) -> str:
        """
        A folder with two songs of the fixtures.
        """
        folder = os.path.abspath(str(self.mktemp()))
        os.makedirs(folder)
        for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
            shutil.copy(os.path.join(FIXTURES, name), folder)
        return folder

    async def start_radiod(self) -> tuple[StationService, int]:
        mount = MountConfig(
            name="/stream",
            music=self.music(),
            station_name="Cached FM",
            hls=True,
            hls_segment=2.0,
            hls_part=0.5,
        )
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(mount,),
            trusted_proxies=("127.0.0.1",),
        )
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        bound = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        return service, bound

    async def start_nginx(self, upstream: int) -> tuple[int, str]:
        """
        Start nginx in front of radiod's port C{upstream}, and wait until
        it answers.

        @return: its port and its folder.
        """
        folder = os.path.abspath(str(self.mktemp()))
        os.makedirs(folder)
        port = free_port()
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = os.path.join(folder, "nginx.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(NGINX_CONF.format(user=user, folder=folder, upstream=upstream, port=port))
        nginx = Nginx()
        args = [self.nginx, "-c", conf, "-p", folder + "/", "-g", "daemon off;"]
        process: IReactorProcess = reactor
        process.spawnProcess(nginx, self.nginx, args, env=os.environ.copy(), path=folder)
        self.addCleanup(nginx.stop)
        clock: IReactorTime = reactor
        deadline = clock.seconds() + 20
        while True:
            if nginx.ended.called:
                self.fail(f"nginx ended: {nginx.output.decode(errors='replace')}")
            try:
                response = await self.get(port, "/hls/stream/index.m3u8")
                await readBody(response)
                if response.code == 200:
                    return port, folder
            except ConnectError:
                pass
            if clock.seconds() > deadline:
                self.fail(f"nginx did not answer: {self.error_log(folder)}")
            await deferLater(clock, 0.1)

    def error_log(self, folder: str) -> str:
        """
        The end of nginx's error log in C{folder}.
        """
        try:
            with open(os.path.join(folder, "error.log"), encoding="utf-8", errors="replace") as f:
                return f.read()[-4000:]
        except OSError as e:
            return str(e)

    def get(self, port: int, path: str) -> Deferred[IResponse]:
        """
        Ask for C{path} on the loopback port C{port}.
        """
        return self.agent.request(b"GET", f"http://127.0.0.1:{port}{path}".encode())

    async def play(self, port: int, until: float, player: Player) -> None:
        """
        Play like an HLS player joining live: load the media playlist,
        fetch its newest three segments, then reload it every half target
        duration and fetch each segment not fetched yet, in order, until
        the clock reaches C{until}.
        """
        clock: IReactorTime = reactor
        base = PLAYLIST.rsplit("/", 1)[0]
        last: int | None = None
        while clock.seconds() < until:
            response = await self.get(port, PLAYLIST)
            text = (await readBody(response)).decode("utf-8", "replace")
            player.playlists += 1
            if response.code != 200:
                player.problems.append(f"playlist: {response.code} {text!r}")
                return
            target, entries = media_entries(text)
            if last is None:
                fresh = entries[-3:]
            else:
                fresh = [(msn, uri) for msn, uri in entries if msn > last]
            for msn, uri in fresh:
                if uri != f"{msn}.mp3":
                    player.problems.append(f"segment {msn} is listed as {uri!r}")
                    return
                got = await self.get(port, f"{base}/{uri}")
                body = await readBody(got)
                if got.code != 200:
                    player.problems.append(f"segment {msn}: {got.code} {body!r}")
                    return
                for name, value in (
                    ("Cache-Control", "public, max-age=86400, immutable"),
                    ("Access-Control-Allow-Origin", "*"),
                ):
                    if header(got, name) != value:
                        player.problems.append(f"segment {msn}: {name}: {header(got, name)!r}")
                if header(got, "X-Cache-Status") not in ("HIT", "MISS"):
                    player.problems.append(f"segment {msn}: {header(got, 'X-Cache-Status')!r}")
                player.segments[msn] = body
                last = msn
            await deferLater(clock, max(target, 1.0) / 2)

    @asynchronous
    async def test_one_request_per_segment(self) -> None:
        """
        Fifty players fetching through nginx each get a run of segments
        without a gap, every one starting with an ID3 tag and the same
        bytes for every player; the run decodes without an error; and
        radiod is asked for each segment about once, not once per player.
        """
        # Every request radiod's HLS resource answers (HEAD goes through
        # GET), whatever the access log makes of it.
        answered: list[str] = []
        render = HlsResource.render_GET

        def counted(resource: HlsResource, request: StationRequest) -> bytes | int:
            answered.append(request.uri.decode("latin-1"))
            return render(resource, request)

        self.patch(HlsResource, "render_GET", counted)
        service, upstream = await self.start_radiod()
        rendition = None

        def three_segments() -> bool:
            nonlocal rendition
            output = service.hls.outputs.get("stream")
            rendition = output.renditions.get("stream") if output is not None else None
            return rendition is not None and len(rendition.playlist().segments) >= 3

        await wait_for(three_segments, 40, reactor)
        port, folder = await self.start_nginx(upstream)

        clock: IReactorTime = reactor
        until = clock.seconds() + LISTENING
        players = [Player() for _ in range(CLIENTS)]
        playing = [Deferred.fromCoroutine(self.play(port, until, p)) for p in players]
        for done in playing:
            await done

        for index, player in enumerate(players):
            self.assertEqual(player.problems, [], f"player {index}")
            got = list(player.segments)
            self.assertGreaterEqual(len(got), 6, f"player {index}: {got}")
            self.assertEqual(got, list(range(got[0], got[-1] + 1)), f"player {index}")
        bodies: dict[int, bytes] = {}
        for index, player in enumerate(players):
            for msn, body in player.segments.items():
                self.assertTrue(body.startswith(b"ID3"), f"player {index}, segment {msn}")
                first = bodies.setdefault(msn, body)
                self.assertTrue(first == body, f"player {index}, segment {msn} differs")

        # A player takes each segment's ID3 tag (the timestamp of its first
        # sample) and plays the frames after it: one run, with no audio
        # missing between segments.
        assert rendition is not None
        ticks = rendition.timing.segment_length * 90000
        audio = []
        stamps = []
        for msn, body in players[0].segments.items():
            stamp, _, length = read_tag(body)
            self.assertIsNotNone(stamp, f"segment {msn}")
            stamps.append(stamp or 0)
            audio.append(body[length:])
        steps = [b - a for a, b in pairwise(stamps)]
        self.assertTrue(all(abs(step - ticks) <= 1 for step in steps), (ticks, steps))
        joined = self.mktemp() + ".mp3"
        with open(joined, "wb") as f:
            f.write(b"".join(audio))
        code, log = await run(
            ["-hide_banner", "-nostdin", "-v", "error", "-i", joined, "-f", "null", "-"]
        )
        self.assertEqual((code, log), (0, ""))

        fetched = sum(len(player.segments) for player in players)
        asked = [target for target in answered if _SEGMENT.match(target)]
        distinct = len(bodies)
        figures = (
            f"clients fetched {fetched} segments ({distinct} distinct) and "
            f"{sum(player.playlists for player in players)} playlists through nginx; "
            f"radiod answered {len(asked)} segment requests, {len(answered)} requests in all; "
            f"nginx: {nginx_log(folder)}"
        )
        self.assertGreaterEqual(len(asked), distinct, figures)
        self.assertLessEqual(len(asked), 2 * distinct, figures)
        self.assertGreaterEqual(fetched, 20 * len(asked), figures)
        _log.info("HLS through nginx: {figures}", figures=figures)
