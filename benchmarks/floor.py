# -*- test-case-name: tests.benchmarks.test_swarm -*-
"""
The physical floor: what the kernel alone costs to move a 128 kbps stream
to a loopback socket, in sends of the size radiod makes.

C{benchmarks/floor.c} is a sender with no logic: it accepts the
connections and writes each a fixed-size chunk every size / rate seconds,
waking every tick as radiod's pacer does.  The swarm (C{benchmarks/swarm.c})
connects the listeners and reads them as it reads a server, checking that
each got its full rate.  Over the window the sender measures its own CPU
time (C{getrusage}: user and system apart), and this prints it per
listener-second, for each send size given, with the reader's and the whole
machine's (which adds the kernel's work done outside both programs)::

    python benchmarks/floor.py [--connections 8000] [--sizes 8000,16000]
        [--rate 1000] [--warmup 5] [--window 30] [--json FILE]

The default size, 8,000 bytes, is what radiod writes to each listener at
this scale: with 8,000 listeners each is served every fifth 0.1 s tick,
half a second of a 16,000 B/s stream at a time.  Both programs are built
with the system's C compiler under C{--cache}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from servers import machine_busy
from swarm import DEFAULT_CACHE, BuildError, build, build_program, command

HERE = Path(__file__).resolve().parent

SOURCE = HERE / "floor.c"
"""
The sender's source.
"""

RADIOD_SEND_SIZE = 8000
"""
The bytes radiod writes to one listener at a time with thousands of
listeners: a 16,000 B/s stream served every five 0.1 s ticks.
"""

Json = dict[str, Any]


def say(text: str) -> None:
    """
    Progress, on standard error, flushed.
    """
    print(text, file=sys.stderr, flush=True)


def build_floor(cache_dir: Path) -> Path | None:
    """
    Build the sender.

    @param cache_dir: the benchmark cache folder.
    @return: its path, or L{None} when there is no C compiler.
    @raise BuildError: when the compiler fails.
    """
    return build_program(SOURCE, cache_dir)


def sender_command(
    program: Path, args: argparse.Namespace, size: int, window_start: float, out: Path
) -> list[str]:
    """
    The sender's command line for one send size.

    @param window_start: when its window starts, on C{time.monotonic()}.
    """
    return [
        str(program),
        *("--connections", str(args.connections), "--size", str(size)),
        *("--bytes-per-second", str(args.bytes_per_second), "--tick", str(args.tick)),
        *("--send-buffer", str(args.send_buffer), "--window", str(args.window)),
        *("--window-start", repr(window_start), "--json", str(out)),
    ]


def reader_command(
    program: Path, args: argparse.Namespace, port: int, start_at: float, out: Path
) -> list[str]:
    """
    The swarm's command line, reading the sender's connections.

    @param start_at: when its ramp starts, on C{time.monotonic()}.
    """
    kbps = args.bytes_per_second * 8 / 1000
    return command(
        program,
        [
            *("--port", str(port), "--listeners", str(args.connections)),
            *("--rate", str(args.rate), "--no-metadata", "--nominal-kbps", f"{kbps:g}"),
            *("--warmup", str(args.warmup), "--window", str(args.window)),
            *("--start-at", repr(start_at), "--json", str(out), "--quiet"),
        ],
    )


def sleep_until(moment: float) -> None:
    """
    Sleep until C{time.monotonic()} reaches C{moment}.
    """
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def measure(sender: Path, reader: Path, args: argparse.Namespace, size: int, folder: Path) -> Json:
    """
    One send size: the sender and the swarm, run together over one window.

    @return: C{sender} and C{reader}, the two programs' summaries, and
        C{machine_busy_s}, the CPU time the whole machine spent over the
        window (all cores, every process and the kernel's own work).
    """
    start_at = time.monotonic() + 1.0
    window_start = start_at + args.connections / args.rate + args.warmup
    window_end = window_start + args.window
    sender_out = folder / f"floor-{size}.json"
    reader_out = folder / f"swarm-{size}.json"
    process = subprocess.Popen(
        sender_command(sender, args, size, window_start, sender_out),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            raise SystemExit(f"floor.py: the sender did not start (said {line!r})")
        port = int(line[1])
        reading = subprocess.Popen(reader_command(reader, args, port, start_at, reader_out))
        try:
            sleep_until(window_start)
            busy = machine_busy()[0]
            sleep_until(window_end)
            busy = machine_busy()[0] - busy
            if reading.wait() != 0:
                raise SystemExit(f"floor.py: the swarm failed with status {reading.returncode}")
        finally:
            if reading.poll() is None:
                reading.kill()
                reading.wait()
        if process.wait(args.window + 60) != 0:
            raise SystemExit(f"floor.py: the sender failed with status {process.returncode}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return {
        "sender": json.loads(sender_out.read_text()),
        "reader": json.loads(reader_out.read_text()),
        "machine_busy_s": busy,
    }


def row(size: int, result: Json) -> list[str]:
    """
    One line of the table.
    """
    sender, reader = result["sender"], result["reader"]
    per = sender["us_per_listener_s"]
    window = sender["window_s"] or 1.0
    received = reader["loadgen"]["window_cpu_us_per_listener_s"]["total"]
    listener_seconds = sender["listener_seconds"]
    machine = result["machine_busy_s"] * 1e6 / listener_seconds if listener_seconds else None
    return [
        f"{size:,}",
        f"{sender['window_sends'] / window:,.0f}",
        f"{reader['full_rate']:,}/{reader['listeners_requested']:,}",
        f"{per['user']:.2f}",
        f"{per['system']:.2f}",
        f"{per['total']:.2f}",
        f"{sender['us_per_send']['total']:.2f}",
        "-" if received is None else f"{received:.2f}",
        "-" if machine is None else f"{machine:.2f}",
    ]


def table(results: dict[int, Json]) -> str:
    """
    The sender's cost for each send size, as a plain text table.
    """
    headers = [
        "send size B",
        "sends/s",
        "held",
        "user us/l-s",
        "system us/l-s",
        "total us/l-s",
        "us/send",
        "reader us/l-s",
        "machine us/l-s",
    ]
    rows = [row(size, result) for size, result in results.items()]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def notes(results: dict[int, Json]) -> list[str]:
    """
    Anything that makes a row doubtful: lost connections, short sends, a
    reader that did not keep up.
    """
    found = []
    for size, result in results.items():
        sender, reader = result["sender"], result["reader"]
        if sender["connections"] < sender["connections_wanted"]:
            found.append(f"{size}: only {sender['connections']} connections were made")
        if sender["lost_before_end"] or sender["short_sends"]:
            found.append(
                f"{size}: {sender['lost_before_end']} connections lost, "
                f"{sender['short_sends']} sends not taken whole"
            )
        if sender["late_ticks"]:
            found.append(f"{size}: {sender['late_ticks']} ticks ran more than a tick late")
        if reader["loadgen"]["bottleneck"]:
            reasons = "; ".join(reader["loadgen"]["bottleneck_reasons"])
            found.append(f"{size}: THE READER WAS THE BOTTLENECK: {reasons}")
    return found


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """
    The command line.
    """
    p = argparse.ArgumentParser(
        prog="floor.py", description="The kernel's cost of a loopback stream, per send size."
    )
    p.add_argument("--connections", "-n", type=int, default=8000)
    p.add_argument("--sizes", default=str(RADIOD_SEND_SIZE), help="comma-separated bytes per send")
    p.add_argument("--bytes-per-second", type=int, default=16000, help="each connection's rate")
    p.add_argument("--tick", type=float, default=0.1, help="seconds between the sender's turns")
    p.add_argument("--send-buffer", type=int, default=65536, help="SO_SNDBUF; 0: the kernel's")
    p.add_argument("--rate", "-r", type=float, default=1000.0, help="connections per second")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds between ramp and window")
    p.add_argument("--window", type=float, default=30.0, help="seconds measured")
    p.add_argument("--cache", default=str(DEFAULT_CACHE), help="where the programs are built")
    p.add_argument("--json", help="write the results here (default: under --cache)")
    args = p.parse_args(argv)
    try:
        args.size_list = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        p.error(f"--sizes: not a list of numbers: {args.sizes}")
    if args.connections < 1 or any(size < 1 for size in args.size_list):
        p.error("--connections and --sizes must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """
    Measure each send size in turn and print the table.

    @return: the exit status.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cache = Path(args.cache)
    try:
        sender, reader = build_floor(cache), build(cache)
    except BuildError as e:
        print(f"floor.py: {e}", file=sys.stderr)
        return 2
    if sender is None or reader is None:
        print("floor.py: needs a C compiler (cc, gcc or clang) on PATH", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = cache / "runs" / f"floor-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[int, Json] = {}
    began = time.monotonic()
    for size in args.size_list:
        say(f"== {size} bytes per send: {args.connections} connections, {args.window:g} s window")
        results[size] = measure(sender, reader, args, size, folder)
    out = Path(args.json or cache / "results" / f"floor-{stamp}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print()
    print(
        f"floor: {args.connections} loopback connections at {args.bytes_per_second} B/s each, "
        f"tick {args.tick:g} s, SO_SNDBUF {args.send_buffer or 'kernel'}, "
        f"window {args.window:g} s; {os.cpu_count()} cores, Linux {platform.release()}; "
        f"took {time.monotonic() - began:.0f} s"
    )
    print()
    print(table(results))
    print()
    print(
        "us/l-s: CPU microseconds per listener-second, the sender's (user, system, both) from\n"
        "its getrusage over the window; us/send: the sender's per send; reader: the swarm's;\n"
        "machine: every core's busy time over the window (sender, reader, the kernel's work\n"
        "done outside either, and anything else running)."
    )
    for note in notes(results):
        print(note)
    print(f"raw results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
