# -*- test-case-name: tests.test_tap -*-
"""
Entry point for C{twistd radiod}: the command-line options and the service
they build.  This is the one module that uses the global reactor.
"""

from __future__ import annotations

from twisted.application.service import IService

from radiod.config import ConfigError
from radiod.library import LibraryError
from radiod.options import Options
from radiod.service import StationService, check_music, demo_library, thread_runner
from radiod.worker import raise_file_limit

__all__ = ["Options", "makeService"]


def makeService(options: Options) -> IService:
    """
    Build the station from parsed options.  A configuration the station
    cannot start with ends the program with one clear line.
    """
    from twisted.internet import reactor

    try:
        config = options.to_config()
        for mount in config.mounts:
            if not mount.live_only:
                check_music(mount.music or demo_library())
    except (ConfigError, LibraryError) as error:
        raise SystemExit(f"twistd radiod: error: {error}") from None
    raise_file_limit()
    pool = reactor.getThreadPool()  # type: ignore[attr-defined]
    return StationService(config, reactor, thread_runner(reactor, pool))
