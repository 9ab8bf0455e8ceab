# -*- test-case-name: tests.audience.test_store,tests.audience.test_store_postgresql -*-
"""
The listener-session store: every finished session, kept in a database
for the audience figures.

L{SessionStore} takes sessions on the reactor thread without ever waiting:
they gather in memory and are written in batches, in a thread, every
L{FLUSH_INTERVAL} seconds or as soon as L{BATCH_SIZE} of them wait, one
write at a time and in order, each in one transaction.  A crash loses at
most the sessions of the last few seconds.  When the database is down or
a write fails, the sessions stay in memory (up to L{MAX_PENDING}; past
that the oldest are dropped and counted) and the write is tried again,
less and less often, until it works; listeners never notice.  Sessions
older than the retention are deleted at start and then daily.

The databases (SQLite or PostgreSQL, L{radiod.audience.databases}) block
and keep one connection: the store uses them only through its runner,
which should be a L{WriterThread} so that the connection stays on one
thread.

The store also keeps the key of the day that L{AddressHasher} hashes
addresses with, in a file of the state folder (see L{keep_day_key}).
"""

from __future__ import annotations

import fcntl
import os
import queue
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredLock, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorFromThreads, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from radiod.audience.databases import SessionDatabase
from radiod.audience.session import (
    AddressHasher,
    DayKey,
    ListenerSession,
    decode_day_key,
    encode_day_key,
    new_day_key,
    utc_day,
)
from radiod.interfaces import Runner

__all__ = [
    "BATCH_SIZE",
    "DAY",
    "FLUSH_INTERVAL",
    "KEY_FILE",
    "MAX_PENDING",
    "MAX_RETRY_DELAY",
    "RETENTION_DAYS",
    "STOP_TIMEOUT",
    "SessionStore",
    "StoreStopped",
    "WriterThread",
    "keep_day_key",
]

_T = TypeVar("_T")

FLUSH_INTERVAL = 2.0
"""
Most seconds a session waits in memory before it is written (while the
database works).
"""

BATCH_SIZE = 500
"""
Sessions written in one transaction; as soon as this many wait, they are
written without waiting for the next interval.
"""

MAX_PENDING = 100_000
"""
Sessions kept in memory while they cannot be written (some tens of MB);
past that, the oldest are dropped.
"""

MAX_RETRY_DELAY = 60.0
"""
Most seconds between two tries to write to a database that is down; the
first retry comes after L{FLUSH_INTERVAL}, and each next one after twice
the delay before it.
"""

STOP_TIMEOUT = 10.0
"""
Most seconds stopping waits for the last writes.
"""

RETENTION_DAYS = 400
"""
Days sessions are kept by default: a year of figures, and the same weeks
of the year before to compare them with.
"""

DAY = 86400.0
"""
Seconds in a day: sessions are deleted this often.
"""

KEY_FILE = "audience.key"
"""
The file, in the state folder, that keeps the day's address key.
"""


def _write_private(path: str, data: bytes) -> None:
    """
    Replace a file's contents in one step with a file only its owner can
    read.  Blocking.
    """
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder
    )
    try:
        with os.fdopen(handle, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


def keep_day_key(path: str, key: DayKey) -> DayKey:
    """
    Keep the key of a day in its file, or take the one kept there already.
    Blocking: call it through a runner.

    The file holds one key, the latest day's: when it holds none, or one
    of an earlier day than C{key}, C{key} replaces it (atomically, in a
    file readable by its owner only; the earlier key is gone); when it
    holds one of C{key}'s day or later, that one is returned and the file
    is left as it is.  A lock (on C{path + ".lock"}) makes processes that
    share the file agree on one key.

    @param path: the key file; its folder is created (private) if missing.
    @param key: the key made for its day.
    @return: the key to hash with: C{key}, or the one kept before it.
    @raise OSError: if the file cannot be read or written.
    """
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    lock = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, "rb") as f:
                kept: DayKey | None = decode_day_key(f.read())
        except (FileNotFoundError, ValueError):
            kept = None
        if kept is not None and kept.day >= key.day:
            return kept
        _write_private(path, encode_day_key(key))
        return key
    finally:
        os.close(lock)


