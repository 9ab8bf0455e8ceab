"""
Run every fuzz target of L{parsers} for a while, one after the other,
and print a table: executions, speed, coverage reached and crashes.

    python fuzz/campaign.py --seconds 300

Crash reproducers go to fuzz/crashes/<target>/; the corpus each run grows
is kept in fuzz/corpus/<target>/ so later runs start where earlier ones
stopped.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ("request", "frames", "icy", "handshake", "playlist", "config")


def run(target: str, seconds: int) -> dict[str, str]:
    """
    Fuzz one target; return what libFuzzer reported.
    """
    corpus = os.path.join(HERE, "corpus", target)
    crashes = os.path.join(HERE, "crashes", target)
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(crashes, exist_ok=True)
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(HERE, "parsers.py"),
            target,
            corpus,
            f"-max_total_time={seconds}",
            f"-artifact_prefix={crashes}/",
            "-print_final_stats=1",
            "-max_len=16384",
        ],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(HERE),
    )
    log = result.stderr
    numbers = dict(re.findall(r"stat::(\w+):\s+(\d+)", log))
    cov = re.findall(r"cov: (\d+)", log)
    return {
        "target": target,
        "seconds": f"{time.monotonic() - started:.0f}",
        "runs": numbers.get("number_of_executed_units", "?"),
        "per_second": numbers.get("average_exec_per_sec", "?"),
        "coverage": cov[-1] if cov else "?",
        "corpus": str(len(os.listdir(corpus))),
        "crashes": str(len(os.listdir(crashes))),
        "status": "ok" if result.returncode == 0 else f"exit {result.returncode}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("targets", nargs="*", default=list(TARGETS))
    args = parser.parse_args()
    columns = ("target", "seconds", "runs", "per_second", "coverage", "corpus", "crashes", "status")
    print(" | ".join(columns))
    failed = False
    for target in args.targets:
        row = run(target, args.seconds)
        failed |= row["status"] != "ok" or row["crashes"] != "0"
        print(" | ".join(row[column] for column in columns), flush=True)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
