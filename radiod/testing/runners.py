# -*- test-case-name: tests.test_testing -*-
"""
Runners that run blocking work when a test says, or at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.protocol import Protocol as TwistedProtocol

__all__ = ["LaterRunner", "synchronous_runner"]

_T = TypeVar("_T")
_P = TypeVar("_P", bound=TwistedProtocol)
_P_co = TypeVar("_P_co", bound=TwistedProtocol, covariant=True)


def synchronous_runner(work: Callable[[], _T]) -> Deferred[_T]:
    """
    A L{radiod.interfaces.Runner} that runs C{work} at once, on the
    calling thread, and returns an already-fired Deferred.

    Like L{radiod.runner.thread_runner}, it turns whatever C{work} raises
    (any L{BaseException}, as Twisted's thread pool does) into the
    Deferred's failure.

    @param work: the blocking callable.
    @return: a Deferred that has fired with its result or failure.
    """
    try:
        return succeed(work())
    except BaseException:
        return fail()


class LaterRunner:
    """
    A L{radiod.interfaces.Runner} whose work runs when the test says, as
    work handed to L{radiod.runner.thread_runner} finishes some time
    later: each piece waits in L{pending} until the test runs it with
    L{run} (the oldest, or any other, as threads may finish out of order)
    or L{run_all}.

    As with the thread runner, the Deferred returned has no result yet; it
    fires, when the work has run, with its result, or with what it raised
    (any L{BaseException}, as Twisted's thread pool does) as its failure.

    @ivar pending: the work not yet run, each with the Deferred it fires,
        oldest first; a test may take work out of it to run it itself.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Callable[[], object], Deferred[Any]]] = []

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]:
        """
        Keep C{work} until the test runs it.

        @param work: the blocking callable.
        @return: a Deferred that fires once C{work} has run.
        """
        done: Deferred[_T] = Deferred()
        self.pending.append((work, done))
        return done

    def run(self, index: int = 0) -> None:
        """
        Run the work at C{index} in L{pending} (by default the oldest; -1
        for the latest, as a thread that finishes before those started
        earlier would) and fire its Deferred with the outcome.

        @raise IndexError: if there is no such work.
        """
        work, done = self.pending.pop(index)
        try:
            result = work()
        except BaseException:
            done.errback()
        else:
            done.callback(result)

    def run_all(self) -> None:
        """
        Run the pending work in order, oldest first, until none is left,
        including work handed over meanwhile.
        """
        while self.pending:
            self.run()