class StoreStopped(Exception):
    """
    The session store has stopped: its database is closed.
    """


class WriterThread:
    """
    A L{Runner} with a thread of its own: work runs there one piece at a
    time, in the order it was given, and each Deferred fires on the
    reactor thread.  A database connection made by that work stays on that
    one thread, as SQLite's must.

    The thread starts with the first work, and is a daemon: a process that
    exits without stopping it does not wait for it.
    """

    def __init__(self, reactor: IReactorFromThreads, name: str = "radiod-audience") -> None:
        """
        @param reactor: delivers the results to the reactor thread.
        @param name: the thread's name.
        """
        self._reactor = reactor
        self._name = name
        self._work: queue.SimpleQueue[tuple[Callable[[], Any], Deferred[Any]] | None]
        self._work = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def __call__(self, work: Callable[[], _T]) -> Deferred[_T]:
        """
        Run C{work} in the thread.

        @return: fires with its result, or with what it raised; fails
            with L{RuntimeError} once the thread is stopped.
        """
        if self._stopped:
            return fail(RuntimeError(f"thread {self._name} has stopped"))
        done: Deferred[_T] = Deferred()
        self._work.put((work, done))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        return done

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            work, done = item
            try:
                result = work()
            except BaseException:
                self._reactor.callFromThread(done.errback, Failure())
            else:
                self._reactor.callFromThread(done.callback, result)

    def stop(self) -> None:
        """
        Take no more work: the thread ends once the work it was given has
        run.
        """
        if not self._stopped:
            self._stopped = True
            if self._thread is not None:
                self._work.put(None)


