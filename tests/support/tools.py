"""
What a test needs from the machine it runs on: programs, packages and
devices.

A test whose need is not met is skipped on a developer's machine, but
fails under continuous integration (where C{CI} is C{true}), which must
run the whole suite.
"""

from __future__ import annotations

import os
from typing import TypeVar

from twisted.trial.unittest import FailTest, SkipTest

from radiod.ffmpeg.binary import find_ffmpeg

__all__ = ["FFMPEG_HINT", "in_ci", "require", "require_ffmpeg", "require_tool"]

_T = TypeVar("_T")

FFMPEG_HINT = "apt-get install ffmpeg, or pip install imageio-ffmpeg"
"""
How to install ffmpeg.
"""


def in_ci() -> bool:
    """
    Whether the tests run under continuous integration: the environment
    variable C{CI} is C{true}.
    """
    return os.environ.get("CI") == "true"


def require(condition: object, message: str) -> None:
    """
    Go on with the test only if C{condition} is true.

    @param condition: what the test needs, tested for truth.
    @param message: why the test cannot run without it.
    @raise SkipTest: if C{condition} is false.
    @raise FailTest: instead, under continuous integration (see L{in_ci}).
    """
    if condition:
        return
    if in_ci():
        raise FailTest(f"{message}; CI=true, where every test must run rather than be skipped")
    raise SkipTest(message)


def require_tool(name: str, found: _T | None, hint: str) -> _T:
    """
    Go on with the test only if the tool C{name} was found.

    @param name: the tool, as its users know it (C{"ezstream"}).
    @param found: the result of looking for it (a path from
        L{shutil.which}, say), L{None} when it is missing.
    @param hint: how to install it (C{"apt-get install ezstream"}).
    @return: C{found}.
    @raise SkipTest: if C{found} is L{None}.
    @raise FailTest: instead, under continuous integration (see L{in_ci}).
    """
    require(found is not None, f"{name} is not installed ({hint})")
    assert found is not None
    return found


def require_ffmpeg() -> str:
    """
    Go on with the test only if an ffmpeg is available (see
    L{radiod.ffmpeg.binary.find_ffmpeg}).

    @return: its path.
    @raise SkipTest: if there is none.
    @raise FailTest: instead, under continuous integration (see L{in_ci}).
    """
    return require_tool("ffmpeg", find_ffmpeg(), FFMPEG_HINT)
