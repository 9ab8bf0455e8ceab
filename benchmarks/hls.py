#!/usr/bin/env python3
"""
The HLS benchmark: player-like HLS and LL-HLS clients against radiod's
HLS, served by radiod itself and through an nginx cache in front of it.

Usage::

    python benchmarks/hls.py [--clients 1000,5000] [--mode hls,llhls]
        [--via radiod,nginx] [--ramp 200] [--warmup 20] [--window 60]
        [--repeat 1] [--processes 0] [--no-session] [--radiod-arg=ARG ...]
        [--out FILE]
    python benchmarks/hls.py --tables RESULTS.json [RESULTS.json ...]

For every client count, way in (C{radiod}: the players ask radiod;
C{nginx}: they ask an nginx that caches for radiod) and mode (C{hls}:
standard HLS, playlist reloads and whole segments; C{llhls}: low-latency
HLS, blocking playlist reloads and parts), C{--repeat} times:

  - radiod starts as C{benchmarks/run.py} starts it (C{servers.Radiod},
    the same 128 kbps MP3, under twistd), with C{--hls} and the default
    segment and part lengths (6 parts of 0.993 s, 5.956 s segments); the
    run waits for its second complete segment;
  - with C{nginx}: nginx 1.x (C{--nginx}, default C{/usr/sbin/nginx})
    with the configuration of C{docs/scaling.md} (C{proxy_cache},
    C{proxy_cache_lock}, C{proxy_cache_use_stale updating}) but the
    multivariant playlist passed through uncached (see L{NGINX_CONF}), a
    worker per core, every file in the run's folder, and an access log
    that records C{$upstream_cache_status} and C{$upstream_addr}, from
    which the requests that reached radiod are counted; without nginx
    installed those runs are skipped, and the output says so;
  - C{benchmarks/hlsclient.py} starts the players at C{--ramp} per second
    (each on its own connections, HTTP/1.0, no pooling), waits
    C{--warmup} seconds and measures a C{--window};
  - radiod's CPU time (user and system apart, its whole process tree,
    from C{/proc}) is read idle before the ramp and at both ends of the
    window, and nginx's likewise; the figures are per listener-second
    (players times seconds in the window).

Players follow the variant URL as radiod gives it, with its session
token (C{?sid=}), so each player's playlists have URLs of their own;
with C{--no-session} they drop the token and all ask for the same URLs,
as a cache would need.

One table per client count: one column per mode and way in, with the
median over the repeats of each figure.  Latencies are from the
C{connect()} to the last byte, p50/p90/p99; the delivery delay of a
segment or part is when a player had all of it less the wall-clock time
of its first sample (C{EXT-X-PROGRAM-DATE-TIME}), and the playback
latency adds the player's hold-back from the playlist's end less the
item's own duration (see C{hlsclient.py}).  The output says C{LOADGEN WAS
THE BOTTLENECK} when a client process used 90 % of a core or its timers
ran late, and C{MACHINE CPU SATURATED} when the machine's cores were all
busy.  Each run's logs and configuration go under C{--cache}/runs/, the
raw results, as JSON, to the file named at the end.

C{--tables FILE...} prints the tables of earlier results files together,
each cell the median of the runs of its configuration.

Examples::

    python benchmarks/hls.py --clients 50 --window 15      # smoke: every mode and way
    python benchmarks/hls.py                               # 1,000 and 5,000, everything
    python benchmarks/hls.py --clients 5000 --mode llhls --via nginx
    python benchmarks/hls.py --via nginx --no-session      # playlists shareable by the cache
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hlsclient import parse_media
from run import log_findings, raise_fd_limit, render, say, sleep_until
from servers import (
    CLOCK_TICKS,
    PAGE_KIB,
    Radiod,
    ServerError,
    free_port,
    machine_busy,
    make_music,
    new_workdir,
    process_tree,
    stop_process,
)

HLSCLIENT = Path(__file__).resolve().parent / "hlsclient.py"
INDEX = "/hls/stream/index.m3u8"
MEDIA = "/hls/stream/stream/media.m3u8"
MODES = {"hls": "HLS", "llhls": "LL-HLS"}
Json = dict[str, Any]

NGINX_CONF = """\
{user}worker_processes {workers};
worker_rlimit_nofile {files};
daemon off;
master_process on;
pid {folder}/nginx.pid;
lock_file {folder}/nginx.lock;
error_log {folder}/error.log warn;