class SessionStore(Service):
    """
    Keeps listener sessions in a database without blocking the reactor.

    L{record} queues a session; the queue is written in batches of at
    most L{BATCH_SIZE}, in the runner, every interval (everything waiting)
    and whenever a full batch waits, one piece of work at a time, in
    order.  A failed write puts its sessions back at the head of the
    queue, is logged once for the whole outage, and is tried again after a
    delay that doubles up to L{MAX_RETRY_DELAY}; the sessions are written
    when the database is back.  More than C{max_pending} sessions waiting
    (written or not) drop the oldest, counted in L{dropped} and logged
    once.  The store deletes sessions that started more than C{days} days
    ago when it starts and then every L{DAY}.

    Given an L{AddressHasher} that hashes and a key file, the store keeps
    the hasher's key of the day there: it takes the kept key (or keeps a
    new one) when it starts, and keeps each new key the hasher makes at
    the next interval.

    A station runs it on a thread of its own, and ends that thread once
    the store has stopped::

        writer = WriterThread(reactor)
        store = SessionStore(database, reactor, writer, hasher=hasher, key_path=path)
        ...
        store.stopService().addBoth(lambda _: writer.stop())

    @ivar database: the database.
    @ivar written: sessions written.
    @ivar dropped: sessions lost: dropped past the bound, or left unwritten
        when the store stopped.
    """

    _log = Logger()

    def __init__(
        self,
        database: SessionDatabase,
        clock: IReactorTime,
        runner: Runner,
        days: int = RETENTION_DAYS,
        hasher: AddressHasher | None = None,
        key_path: str = "",
        interval: float = FLUSH_INTERVAL,
        batch_size: int = BATCH_SIZE,
        max_pending: int = MAX_PENDING,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        """
        @param database: where sessions are kept.
        @param clock: times the writes, retries and deletions, and tells
            the time they use.
        @param runner: runs the database's work away from the reactor
            thread; a L{WriterThread}, so that its connection stays on one
            thread.
        @param days: sessions are kept this many days; 0 keeps them
            forever.
        @param hasher: the hasher whose key the store keeps, if any.
        @param key_path: the file the key is kept in (see L{KEY_FILE}); if
            C{""}, the key is not kept and changes at each start.
        @param interval: most seconds a session waits to be written.
        @param batch_size: most sessions written at once.
        @param max_pending: most sessions kept in memory.
        @param stop_timeout: most seconds stopping waits for the last
            writes.
        """
        self.database = database
        self._clock = clock
        self._runner = runner
        self._days = days
        self._hasher = hasher
        self._key_path = key_path
        self._interval = interval
        self._max_pending = max(1, max_pending)
        self._batch_size = max(1, min(batch_size, self._max_pending))
        self._stop_timeout = stop_timeout
        self._queue: deque[ListenerSession] = deque()
        self._lock = DeferredLock()
        self._writing = 0
        self._busy = False
        self._pumping = False
        self._due = False
        self._open_due = False
        self._expire_due = False
        self._key_due = False
        self._retry: IDelayedCall | None = None
        self._delay = 0.0
        self._failing = False
        self._key_failing = False
        self._dropping = False
        self._late = False
        self._dropped_before = 0
        self._stopping = False
        self._giving_up = False
        self._closing = False
        self._closed = False
        self._stopped: Deferred[None] | None = None
        self._stop_timer: IDelayedCall | None = None
        self._flushes: LoopingCall | None = None
        self._expiries: LoopingCall | None = None
        self.written = 0
        self.dropped = 0

    @property
    def pending(self) -> int:
        """
        Sessions recorded and not yet written (those being written
        included).
        """
        return len(self._queue) + self._writing

    @property
    def _keeps_key(self) -> bool:
        return self._hasher is not None and self._hasher.hashed and bool(self._key_path)

    def record(self, session: ListenerSession) -> None:
        """
        Keep a finished session.  It never blocks and never raises: what
        goes wrong is logged and counted.
        """
        try:
            if self._closed:
                self._lose(1)
                return
            self._queue.append(session)
            self._drop(self.pending - self._max_pending)
            if len(self._queue) >= self._batch_size:
                self._pump()
        except Exception:
            self._log.failure("Cannot record a listener session")

    def sessions(
        self, mount: str | None, start: float, end: float
    ) -> Deferred[list[ListenerSession]]:
        """
        The sessions that overlap C{[start, end)} (see
        L{ListenerSession.overlaps}), by start: those in the database and
        those still waiting to be written.

        @param mount: only this mount's, or every mount's if C{None}.
        @param start: the period's first second, since the epoch.
        @param end: the end of the period, not in it.
        @return: fires with the sessions, or fails with what the database
            raised (L{StoreStopped} once the store has stopped).
        """
        if self._closed or self._closing:
            return fail(StoreStopped())

        def waiting(found: list[ListenerSession]) -> list[ListenerSession]:
            # Run with the lock held, so no write ends in between: what
            # waits is exactly what the database does not hold.
            also = [
                session
                for session in self._queue
                if (mount is None or session.mount == mount) and session.overlaps(start, end)
            ]
            return sorted(found + also, key=lambda session: session.start)

        def read() -> Deferred[list[ListenerSession]]:
            if self._closed or self._closing:
                # The store stopped while the read waited its turn.
                raise StoreStopped()
            found = self._run(lambda: self.database.select(mount, start, end))
            return found.addCallback(waiting)

        return self._lock.run(read)

    def startService(self) -> None:
        """
        Keep the address key, open the database (creating its table),
        delete old sessions, and write sessions every interval.  A store
        runs once: after it has stopped, it records nothing more.
        """
        super().startService()
        self._key_due = self._keeps_key
        self._open_due = True
        flushes = self._flushes = LoopingCall(self._tick)
        flushes.clock = self._clock
        flushes.start(self._interval, now=False)
        if self._days > 0:
            expiries = self._expiries = LoopingCall(self._expire)
            expiries.clock = self._clock
            expiries.start(DAY, now=True)
        else:
            self._pump()

    def stopService(self) -> Deferred[None]:
        """
        Write what waits (trying once, however the database fares), then
        close the database.  Sessions recorded later are dropped.

        @return: fires when the database is closed, or after
            C{stop_timeout} seconds if that takes longer; it never fails.
        """
        super().stopService()
        if self._stopped is not None:
            return self._stopped
        for loop in (self._flushes, self._expiries):
            if loop is not None and loop.running:
                loop.stop()
        self._flushes = self._expiries = None
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._stopping = True
        self._expire_due = False
        self._key_due = self._keeps_key and self._unsaved() is not None
        stopped = self._stopped = Deferred()
        self._stop_timer = self._clock.callLater(self._stop_timeout, self._stop_timed_out)
        self._pump()
        return stopped

    def _tick(self) -> None:
        self._due = True
        if self._keeps_key and self._unsaved() is not None:
            self._key_due = True
        self._pump()

    def _expire(self) -> None:
        self._expire_due = True
        self._pump()

    def _unsaved(self) -> DayKey | None:
        return None if self._hasher is None else self._hasher.unsaved

    def _drop(self, count: int) -> None:
        """
        Drop the C{count} oldest waiting sessions (none if C{count} is not
        positive).
        """
        count = max(0, min(count, len(self._queue)))
        if not count:
            return
        for _ in range(count):
            self._queue.popleft()
        self.dropped += count
        if not self._dropping:
            self._dropping = True
            self._log.warn(
                "{pending} listener sessions wait to be written to {database}; dropping the oldest",
                pending=self.pending,
                database=self.database.description,
            )

    def _lose(self, count: int) -> None:
        self.dropped += count
        if not self._late:
            self._late = True
            self._log.warn(
                "Listener sessions recorded after the session store stopped are dropped",
            )

    # The work loop: one piece of work at a time, chosen when it can run.

    def _wanted(self) -> bool:
        if self._busy or self._closing or self._closed or self._retry is not None:
            return False
        if self._stopping:
            return True
        if not self.running:
            return False
        return (
            self._key_due
            or self._open_due
            or self._expire_due
            or (bool(self._queue) and (self._due or len(self._queue) >= self._batch_size))
        )

    def _pump(self) -> None:
        """
        Start the work that is due, one piece after the other; work that
        ends at once (a synchronous runner) is followed in this loop, not
        by recursion.
        """
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._wanted():
                self._busy = True
                self._lock.run(self._step).addBoth(self._stepped)
        finally:
            self._pumping = False

    def _run(self, work: Callable[[], _T]) -> Deferred[_T]:
        """
        Hand C{work} to the runner; a runner that raises gives a failed
        Deferred, as if the work had.
        """
        return maybeDeferred(self._runner, work)

    def _stepped(self, result: object) -> None:
        self._busy = False
        if isinstance(result, Failure):
            # Not the database's failure (those are dealt with in the
            # step) but the store's own: wait before trying again.
            self._log.failure("Listener session store work failed", result)
            self._failed(result)
        self._pump()

    def _step(self) -> Deferred[None]:
        """
        Run the next piece of work, with the lock held; its outcome is
        dealt with before the lock is released.
        """
        if self._key_due:
            self._key_due = False
            hasher = self._hasher
            assert hasher is not None
            key = hasher.unsaved or new_day_key(utc_day(self._clock.seconds()))
            path = self._key_path
            kept = self._run(lambda: keep_day_key(path, key))
            return kept.addCallbacks(self._key_kept, self._key_failed)
        if self._open_due and not self._stopping:
            self._open_due = False
            opened = self._run(self.database.open)
            return opened.addCallbacks(lambda _: self._worked(), self._open_failed)
        if self._expire_due and not self._stopping:
            self._expire_due = False
            before = self._clock.seconds() - self._days * DAY
            expired = self._run(lambda: self.database.expire(before))
            return expired.addCallbacks(self._expired, self._expire_failed)
        if self._queue and not self._giving_up:
            count = min(self._batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            self._writing = count
            written = self._run(lambda: self.database.insert(batch))
            return written.addCallbacks(
                self._written, self._write_failed, callbackArgs=(batch,), errbackArgs=(batch,)
            )
        if self._stopping:
            self._closing = True
            closed = self._run(self.database.close)
            return closed.addCallbacks(lambda _: self._finish(), self._close_failed)
        return succeed(None)

    def _written(self, _: object, batch: list[ListenerSession]) -> None:
        self._writing = 0
        self.written += len(batch)
        if not self._queue:
            self._due = False
        self._worked()

    def _write_failed(self, failure: Failure, batch: list[ListenerSession]) -> None:
        self._writing = 0
        if self._closed:
            self.dropped += len(batch)
        else:
            self._queue.extendleft(reversed(batch))
            self._drop(self.pending - self._max_pending)
        self._failed(failure)

    def _expired(self, count: int) -> None:
        if count:
            self._log.info(
                "Deleted {count} listener sessions older than {days} days from {database}",
                count=count,
                days=self._days,
                database=self.database.description,
            )
        self._worked()

    def _open_failed(self, failure: Failure) -> None:
        self._open_due = True
        self._failed(failure)

    def _expire_failed(self, failure: Failure) -> None:
        self._expire_due = True
        self._failed(failure)

    def _worked(self) -> None:
        """
        The database answered: an outage, if there was one, is over.
        """
        self._delay = 0.0
        if self.pending < self._max_pending:
            self._dropping = False
        if self._failing:
            self._failing = False
            self._log.info(
                "Listener sessions are written to {database} again ({dropped} dropped meanwhile)",
                database=self.database.description,
                dropped=self.dropped - self._dropped_before,
            )

    def _failed(self, failure: Failure) -> None:
        """
        The database failed: say so once an outage, and try again later
        (or, when stopping, give up).
        """
        if not self._failing:
            self._failing = True
            self._dropped_before = self.dropped
            self._log.error(
                "Cannot write listener sessions to {database}: {error}; keeping up to "
                "{bound} in memory and trying again",
                database=self.database.description,
                error=failure.getErrorMessage(),
                bound=self._max_pending,
            )
        if self._stopping or self._closed:
            self._giving_up = True
            return
        if self._retry is not None:
            return
        self._delay = min(self._delay * 2, MAX_RETRY_DELAY) if self._delay else self._interval
        self._retry = self._clock.callLater(self._delay, self._retried)

    def _retried(self) -> None:
        self._retry = None
        self._due = True
        self._pump()

    def _key_kept(self, key: DayKey) -> None:
        assert self._hasher is not None
        self._hasher.use(key)
        if self._key_failing:
            self._key_failing = False
            self._log.info("The address key is kept in {path} again", path=self._key_path)

    def _key_failed(self, failure: Failure) -> None:
        if not self._key_failing:
            self._key_failing = True
            self._log.error(
                "Cannot keep the address key in {path}: {error}; addresses hashed today "
                "will hash differently after a restart",
                path=self._key_path,
                error=failure.getErrorMessage(),
            )

    def _close_failed(self, failure: Failure) -> None:
        self._log.warn(
            "Cannot close {database}: {error}",
            database=self.database.description,
            error=failure.getErrorMessage(),
        )
        self._finish()

    def _stop_timed_out(self) -> None:
        self._stop_timer = None
        self._log.error(
            "Listener sessions were still being written to {database} after {timeout} s; "
            "stopping without them",
            database=self.database.description,
            timeout=self._stop_timeout,
        )
        self._finish()

    def _finish(self) -> None:
        """
        The store has stopped: what still waits is lost.
        """
        if self._closed:
            return
        self._closed = True
        if self._stop_timer is not None:
            self._stop_timer.cancel()
            self._stop_timer = None
        lost = len(self._queue)
        if lost:
            self._queue.clear()
            self.dropped += lost
            self._log.error(
                "{count} listener sessions could not be written to {database} before the stop",
                count=lost,
                database=self.database.description,
            )
        stopped = self._stopped
        if stopped is not None:
            stopped.callback(None)
