# -*- test-case-name: tests.station.test_e2e -*-
"""
Finding an ffmpeg binary: the one on PATH, else the one shipped by the
C{imageio-ffmpeg} package when it is installed.
"""

from __future__ import annotations

import shutil

__all__ = ["find_ffmpeg"]


def find_ffmpeg() -> str | None:
    """
    The path of an ffmpeg executable, or L{None} when there is none.
    """
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        return None
