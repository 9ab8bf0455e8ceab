#!/usr/bin/env python3
"""
The radiod performance benchmark: the same listener load against radiod and
Icecast 2, one after the other, compared in one table.

Usage::

    python benchmarks/run.py [--listeners 15000] [--rate 1000] [--window 60]
        [--metadata | --no-metadata] [--servers radiod,icecast]
        [--mode fanout|churn|workers] [--duration 600] [--churn-rate 50]
        [--workers-list 1,2] [--radiod-arg=--send-buffer=0 ...] [--out FILE]
        [--client auto|c|python]

Modes:
  - C{fanout} (default): each server plays the same 128 kbps MP3 (made
    once with ffmpeg under C{--cache}); the load generator ramps
    C{--listeners} at C{--rate} per second, waits C{--warmup} seconds and
    measures a C{--window}.  The server's CPU time (user and system apart),
    memory, descriptors and threads come from C{/proc} (its whole process
    tree), idle before the ramp and over the window.  One table compares
    the servers, with the radiod/Icecast ratio and radiod's PASS/MISS
    against the targets.
  - C{churn}: C{--listeners} connect, then for C{--duration} seconds
    C{--churn-rate} of them per second are replaced by new ones; the
    server's RSS and open descriptors are reported at the start, every
    C{--sample-every} seconds, at the end, and once the load has gone.
  - C{workers}: fanout against radiod only, once per count in
    C{--workers-list}, passing C{--workers=N}; reports the listeners held
    per worker count.

The load generator (C{--client}) is the C swarm (C{benchmarks/swarm.c},
built with the system's C compiler under C{--cache}; see
C{benchmarks/swarm.py}) when a compiler is found, else the Python
C{benchmarks/loadgen.py}; both take the same options and write the same
summary, and the report names the one used.  The swarm costs a fraction of
the CPU, which on a small machine leaves the server the cores it would
have alone.

Icecast runs when C{icecast2} is installed and selected: a generated
configuration (limits sized to the load, queue 512 KiB, burst 64 KiB), as
C{nobody} when run by root, fed by C{ffmpeg -re} copying the same MP3.
Extra radiod arguments go through C{--radiod-arg}; if radiod rejects one,
the run says so.  Each server's configuration and logs go under
C{--cache}/runs/MODE-TIME/, and the raw results, as JSON, to the file named
at the end of the output.  The output says C{LOADGEN WAS THE BOTTLENECK}
when the load generator could not keep up, and C{MACHINE CPU SATURATED}
when the server and the generator together used every core.  Ctrl-C (or
SIGTERM) stops every child process and reports what was measured.

Examples::

    python benchmarks/run.py --listeners 200 --rate 100 --window 20
    python benchmarks/run.py                       # 15,000 at 1,000/s, 60 s
    python benchmarks/run.py --mode churn --listeners 2000 --churn-rate 100
    python benchmarks/run.py --mode workers --workers-list 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import (
    BITRATE_KBPS,
    CLOCK_TICKS,
    Icecast,
    Radiod,
    Sample,
    Server,
    ServerError,
    machine_busy,
    make_music,
    new_workdir,
    process_tree,
    sample,
    stop_process,
)
from swarm import BuildError
from swarm import build as build_swarm
from swarm import command as swarm_command

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
Json = dict[str, Any]

CLIENTS = {
    "c": "C swarm (benchmarks/swarm.c)",
    "python": "Python loadgen (benchmarks/loadgen.py)",
}

# Targets for radiod at 128 kbps with ICY metadata.
TARGET_CPU_RATIO = 0.4
TARGET_TTFB_P99_MS = 150.0
TARGET_RSS_PER_LISTENER_KIB = 4.0
TARGET_RSS_IDLE_MB = 40.0
TARGET_GAP_S = 1.0
TARGET_RATE_PCT = 0.1
TARGET_RATE_WINDOW_S = 600.0


def say(text: str) -> None:
    """
    Progress, on standard error, flushed.
    """
    print(text, file=sys.stderr, flush=True)


def sleep_until(moment: float) -> None:
    """
    Sleep until C{time.monotonic()} reaches C{moment}.
    """
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def raise_fd_limit(wanted: int) -> None:
    """
    Raise the open-file limit that this program and its children inherit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Reading(Sample):
    """
    A L{Sample} with the CPU time split into user and system time.

    @ivar user_s: user CPU seconds of the live processes.
    @ivar system_s: system CPU seconds of the live processes.
    """

    user_s: float = 0.0
    system_s: float = 0.0


