# -*- test-case-name: tests.station.test_workers -*-
"""
Entry point of a worker process: C{python -m radiod.station.workermain INDEX}.

Like L{radiod.tap}, this is a program's entry point, so it is where the
global reactor is used; the work is done by L{radiod.station.worker.serve}.
"""

from __future__ import annotations

import os
import sys

from twisted.logger import globalLogBeginner, textFileLogObserver

from radiod.station.jsonlog import json_observer
from radiod.station.steady import SteadyTime
from radiod.station.worker import CONFIG_VARIABLE, config_from_json, raise_file_limit, serve

__all__ = ["main"]


def main() -> None:
    """
    Run one worker with the configuration the main process passed in
    the environment.
    """
    from twisted.internet import reactor

    index = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    config = config_from_json(os.environ[CONFIG_VARIABLE])
    observer = (
        json_observer(sys.stderr)
        if config.log_format == "json"
        else textFileLogObserver(sys.stderr)
    )
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    raise_file_limit()
    SteadyTime(reactor).startService()
    serve(reactor, config, index)
    reactor.run()


if __name__ == "__main__":
    main()
