"""
Tests for L{radiod.audience.store}: the session store on SQLite, its
batching, retries, bound and retention, reading sessions back, the day's
address key file, and the writer thread.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from radiod.audience.databases import (
    DATABASE_FILE,
    PostgreSQLSessions,
    SQLiteSessions,
    describe_conninfo,
    session_database,
)
from radiod.audience.session import (
    HLS,
    ICY,
    PLAIN,
    AddressHasher,
    ListenerSession,
    decode_day_key,
    encode_day_key,
    hash_address,
    new_day_key,
)
from radiod.audience.store import (
    BATCH_SIZE,
    DAY,
    FLUSH_INTERVAL,
    KEY_FILE,
    MAX_PENDING,
    MAX_RETRY_DELAY,
    RETENTION_DAYS,
    STOP_TIMEOUT,
    SessionStore,
    StoreStopped,
    WriterThread,
    keep_day_key,
)
from radiod.interfaces import Runner
from radiod.testing import LaterRunner, synchronous_runner

# 2026-12-07 12:00:00 UTC
NOON = 1796644800.0
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def listening(number: int, mount: str = "/stream", length: float = 60.0) -> ListenerSession:
    """
    The ICY session numbered C{number}: it starts C{number} seconds
    before L{NOON} and lasts C{length} seconds.
    """
    start = NOON - 1000 + number
    return ListenerSession(mount, ICY, start, start + length, number, "VLC/3.0", "", f"c{number}")


def stored(path: str) -> list[ListenerSession]:
    """
    The sessions in a SQLite file, in the order they were written, read
    through a connection of its own (as another process would).
    """
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT mount, kind, started, ended, bytes, user_agent, referrer, client, country"
            " FROM sessions ORDER BY id"
        ).fetchall()
    finally:
        connection.close()
    return [ListenerSession(*row) for row in rows]


def numbers(sessions: list[ListenerSession]) -> list[int]:
    """
    The numbers of sessions made by L{listening}.
    """
    return [session.bytes for session in sessions]


def block_folder(folder: str) -> Callable[[], None]:
    """
    Move a folder aside and put a file in its place, so nothing can be
    opened in it.

    @return: puts the folder back.
    """
    aside = folder + ".aside"
    os.rename(folder, aside)
    with open(folder, "w") as f:
        f.write("in the way\n")

    def restore() -> None:
        os.unlink(folder)
        os.rename(aside, folder)

    return restore


class Builder(SynchronousTestCase):
    """
    Builds stores on fresh SQLite files, at L{NOON}.
    """

    def build(
        self,
        path: str | None = None,
        runner: Runner = synchronous_runner,
        start: bool = True,
        **options: Any,
    ) -> tuple[Clock, SessionStore, str]:
        """
        A store on the SQLite file C{path} (a new one by default) with a
        clock at L{NOON}, started unless told otherwise.  A cleanup stops
        it and checks that it left no timer behind.
        """
        clock = Clock()
        clock.advance(NOON)
        path = path or os.path.join(self.mktemp(), DATABASE_FILE)
        store = SessionStore(SQLiteSessions(path), clock, runner, **options)
        if start:
            store.startService()

        def stop() -> None:
            if store.running:
                store.stopService()
                if isinstance(runner, LaterRunner):
                    runner.run_all()
            self.assertEqual(clock.getDelayedCalls(), [])

        self.addCleanup(stop)
        return clock, store, path


class BatchTests(Builder):
    """
    Sessions wait in memory and are written in batches.
    """

    def test_written_each_interval(self) -> None:
        """
        A session waits for the next interval, then it is in the file, with
        all its fields.
        """
        clock, store, path = self.build()
        session = ListenerSession(
            "/stream", HLS, NOON - 65.5, NOON, 123456, "Safari/17", "http://e.org/", "ab", "FR"
        )
        store.record(session)
        self.assertEqual(stored(path), [])
        self.assertEqual((store.pending, store.written), (1, 0))
        clock.advance(FLUSH_INTERVAL - 0.1)
        self.assertEqual(stored(path), [])
        clock.advance(0.1)
        self.assertEqual(stored(path), [session])
        self.assertEqual((store.pending, store.written, store.dropped), (0, 1, 0))

    def test_defaults(self) -> None:
        """
        Sessions wait at most two seconds, 500 are written at once, and
        100,000 are kept while the database is down; sessions are kept 400
        days.
        """
        self.assertEqual(
            (FLUSH_INTERVAL, BATCH_SIZE, MAX_PENDING, RETENTION_DAYS), (2.0, 500, 100_000, 400)
        )

    def test_full_batch_at_once(self) -> None:
        """
        As soon as a full batch waits, it is written, without waiting for
        the interval.
        """
        clock, store, path = self.build(batch_size=3)
        store.record(listening(1))
        store.record(listening(2))
        self.assertEqual(stored(path), [])
        store.record(listening(3))
        self.assertEqual(numbers(stored(path)), [1, 2, 3])
        store.record(listening(4))
        self.assertEqual(store.pending, 1)

    def test_interval_writes_all_in_batches(self) -> None:
        """
        At each interval everything waiting is written, in batches of at
        most C{batch_size}, one at a time, in order.
        """
        runner = LaterRunner()
        clock, store, path = self.build(runner=runner, batch_size=100)
        runner.run_all()
        for number in range(250):
            store.record(listening(number))
        # Two full batches were started on the way, one at a time.
        self.assertEqual(len(runner.pending), 1)
        clock.advance(FLUSH_INTERVAL)
        self.assertEqual(len(runner.pending), 1)
        sizes = []
        while runner.pending:
            sizes.append(store.pending)
            runner.run()
        self.assertEqual(sizes, [250, 150, 50])
        self.assertEqual(numbers(stored(path)), list(range(250)))
        self.assertEqual(store.written, 250)

    def test_one_write_at_a_time(self) -> None:
        """
        While a write runs, later sessions wait for it (even a full batch
        of them); they are written after it, in the order recorded.
        """
        runner = LaterRunner()
        clock, store, path = self.build(runner=runner, batch_size=2)
        runner.run_all()
        store.record(listening(1))
        store.record(listening(2))
        store.record(listening(3))
        store.record(listening(4))
        clock.advance(FLUSH_INTERVAL)
        self.assertEqual(len(runner.pending), 1)
        self.assertEqual(store.pending, 4)
        runner.run()
        self.assertEqual(numbers(stored(path)), [1, 2])
        self.assertEqual(len(runner.pending), 1)
        runner.run()
        self.assertEqual(numbers(stored(path)), [1, 2, 3, 4])
        self.assertEqual(runner.pending, [])

    def test_not_before_start(self) -> None:
        """
        Sessions recorded before the store starts wait for it.
        """
        clock, store, path = self.build(start=False, batch_size=1)
        store.record(listening(1))
        clock.advance(FLUSH_INTERVAL)
        self.assertEqual(store.pending, 1)
        store.startService()
        clock.advance(FLUSH_INTERVAL)
        self.assertEqual(numbers(stored(path)), [1])

    def test_table_made_at_start(self) -> None:
        """
        The file and its table are made when the store starts, before any
        session is written, even with nothing to delete.
        """
        clock, store, path = self.build(days=0)
        self.assertEqual(stored(path), [])

    def test_wal(self) -> None:
        """
        The file is in WAL mode, with the table and its indexes.
        """
        clock, store, path = self.build()
        store.record(listening(1))
        clock.advance(FLUSH_INTERVAL)
        connection = sqlite3.connect(path)
        self.addCleanup(connection.close)
        self.assertEqual(connection.execute("PRAGMA journal_mode").fetchone(), ("wal",))
        indexes = {
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions'"
            )
        }
        self.assertEqual(indexes, {"sessions_mount_started", "sessions_started", "sessions_ended"})


class CrashTests(SynchronousTestCase):
    """
    A crash loses at most the sessions of the last interval.
    """

    def test_crash(self) -> None:
        """
        A process that records sessions and dies without stopping its store
        leaves in the file every session written before its last interval,
        and the file is sound.
        """
        path = os.path.abspath(self.mktemp())
        script = textwrap.dedent(
            f"""
            import os
            from twisted.internet.task import Clock
            from radiod.audience.session import ListenerSession
            from radiod.audience.databases import SQLiteSessions
            from radiod.audience.store import SessionStore
            from radiod.testing import synchronous_runner

            clock = Clock()
            store = SessionStore(SQLiteSessions({path!r}), clock, synchronous_runner)
            store.startService()
            for number in range(3):
                store.record(ListenerSession("/stream", "icy", number, number + 1.0, number))
            clock.advance({FLUSH_INTERVAL})
            for number in range(3, 5):
                store.record(ListenerSession("/stream", "icy", number, number + 1.0, number))
            clock.advance({FLUSH_INTERVAL} / 2)
            os._exit(9)
            """
        )
        environment = dict(os.environ, PYTHONPATH=ROOT)
        # The child runs the code under test with a clock of its own, on a
        # file of its own, and is done in well under a minute.
        done = subprocess.run(
            [sys.executable, "-c", script], env=environment, capture_output=True, timeout=60
        )
        self.assertEqual(done.returncode, 9, done.stderr.decode("utf-8", "replace"))
        self.assertEqual(numbers(stored(path)), [0, 1, 2])
        connection = sqlite3.connect(path)
        self.addCleanup(connection.close)
        self.assertEqual(connection.execute("PRAGMA integrity_check").fetchone(), ("ok",))


class OutageTests(Builder):
    """
    While the database cannot be written, sessions wait in memory, and are
    written when it is back.
    """

    def broken(self) -> tuple[str, str]:
        """
        A database path in a folder that cannot exist (its parent is a
        file), and that file.
        """
        blocker = self.mktemp()
        with open(blocker, "w") as f:
            f.write("in the way\n")
        return os.path.join(blocker, "db", DATABASE_FILE), blocker

    def mend(self, blocker: str) -> None:
        """
        Make the database's folder possible again.
        """
        os.unlink(blocker)

    def block(self, store: SessionStore, path: str) -> Callable[[], None]:
        """
        Make the database of a running store unusable: close its
        connection, and put a file where its folder was.

        @return: undoes it.
        """
        store.database.close()
        return block_folder(os.path.dirname(path))

    def test_down_then_back(self) -> None:
        """
        A database that cannot be opened is reported once, with its name;
        its sessions wait, retried ever less often; when it can be
        opened, everything is written, in order, and that is said too.
        """
        path, blocker = self.broken()
        with capturedLogs() as events:
            clock, store, _ = self.build(path)
            for number in range(5):
                store.record(listening(number))
            clock.advance(FLUSH_INTERVAL)
            for number in range(5, 8):
                store.record(listening(number))
            for _ in range(20):
                clock.advance(1.0)
            self.assertEqual((store.pending, store.written, store.dropped), (8, 0, 0))
            self.mend(blocker)
            clock.advance(MAX_RETRY_DELAY)
        self.assertEqual(numbers(stored(path)), list(range(8)))
        self.assertEqual((store.pending, store.written, store.dropped), (0, 8, 0))
        errors = [e for e in events if "Cannot write listener sessions" in e["log_format"]]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["database"], f"SQLite {path}")
        back = [e for e in events if "are written" in e["log_format"]]
        self.assertEqual([(e["database"], e["dropped"]) for e in back], [(f"SQLite {path}", 0)])

    def test_delays_double(self) -> None:
        """
        After a failure, the database is tried again after 2, 4, 8, 16, 32,
        then every 60 seconds; once it works, sessions wait one interval
        again.
        """
        path, blocker = self.broken()
        attempts: list[float] = []
        clock = Clock()

        def runner(work: Callable[[], Any]) -> Deferred[Any]:
            attempts.append(clock.seconds())
            return synchronous_runner(work)

        store = SessionStore(SQLiteSessions(path), clock, runner)
        store.startService()
        self.addCleanup(store.stopService)
        for _ in range(300):
            clock.advance(1.0)
        self.assertEqual(attempts[:8], [0.0, 2.0, 6.0, 14.0, 30.0, 62.0, 122.0, 182.0])
        self.mend(blocker)
        clock.advance(60.0)
        store.record(listening(1))
        clock.advance(FLUSH_INTERVAL)
        self.assertEqual(store.written, 1)

    def test_bound_drops_oldest(self) -> None:
        """
        Past C{max_pending} sessions waiting, the oldest are dropped and
        counted, with one warning for the outage; the newest are written
        when the database is back.
        """
        path, blocker = self.broken()
        with capturedLogs() as events:
            clock, store, _ = self.build(path, max_pending=5, batch_size=2)
            for number in range(4):
                store.record(listening(number))
            clock.advance(FLUSH_INTERVAL)
            for number in range(4, 12):
                store.record(listening(number))
                clock.advance(0.5)
            self.assertEqual((store.pending, store.dropped), (5, 7))
            self.mend(blocker)
            clock.advance(MAX_RETRY_DELAY)
        self.assertEqual(numbers(stored(path)), [7, 8, 9, 10, 11])
        self.assertEqual((store.pending, store.written, store.dropped), (0, 5, 7))
        warnings = [e for e in events if "dropping the oldest" in e["log_format"]]
        self.assertEqual(len(warnings), 1)
        back = [e for e in events if "are written" in e["log_format"]]
        self.assertEqual([e["dropped"] for e in back], [7])

    def test_failed_write_keeps_order(self) -> None:
        """
        A batch whose write fails goes back ahead of the sessions recorded
        meanwhile, so the file still gets them in the order recorded.
        """
        runner = LaterRunner()
        clock, store, path = self.build(runner=runner, batch_size=2)
        runner.run_all()
        store.record(listening(1))
        store.record(listening(2))
        self.assertEqual(len(runner.pending), 1)
        restore = self.block(store, path)
        store.record(listening(3))
        runner.run()
        self.assertEqual(store.pending, 3)
        self.assertEqual(runner.pending, [])
        restore()
        clock.advance(FLUSH_INTERVAL)
        runner.run_all()
        self.assertEqual(numbers(stored(path)), [1, 2, 3])

    def test_record_never_raises(self) -> None:
        """
        A runner that raises, at once, does not reach the caller: the
        failure is logged, the sessions wait and are written once the
        runner works.
        """
        broken = [True]

        def runner(work: Callable[[], Any]) -> Deferred[Any]:
            if broken[0]:
                raise RuntimeError("no threads left")
            return synchronous_runner(work)

        with capturedLogs() as events:
            clock, store, path = self.build(runner=runner, batch_size=1)
            store.record(listening(1))
            store.record(listening(2))
            self.assertEqual(store.pending, 2)
            broken[0] = False
            clock.advance(MAX_RETRY_DELAY)
        self.assertEqual(numbers(stored(path)), [1, 2])
        self.assertTrue(any("no threads left" in str(e.get("error")) for e in events))


class RetentionTests(Builder):
    """
    Sessions older than the retention are deleted at start and then
    daily.
    """

    def seed(self, path: str, *ages: float) -> None:
        """
        Put sessions that started C{ages} days before L{NOON} in the file.
        """
        database = SQLiteSessions(path)
        database.insert(
            [
                ListenerSession(
                    "/stream", ICY, NOON - age * DAY, NOON - age * DAY + 60, int(age * 10)
                )
                for age in ages
            ]
        )
        database.close()

    def test_at_start_and_daily(self) -> None:
        """
        At start, sessions that started more than C{days} days ago are
        deleted (and that is logged); a day later, those that have become
        that old are.
        """
        path = os.path.join(self.mktemp(), DATABASE_FILE)
        self.seed(path, 12.0, 10.5, 9.5, 1.0)
        with capturedLogs() as events:
            clock, store, _ = self.build(path, days=10)
            self.assertEqual(numbers(stored(path)), [95, 10])
            clock.advance(DAY - 1)
            self.assertEqual(numbers(stored(path)), [95, 10])
            clock.advance(1)
            self.assertEqual(numbers(stored(path)), [10])
        counts = [e["count"] for e in events if "Deleted" in e["log_format"]]
        self.assertEqual(counts, [2, 1])

    def test_kept_forever(self) -> None:
        """
        With C{days} 0, nothing is ever deleted.
        """
        path = os.path.join(self.mktemp(), DATABASE_FILE)
        self.seed(path, 5000.0)
        clock, store, _ = self.build(path, days=0)
        store.record(listening(1))
        clock.advance(DAY)
        self.assertEqual(numbers(stored(path)), [50000, 1])

    def test_retried_when_down(self) -> None:
        """
        A deletion that fails is tried again, with the writes, once the
        database is back.
        """
        path = os.path.join(self.mktemp(), DATABASE_FILE)
        self.seed(path, 12.0, 1.0)
        restore = block_folder(os.path.dirname(path))
        clock, store, _ = self.build(path, days=10)
        clock.advance(FLUSH_INTERVAL)
        restore()
        clock.advance(MAX_RETRY_DELAY)
        self.assertEqual(numbers(stored(path)), [10])


class ReadTests(Builder):
    """
    L{SessionStore.sessions} reads back the sessions of a period.
    """

    def test_overlapping(self) -> None:
        """
        The sessions that overlap the period are returned, by start,
        whether written or still waiting; a mount can be asked for alone.
        """
        clock, store, path = self.build()
        early = ListenerSession("/stream", ICY, 100.0, 200.0, 1)
        across = ListenerSession("/stream", ICY, 150.0, 450.0, 2)
        other = ListenerSession("/other", HLS, 250.0, 260.0, 3)
        edge = ListenerSession("/stream", ICY, 50.0, 100.0, 4)
        late = ListenerSession("/stream", ICY, 400.0, 500.0, 5)
        instant = ListenerSession("/other", ICY, 100.0, 100.0, 6)
        for session in (early, across, other, edge):
            store.record(session)
        clock.advance(FLUSH_INTERVAL)
        store.record(late)
        store.record(instant)
        self.assertEqual(store.pending, 2)
        everything = self.successResultOf(store.sessions(None, 100.0, 400.0))
        self.assertEqual(everything, [early, instant, across, other])
        stream = self.successResultOf(store.sessions("/stream", 100.0, 400.0))
        self.assertEqual(stream, [early, across])
        later = self.successResultOf(store.sessions("/stream", 400.0, 1000.0))
        self.assertEqual(later, [across, late])
        self.assertEqual(self.successResultOf(store.sessions("/none", 0.0, 1000.0)), [])

    def test_no_double_while_writing(self) -> None:
        """
        A read asked for while a write runs waits for it, and then returns
        each session once.
        """
        runner = LaterRunner()
        clock, store, path = self.build(runner=runner)
        runner.run_all()
        store.record(listening(1))
        store.record(listening(2))
        clock.advance(FLUSH_INTERVAL)
        read = store.sessions(None, 0.0, 2 * NOON)
        store.record(listening(3))
        self.assertEqual(len(runner.pending), 1)
        runner.run()
        self.assertNoResult(read)
        runner.run()
        self.assertEqual(numbers(self.successResultOf(read)), [1, 2, 3])

    def test_read_behind_stop(self) -> None:
        """
        A read asked for before the stop is answered; one that waits its
        turn behind the closing of the database fails with
        L{StoreStopped}, and opens nothing again.
        """
        runner = LaterRunner()
        clock, store, path = self.build(runner=runner)
        runner.run_all()
        store.record(listening(1))
        clock.advance(FLUSH_INTERVAL)
        runner.run_all()
        before = store.sessions(None, 0.0, NOON)
        stopped = store.stopService()
        behind = store.sessions(None, 0.0, NOON)
        runner.run_all()
        self.assertEqual(numbers(self.successResultOf(before)), [1])
        self.successResultOf(stopped)
        self.failureResultOf(behind, StoreStopped)
        self.assertEqual(runner.pending, [])

    def test_read_failure(self) -> None:
        """
        A read from a database that cannot be opened fails with its error.
        """
        blocker = self.mktemp()
        with open(blocker, "w"):
            pass
        clock, store, _ = self.build(os.path.join(blocker, "x", DATABASE_FILE), days=0)
        self.failureResultOf(store.sessions(None, 0.0, NOON), OSError)

    def test_after_stop(self) -> None:
        """
        Once the store has stopped, reads fail with L{StoreStopped}.
        """
        clock, store, _ = self.build()
        self.successResultOf(store.stopService())
        self.failureResultOf(store.sessions(None, 0.0, NOON), StoreStopped)


class StopTests(Builder):
    """
    Stopping writes what waits, then closes the database.
    """

    def test_flushes_and_closes(self) -> None:
        """
        What waits is written, the database closed, and no timer is left;
        a session recorded later is dropped, counted and logged once.
        """
        clock, store, path = self.build()
        store.record(listening(1))
        store.record(listening(2))
        self.successResultOf(store.stopService())
        self.assertEqual(numbers(stored(path)), [1, 2])
        self.assertEqual(clock.getDelayedCalls(), [])
        with capturedLogs() as events:
            store.record(listening(3))
            store.record(listening(4))
        self.assertEqual((store.written, store.dropped, store.pending), (2, 2, 0))
        self.assertEqual(len([e for e in events if "after" in e["log_format"]]), 1)

    def test_late_after_outage(self) -> None:
        """
        Sessions recorded after the stop are reported even when sessions
        were dropped before it.
        """
        blocker = self.mktemp()
        with open(blocker, "w"):
            pass
        clock, store, _ = self.build(os.path.join(blocker, "x", DATABASE_FILE), max_pending=1)
        store.record(listening(1))
        store.record(listening(2))
        self.successResultOf(store.stopService())
        with capturedLogs() as events:
            store.record(listening(3))
        self.assertEqual(store.dropped, 3)
        self.assertEqual(len([e for e in events if "after" in e["log_format"]]), 1)

    def test_waits_for_write(self) -> None:
        """
        Stopping waits for the write in progress, writes the rest, then
        closes.
        """
        runner = LaterRunner()
        clock, store, path = self.build(runner=runner, batch_size=1)
        runner.run_all()
        store.record(listening(1))
        store.record(listening(2))
        stopped = store.stopService()
        self.assertNoResult(stopped)
        runner.run_all()
        self.successResultOf(stopped)
        self.assertEqual(numbers(stored(path)), [1, 2])

    def test_database_down(self) -> None:
        """
        With the database down, stopping tries once, then gives up: the
        sessions are counted as dropped and logged.
        """
        blocker = self.mktemp()
        with open(blocker, "w"):
            pass
        with capturedLogs() as events:
            clock, store, _ = self.build(os.path.join(blocker, "x", DATABASE_FILE))
            store.record(listening(1))
            clock.advance(FLUSH_INTERVAL)
            store.record(listening(2))
            self.successResultOf(store.stopService())
        self.assertEqual((store.dropped, store.pending), (2, 0))
        self.assertEqual(clock.getDelayedCalls(), [])
        lost = [e for e in events if "before the stop" in e["log_format"]]
        self.assertEqual([e["count"] for e in lost], [2])

    def test_bounded_wait(self) -> None:
        """
        A write that never ends holds the stop for L{STOP_TIMEOUT} seconds
        at most.
        """
        runner = LaterRunner()
        clock, store, path = self.build(runner=runner)
        runner.run_all()
        store.record(listening(1))
        clock.advance(FLUSH_INTERVAL)
        store.record(listening(2))
        with capturedLogs() as events:
            stopped = store.stopService()
            clock.advance(STOP_TIMEOUT - 0.1)
            self.assertNoResult(stopped)
            clock.advance(0.1)
        self.successResultOf(stopped)
        self.assertEqual(store.dropped, 1)
        self.assertTrue(any("still being written" in e["log_format"] for e in events))
        # The stuck write ends after all.
        runner.run()
        self.assertEqual((store.written, store.dropped), (1, 1))
        self.assertEqual(numbers(stored(path)), [1])


class DatabaseTests(SynchronousTestCase):
    """
    L{session_database} picks the database a setting names.
    """

    def test_default(self) -> None:
        """
        An empty setting is L{DATABASE_FILE} in the state folder.
        """
        database = session_database("", "/var/lib/radiod")
        assert isinstance(database, SQLiteSessions)
        self.assertEqual(database.path, "/var/lib/radiod/audience.sqlite3")
        self.assertEqual(database.description, "SQLite /var/lib/radiod/audience.sqlite3")

    def test_postgresql(self) -> None:
        """
        A C{postgresql://} URL is a PostgreSQL database, described without
        its password.
        """
        database = session_database("postgresql://radio:secret@db.example/radio", "state")
        assert isinstance(database, PostgreSQLSessions)
        self.assertEqual(database.conninfo, "postgresql://radio:secret@db.example/radio")
        self.assertEqual(database.description, "PostgreSQL postgresql://radio@db.example/radio")
        self.assertIsInstance(
            session_database("postgres://db.example/radio", "state"), PostgreSQLSessions
        )

    def test_path(self) -> None:
        """
        Anything else is the path of a SQLite file.
        """
        database = session_database("/srv/stats.db", "state")
        assert isinstance(database, SQLiteSessions)
        self.assertEqual(database.path, "/srv/stats.db")

    def test_describe(self) -> None:
        """
        Passwords never reach a description: a URL loses its password and
        query, C{key=value} words their password's value.
        """
        self.assertEqual(
            describe_conninfo("postgresql://u:p%40ss@h1:5432,h2/db?password=x&sslmode=require"),
            "postgresql://u@h1:5432,h2/db",
        )
        self.assertEqual(describe_conninfo("postgresql:///db"), "postgresql:///db")
        self.assertEqual(
            describe_conninfo("host=h dbname=db password=secret user=u"),
            "host=h dbname=db password=*** user=u",
        )
        self.assertEqual(
            describe_conninfo("host=h password = 'se cr\\'et' user=u"),
            "host=h password = *** user=u",
        )


class KeyFileTests(SynchronousTestCase):
    """
    L{keep_day_key} keeps the latest day's key in a private file.
    """

    def test_new_file(self) -> None:
        """
        With no file yet, the key given is written, readable by its owner
        only, in a private folder made for it.
        """
        folder = self.mktemp()
        path = os.path.join(folder, KEY_FILE)
        key = new_day_key("2026-12-07")
        self.assertEqual(keep_day_key(path, key), key)
        with open(path, "rb") as f:
            self.assertEqual(decode_day_key(f.read()), key)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(folder).st_mode) & 0o077, 0)

    def test_same_day_kept(self) -> None:
        """
        A file that holds a key of the same day (or a later one) wins: it
        is returned, and the file is left as it is.
        """
        path = os.path.join(self.mktemp(), KEY_FILE)
        first = keep_day_key(path, new_day_key("2026-12-07"))
        self.assertEqual(keep_day_key(path, new_day_key("2026-12-07")), first)
        self.assertEqual(keep_day_key(path, new_day_key("2026-12-06")), first)

    def test_new_day_replaces(self) -> None:
        """
        A key of a later day replaces the file's: the earlier key is gone.
        """
        path = os.path.join(self.mktemp(), KEY_FILE)
        old = keep_day_key(path, new_day_key("2026-12-07"))
        new = new_day_key("2026-12-08")
        self.assertEqual(keep_day_key(path, new), new)
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(data, encode_day_key(new))
        self.assertNotIn(old.secret.hex().encode(), data)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(sorted(os.listdir(os.path.dirname(path))), [KEY_FILE, KEY_FILE + ".lock"])

    def test_damaged_replaced(self) -> None:
        """
        A file that holds no key is replaced.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        path = os.path.join(folder, KEY_FILE)
        with open(path, "wb") as f:
            f.write(b"garbage")
        key = new_day_key("2026-12-07")
        self.assertEqual(keep_day_key(path, key), key)


class StoreKeyTests(Builder):
    """
    A store given a hashing L{AddressHasher} and a key file keeps the
    day's key there.
    """

    def test_restart_same_hashes(self) -> None:
        """
        At start, the store takes the key kept for the day, so that hashes
        made after a restart are those made before it.
        """
        key_path = os.path.join(self.mktemp(), KEY_FILE)
        before = AddressHasher()
        clock, store, path = self.build(hasher=before, key_path=key_path)
        hashed = before.client("192.0.2.7", clock.seconds())
        self.assertIsNone(before.unsaved)
        self.successResultOf(store.stopService())
        after = AddressHasher()
        self.build(path, hasher=after, key_path=key_path)
        self.assertEqual(after.client("192.0.2.7", NOON + 600), hashed)

    def test_new_day_kept(self) -> None:
        """
        The key the hasher makes when the day changes is kept at the next
        interval, in place of the day before's.
        """
        key_path = os.path.join(self.mktemp(), KEY_FILE)
        hasher = AddressHasher()
        clock, store, path = self.build(hasher=hasher, key_path=key_path)
        clock.advance(DAY / 2)
        hashed = hasher.client("192.0.2.7", clock.seconds())
        self.assertIsNotNone(hasher.unsaved)
        clock.advance(FLUSH_INTERVAL)
        self.assertIsNone(hasher.unsaved)
        with open(key_path, "rb") as f:
            kept = decode_day_key(f.read())
        self.assertEqual(kept.day, "2026-12-08")
        self.assertEqual(hash_address(kept.secret, "192.0.2.7"), hashed)

    def test_other_process_first(self) -> None:
        """
        When another process kept a key for the new day first, the store
        takes it, and the hasher uses it from then on.
        """
        key_path = os.path.join(self.mktemp(), KEY_FILE)
        hasher = AddressHasher()
        clock, store, path = self.build(hasher=hasher, key_path=key_path)
        clock.advance(DAY / 2)
        theirs = keep_day_key(key_path, new_day_key("2026-12-08"))
        hasher.client("192.0.2.7", clock.seconds())
        clock.advance(FLUSH_INTERVAL)
        self.assertEqual(hasher.key, theirs)
        self.assertEqual(
            hasher.client("192.0.2.7", clock.seconds()), hash_address(theirs.secret, "192.0.2.7")
        )

    def test_key_file_fails(self) -> None:
        """
        A key file that cannot be written is reported once; hashing and
        writing sessions go on.
        """
        blocker = self.mktemp()
        with open(blocker, "w"):
            pass
        hasher = AddressHasher()
        with capturedLogs() as events:
            clock, store, path = self.build(hasher=hasher, key_path=os.path.join(blocker, KEY_FILE))
            client = hasher.client("192.0.2.7", clock.seconds())
            store.record(ListenerSession("/stream", ICY, NOON, NOON + 1, 1, client=client))
            clock.advance(3 * FLUSH_INTERVAL)
        self.assertEqual(store.written, 1)
        errors = [e for e in events if "address key" in e["log_format"]]
        self.assertEqual(len(errors), 1)

    def test_plain_keeps_no_key(self) -> None:
        """
        A hasher that stores addresses plainly has no key to keep.
        """
        key_path = os.path.join(self.mktemp(), KEY_FILE)
        hasher = AddressHasher(PLAIN)
        clock, store, path = self.build(hasher=hasher, key_path=key_path)
        hasher.client("192.0.2.7", clock.seconds())
        clock.advance(FLUSH_INTERVAL)
        self.assertFalse(os.path.exists(key_path))


@implementer(IReactorFromThreads)
class ThreadCalls:
    """
    The part of a reactor that threads call back: what they hand over
    waits until the test delivers it, on the test's thread.
    """

    def __init__(self) -> None:
        self.calls: queue.SimpleQueue[tuple[Callable[..., object], tuple[object, ...]]]
        self.calls = queue.SimpleQueue()

    def callFromThread(
        self, callable: Callable[..., object], *args: object, **kwargs: object
    ) -> None:
        self.calls.put((callable, args))

    def deliver(self, count: int) -> None:
        """
        Run C{count} calls handed over, waiting for each as long as a
        thread may take to start and run a small piece of work.
        """
        for _ in range(count):
            f, args = self.calls.get(timeout=30)
            f(*args)


class WriterThreadTests(SynchronousTestCase):
    """
    L{WriterThread} runs work on one thread of its own, in order.
    """

    def test_one_thread_in_order(self) -> None:
        """
        Work runs in the order given, all on one thread that is not the
        caller's; each result comes back through the reactor.
        """
        calls = ThreadCalls()
        verifyObject(IReactorFromThreads, calls)
        writer = WriterThread(calls, name="test-writer")
        self.addCleanup(writer.stop)
        seen: list[tuple[int, int, str]] = []

        def work(number: int) -> Callable[[], int]:
            def run() -> int:
                current = threading.current_thread()
                seen.append((number, threading.get_ident(), current.name))
                return number * 10

            return run

        results = [writer(work(number)) for number in range(5)]
        calls.deliver(5)
        self.assertEqual([self.successResultOf(d) for d in results], [0, 10, 20, 30, 40])
        self.assertEqual([number for number, _, _ in seen], list(range(5)))
        self.assertEqual(len({ident for _, ident, _ in seen}), 1)
        self.assertNotEqual(seen[0][1], threading.get_ident())
        self.assertEqual(seen[0][2], "test-writer")

    def test_failure(self) -> None:
        """
        What the work raises is the Deferred's failure.
        """
        calls = ThreadCalls()
        writer = WriterThread(calls)
        self.addCleanup(writer.stop)

        def work() -> None:
            raise sqlite3.OperationalError("disk I/O error")

        done = writer(work)
        calls.deliver(1)
        self.failureResultOf(done, sqlite3.OperationalError)

    def test_stop(self) -> None:
        """
        After L{WriterThread.stop}, the work given before still runs, and
        later work fails at once.
        """
        calls = ThreadCalls()
        writer = WriterThread(calls)
        before = writer(lambda: "ran")
        writer.stop()
        calls.deliver(1)
        self.assertEqual(self.successResultOf(before), "ran")
        self.failureResultOf(writer(lambda: None), RuntimeError)

    def test_store_on_thread(self) -> None:
        """
        A store whose runner is a L{WriterThread} keeps its SQLite
        connection on that thread: it opens the file (making the table) at
        start, then writes, reads and closes there.
        """
        calls = ThreadCalls()
        writer = WriterThread(calls)
        self.addCleanup(writer.stop)
        clock = Clock()
        clock.advance(NOON)
        path = os.path.join(self.mktemp(), DATABASE_FILE)
        store = SessionStore(SQLiteSessions(path), clock, writer, days=0)
        store.startService()
        calls.deliver(1)
        self.assertEqual(stored(path), [])
        store.record(listening(1))
        clock.advance(FLUSH_INTERVAL)
        calls.deliver(1)
        read = store.sessions(None, 0.0, 2 * NOON)
        calls.deliver(1)
        self.assertEqual(numbers(self.successResultOf(read)), [1])
        stopped = store.stopService()
        calls.deliver(1)
        self.successResultOf(stopped)
        self.assertEqual(numbers(stored(path)), [1])