def cpu_split(root: int) -> tuple[float, float]:
    """
    The user and the system CPU time of a process tree, from C{/proc}.

    @param root: the tree's first process.
    @return: user and system seconds, summed over the live processes.
    """
    user = system = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                text = f.read()
            fields = text[text.rindex(")") + 2 :].split()
            user += int(fields[11])
            system += int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return user / CLOCK_TICKS, system / CLOCK_TICKS


def reading(root: int) -> Reading:
    """
    Read a process tree's accounting (L{sample}) and its CPU time split.
    """
    user, system = cpu_split(root)
    return Reading(**vars(sample(root)), user_s=user, system_s=system)


def choose_client(args: argparse.Namespace) -> tuple[str, Path | None]:
    """
    The load generator to use: the C swarm, built now, or Python's.

    @param args: the command line (C{--client}, C{--cache}).
    @return: C{"c"} with the swarm's path, or C{"python"} with L{None}.
    @raise SystemExit: when the swarm was asked for and cannot be built.
    """
    if args.client == "python":
        return "python", None
    try:
        program = build_swarm(Path(args.cache))
    except BuildError as e:
        raise SystemExit(f"run.py: could not build the swarm: {e}") from None
    if program is None:
        if args.client == "c":
            raise SystemExit("run.py: --client c needs a C compiler (cc, gcc or clang)")
        say("== no C compiler: the Python load generator is used")
        return "python", None
    return "c", program


