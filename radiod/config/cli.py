# -*- test-case-name: tests.config.test_cli -*-
"""
C{radiod-config}: configuration files converted for radiod.

C{radiod-config --from-icecast /etc/icecast2/icecast.xml} reads an
Icecast 2.4 configuration and prints the equivalent C{radiod.toml} on
standard output, each key with a comment saying what it is and which
element it came from, and the elements that did not carry over listed at
the top, so that an operator can switch for good.  The same warnings go
to standard error, one line each.  A file that cannot be used is one
line on standard error naming the file, the line and the element, and
exit status 1.

Icecast says nothing of music: C{--music} names what the first mount
plays where no source is live, and C{--config} an existing
C{radiod.toml} whose settings the Icecast ones are applied over.

Blocking, and free of Twisted: it only reads files and writes text.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TextIO

from radiod.config.check import validate
from radiod.config.errors import ConfigError
from radiod.config.icecast import read_icecast_config
from radiod.config.render import render_config
from radiod.config.schema import StationConfig
from radiod.config.toml import read_config

__all__ = ["PROGRAM", "convert", "main", "parse_arguments", "run"]

PROGRAM = "radiod-config"
"""
The command's name, at the start of what it writes to standard error.
"""


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """
    Read the command line.

    @raise SystemExit: on a usage error (after printing it), or for
        C{--help}.
    """
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Print the radiod.toml equivalent to another server's configuration.",
    )
    parser.add_argument(
        "--from-icecast",
        metavar="ICECAST_XML",
        required=True,
        help="an Icecast 2.4 configuration, such as /etc/icecast2/icecast.xml",
    )
    parser.add_argument(
        "--config",
        metavar="RADIOD_TOML",
        help="a radiod.toml the Icecast settings are applied over (for its music)",
    )
    parser.add_argument(
        "--music",
        metavar="FOLDER_OR_PLAYLIST",
        help="what the first mount plays where no source is live",
    )
    return parser.parse_args(argv)


def _base(arguments: argparse.Namespace) -> StationConfig:
    """
    The configuration the Icecast settings are applied over.

    @raise ConfigError: if it cannot be used.
    """
    base = read_config(arguments.config) if arguments.config else StationConfig()
    if arguments.music:
        first = replace(base.mounts[0], music=os.path.abspath(arguments.music))
        base = replace(base, mounts=(first, *base.mounts[1:]))
        try:
            validate(base, os.path.exists)
        except ConfigError as e:
            raise ConfigError(f"--music {arguments.music}: {e.reason}") from None
    return base


def convert(arguments: argparse.Namespace) -> tuple[str, tuple[str, ...]]:
    """
    Convert the configuration the command line names.

    @return: the text of the C{radiod.toml}, and the warnings.
    @raise ConfigError: if a file cannot be read or used.
    """
    source = arguments.from_icecast
    result = read_icecast_config(source, _base(arguments))
    header = [
        f"radiod.toml made by {PROGRAM} from {source}.",
        "",
        "Each key below was set by an Icecast element, named under it, or",
        "differs from radiod's default.  Music is not Icecast's business: the",
        "mounts' music keys (or --music) say what plays where no source is",
        "live.  Start radiod with: twistd -n radiod --config radiod.toml",
    ]
    if result.warnings:
        header += ["", "Not carried over, or carried over differently:"]
        header += [f"  {warning}" for warning in result.warnings]
    return render_config(result.station, header, result.notes()), result.warnings


def run(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    """
    Run the command.

    @param argv: the arguments, without the program's name.
    @param stdout: where the configuration is written.
    @param stderr: where warnings and errors are written.
    @return: the exit status: 0, or 1 when a file cannot be read or used.
    @raise SystemExit: on a usage error, as L{parse_arguments}.
    """
    arguments = parse_arguments(argv)
    try:
        text, warnings = convert(arguments)
    except ConfigError as error:
        print(f"{PROGRAM}: error: {error}", file=stderr)
        return 1
    for warning in warnings:
        print(f"{PROGRAM}: warning: {warning}", file=stderr)
    stdout.write(text)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """
    The C{radiod-config} command.

    @param argv: the arguments, without the program's name;
        C{sys.argv[1:]} by default.
    @raise SystemExit: with status 1 when a file cannot be used.
    """
    status = run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr)
    if status:
        raise SystemExit(status)


if __name__ == "__main__":
    main()
