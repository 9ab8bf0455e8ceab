#!/usr/bin/env python3
"""
The soak benchmark: one radiod station left running under a changing load,
watched for anything that grows without bound.

Usage::

    python benchmarks/soak.py [--minutes 5] [--listeners 2000] [--churn-rate 20]
        [--live-every 180] [--live-for 60] [--library-every 20]
        [--sample-every 0] [--radiod-arg=ARG ...] [--out FILE] [--plot FILE]

For C{--minutes} the station (radiod under twistd, as in
C{benchmarks/run.py}) plays a small library of short tracks while:

  - C{benchmarks/loadgen.py} (churn mode) holds C{--listeners} listeners,
    replacing C{--churn-rate} of the oldest every second with new ones (one
    in ten closed abortively);
  - a live source goes on air every C{--live-every} seconds for
    C{--live-for} seconds, alternately C{ffmpeg} (Icecast protocol, stream
    copy) and C{radiod-push}, both with the station's source password;
  - every C{--library-every} seconds the music folder changes: a track is
    added, one replaced by different audio (written aside, then renamed
    over it), or one removed, in turn; the station rescans it every
    C{--rescan-interval} seconds.

Every C{--sample-every} seconds (by default a fifteenth of the run, at most
a minute) it records radiod's RSS, open descriptors, threads and CPU time
(from C{/proc}), and from C{/metrics} the listeners, slow listeners dropped,
the reactor's greatest lateness over the last minute, track changes and
what is on air.  At the end it prints them as a table (and draws them in a
PNG when matplotlib can be imported) and judges growth: the median RSS and
the median of descriptors not held by listeners over the last third of the
samples are compared with the second third's; growth beyond the tolerance
(C{--rss-tolerance}, C{--fd-tolerance}) fails the run, as does a
descriptor count that does not return to its idle value once the listeners
have gone, or radiod exiting.  The exit status is then 1.

Examples::

    python benchmarks/soak.py                     # five minutes, to try it
    python benchmarks/soak.py --minutes 60        # the hour
"""

from __future__ import annotations

import argparse
import heapq
import importlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from servers import (
    BITRATE_KBPS,
    Radiod,
    ServerError,
    make_music,
    metric_total,
    new_workdir,
    repo_env,
    sample,
    scrape_metrics,
    stop_process,
)

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
PASSWORD = "soak-source"
# The tracks of the soak library: frequency (Hz) and length (seconds).
POOL = [(262, 23), (294, 31), (330, 19), (349, 41), (392, 27), (440, 35), (494, 29), (523, 45)]
LIVE_NAME = "Soak live show"

Json = dict[str, Any]


def say(text: str) -> None:
    """
    Progress, on standard error, flushed.
    """
    print(text, file=sys.stderr, flush=True)


@dataclass
class Point:
    """
    One sample of the station.

    @ivar at: seconds since the listeners started to connect.
    @ivar rss_mb: radiod's resident set size, MiB.
    @ivar fds: its open file descriptors.
    @ivar threads: its threads.
    @ivar cpu_s: its CPU time so far (user plus system), seconds.
    @ivar listeners: listeners connected, from C{/metrics}.
    @ivar dropped: slow listeners dropped so far.
    @ivar lag_ms: the reactor's greatest lateness over the last minute.
    @ivar tracks: track (and live title) changes so far.
    @ivar sources: live sources connected so far.
    @ivar on_air: what the mount plays (C{playlist}, C{live}, ...).
    @ivar files: tracks in the music folder.
    """

    at: float
    rss_mb: float
    fds: int
    threads: int
    cpu_s: float
    listeners: int
    dropped: int
    lag_ms: float
    tracks: int
    sources: int
    on_air: str
    files: int


