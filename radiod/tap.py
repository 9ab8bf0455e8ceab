# -*- test-case-name: tests.test_tap -*-
"""
Entry point for C{twistd radiod}: the command-line options and the service
they build.  This is the one module that uses the global reactor.
"""

from __future__ import annotations

import signal
from typing import IO, Any

from OpenSSL.crypto import Error as SSLError
from twisted.application.service import IService
from twisted.logger import Logger
from twisted.python.logfile import LogFile

from radiod.accesslog import AppendFile
from radiod.auth import with_admin_password
from radiod.config import ConfigError
from radiod.jsonlog import LogObserverService, json_observer, twistd_log_output
from radiod.library import LibraryError
from radiod.options import Options
from radiod.service import StationService, check_music, demo_library, thread_runner
from radiod.steady import SteadyTime
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
        log_output = _log_output(options) if config.log_format == "json" else None
        config = with_admin_password(config)
    except (ConfigError, LibraryError, ValueError) as error:
        raise SystemExit(f"twistd radiod: error: {error}") from None
    if config.access_log:
        _check_access_log(config.access_log)
    raise_file_limit()
    pool = reactor.getThreadPool()  # type: ignore[attr-defined]
    try:
        station = StationService(config, reactor, thread_runner(reactor, pool))
    except (OSError, ValueError, SSLError) as error:
        # The TLS files are read here: an unreadable or malformed
        # certificate, key or authority file.
        reason = str(error) or type(error).__name__
        raise SystemExit(
            f"twistd radiod: error: cannot load the TLS files (tls_cert, tls_key, tls_ca): {reason}"
        ) from None
    _reload_on_hangup(options, station)
    SteadyTime(reactor).setServiceParent(station)
    if log_output is None:
        return station
    logging = LogObserverService(json_observer(log_output))
    station.setServiceParent(logging)
    return logging


def _log_output(options: Options) -> IO[Any]:
    """
    Where the JSON log goes: where twistd would write its own log.  A log
    file is rotated on C{SIGUSR1}, as twistd rotates its own.

    @raise ValueError: for a combination of twistd options that cannot work.
    """
    from twisted.internet import reactor

    output = twistd_log_output(getattr(options, "parent", None))
    if isinstance(output, LogFile) and not signal.getsignal(signal.SIGUSR1):

        def rotate(number: int, frame: object) -> None:
            reactor.callFromThread(output.rotate)  # type: ignore[attr-defined]

        signal.signal(signal.SIGUSR1, rotate)
    return output


def _check_access_log(path: str) -> None:
    """
    Fail now, with one line, if the access log cannot be opened.
    """
    appender = AppendFile(path)
    try:
        appender.reopen()
    except OSError as error:
        message = error.strerror or str(error)
        raise SystemExit(
            f"twistd radiod: error: access_log: cannot open {path}: {message}"
        ) from None
    finally:
        appender.close()


def _reload_on_hangup(options: Options, station: StationService) -> None:
    """
    On C{SIGHUP}, read the configuration again (the file and the same
    command-line options) and apply it; a configuration that does not load
    is logged and the running one kept.
    """
    from twisted.internet import reactor

    log = Logger()

    def reload() -> None:
        try:
            config = with_admin_password(options.reread())
        except ConfigError as error:
            log.error(
                "Reload refused, keeping the running configuration: {error}", error=str(error)
            )
            return
        station.reload(config)

    def hangup(number: int, frame: object) -> None:
        reactor.callFromThread(reload)  # type: ignore[attr-defined]

    signal.signal(signal.SIGHUP, hangup)