events {{
    worker_connections {connections};
    multi_accept on;
}}

http {{
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;

    log_format hls '$msec $upstream_cache_status $status "$upstream_addr" $request_time '
                   '$request_uri';
    access_log {folder}/access.log hls buffer=256k flush=2s;

    proxy_cache_path {folder}/cache levels=1:2 keys_zone=radiod_hls:10m
                     max_size=1g inactive=10m use_temp_path=off;

    upstream radiod {{
        server 127.0.0.1:{upstream};
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;

        location /hls/ {{
            proxy_pass http://radiod;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering on;
            proxy_cache radiod_hls;
            proxy_cache_key $proxy_host$uri$is_args$args;
            proxy_cache_valid 200 1s;
            proxy_cache_use_stale updating;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 20s;
            proxy_cache_lock_age 20s;
            proxy_read_timeout 30s;
            add_header X-Cache-Status $upstream_cache_status always;
        }}

        # Not in docs/scaling.md: radiod sends the multivariant playlist
        # with no-store (each answer carries a session token), and under
        # proxy_cache_lock concurrent requests for an uncacheable URL take
        # the lock one after the other, each waiting for nginx's 500 ms
        # lock poll: at 200 new players a second they queue for ever.
        location ~ ^/hls/.*/index[.]m3u8$ {{
            proxy_pass http://radiod;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
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
nginx as C{docs/scaling.md} configures it (and the multivariant
playlist outside the cache), every file in the run's folder, a worker per
core, as many connections as the open-file limit allows, and an access
log buffered as a busy server's would be.
"""


@dataclass
class Cpu:
    """
    One reading of a process tree's CPU time and memory.
    """

    at: float
    user: float
    system: float
    rss_kib: int


def cpu_sample(root: int) -> Cpu:
    """
    The user and system CPU seconds and the RSS of a process tree.
    """
    at = time.monotonic()
    user = system = 0.0
    rss = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        user += int(fields[11]) / CLOCK_TICKS
        system += int(fields[12]) / CLOCK_TICKS
        rss += int(fields[21]) * PAGE_KIB
    return Cpu(at, user, system, rss)


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """
    One GET on 127.0.0.1; status 0 when there was no answer.
    """
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return int(r.status), bytes(r.read())
    except OSError:
        return 0, b""


def wait_segments(port: int, count: int, timeout: float) -> int:
    """
    Wait until radiod's media playlist lists C{count} complete segments.

    @return: how many it lists.
    @raise ServerError: if it does not within C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    listed = 0
    while time.monotonic() < deadline:
        status, body = get(port, MEDIA)
        if status == 200:
            listed = len(parse_media(body.decode("utf-8", "replace")).segments)
            if listed >= count:
                return listed
        time.sleep(0.5)
    raise ServerError(f"radiod listed {listed} HLS segments after {timeout:g} s, not {count}")


class Nginx:
    """
    nginx in front of radiod, with the cache of C{docs/scaling.md}.
    """

    def __init__(self, folder: Path, binary: str, upstream: int, connections: int) -> None:
        self.folder = folder
        self.binary = binary
        self.upstream = upstream
        # A worker cannot raise its open-file limit past the hard limit
        # here (no CAP_SYS_RESOURCE in a container), so stay under it.
        self.files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.workers = os.cpu_count() or 1
        self.connections = min(connections, self.files - 64)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.access_log = folder / "access.log"
        self.logs = [folder / "error.log", folder / "nginx.out"]

    @property
    def pid(self) -> int:
        """
        The master process's id.
        """
        assert self.process is not None
        return self.process.pid

    def config(self) -> str:
        """
        The text of nginx.conf.
        """
        return NGINX_CONF.format(
            user="user root;\n" if os.geteuid() == 0 else "",
            workers=self.workers,
            files=self.files,
            connections=self.connections,
            folder=self.folder,
            upstream=self.upstream,
            port=self.port,
        )

    def start(self) -> None:
        """
        Start nginx; return once it answers for radiod's HLS.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "nginx.conf"
        conf.write_text(self.config())
        command = [self.binary, "-p", f"{self.folder}/", "-c", str(conf)]
        command += ["-e", str(self.folder / "error.log")]
        with open(self.folder / "nginx.out", "wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                status = self.process.returncode
                raise ServerError(f"nginx exited with status {status}: {self._tail()}")
            if get(self.port, INDEX, timeout=2.0)[0] == 200:
                return
            time.sleep(0.2)
        raise ServerError(f"nginx did not answer within 15 s: {self._tail()}")

    def _tail(self) -> str:
        lines: list[str] = []
        for log in self.logs:
            if log.exists():
                lines += [x for x in log.read_text(errors="replace").splitlines() if x]
        return " | ".join(lines[-3:]) or "(no output)"

    def stop(self) -> None:
        """
        Stop nginx gracefully (its buffered access log is written out).
        """
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10.0)
        except subprocess.TimeoutExpired:
            stop_process(process, grace=5.0)

    def alive(self) -> bool:
        """
        Whether nginx is still running.
        """
        return self.process is not None and self.process.poll() is None


def folder_size(folder: Path) -> tuple[int, float]:
    """
    The number of files under a folder and their size in MB.
    """
    files = size = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            try:
                size += os.stat(os.path.join(parent, name)).st_size
            except OSError:
                continue
            files += 1
    return files, size / 1e6


def count_access(log: Path, start: float, end: float) -> Json:
    """
    Count nginx's answers between two wall-clock times: all of them, those
    that went to radiod (an upstream address was used) and each cache
    status.
    """
    statuses: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    total = upstream = 0
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            fields = line.split()
            if len(fields) < 4:
                continue
            try:
                at = float(fields[0])
            except ValueError:
                continue
            if not start <= at < end:
                continue
            total += 1
            statuses[fields[1]] += 1
            if fields[3] != '"-"':
                upstream += 1
                kinds[request_kind(fields[5] if len(fields) > 5 else "")] += 1
    return {
        "answers": total,
        "upstream": upstream,
        "cache_status": dict(statuses),
        "upstream_by_kind": dict(kinds),
    }


def request_kind(uri: str) -> str:
    """
    What an HLS URL asks for: multivariant, playlist, blocking playlist,
    part or segment.
    """
    path, _, query = uri.partition("?")
    name = path.rsplit("/", 1)[-1]
    if name == "index.m3u8":
        return "multivariant"
    if name.endswith(".m3u8"):
        return "blocking playlist" if "_HLS_msn=" in query else "playlist"
    return "part" if name.count(".") == 2 else "segment"


class Bench:
    """
    The benchmark: its options, its children and its results.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.music = make_music(Path(args.cache))
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        self.run_dir = Path(args.cache) / "runs" / f"hls-{self.stamp}"
        self.radiod: Radiod | None = None
        self.nginx: Nginx | None = None
        self.clients: subprocess.Popen[bytes] | None = None

    def cleanup(self) -> None:
        """
        Stop every child process still running.
        """
        stop_process(self.clients, grace=5.0)
        self.clients = None
        if self.nginx is not None:
            self.nginx.stop()
            self.nginx = None
        if self.radiod is not None:
            self.radiod.stop()
            self.radiod = None

    def _client_command(self, port: int, clients: int, mode: str, start_at: float) -> list[str]:
        a = self.args
        command = [sys.executable, str(HLSCLIENT), "--port", str(port), "--path", INDEX]
        command += ["--clients", str(clients), "--mode", mode, "--ramp", str(a.ramp)]
        command += ["--warmup", str(a.warmup), "--window", str(a.window)]
        command += ["--start-at", repr(start_at), "--quiet"]
        if a.processes:
            command += ["--processes", str(a.processes)]
        if a.no_session:
            command.append("--no-session")
        return command

    def measure(self, clients: int, mode: str, via: str, label: str) -> Json:
        """
        Start radiod (and nginx), run the players, stop everything.

        @return: the players' summary and the servers' readings.
        """
        a = self.args
        workdir = new_workdir(self.run_dir, label.replace(" ", "-"))
        radiod = self.radiod = Radiod(
            workdir, self.music, clients * 4 + 100, ["--hls", *a.radiod_arg]
        )
        say(f"== {label}: radiod on port {radiod.port}")
        started = time.monotonic()
        radiod.start()
        listed = wait_segments(radiod.port, 2, 60.0)
        say(f"   ready in {time.monotonic() - started:.1f} s ({listed} segments listed)")
        port = radiod.port
        nginx = None
        if via == "nginx":
            nginx = self.nginx = Nginx(workdir / "nginx", a.nginx, radiod.port, clients * 6 + 512)
            nginx.start()
            port = nginx.port
            say(
                f"   nginx on port {port} ({nginx.workers} workers of "
                f"{nginx.connections} connections)"
            )
        time.sleep(a.settle)
        idle = [self._readings()]
        time.sleep(2.0)
        idle.append(self._readings())
        start_at = time.monotonic() + 2.0
        ramp_end = start_at + clients / a.ramp
        window_start = ramp_end + a.warmup
        window_end = window_start + a.window
        out = workdir / "clients.json"
        command = [*self._client_command(port, clients, mode, start_at), "--json", str(out)]
        self.clients = subprocess.Popen(command)
        say(f"   ramping {clients} {MODES[mode]} players at {a.ramp:g}/s")
        sleep_until(window_start)
        wall_offset = time.time() - time.monotonic()
        window = [self._readings()]
        busy0 = machine_busy()
        say(f"   window of {a.window:g} s")
        sleep_until(window_end - 0.05)
        window.append(self._readings())
        busy1 = machine_busy()
        cores = (busy1[0] - busy0[0]) / (window[-1]["radiod"].at - window[0]["radiod"].at)
        say(f"   window done: machine busy {cores:.2f} of {os.cpu_count()} cores")
        status = self.clients.wait()
        self.clients = None
        if status != 0:
            raise ServerError(f"the HLS clients failed with status {status}")
        summary = json.loads(out.read_text())
        result: Json = {
            "label": label,
            "clients_requested": clients,
            "mode": mode,
            "via": via,
            "no_session": a.no_session,
            "command": radiod.command(),
            "idle": [{k: vars(v) for k, v in r.items()} for r in idle],
            "window": [{k: vars(v) for k, v in r.items()} for r in window],
            "machine_busy_cores": cores,
            "clients": summary,
            "radiod_alive": radiod.alive(),
            "logs": [str(p) for p in radiod.logs],
        }
        if nginx is not None:
            result["nginx_alive"] = nginx.alive()
            nginx.stop()
            result["nginx_config"] = str(nginx.folder / "nginx.conf")
            result["nginx_cache_files"], result["nginx_cache_mb"] = folder_size(
                nginx.folder / "cache"
            )
            result["nginx_access"] = count_access(
                nginx.access_log,
                summary["window_start"] + wall_offset,
                summary["window_end"] + wall_offset,
            )
            result["logs"] += [str(p) for p in nginx.logs]
            self.nginx = None
        radiod.stop()
        self.radiod = None
        result["log_findings"] = log_findings(radiod)
        return result

    def _readings(self) -> dict[str, Cpu]:
        readings = {}
        if self.radiod is not None:
            readings["radiod"] = cpu_sample(self.radiod.pid)
        if self.nginx is not None:
            readings["nginx"] = cpu_sample(self.nginx.pid)
        return readings


def _ms3(figures: Json | None) -> tuple[float, float, float] | None:
    if not figures or figures.get("p50") is None:
        return None
    return figures["p50"], figures["p90"], figures["p99"]


def _p2(figures: Json | None) -> tuple[float, float] | None:
    if not figures or figures.get("p50") is None:
        return None
    return figures["p50"], figures["p99"]


def metrics(result: Json) -> Json:
    """
    The table's figures for one run.
    """
    c = result["clients"]
    seconds = c["listener_seconds"]
    idle, window = result["idle"], result["window"]
    out: Json = {"clients": c["clients"], "played": c["played"]}
    for name in ("radiod", "nginx"):
        if name not in window[0]:
            continue
        w0, w1 = window[0][name], window[-1][name]
        i0, i1 = idle[0][name], idle[-1][name]
        user, system = w1["user"] - w0["user"], w1["system"] - w0["system"]
        out[f"{name}_user"] = user * 1e6 / seconds if seconds else None
        out[f"{name}_system"] = system * 1e6 / seconds if seconds else None
        out[f"{name}_total"] = (user + system) * 1e6 / seconds if seconds else None
        out[f"{name}_cores"] = (user + system) / (w1["at"] - w0["at"])
        idle_cpu = i1["user"] + i1["system"] - i0["user"] - i0["system"]
        out[f"{name}_idle_cores"] = max(0.0, idle_cpu / (i1["at"] - i0["at"]))
        out[f"{name}_rss_mb"] = w1["rss_kib"] / 1024
    out["requests_per_s"] = c["requests_per_s"]
    out["nginx_cache_mb"] = result.get("nginx_cache_mb")
    access = result.get("nginx_access")
    if access is not None:
        out["radiod_requests_per_s"] = access["upstream"] / c["window_s"]
        answers = access["answers"]
        hits = sum(
            n for s, n in access["cache_status"].items() if s in ("HIT", "UPDATING", "STALE")
        )
        out["cache_hit_pct"] = 100.0 * hits / answers if answers else None
        upstream = access.get("upstream_by_kind", {})
    else:
        out["radiod_requests_per_s"] = c["requests_per_s"]
        upstream = {k: v["count"] for k, v in c["latency_ms"].items()}
    window_s = c["window_s"]
    playlists = sum(upstream.get(k, 0) for k in ("playlist", "blocking playlist"))
    media = sum(upstream.get(k, 0) for k in ("part (hinted)", "part", "segment"))
    out["radiod_playlists_per_s"] = playlists / window_s
    out["radiod_media_per_s"] = media / window_s
    latency = c["latency_ms"]
    for kind in ("playlist", "blocking playlist", "part (hinted)", "part", "segment"):
        out[f"latency {kind}"] = _ms3(latency.get(kind))
    out["beyond blocking"] = _p2(c["beyond_ms"].get("blocking playlist"))
    out["beyond hinted"] = _p2(c["beyond_ms"].get("part (hinted)"))
    out["delay"] = _p2(c["delay_s"]["all"])
    out["playback"] = _p2(c["playback_s"]["all"])
    out["hold_back"] = c["hold_back_s"]
    out["errors"] = c["failed"] + c["not_ok"]
    out["id3_spread_ms"] = c["id3_spread_ms"]
    shares = [s for s in c["loadgen"]["cpu_share_window"] if s is not None]
    out["client_cpu_pct"] = 100.0 * max(shares) if shares else None
    out["client_processes"] = c["loadgen"]["processes"]
    lag = c["loadgen"]["timer_lateness_p99_s"]
    out["client_lag_ms"] = None if lag is None else lag * 1000
    out["machine_busy"] = result["machine_busy_cores"]
    out["bottleneck"] = c["loadgen"]["bottleneck"]
    return out


def median_of(values: list[Any]) -> Any:
    """
    The median of numbers, or of tuples of numbers (each place apart); of
    flags, the flag when all agree, else how many were set (C{"1 of 2"});
    C{None} when none is known.
    """
    known = [v for v in values if v is not None]
    if not known:
        return None
    if isinstance(known[0], bool):
        return known[0] if len(set(known)) == 1 else f"{sum(known)} of {len(known)}"
    if isinstance(known[0], tuple | list):
        return tuple(statistics.median(v[i] for v in known) for i in range(len(known[0])))
    return statistics.median(known)


def _fmt(digits: int) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "YES" if value else "no"
        if isinstance(value, tuple | list):
            return " / ".join(f"{v:,.{digits}f}" for v in value)
        return f"{value:,.{digits}f}"

    return show


ROWS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("players", "clients", _fmt(0)),
    ("players that played in the window", "played", _fmt(0)),
    ("requests/s from players", "requests_per_s", _fmt(0)),
    ("requests/s reaching radiod", "radiod_requests_per_s", _fmt(0)),
    ("  of which playlists", "radiod_playlists_per_s", _fmt(0)),
    ("  of which parts and segments", "radiod_media_per_s", _fmt(0)),
    ("nginx cache hits %", "cache_hit_pct", _fmt(1)),
    ("radiod CPU us/listener-s user", "radiod_user", _fmt(1)),
    ("radiod CPU us/listener-s system", "radiod_system", _fmt(1)),
    ("radiod CPU us/listener-s total", "radiod_total", _fmt(1)),
    ("radiod CPU cores (window)", "radiod_cores", _fmt(2)),
    ("radiod CPU cores (idle)", "radiod_idle_cores", _fmt(3)),
    ("radiod RSS MB", "radiod_rss_mb", _fmt(1)),
    ("nginx CPU us/listener-s user", "nginx_user", _fmt(1)),
    ("nginx CPU us/listener-s system", "nginx_system", _fmt(1)),
    ("nginx CPU us/listener-s total", "nginx_total", _fmt(1)),
    ("nginx CPU cores (window)", "nginx_cores", _fmt(2)),
    ("nginx cache on disk at the end MB", "nginx_cache_mb", _fmt(0)),
    ("playlist ms p50/p90/p99", "latency playlist", _fmt(1)),
    ("blocking playlist ms p50/p90/p99", "latency blocking playlist", _fmt(0)),
    ("hinted part ms p50/p90/p99", "latency part (hinted)", _fmt(0)),
    ("part (listed) ms p50/p90/p99", "latency part", _fmt(1)),
    ("segment ms p50/p90/p99", "latency segment", _fmt(1)),
    ("blocking: beyond availability ms p50/p99", "beyond blocking", _fmt(0)),
    ("hinted part: beyond avail. ms p50/p99", "beyond hinted", _fmt(0)),
    ("delivery delay s p50/p99", "delay", _fmt(2)),
    ("hold-back s", "hold_back", _fmt(2)),
    ("playback latency s p50/p99", "playback", _fmt(2)),
    ("errors (failed or not 200)", "errors", _fmt(0)),
    ("PDT vs ID3 timestamp spread ms", "id3_spread_ms", _fmt(1)),
    ("client processes", "client_processes", _fmt(0)),
    ("client CPU % of a core (max)", "client_cpu_pct", _fmt(0)),
    ("client timer lateness p99 ms", "client_lag_ms", _fmt(1)),
    ("machine busy cores", "machine_busy", _fmt(2)),
    ("loadgen bottleneck", "bottleneck", _fmt(0)),
]


def column_name(result: Json) -> str:
    """
    A table column's heading.
    """
    name = f"{MODES[result['mode']]} via {result['via']}"
    return name + (" (no sid)" if result.get("no_session") else "")


def tables(results: list[Json]) -> str:
    """
    One table per client count: one column per mode and way in, the
    median of the repeats in each cell.
    """
    texts = []
    counts = sorted({r["clients_requested"] for r in results if "clients" in r})
    for count in counts:
        runs: dict[str, list[Json]] = {}
        for r in results:
            if r["clients_requested"] == count and "clients" in r:
                runs.setdefault(column_name(r), []).append(metrics(r))
        names = list(runs)
        rows = []
        for label, key, show in ROWS:
            values = [median_of([m.get(key) for m in runs[n]]) for n in names]
            if all(v is None for v in values):
                continue
            rows.append([label, *(show(v) for v in values)])
        repeats = max(len(v) for v in runs.values())
        head = f"{count:,} players" + (f" (median of {repeats} runs)" if repeats > 1 else "")
        texts.append(head + "\n" + render(["metric", *names], rows))
    return "\n\n".join(texts)


def report(args: argparse.Namespace, results: list[Json], elapsed: float, out: Path) -> str:
    """
    The printed report: the tables, notes per run and the results file.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    lines = [
        "",
        f"HLS: ramp {args.ramp:g}/s, warmup {args.warmup:g} s, window {args.window:g} s, "
        f"128 kbps MP3, default segments (6 x 0.993 s parts); took {elapsed:.0f} s",
        "",
    ]
    lines.append(tables(results) if any("clients" in r for r in results) else "(nothing measured)")
    lines.append("")
    cores = os.cpu_count() or 1
    for r in results:
        name = r["label"]
        if "error" in r:
            lines.append(f"{name}: NOT MEASURED: {r['error']}")
            continue
        c = r["clients"]
        for kind, counts in c["errors"].items():
            for error, count in counts.items():
                lines.append(f"{name}: {kind}: {count} x {error}")
        if c["loadgen"]["bottleneck"]:
            reasons = "; ".join(c["loadgen"]["bottleneck_reasons"])
            lines.append(f"{name}: LOADGEN WAS THE BOTTLENECK: {reasons}")
        if r["machine_busy_cores"] >= 0.95 * cores:
            lines.append(
                f"{name}: MACHINE CPU SATURATED ({r['machine_busy_cores']:.2f} of {cores} cores "
                "busy in the window): servers and players competed for CPU"
            )
        if not r["radiod_alive"] or not r.get("nginx_alive", True):
            lines.append(f"{name}: a server was no longer running at the end")
        findings = r["log_findings"]
        if findings["error"] or findings["traceback"]:
            lines.append(
                f"{name}: radiod logged {findings['error']} errors, "
                f"{findings['traceback']} tracebacks"
            )
        if c["unresolved"]:
            lines.append(f"{name}: {c['unresolved']} deliveries without a known start")
    lines.append(f"logs: {Path(args.cache) / 'runs'}")
    lines.append(f"raw results: {out}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """
    The command line.
    """
    p = argparse.ArgumentParser(
        prog="hls.py", description="HLS and LL-HLS players against radiod, direct and via nginx."
    )
    p.add_argument("--clients", default="1000,5000", help="comma-separated player counts")
    p.add_argument("--mode", default="hls,llhls", help="comma-separated: hls, llhls")
    p.add_argument("--via", default="radiod,nginx", help="comma-separated: radiod, nginx")
    p.add_argument("--ramp", type=float, default=200.0, help="players started per second")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds between ramp and window")
    p.add_argument("--window", type=float, default=60.0, help="seconds measured")
    p.add_argument("--repeat", type=int, default=1, help="runs of each configuration")
    p.add_argument("--processes", type=int, default=0, help="client processes (0: automatic)")
    p.add_argument(
        "--no-session",
        action="store_true",
        help="players drop radiod's ?sid= token from the media playlist's URL",
    )
    p.add_argument("--settle", type=float, default=3.0, help="seconds idle before the ramp")
    p.add_argument("--radiod-arg", action="append", default=[], help="extra radiod argument")
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    p.add_argument("--cache", default="/tmp/radiod-bench-cache", help="test music cache")
    p.add_argument("--out", help="JSON results file (default: under --cache)")
    p.add_argument(
        "--tables",
        nargs="+",
        metavar="JSON",
        help="run nothing: print the tables of earlier results files, runs of the same "
        "configuration taken together (their median)",
    )
    args = p.parse_args(argv)
    args.client_counts = [int(x) for x in args.clients.split(",") if x]
    args.modes = [x for x in args.mode.split(",") if x]
    args.vias = [x for x in args.via.split(",") if x]
    if any(m not in MODES for m in args.modes) or any(
        v not in ("radiod", "nginx") for v in args.vias
    ):
        p.error("--mode takes hls and llhls, --via radiod and nginx")
    return args


def _interrupt(signum: int, frame: object) -> None:
    """
    Treat SIGTERM like Ctrl-C: stop the children, report what was measured.
    """
    raise KeyboardInterrupt()


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the benchmark and print its tables.

    @return: 0, or 1 when a configuration could not be measured.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.tables:
        saved: list[Json] = []
        for name in args.tables:
            saved += json.loads(Path(name).read_text())["results"]
        print(tables([r for r in saved if "clients" in r]))
        return 0
    raise_fd_limit(max(args.client_counts) * 8 + 2048)
    signal.signal(signal.SIGTERM, _interrupt)
    bench = Bench(args)
    vias = list(args.vias)
    if "nginx" in vias and not os.access(args.nginx, os.X_OK):
        say(f"== nginx: not installed ({args.nginx} not found); nginx runs skipped")
        vias.remove("nginx")
    results: list[Json] = []
    failed = False
    began = time.monotonic()
    try:
        for clients in args.client_counts:
            for via in vias:
                for mode in args.modes:
                    for repeat in range(args.repeat):
                        label = f"{clients} {mode} via {via}"
                        if args.repeat > 1:
                            label += f" #{repeat + 1}"
                        try:
                            results.append(bench.measure(clients, mode, via, label))
                        except ServerError as e:
                            failed = True
                            say(f"!! {label} could not be measured: {e}")
                            failure = {"label": label, "clients_requested": clients}
                            failure |= {"mode": mode, "via": via, "error": str(e)}
                            results.append(failure)
                        finally:
                            bench.cleanup()
    except KeyboardInterrupt:
        say("interrupted; stopping the children")
        failed = True
    finally:
        bench.cleanup()
    out = Path(args.out or Path(args.cache) / "results" / f"hls-{bench.stamp}.json")
    print(report(args, results, time.monotonic() - began, out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