def make_pool(cache: Path) -> list[Path]:
    """
    Make (once) the soak's tracks: short 128 kbps 44.1 kHz stereo MP3s of
    different tones, each with its own title.

    @return: their paths.
    """
    folder = cache / "soak-pool"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, (frequency, seconds) in enumerate(POOL):
        target = folder / f"tone-{frequency}-{seconds}s.mp3"
        paths.append(target)
        if target.exists() and target.stat().st_size > 0:
            continue
        partial = folder / "partial.mp3.tmp"
        source = f"sine=frequency={frequency}:sample_rate=44100:duration={seconds}"
        command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
        command += ["-f", "lavfi", "-i", source, "-ac", "2", "-c:a", "libmp3lame"]
        command += ["-b:a", f"{BITRATE_KBPS}k", "-ar", "44100"]
        command += ["-metadata", f"title=Soak tone {number + 1}", "-metadata", "artist=radiod soak"]
        command += ["-f", "mp3", str(partial)]
        subprocess.run(command, check=True)
        partial.rename(target)
    return paths


class Library:
    """
    The station's music folder, changed in turn by adding, replacing and
    removing a track.  New content is written beside the folder and renamed
    into it, so the station never reads a half-written file.
    """

    def __init__(self, folder: Path, pool: list[Path], start: int = 4) -> None:
        self.folder = folder
        self.pool = pool
        self.spare = folder.parent / "incoming"
        folder.mkdir(parents=True, exist_ok=True)
        self.spare.mkdir(exist_ok=True)
        self.serial = 0
        self.turn = 0
        self.changes = {"added": 0, "replaced": 0, "removed": 0}
        for _ in range(start):
            self._add()

    def tracks(self) -> list[Path]:
        """
        The tracks in the folder now, oldest name first.
        """
        return sorted(self.folder.glob("*.mp3"))

    def change(self) -> str:
        """
        Make the next change; the folder keeps between 3 and 8 tracks.

        @return: what was done.
        """
        kinds = ("added", "replaced", "removed")
        kind = kinds[self.turn % 3]
        self.turn += 1
        count = len(self.tracks())
        if kind == "removed" and count <= 3:
            kind = "replaced"
        if kind == "added" and count >= 8:
            kind = "removed"
        if kind == "added":
            self._add()
        elif kind == "replaced":
            target = self.tracks()[self.turn % count]
            self._place(target.name)
        else:
            self.tracks()[0].unlink()
        self.changes[kind] += 1
        return kind

    def _add(self) -> None:
        self.serial += 1
        self._place(f"track-{self.serial:04d}.mp3")

    def _place(self, name: str) -> None:
        source = self.pool[(self.serial + self.turn) % len(self.pool)]
        partial = self.spare / name
        shutil.copyfile(source, partial)
        os.replace(partial, self.folder / name)


class LiveSource:
    """
    The live source client that is on air now, if any: C{ffmpeg} and
    C{radiod-push} in turn.
    """

    def __init__(self, port: int, song: Path, workdir: Path) -> None:
        self.port = port
        self.song = song
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.shows = 0
        self.failures = 0
        self.log = workdir / "live.out"

    def start(self) -> str:
        """
        Go on air with the next client.

        @return: which client.
        """
        self.stop()
        self.shows += 1
        if self.shows % 2:
            client = "ffmpeg"
            target = f"icecast://source:{PASSWORD}@127.0.0.1:{self.port}/stream"
            command = ["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re"]
            command += ["-stream_loop", "-1", "-i", str(self.song), "-c", "copy"]
            command += ["-id3v2_version", "0", "-write_xing", "0"]
            command += ["-content_type", "audio/mpeg", "-ice_name", LIVE_NAME]
            command += ["-f", "mp3", target]
        else:
            client = "radiod-push"
            command = [sys.executable, "-c", "from radiod.outbound.cli import main; main()"]
            command += ["--password", PASSWORD, "--name", LIVE_NAME, "--loop"]
            command += [f"http://127.0.0.1:{self.port}/stream", str(self.song)]
        env = repo_env()
        with open(self.log, "ab") as out:
            out.write(f"== show {self.shows}: {client}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
            )
        return client

    def stop(self) -> None:
        """
        Go off air; a client that had already exited counts as a failure.
        """
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is not None:
            self.failures += 1
        stop_process(process, grace=5.0)


