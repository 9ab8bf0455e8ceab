# -*- test-case-name: tests.station.test_jsonlog -*-
"""
The server log as JSON lines: one JSON object per log event, for log
collectors.

Each line is the event as L{twisted.logger.eventAsJSON} writes it (so
L{twisted.logger.eventFromJSON} reads it back), with every structured
field (C{mount}, C{peer}, C{listener} ...) as a key of its own, plus
C{log_text}, the message as the text log would print it.

twistd picks its log observer before it runs the reactor: from C{--logger},
else from the application's L{ILogObserver} component, else from
C{--logfile}.  A plugin builds a service, not the application, so
L{LogObserverService} carries the observer: when twistd adds it to the
application, it sets the application's component.  L{twistd_log_output}
picks the file the way twistd picks its own (C{--logfile}, standard output
in the foreground, C{twistd.log} for a daemon).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import IO, Any

from twisted.application.service import IServiceCollection, MultiService
from twisted.logger import (
    FileLogObserver,
    ILogObserver,
    LogEvent,
    eventAsJSON,
    formatEvent,
)
from twisted.python.components import Componentized
from twisted.python.logfile import LogFile

__all__ = ["LogObserverService", "format_json", "json_observer", "twistd_log_output"]


def format_json(event: LogEvent) -> str:
    """
    One log event as a line of JSON.

    @param event: the event.
    @return: the JSON object and a line end; fields that JSON cannot hold
        are written C{{"unpersistable": true}}, as
        L{twisted.logger.eventAsJSON} does.
    """
    return eventAsJSON({**event, "log_text": formatEvent(event)}) + "\n"


def json_observer(output: IO[Any]) -> FileLogObserver:
    """
    An observer writing each event to C{output} as a line of JSON.

    @param output: a text file (flushed after every event).
    """
    return FileLogObserver(output, format_json)


def twistd_log_output(twistd: Mapping[str, Any] | None) -> IO[Any]:
    """
    The file twistd would log to, given its options.

    @param twistd: twistd's own options (C{logfile}, C{nodaemon},
        C{syslog}), or C{None} when radiod is not started by twistd.
    @return: standard output in the foreground without C{--logfile} or
        with C{--logfile -} (and without twistd); else a L{LogFile} (rotated
        every megabyte, as twistd's own) at C{--logfile}, C{twistd.log} by
        default.
    @raise ValueError: with a one-line reason, for C{--syslog}, or for
        standard output when running as a daemon.
    """
    if twistd is None:
        return sys.stdout
    if twistd.get("syslog"):
        raise ValueError("--log-format json cannot be used with twistd's --syslog")
    logfile = twistd.get("logfile") or ""
    nodaemon = bool(twistd.get("nodaemon"))
    if logfile == "-":
        if not nodaemon:
            raise ValueError("a daemon cannot log to standard output (use --logfile FILE)")
        return sys.stdout
    if nodaemon and not logfile:
        return sys.stdout
    output: IO[Any] = LogFile.fromFullPath(logfile or "twistd.log")
    return output


class LogObserverService(MultiService):
    """
    Runs its child services, and makes the application it is added to
    log with C{observer}.

    @ivar observer: the log observer.
    """

    def __init__(self, observer: ILogObserver) -> None:
        """
        @param observer: the observer twistd should log with.
        """
        super().__init__()
        self.observer = observer

    def setServiceParent(self, parent: IServiceCollection) -> None:
        """
        Join C{parent}; if it is an application, set its log observer.
        """
        if isinstance(parent, Componentized):
            parent.setComponent(ILogObserver, self.observer)
        super().setServiceParent(parent)
