# -*- test-case-name: tests.benchmarks.test_swarm -*-
"""
The compiled listener swarm: building C{benchmarks/swarm.c} (and the other
C programs of the benchmarks) with the system's C compiler, and the command
line that runs it.

The swarm takes the options of C{benchmarks/loadgen.py} and writes the same
JSON summary, at a fraction of its CPU; see the comment at the top of
C{swarm.c}.  Run it directly with::

    python benchmarks/swarm.py --port 8000 --listeners 2000 --rate 500 \\
        --window 30 --nominal-kbps 128 --json out.json

which builds it (once, and again whenever C{swarm.c} changes) under
C{--cache} (default C{/tmp/radiod-bench-cache}) and runs it with the other
arguments; C{--help} shows its options.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent

SOURCE = HERE / "swarm.c"
"""
The swarm's source.
"""

DEFAULT_CACHE = Path("/tmp/radiod-bench-cache")
"""
Where the benchmarks keep what they make, programs included (under C{bin/}).
"""

COMPILERS = ("cc", "gcc", "clang")
"""
The C compilers looked for, in order.
"""

FLAGS = ("-O2", "-std=c11", "-Wall", "-Wextra")
"""
How the programs are compiled.
"""


class BuildError(Exception):
    """
    A C compiler was found but could not build the program; the message
    holds what it said.
    """


def compiler() -> str | None:
    """
    The system's C compiler.

    @return: its path, or L{None} when there is none on C{PATH}.
    """
    for name in COMPILERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def build_program(source: Path, cache_dir: Path) -> Path | None:
    """
    Compile one C program into C{cache_dir/bin/}, unless the program there
    is already newer than its source.

    @param source: the C file; the program is named after it, without C{.c}.
    @param cache_dir: the benchmark cache folder.
    @return: the program's path, or L{None} when there is no C compiler.
    @raise BuildError: when the compiler fails.
    """
    target = cache_dir / "bin" / source.stem
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    cc = compiler()
    if cc is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{source.stem}-", dir=target.parent)
    os.close(handle)
    command = [cc, *FLAGS, "-o", partial, str(source)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        os.unlink(partial)
        raise BuildError(f"{' '.join(command)} failed:\n{done.stderr.strip()}")
    os.replace(partial, target)
    return target


def build(cache_dir: Path) -> Path | None:
    """
    Build the swarm (see L{build_program}).

    @param cache_dir: the benchmark cache folder.
    @return: the program's path, or L{None} when there is no C compiler.
    @raise BuildError: when the compiler fails.
    """
    return build_program(SOURCE, cache_dir)


def command(program: Path, arguments: Sequence[str]) -> list[str]:
    """
    The command line that runs the swarm.

    @param program: what L{build} returned.
    @param arguments: its options, those of C{benchmarks/loadgen.py}
        (C{--port}, C{--listeners}, C{--rate}, C{--window}, C{--json}, ...).
    @return: the command, for L{subprocess.Popen}.
    """
    return [str(program), *arguments]


def main(argv: Sequence[str] | None = None) -> int:
    """
    Build the swarm and run it with the rest of the command line.

    @return: its exit status (on success this process becomes the swarm).
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--cache", default=str(DEFAULT_CACHE))
    known, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    try:
        program = build(Path(known.cache))
    except BuildError as e:
        print(f"swarm.py: {e}", file=sys.stderr)
        return 2
    if program is None:
        print(f"swarm.py: no C compiler ({', '.join(COMPILERS)}) on PATH", file=sys.stderr)
        return 2
    arguments = command(program, rest)
    sys.stdout.flush()
    os.execv(arguments[0], arguments)


if __name__ == "__main__":
    sys.exit(main())