class Soak:
    """
    One soak run: the station, its load, its changes and its samples.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        cache = Path(args.cache)
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        self.workdir = new_workdir(cache / "runs" / f"soak-{self.stamp}", "radiod")
        self.library = Library(self.workdir / "music", make_pool(cache))
        config = self.workdir / "soak.toml"
        config.write_text(
            f'[server]\nsource_password = "{PASSWORD}"\n\n'
            f'[[mount]]\nname = "/stream"\nrescan_interval = {args.rescan_interval}\n'
        )
        limit = 2 * args.listeners + 100
        extra = ["--config", str(config), *args.radiod_arg]
        self.server = Radiod(self.workdir, self.library.folder, limit, extra)
        song = next(make_music(cache).glob("bench-*.mp3"))
        self.live = LiveSource(self.server.port, song, self.workdir)
        self.loadgen: subprocess.Popen[bytes] | None = None
        self.points: list[Point] = []
        self.events: list[tuple[float, str]] = []
        self.on_air_spans: list[tuple[float, float]] = []
        self.idle_fds = 0
        self.after_fds: int | None = None
        self.origin = 0.0
        self.interrupted = False

    def run(self) -> Json:
        """
        Start the station, run the soak, stop everything.

        @return: the raw results.
        """
        a = self.args
        duration = a.minutes * 60.0
        every = a.sample_every or min(60.0, duration / 15)
        say(f"== radiod: starting on port {self.server.port} (work folder {self.workdir})")
        self.server.start()
        time.sleep(a.settle)
        self.idle_fds = sample(self.server.pid).fds
        self.origin = time.monotonic() + 1.0
        ramp = a.listeners / a.rate
        out = self.workdir / "loadgen.json"
        command = [sys.executable, str(LOADGEN), "--port", str(self.server.port)]
        command += ["--listeners", str(a.listeners), "--rate", str(a.rate)]
        command += ["--churn-rate", str(a.churn_rate), "--duration", str(duration - ramp)]
        command += ["--nominal-kbps", str(BITRATE_KBPS), "--start-at", repr(self.origin)]
        command += ["--json", str(out), "--quiet"]
        self.loadgen = subprocess.Popen(command)
        say(
            f"   {a.listeners} listeners at {a.rate:g}/s, then {a.churn_rate:g} replaced a second; "
            f"{a.minutes:g} minutes, a sample every {every:g} s"
        )
        end = self.origin + duration
        plan: list[tuple[float, int, str]] = []
        counter = 0

        def schedule(at: float, what: str) -> None:
            nonlocal counter
            if at < end:
                counter += 1
                heapq.heappush(plan, (at, counter, what))

        schedule(self.origin + ramp, "sample")
        schedule(self.origin + a.library_every, "library")
        schedule(self.origin + a.live_every / 2, "live")

        def sample_now(now: float) -> None:
            self._sample(now)
            schedule(now + every, "sample")

        def change_library(now: float) -> None:
            self._library(now)
            schedule(now + a.library_every, "library")

        def go_live(now: float) -> None:
            self._go_live(now)
            schedule(now + a.live_for, "off")
            schedule(now + a.live_every, "live")

        actions: dict[str, Callable[[float], None]] = {
            "sample": sample_now,
            "library": change_library,
            "live": go_live,
            "off": self._go_off,
        }
        try:
            while plan:
                at, _, what = heapq.heappop(plan)
                _sleep_until(at)
                if not self.server.alive():
                    say("!! radiod exited")
                    break
                actions[what](at)
            _sleep_until(end - 0.5)
        except KeyboardInterrupt:
            say("interrupted: reporting what was measured")
            self.interrupted = True
            stop_process(self.loadgen, grace=5.0)
        if self.server.alive():
            self._sample(time.monotonic())
        if self.live.process is not None:
            self._go_off(time.monotonic())
        loadgen = self._finish_loadgen(out)
        time.sleep(a.settle)
        alive = self.server.alive()
        if alive:
            self.after_fds = sample(self.server.pid).fds
        self.server.stop()
        return {
            "args": vars(a),
            "command": self.server.command(),
            "workdir": str(self.workdir),
            "alive_at_end": alive,
            "interrupted": self.interrupted,
            "idle_fds": self.idle_fds,
            "after_fds": self.after_fds,
            "points": [asdict(p) for p in self.points],
            "events": self.events,
            "on_air": self.on_air_spans,
            "library_changes": self.library.changes,
            "live_shows": self.live.shows,
            "live_client_failures": self.live.failures,
            "loadgen": loadgen,
            "log_findings": _log_findings(self.server.logs),
        }

    def stop(self) -> None:
        """
        Stop every child still running.
        """
        self.live.stop()
        stop_process(self.loadgen, grace=5.0)
        self.server.stop()

    def _finish_loadgen(self, out: Path) -> Json | None:
        process, self.loadgen = self.loadgen, None
        if process is None:
            return None
        try:
            status = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            stop_process(process)
            status = -1
        if status != 0 or not out.exists():
            say(f"!! the load generator failed with status {status}")
            return None
        loadgen: Json = json.loads(out.read_text())
        return loadgen

    def _sample(self, now: float) -> None:
        s = sample(self.server.pid)
        m = scrape_metrics(self.server.port)
        on_air = "?"
        for key, value in m.items():
            if key.startswith("radiod_mount_source{") and value == 1 and 'mount="/stream"' in key:
                on_air = key.split('kind="', 1)[1].split('"', 1)[0]
        point = Point(
            at=round(now - self.origin, 1),
            rss_mb=round(s.rss_kib / 1024, 2),
            fds=s.fds,
            threads=s.threads,
            cpu_s=round(s.cpu_s, 2),
            listeners=int(metric_total(m, "radiod_listeners")),
            dropped=int(metric_total(m, "radiod_slow_listeners_dropped_total")),
            lag_ms=round(1000 * metric_total(m, "radiod_reactor_lag_max_seconds"), 1),
            tracks=int(metric_total(m, "radiod_track_changes_total")),
            sources=int(metric_total(m, "radiod_source_connections_total")),
            on_air=on_air,
            files=len(self.library.tracks()),
        )
        self.points.append(point)
        say(
            f"   {point.at / 60:5.1f} min: RSS {point.rss_mb:.1f} MiB, {point.fds} fds, "
            f"{point.listeners} listeners, {point.dropped} dropped, lag {point.lag_ms:.0f} ms, "
            f"{point.on_air}, {point.files} files"
        )

    def _library(self, now: float) -> None:
        kind = self.library.change()
        self.events.append((round(now - self.origin, 1), f"library: {kind}"))

    def _go_live(self, now: float) -> None:
        client = self.live.start()
        self.events.append((round(now - self.origin, 1), f"live on ({client})"))
        self.on_air_spans.append((round(now - self.origin, 1), -1.0))

    def _go_off(self, now: float) -> None:
        self.live.stop()
        self.events.append((round(now - self.origin, 1), "live off"))
        if self.on_air_spans and self.on_air_spans[-1][1] < 0:
            self.on_air_spans[-1] = (self.on_air_spans[-1][0], round(now - self.origin, 1))


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _log_findings(logs: Sequence[Path]) -> dict[str, int]:
    """
    Count the warnings, errors and tracebacks in radiod's logs, those
    rotated away (C{radiod.log.1}, ...) included.
    """
    counts = {"warn": 0, "error": 0, "traceback": 0}
    files = [f for log in logs for f in log.parent.glob(log.name + "*") if f.is_file()]
    for log in files:
        for line in log.read_text(errors="replace").splitlines():
            low = line.lower()
            counts["traceback"] += "traceback" in low
            counts["warn"] += "#warn]" in low
            counts["error"] += "#error]" in low or "#critical]" in low
    return counts


def _slope(xs: list[float], ys: list[float]) -> float | None:
    """
    The least-squares slope of C{ys} against C{xs}, if there is one.
    """
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    spread = sum((x - mx) ** 2 for x in xs)
    if n < 2 or spread == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread


def verdict(result: Json, rss_tolerance: float, fd_tolerance: int) -> tuple[bool, list[str]]:
    """
    Judge whether anything grew without bound.

    @param result: what L{Soak.run} returned.
    @param rss_tolerance: MiB the last third's median RSS may exceed the
        second third's by.
    @param fd_tolerance: descriptors the same comparison allows, on the
        descriptors not held by listeners, and the descriptors left after
        the load went may exceed the idle count by.
    @return: whether the run passed, and one line per finding.
    """
    points = result["points"]
    lines: list[str] = []
    ok = True
    if not result["alive_at_end"]:
        ok = False
        lines.append("FAIL radiod was not running at the end")
    if len(points) < 6:
        lines.append(f"too few samples ({len(points)}) to judge growth: run longer")
        return False, lines
    third = len(points) // 3
    second, last = points[third : 2 * third], points[len(points) - third :]

    def judge(label: str, unit: str, value: Callable[[Json], float], tolerance: float) -> None:
        nonlocal ok
        a = statistics.median(value(p) for p in second)
        b = statistics.median(value(p) for p in last)
        grew = b - a > tolerance
        ok = ok and not grew
        lines.append(
            f"{'FAIL' if grew else 'ok  '} {label}: median {a:.1f} {unit} in the second third, "
            f"{b:.1f} {unit} in the last ({b - a:+.1f}; tolerance {tolerance:g})"
        )

    judge("RSS", "MiB", lambda p: p["rss_mb"], rss_tolerance)

    def free_fds(point: Json) -> float:
        return float(point["fds"] - point["listeners"])

    judge("descriptors not held by listeners", "fds", free_fds, fd_tolerance)
    after = result["after_fds"]
    if after is not None:
        left = after - result["idle_fds"] > fd_tolerance
        ok = ok and not left
        lines.append(
            f"{'FAIL' if left else 'ok  '} descriptors after the load: {after} "
            f"(idle before it: {result['idle_fds']})"
        )
    tail = points[third:]
    slope = _slope([p["at"] for p in tail], [p["rss_mb"] for p in tail])
    if slope is not None:
        lines.append(f"     RSS trend over the last two thirds: {slope * 3600:+.1f} MiB an hour")
    return ok, lines


def table(result: Json) -> str:
    """
    The samples as a plain text table.
    """
    headers = ["min", "RSS MiB", "fds", "thr", "CPU %", "listeners", "dropped", "lag ms"]
    headers += ["tracks", "sources", "on air", "files"]
    rows: list[list[str]] = []
    previous: Json | None = None
    for p in result["points"]:
        cpu = "-"
        if previous is not None and p["at"] > previous["at"]:
            cpu = f"{100 * (p['cpu_s'] - previous['cpu_s']) / (p['at'] - previous['at']):.1f}"
        rows.append(
            [
                f"{p['at'] / 60:.1f}",
                f"{p['rss_mb']:.1f}",
                str(p["fds"]),
                str(p["threads"]),
                cpu,
                str(p["listeners"]),
                str(p["dropped"]),
                f"{p['lag_ms']:.0f}",
                str(p["tracks"]),
                str(p["sources"]),
                p["on_air"],
                str(p["files"]),
            ]
        )
        previous = p
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def plot(result: Json, path: Path) -> bool:
    """
    Draw RSS, descriptors, reactor lag and listeners against time, with the
    live shows shaded, when matplotlib can be imported.

    @return: whether the picture was written.
    """
    try:
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        pyplot: Any = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return False
    points = result["points"]
    minutes = [p["at"] / 60 for p in points]
    panels = [
        ("RSS (MiB)", [p["rss_mb"] for p in points]),
        ("open descriptors", [p["fds"] for p in points]),
        ("reactor lag max (ms)", [p["lag_ms"] for p in points]),
        ("listeners", [p["listeners"] for p in points]),
    ]
    figure, axes = pyplot.subplots(len(panels), 1, sharex=True, figsize=(9, 10))
    for axis, (label, values) in zip(axes, panels, strict=True):
        axis.plot(minutes, values, marker=".")
        axis.set_ylabel(label)
        for start, stop in result["on_air"]:
            stop = stop if stop >= 0 else points[-1]["at"]
            axis.axvspan(start / 60, stop / 60, color="orange", alpha=0.2)
        axis.grid(True, alpha=0.3)
    axes[-1].set_xlabel("minutes (shaded: a live source on air)")
    figure.suptitle(f"radiod soak, {result['args']['minutes']:g} minutes")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    pyplot.close(figure)
    return True


def report(result: Json, args: argparse.Namespace, out: Path) -> tuple[bool, str]:
    """
    The printed report and the verdict.
    """
    ok, findings = verdict(result, args.rss_tolerance, args.fd_tolerance)
    lg = result["loadgen"]
    lines = [
        "",
        f"soak: {args.minutes:g} minutes, {args.listeners} listeners at {BITRATE_KBPS} kbps, "
        f"{args.churn_rate:g} replaced a second; a live show every {args.live_every:g} s for "
        f"{args.live_for:g} s; a library change every {args.library_every:g} s "
        f"(rescan every {args.rescan_interval:g} s)",
        "",
        table(result),
        "",
    ]
    if lg is not None:
        ttfb = lg["ttfb_ms"]
        lines.append(
            f"listeners: {lg['connections_started']} connections made, {lg['refused']} refused, "
            f"{lg['dropped']} dropped; TTFB p50 {ttfb['p50'] or 0:.1f} ms, "
            f"p99 {ttfb['p99'] or 0:.1f} ms"
        )
        for error, count in lg["errors"].items():
            lines.append(f"  {count} x {error}")
        if lg["loadgen"]["bottleneck"]:
            reasons = "; ".join(lg["loadgen"]["bottleneck_reasons"])
            lines.append(f"LOADGEN WAS THE BOTTLENECK: {reasons}")
    else:
        lines.append("listeners: the load generator gave no results")
    changes = ", ".join(f"{n} {k}" for k, n in result["library_changes"].items())
    lines.append(
        f"live shows: {result['live_shows']} ({result['live_client_failures']} source clients "
        f"had exited before their show ended); library changes: {changes}"
    )
    findings_text = ", ".join(f"{n} {k}" for k, n in result["log_findings"].items())
    lines.append(f"radiod log: {findings_text}")
    lines.append("")
    lines += findings
    if result["interrupted"]:
        ok = False
        lines.append("the run was interrupted before its end")
    lines.append("PASS: nothing grew without bound" if ok else "FAIL: see above")
    lines.append(f"raw results: {out}; logs in {result['workdir']}")
    return ok, "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """
    The command line.
    """
    p = argparse.ArgumentParser(
        prog="soak.py", description="One radiod station under changing load for a long time."
    )
    p.add_argument("--minutes", type=float, default=5.0, help="how long to run")
    p.add_argument("--listeners", "-n", type=int, default=2000)
    p.add_argument("--rate", type=float, default=500.0, help="connections per second at first")
    p.add_argument("--churn-rate", type=float, default=20.0, help="listeners replaced per second")
    p.add_argument("--live-every", type=float, default=180.0, help="seconds between live shows")
    p.add_argument("--live-for", type=float, default=60.0, help="seconds a live show lasts")
    p.add_argument("--library-every", type=float, default=20.0, help="seconds between changes")
    p.add_argument("--rescan-interval", type=int, default=10, help="the station's rescan_interval")
    p.add_argument("--sample-every", type=float, default=0.0, help="0: run/15, at most 60 s")
    p.add_argument("--rss-tolerance", type=float, default=3.0, help="MiB of RSS growth allowed")
    p.add_argument("--fd-tolerance", type=int, default=8, help="descriptors of growth allowed")
    p.add_argument("--settle", type=float, default=3.0, help="seconds idle before and after")
    p.add_argument("--radiod-arg", action="append", default=[], help="extra radiod argument")
    p.add_argument("--cache", default="/tmp/radiod-bench-cache", help="test music cache")
    p.add_argument("--out", help="JSON results file (default: in the run's folder)")
    p.add_argument("--plot", help="PNG file (default: in the run's folder)")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.listeners < 1 or args.live_for >= args.live_every:
        p.error("--minutes and --listeners must be positive, --live-for below --live-every")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt()


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the soak and print its report.

    @return: 0 when nothing grew without bound, else 1.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _interrupt)
    soak = Soak(args)
    try:
        result = soak.run()
    except ServerError as e:
        say(f"!! radiod could not be started: {e}")
        return 1
    finally:
        soak.stop()
    out = Path(args.out or soak.workdir.parent / "soak.json")
    out.write_text(json.dumps(result, indent=1))
    ok, text = report(result, args, out)
    print(text)
    picture = Path(args.plot or soak.workdir.parent / "soak.png")
    if plot(result, picture):
        print(f"plot: {picture}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