class Bench:
    """
    One benchmark run: its options, its children, and its results.

    @ivar client: the load generator, C{"c"} or C{"python"}.
    @ivar swarm: the swarm's program when the client is C{"c"}.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.servers: list[Server] = []
        self.loadgen: subprocess.Popen[bytes] | None = None
        self.music = make_music(Path(args.cache))
        self.stamp = time.strftime("%Y%m%d-%H%M%S")
        self.run_dir = Path(args.cache) / "runs" / f"{args.mode}-{self.stamp}"
        self.client, self.swarm = choose_client(args)

    def cleanup(self) -> None:
        """
        Stop every child process still running.
        """
        stop_process(self.loadgen, grace=5.0)
        for server in self.servers:
            server.stop()

    def make_server(self, label: str, name: str, extra: Sequence[str] = ()) -> Server:
        """
        A server of the given kind, not yet started.
        """
        limit = self.args.listeners + 100
        workdir = new_workdir(self.run_dir, label.replace(" ", "-"))
        if name == "radiod":
            server: Server = Radiod(workdir, self.music, limit, [*self.args.radiod_arg, *extra])
        else:
            server = Icecast(workdir, self.args.icecast, self.music, limit)
        self.servers.append(server)
        return server

    def _loadgen_command(self, server: Server, start_at: float, out: Path) -> list[str]:
        a = self.args
        command = ["--port", str(server.port)]
        command += ["--listeners", str(a.listeners), "--rate", str(a.rate)]
        command += ["--metadata" if a.metadata else "--no-metadata"]
        command += ["--nominal-kbps", str(BITRATE_KBPS), "--start-at", repr(start_at)]
        command += ["--json", str(out), "--quiet", "--processes", str(a.processes)]
        if a.mode == "churn":
            command += ["--churn-rate", str(a.churn_rate), "--duration", str(a.duration)]
        else:
            command += ["--warmup", str(a.warmup), "--window", str(a.window)]
        command += a.loadgen_arg
        if self.swarm is not None:
            return swarm_command(self.swarm, command)
        return [sys.executable, str(LOADGEN), *command]

    def measure(self, server: Server) -> Json:
        """
        Start a server, put the load on it, and stop it.

        @return: the load generator's summary and the server's samples.
        """
        a = self.args
        say(f"== {server.name}: starting on port {server.port}")
        started = time.monotonic()
        server.start()
        say(f"   ready in {time.monotonic() - started:.1f} s; idle for {a.settle:g} s")
        time.sleep(a.settle)
        idle = [reading(server.pid)]
        time.sleep(2.0)
        idle.append(reading(server.pid))
        start_at = time.monotonic() + 2.0
        ramp_end = start_at + a.listeners / a.rate
        out = server.workdir / "loadgen.json"
        self.loadgen = subprocess.Popen(self._loadgen_command(server, start_at, out))
        say(f"   ramping {a.listeners} listeners at {a.rate:g}/s")
        if a.mode == "churn":
            samples = self._churn_samples(server, ramp_end)
        else:
            samples = self._fanout_samples(server, ramp_end)
        status = self.loadgen.wait()
        self.loadgen = None
        if status != 0:
            raise ServerError(f"the load generator failed with status {status}")
        time.sleep(a.settle)
        samples["after"] = [reading(server.pid)] if server.alive() else []
        samples["idle"] = idle
        result: Json = {
            "server": server.name,
            "client": self.client,
            "command": server.command(),
            "alive_at_end": server.alive(),
            "notes": server.notes,
            "logs": [str(p) for p in server.logs],
            "samples": {k: [vars(s) for s in v] for k, v in samples.items() if k != "machine"},
            "machine": samples.get("machine"),
            "loadgen": json.loads(out.read_text()),
        }
        result["log_findings"] = log_findings(server)
        server.stop()
        return result

    def _fanout_samples(self, server: Server, ramp_end: float) -> dict[str, Any]:
        a = self.args
        window_start = ramp_end + a.warmup
        window_end = window_start + a.window
        sleep_until(ramp_end)
        at_ramp = reading(server.pid)
        sleep_until(window_start)
        window = [reading(server.pid)]
        busy0 = machine_busy()
        while time.monotonic() + 5.0 < window_end - 0.1:
            time.sleep(5.0)
            window.append(reading(server.pid))
        sleep_until(window_end - 0.05)
        window.append(reading(server.pid))
        busy1 = machine_busy()
        cores = (busy1[0] - busy0[0]) / (window[-1].at - window[0].at)
        say(f"   window done: machine busy {cores:.2f} of {os.cpu_count()} cores")
        return {"ramp_end": [at_ramp], "window": window, "machine": {"busy_cores": cores}}

    def _churn_samples(self, server: Server, ramp_end: float) -> dict[str, Any]:
        a = self.args
        end = ramp_end + a.duration
        sleep_until(ramp_end)
        timeline = [reading(server.pid)]
        next_at = ramp_end + a.sample_every
        while next_at < end - 1.0:
            sleep_until(next_at)
            timeline.append(reading(server.pid))
            s = timeline[-1]
            say(f"   +{s.at - ramp_end:5.0f} s: RSS {s.rss_kib / 1024:.1f} MB, {s.fds} fds")
            next_at += a.sample_every
        sleep_until(end - 0.5)
        timeline.append(reading(server.pid))
        return {"timeline": timeline}


def log_findings(server: Server) -> dict[str, int]:
    """
    Count the warnings, errors and tracebacks in a server's logs (twistd's
    C{[namespace#level]} and Icecast's C{] WARN } / C{] EROR } forms).
    """
    counts = {"lines": 0, "warn": 0, "error": 0, "traceback": 0}
    for log in server.logs:
        if not log.exists():
            continue
        for line in log.read_text(errors="replace").splitlines():
            counts["lines"] += 1
            low = line.lower()
            if "traceback" in low:
                counts["traceback"] += 1
            if "#warn]" in low or "] warn " in low:
                counts["warn"] += 1
            if "#error]" in low or "#critical]" in low or "] eror " in low:
                counts["error"] += 1
    return counts


def fanout_metrics(result: Json) -> Json:
    """
    The table's numbers for one fanout measurement.
    """
    lg = result["loadgen"]
    samples = result["samples"]
    idle, window = samples["idle"], samples["window"]
    listener_seconds = lg["listener_seconds"]
    cpu = window[-1]["cpu_s"] - window[0]["cpu_s"]
    user = window[-1].get("user_s", 0.0) - window[0].get("user_s", 0.0)
    system = window[-1].get("system_s", 0.0) - window[0].get("system_s", 0.0)
    client_cpu = sum(p.get("window", {}).get("cpu_s", 0.0) for p in lg["loadgen"]["phases"])

    def per_listener_s(seconds: float) -> float | None:
        return seconds * 1e6 / listener_seconds if listener_seconds else None

    idle_cpu = (idle[-1]["cpu_s"] - idle[0]["cpu_s"]) / (idle[-1]["at"] - idle[0]["at"])
    held = lg["held_through_window"]
    rss_idle = idle[-1]["rss_kib"]
    rss_loaded = max(s["rss_kib"] for s in window)
    requested = lg["listeners_requested"]
    rate = lg["rate_vs_nominal_pct"]
    return {
        "requested": requested,
        "full_rate": lg["full_rate"],
        "full_rate_pct": 100.0 * lg["full_rate"] / requested,
        "refused": lg["refused"],
        "dropped": lg["dropped"],
        "cpu_us_per_listener_s": per_listener_s(cpu),
        "cpu_user_us_per_listener_s": per_listener_s(user),
        "cpu_system_us_per_listener_s": per_listener_s(system),
        "client_cpu_us_per_listener_s": per_listener_s(client_cpu),
        "cpu_cores_window": cpu / (window[-1]["at"] - window[0]["at"]),
        "cpu_cores_idle": idle_cpu,
        "rss_idle_mb": rss_idle / 1024,
        "rss_loaded_mb": rss_loaded / 1024,
        "rss_per_listener_kib": (rss_loaded - rss_idle) / held if held else None,
        "pss_loaded_mb": max(s.get("pss_kib", 0) for s in window) / 1024,
        "fds_loaded": window[-1]["fds"],
        "threads": window[-1]["threads"],
        "processes": window[-1]["processes"],
        "ttfb_p50_ms": lg["ttfb_ms"]["p50"],
        "ttfb_p99_ms": lg["ttfb_ms"]["p99"],
        "gap_max_s": lg["max_gap_s"]["max"],
        "gap_p99_s": lg["max_gap_s"]["p99"],
        "gap_resolution_s": lg["gap_resolution_s"],
        "rate_pct": rate,
        "rate_dev_pct": None if rate is None else rate - 100.0,
        "framing_errors": lg["icy"]["framing_errors"],
        "log_errors": result["log_findings"]["error"] + result["log_findings"]["traceback"],
        "machine_busy_cores": (result.get("machine") or {}).get("busy_cores"),
        "loadgen_bottleneck": lg["loadgen"]["bottleneck"],
    }


def _num(digits: int) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return f"{value:,.{digits}f}"

    return show


Check = Callable[[Json, Json | None], str]
Row = tuple[str, str, Callable[[Any], str], bool, Check | None]


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "MISS")


def _rate_check(m: Json, other: Json | None, window: float) -> str:
    if m["rate_dev_pct"] is None:
        return "MISS"
    ok = abs(m["rate_dev_pct"]) <= TARGET_RATE_PCT
    return _verdict(ok) + ("" if window >= TARGET_RATE_WINDOW_S else " (short window)")


def fanout_rows(window: float) -> list[Row]:
    """
    The fanout table: label, metric, format, whether a ratio makes sense,
    and the target check for radiod.
    """

    def cpu(m: Json, other: Json | None) -> str:
        if not other or not m["cpu_us_per_listener_s"] or not other["cpu_us_per_listener_s"]:
            return "(needs icecast)"
        ratio = m["cpu_us_per_listener_s"] / other["cpu_us_per_listener_s"]
        return _verdict(ratio <= TARGET_CPU_RATIO)

    def at_most(key: str, limit: float) -> Check:
        return lambda m, other: _verdict(m[key] is not None and m[key] <= limit)

    return [
        ("listeners requested", "requested", _num(0), False, None),
        ("held at >=95% rate", "full_rate", _num(0), True, lambda m, o: _verdict(
            m["full_rate"] == m["requested"])),
        ("held at >=95% rate, %", "full_rate_pct", _num(1), True, None),
        ("refused", "refused", _num(0), False, at_most("refused", 0)),
        ("dropped", "dropped", _num(0), False, at_most("dropped", 0)),
        ("CPU us per listener-s", "cpu_us_per_listener_s", _num(2), True, cpu),
        ("  of which user", "cpu_user_us_per_listener_s", _num(2), True, None),
        ("  of which system", "cpu_system_us_per_listener_s", _num(2), True, None),
        ("CPU cores (window)", "cpu_cores_window", _num(2), True, None),
        ("CPU cores (idle)", "cpu_cores_idle", _num(3), True, None),
        ("RSS idle MB", "rss_idle_mb", _num(1), True, at_most("rss_idle_mb", TARGET_RSS_IDLE_MB)),
        ("RSS loaded MB", "rss_loaded_mb", _num(1), True, None),
        ("RSS per listener KiB", "rss_per_listener_kib", _num(2), True,
         at_most("rss_per_listener_kib", TARGET_RSS_PER_LISTENER_KIB)),
        ("PSS loaded MB", "pss_loaded_mb", _num(1), True, None),
        ("open fds (loaded)", "fds_loaded", _num(0), False, None),
        ("processes", "processes", _num(0), False, None),
        ("threads", "threads", _num(0), False, None),
        ("TTFB p50 ms", "ttfb_p50_ms", _num(1), True, None),
        ("TTFB p99 ms", "ttfb_p99_ms", _num(1), True, at_most("ttfb_p99_ms", TARGET_TTFB_P99_MS)),
        ("longest gap max s", "gap_max_s", _num(2), True, at_most("gap_max_s", TARGET_GAP_S)),
        ("longest gap p99 s", "gap_p99_s", _num(2), True, None),
        ("gap resolution s", "gap_resolution_s", _num(2), False, None),
        ("stream rate % nominal", "rate_pct", _num(3), False,
         lambda m, o: _rate_check(m, o, window)),
        ("ICY framing errors", "framing_errors", _num(0), False, at_most("framing_errors", 0)),
        ("log errors/tracebacks", "log_errors", _num(0), False, None),
        ("machine busy cores", "machine_busy_cores", _num(2), False, None),
        ("loadgen CPU us per listener-s", "client_cpu_us_per_listener_s", _num(2), False, None),
        ("loadgen bottleneck", "loadgen_bottleneck", _num(0), False, None),
    ]  # fmt: skip


def render(headers: list[str], rows: list[list[str]]) -> str:
    """
    A plain text table.
    """
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)

    def fmt(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(headers), line, *(fmt(r) for r in rows)])


def fanout_table(results: dict[str, Json], window: float) -> str:
    """
    metric | each server | radiod/icecast | radiod vs target.
    """
    metrics = {name: fanout_metrics(r) for name, r in results.items() if "loadgen" in r}
    names = list(metrics)
    radiod, icecast = metrics.get("radiod"), metrics.get("icecast")
    headers = ["metric", *names]
    if radiod and icecast:
        headers.append("radiod/icecast")
    if radiod:
        headers.append("radiod target")
    rows = []
    for label, key, show, ratio, check in fanout_rows(window):
        row = [label, *(show(metrics[n][key]) for n in names)]
        if radiod and icecast:
            a, b = radiod[key], icecast[key]
            usable = ratio and isinstance(a, int | float) and isinstance(b, int | float) and b
            row.append(f"{a / b:.2f}" if usable else "")
        if radiod:
            row.append(check(radiod, icecast) if check else "")
        rows.append(row)
    return render(headers, rows)


def workers_table(results: dict[str, Json], window: float) -> str:
    """
    One column per radiod worker count.
    """
    metrics = {name: fanout_metrics(r) for name, r in results.items() if "loadgen" in r}
    names = list(metrics)
    rows = [
        [label, *(show(metrics[n][key]) for n in names)]
        for label, key, show, _, _ in fanout_rows(window)
    ]
    return render(["metric", *names], rows)


def churn_table(results: dict[str, Json]) -> str:
    """
    Connections made and lost, and RSS and descriptors over the churn.
    """
    names = [n for n, r in results.items() if "loadgen" in r]
    rows: list[list[str]] = []

    def add(label: str, values: list[str]) -> None:
        rows.append([label, *values])

    def pick(name: str) -> tuple[Json, Json, list[Json], list[Json]]:
        r = results[name]
        s = r["samples"]
        return r["loadgen"], s["idle"][-1], s["timeline"], s["after"]

    add("connections made", [str(pick(n)[0]["connections_started"]) for n in names])
    add("refused", [str(pick(n)[0]["refused"]) for n in names])
    add("dropped", [str(pick(n)[0]["dropped"]) for n in names])
    add("TTFB p99 ms", [_num(1)(pick(n)[0]["ttfb_ms"]["p99"]) for n in names])
    for label, key, scale, digits in (
        ("RSS MB", "rss_kib", 1 / 1024, 1),
        ("open fds", "fds", 1.0, 0),
    ):
        for when in ("idle", "start", "end", "after"):

            def value(
                name: str, key: str = key, when: str = when, scale: float = scale, d: int = digits
            ) -> str:
                _, idle, timeline, after = pick(name)
                chosen = {"idle": [idle], "start": timeline[:1], "end": timeline[-1:]}
                found = chosen.get(when, after)
                return _num(d)(found[0][key] * scale) if found else "-"

            add(f"{label} {when}", [value(n) for n in names])
    add("log errors/tracebacks",
        [str(results[n]["log_findings"]["error"] + results[n]["log_findings"]["traceback"])
         for n in names])  # fmt: skip
    add("loadgen bottleneck", [_num(0)(pick(n)[0]["loadgen"]["bottleneck"]) for n in names])
    text = render(["metric", *names], rows)
    for name in names:
        _, _, timeline, _ = pick(name)
        t0 = timeline[0]["at"]
        points = ", ".join(
            f"+{s['at'] - t0:.0f}s {s['rss_kib'] / 1024:.1f}MB/{s['fds']}fd" for s in timeline
        )
        text += f"\n{name} timeline: {points}"
    return text


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """
    The command line.
    """
    p = argparse.ArgumentParser(
        prog="run.py", description="radiod against Icecast 2 under the same listener load."
    )
    p.add_argument("--mode", choices=["fanout", "churn", "workers"], default="fanout")
    p.add_argument("--listeners", "-n", type=int, default=15000)
    p.add_argument("--rate", "-r", type=float, default=1000.0, help="connections per second")
    p.add_argument("--window", type=float, default=60.0, help="seconds measured (fanout)")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds between ramp and window")
    p.add_argument("--metadata", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--servers", default="radiod,icecast", help="comma-separated")
    p.add_argument("--duration", type=float, default=600.0, help="churn: seconds of churn")
    p.add_argument("--churn-rate", type=float, default=50.0, help="churn: replaced per second")
    p.add_argument("--sample-every", type=float, default=60.0, help="churn: sampling period")
    p.add_argument("--workers-list", default="1,2", help="workers: radiod --workers values")
    p.add_argument("--radiod-arg", action="append", default=[], help="extra radiod argument")
    p.add_argument("--loadgen-arg", action="append", default=[], help="extra loadgen argument")
    p.add_argument("--processes", type=int, default=0, help="loadgen processes (0: automatic)")
    p.add_argument(
        "--client",
        choices=["auto", "c", "python"],
        default="auto",
        help="load generator: the C swarm, Python's loadgen, or C when a compiler is found",
    )
    p.add_argument("--settle", type=float, default=3.0, help="seconds idle before the ramp")
    p.add_argument("--icecast", default=shutil.which("icecast2") or "", help="icecast binary")
    p.add_argument("--cache", default="/tmp/radiod-bench-cache", help="test music cache")
    p.add_argument("--out", help="JSON results file (default: under --cache)")
    return p.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    """
    Treat SIGTERM like Ctrl-C: stop the children, report what was measured.
    """
    raise KeyboardInterrupt()


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the benchmark and print its table.

    @return: the exit status: 0, or 1 when a server could not be measured.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    raise_fd_limit(args.listeners + 1000)
    signal.signal(signal.SIGTERM, _interrupt)
    bench = Bench(args)
    plan: list[tuple[str, str, list[str]]] = []
    if args.mode == "workers":
        for count in args.workers_list.split(","):
            plan.append((f"radiod x{count}", "radiod", [f"--workers={count}"]))
    else:
        for name in args.servers.split(","):
            if name == "icecast" and not args.icecast:
                say("== icecast: not installed (no icecast2 on PATH); skipped")
                continue
            if name not in ("radiod", "icecast"):
                raise SystemExit(f"run.py: unknown server {name!r}")
            plan.append((name, name, []))
    results: dict[str, Json] = {}
    failed = False
    began = time.monotonic()
    say(f"== load generator: {CLIENTS[bench.client]}")
    try:
        for label, kind, extra in plan:
            server = bench.make_server(label, kind, extra)
            try:
                results[label] = bench.measure(server)
            except ServerError as e:
                failed = True
                say(f"!! {label} could not be measured: {e}")
                results[label] = {
                    "server": kind,
                    "error": str(e),
                    "logs": [str(p) for p in server.logs],
                }
            finally:
                server.stop()
    except KeyboardInterrupt:
        say("interrupted; stopping the children")
        failed = True
    finally:
        bench.cleanup()
    print(report(args, results, time.monotonic() - began, bench.stamp, bench.client))
    return 1 if failed else 0


def report(
    args: argparse.Namespace,
    results: dict[str, Json],
    elapsed: float,
    stamp: str,
    client: str = "python",
) -> str:
    """
    The printed report: the table, per-server notes, and the results file.

    @param client: the load generator used, C{"c"} or C{"python"}.
    """
    out = Path(args.out or Path(args.cache) / "results" / f"{args.mode}-{stamp}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    document: Json = {"args": vars(args), "client": client, "results": results}
    if args.mode != "churn":
        document["metrics"] = {n: fanout_metrics(r) for n, r in results.items() if "loadgen" in r}
    out.write_text(json.dumps(document, indent=1))
    head = (
        f"{args.mode}: {args.listeners} listeners at {args.rate:g}/s, "
        f"metadata {'on' if args.metadata else 'off'}, {BITRATE_KBPS} kbps, "
        + (f"churn {args.churn_rate:g}/s for {args.duration:g} s" if args.mode == "churn"
           else f"warmup {args.warmup:g} s, window {args.window:g} s")
        + f"; took {elapsed:.0f} s"
    )  # fmt: skip
    processes = {len(r["loadgen"]["loadgen"]["phases"]) for r in results.values() if "loadgen" in r}
    shown = "/".join(str(n) for n in sorted(processes)) or "?"
    lines = ["", head, f"load generator: {CLIENTS[client]}, {shown} process(es)", ""]
    if not any("loadgen" in r for r in results.values()):
        lines.append("(no server was measured)")
    elif args.mode == "churn":
        lines.append(churn_table(results))
    elif args.mode == "workers":
        lines.append(workers_table(results, args.window))
    else:
        lines.append(fanout_table(results, args.window))
    lines.append("")
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{name}: NOT MEASURED: {r['error']}")
            continue
        lg = r["loadgen"]
        for error, count in lg["errors"].items():
            lines.append(f"{name}: {count} x {error}")
        if lg["loadgen"]["bottleneck"]:
            reasons = "; ".join(lg["loadgen"]["bottleneck_reasons"])
            lines.append(f"{name}: LOADGEN WAS THE BOTTLENECK: {reasons}")
        busy = (r.get("machine") or {}).get("busy_cores")
        cores = os.cpu_count() or 1
        if busy is not None and busy >= 0.95 * cores:
            lines.append(
                f"{name}: MACHINE CPU SATURATED ({busy:.2f} of {cores} cores busy in the window): "
                "the server and the load generator competed for CPU"
            )
        if not r["alive_at_end"]:
            lines.append(f"{name}: the server was no longer running at the end")
        lines.extend(f"{name}: {note}" for note in r["notes"])
        lines.append(f"{name}: logs {' '.join(r['logs'])}")
    lines.append(f"raw results: {out}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
