# -*- test-case-name: tests.test_tap -*-
"""
Entry point for C{twistd radiod}: the command-line options and the service
they build.  This is the one module that uses the global reactor.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from OpenSSL.crypto import Error as SSLError
from twisted.application.service import IService, MultiService
from twisted.internet.error import ReactorNotRunning
from twisted.logger import Logger, globalLogPublisher
from twisted.python.failure import Failure
from twisted.python.logfile import LogFile

from radiod import demo
from radiod.auth import with_admin_password
from radiod.config import ConfigError, with_default_folders
from radiod.library.library import LibraryError
from radiod.runner import thread_runner
from radiod.station.errorlog import ErrorLog, ErrorLogService
from radiod.station.jsonlog import LogObserverService, json_observer, twistd_log_output
from radiod.station.options import Options
from radiod.station.service import StationService, check_music
from radiod.station.steady import SteadyTime
from radiod.station.worker import raise_file_limit
from radiod.wire.accesslog import AppendFile
from radiod.wire.admission import ListError

__all__ = ["Options", "makeService"]


def makeService(options: Options) -> IService:
    """
    Build the station from parsed options.  A configuration the station
    cannot start with ends the program with one clear line.
    """
    from twisted.internet import reactor

    try:
        config = with_default_folders(options.to_config(), os.environ)
        for mount in config.mounts:
            if not mount.live_only:
                check_music(mount.music or demo.location())
        log_output = _log_output(options) if config.log_format == "json" else None
        config = with_admin_password(config)
    except (ConfigError, LibraryError, ValueError) as error:
        raise SystemExit(f"twistd radiod: error: {error}") from None
    Logger().info(
        "State kept in {state}, converted files in {cache}",
        state=os.path.abspath(config.state_path),
        cache=os.path.abspath(config.cache_path),
    )
    if config.access_log:
        _check_access_log(config.access_log)
    raise_file_limit()
    pool = reactor.getThreadPool()  # type: ignore[attr-defined]
    try:
        station = StationService(config, reactor, thread_runner(reactor, pool))
    except ListError as error:
        # A listener allow or deny list that does not read: its own line.
        raise SystemExit(f"twistd radiod: error: {error}") from None
    except (OSError, ValueError, SSLError) as error:
        # The TLS files are read here: an unreadable or malformed
        # certificate, key or authority file.
        reason = str(error) or type(error).__name__
        raise SystemExit(
            f"twistd radiod: error: cannot load the TLS files (tls_cert, tls_key, tls_ca): {reason}"
        ) from None
    reopened: list[Callable[[], None]] = []
    if config.error_log:
        try:
            error_log = ErrorLog(config.error_log, config.error_log_level, reactor.seconds)
        except OSError as error:
            raise SystemExit(
                f"twistd radiod: error: error_log: cannot open {config.error_log}: "
                f"{error.strerror or error}"
            ) from None
        ErrorLogService(error_log, globalLogPublisher).setServiceParent(station)
        reopened.append(error_log.reopen)
    _reload_on_hangup(options, station, reopened)
    reactor.callWhenRunning(_stop_on_terminate)
    SteadyTime(reactor).setServiceParent(station)
    top: MultiService = ListeningOrExit(station)
    if log_output is not None:
        logging = LogObserverService(json_observer(log_output))
        top.setServiceParent(logging)
        top = logging
    return top


class ListeningOrExit(MultiService):
    """
    Starts the station and ends the program, with one line and a non-zero
    status, when a port it was told to open cannot be opened: a station
    with no listener must not run on as if it were fine (a supervisor
    restarts a program that exits, not one that idles).

    twistd starts the services before the reactor runs, and radiod's ports
    open as they start, so the failure is known at once and raised from
    L{startService}: twistd prints it and exits with status 1.  Should a
    port fail later, the reactor is stopped and the process exits with
    status 1 once it has shut down.
    """

    def __init__(self, station: StationService) -> None:
        super().__init__()
        self._station = station
        station.setServiceParent(self)

    def startService(self) -> None:
        super().startService()
        outcome: list[Failure] = []
        self._station.listening.addErrback(outcome.append)
        if outcome:
            raise SystemExit(f"twistd radiod: error: {outcome[0].getErrorMessage()}")
        self._station.listening.addErrback(_exit_after_stop)


def _exit_after_stop(failure: Failure) -> None:
    """
    Stop the reactor, then end the process with status 1.
    """
    from twisted.internet import reactor

    def exit_now() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)

    reactor.addSystemEventTrigger("after", "shutdown", exit_now)
    reactor.stop()


def _stop_on_terminate() -> None:
    """
    Make C{SIGTERM} a clean stop: every listener and source closed, the
    play history saved, and an exit status of 0, which systemd, Docker
    and supervisors read as a stop they asked for.  (twistd's own handler
    stops cleanly too, but then ends the process by the signal.)  Called
    once the reactor runs, after it has set its own handlers.
    """
    from twisted.internet import reactor

    log = Logger()

    def stop() -> None:
        try:
            reactor.stop()
        except ReactorNotRunning:
            pass

    def terminate(number: int, frame: object) -> None:
        log.info("SIGTERM received: stopping")
        reactor.callFromThread(stop)  # type: ignore[attr-defined]

    signal.signal(signal.SIGTERM, terminate)


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


def _reload_on_hangup(
    options: Options, station: StationService, reopened: Sequence[Callable[[], None]] = ()
) -> None:
    """
    On C{SIGHUP}, read the configuration again (the file and the same
    command-line options) and apply it; a configuration that does not load
    is logged and the running one kept.  Either way, the files of
    C{reopened} are reopened (after log rotation).
    """
    from twisted.internet import reactor

    log = Logger()

    def reload() -> str | None:
        try:
            config = with_admin_password(with_default_folders(options.reread(), os.environ))
        except ConfigError as error:
            log.error(
                "Reload refused, keeping the running configuration: {error}", error=str(error)
            )
            for reopen in reopened:
                reopen()
            return str(error)
        station.reload(config)
        for reopen in reopened:
            reopen()
        return None

    # The admin API's reload-config does what SIGHUP does.
    station.admin.reload_config = reload

    def hangup(number: int, frame: object) -> None:
        reactor.callFromThread(reload)  # type: ignore[attr-defined]

    signal.signal(signal.SIGHUP, hangup)
