# -*- test-case-name: tests.test_runner -*-
"""
Running blocking work off the reactor thread: file scans, tag reading,
reading tracks, writing state.  Code that blocks takes a
L{radiod.interfaces.Runner}; L{thread_runner} is the one a running station
gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from radiod.interfaces import Runner

__all__ = ["thread_runner"]

_T = TypeVar("_T")


def thread_runner(reactor: IReactorCore, pool: ThreadPool) -> Runner:
    """
    A L{Runner} that runs work in C{pool} and fires on the reactor thread.
    """

    def run(work: Callable[[], _T]) -> Deferred[_T]:
        return deferToThreadPool(reactor, pool, work)  # type: ignore[arg-type]

    return run
