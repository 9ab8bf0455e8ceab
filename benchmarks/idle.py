# -*- test-case-name: tests.benchmarks.test_idle -*-
"""
Where an idle station's memory goes.

Each step is a fresh Python process that imports a little more, from
nothing to all of radiod, and reports its resident memory (C{VmRSS});
the last is twistd running radiod with the benchmarks' music and no
listener, sampled as C{benchmarks/run.py} samples it.  One step is for
reference only: Twisted's reactor kept from importing pyOpenSSL, which it
otherwise imports for its TLS methods whether or not TLS is used::

    python benchmarks/idle.py [--repeat 3] [--settle 5] [--json FILE]

Each import step is measured C{--repeat} times and the median printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from servers import REPO, Radiod, make_music, new_workdir, repo_env, sample

TARGET_IDLE_MB = 40.0
"""
The idle process the performance targets ask for.
"""

STEPS: list[tuple[str, str]] = [
    ("python", ""),
    ("+ Twisted's reactor", "from twisted.internet import reactor"),
    (
        "  (reactor without pyOpenSSL, reference)",
        "import sys; sys.modules['OpenSSL'] = None; from twisted.internet import reactor",
    ),
    ("+ twisted.web", "from twisted.internet import reactor; import twisted.web.server"),
    ("+ radiod imported", "from twisted.internet import reactor; import radiod.tap"),
]
"""
The import steps: a label, and the code run before the reading.
"""

_READ_RSS = (
    "\nwith open('/proc/self/status') as f:\n"
    "    print([l.split()[1] for l in f if l.startswith('VmRSS:')][0])\n"
)

Json = dict[str, Any]


def say(text: str) -> None:
    """
    Progress, on standard error, flushed.
    """
    print(text, file=sys.stderr, flush=True)


def rss_after(code: str) -> int:
    """
    The resident memory, in KiB, of a fresh Python process (with this
    checkout first on its path) once it has run C{code}.
    """
    result = subprocess.run(
        [sys.executable, "-c", code + _READ_RSS],
        capture_output=True,
        text=True,
        env=repo_env(),
        cwd=REPO,
        timeout=120,
        check=True,
    )
    return int(result.stdout.split()[-1])


def idle_station(cache: Path, settle: float) -> tuple[int, int, int]:
    """
    Start radiod under twistd with the benchmarks' music, leave it idle
    for C{settle} seconds, and read it.

    @return: its RSS and PSS in KiB, and its thread count.
    """
    music = make_music(cache)
    server = Radiod(new_workdir(cache / "runs", "idle"), music, 100)
    server.start()
    try:
        time.sleep(settle)
        reading = sample(server.pid)
    finally:
        server.stop()
    return reading.rss_kib, reading.pss_kib, reading.threads


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--repeat", type=int, default=3, help="runs of each import step")
    p.add_argument("--settle", type=float, default=5.0, help="seconds idle before reading")
    p.add_argument("--cache", default="/tmp/radiod-bench-cache", help="test music cache")
    p.add_argument("--json", help="write the figures to this file as well")
    a = p.parse_args(argv)

    rows: list[Json] = []
    for label, code in STEPS:
        runs = [rss_after(code) for _ in range(a.repeat)]
        median = statistics.median(runs)
        rows.append({"step": label, "rss_kib": median, "runs_kib": runs})
        say(f"   {label}: {median / 1024:.1f} MB")
    rss, pss, threads = idle_station(Path(a.cache), a.settle)
    rows.append({"step": "+ running idle (twistd radiod)", "rss_kib": rss, "pss_kib": pss})

    print(f"{'step':<42}  {'RSS MB':>7}  {'added MB':>8}")
    print(f"{'-' * 42}  {'-' * 7}  {'-' * 8}")
    before: float | None = None
    for row in rows:
        mb = row["rss_kib"] / 1024
        reference = row["step"].startswith(" ")
        added = "" if before is None or reference else f"{mb - before:+.1f}"
        print(f"{row['step']:<42}  {mb:7.1f}  {added:>8}")
        if not reference:
            before = mb
    idle_mb = rss / 1024
    verdict = "PASS" if idle_mb <= TARGET_IDLE_MB else "MISS"
    print(
        f"\nidle station: RSS {idle_mb:.1f} MB, PSS {pss / 1024:.1f} MB, {threads} threads; "
        f"target <= {TARGET_IDLE_MB:g} MB: {verdict}"
    )
    if a.json:
        Path(a.json).write_text(json.dumps({"steps": rows, "threads": threads}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
