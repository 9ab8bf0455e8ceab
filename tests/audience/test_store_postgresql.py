"""
Tests for L{radiod.audience.store} against a real PostgreSQL server: the
one whose URL C{RADIOD_TEST_POSTGRESQL} gives (C{.ci/run} starts one and
sets it).  Each test works in a schema of its own, dropped afterwards.

The database work runs synchronously, on the test's thread, driven by a
L{Clock}; only the server is real.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.audience.databases import PostgreSQLSessions, session_database
from radiod.audience.session import HLS, ICY, ListenerSession
from radiod.audience.store import DAY, FLUSH_INTERVAL, MAX_RETRY_DELAY, SessionStore
from radiod.testing import synchronous_runner

URL = os.environ.get("RADIOD_TEST_POSTGRESQL", "")

# 2026-12-07 12:00:00 UTC
NOON = 1796644800.0


def listening(number: int, mount: str = "/stream") -> ListenerSession:
    """
    The session numbered C{number}: it starts C{number} seconds before
    L{NOON} and lasts a minute.
    """
    start = NOON - 1000 + number
    return ListenerSession(mount, ICY, start, start + 60.0, number, "VLC/3.0", "", f"c{number}")


def closed_port() -> int:
    """
    A loopback TCP port nothing listens on.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class PostgreSQLTests(SynchronousTestCase):
    """
    The store keeps sessions in PostgreSQL as it does in SQLite.
    """

    if not URL:
        skip = "RADIOD_TEST_POSTGRESQL is not set (.ci/run starts a server and sets it)"

    def setUp(self) -> None:
        """
        Make a schema for the test, and a connection string whose tables
        are made there and whose connections name it.
        """
        self.schema = f"radiod_test_{uuid.uuid4().hex[:12]}"
        self.admin = psycopg.connect(URL, autocommit=True)
        self.addCleanup(self.admin.close)
        self.admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        self.addCleanup(
            self.admin.execute,
            sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(self.schema)),
        )
        self.conninfo = make_conninfo(
            URL, options=f"-c search_path={self.schema}", application_name=self.schema
        )

    def build(
        self, database: PostgreSQLSessions | None = None, **options: Any
    ) -> tuple[Clock, SessionStore, PostgreSQLSessions]:
        """
        A started store on the test's schema (or on C{database}), with a
        clock at L{NOON}; a cleanup stops it and checks that it left no
        timer behind.
        """
        clock = Clock()
        clock.advance(NOON)
        database = database or PostgreSQLSessions(self.conninfo)
        store = SessionStore(database, clock, synchronous_runner, **options)
        store.startService()

        def stop() -> None:
            if store.running:
                self.successResultOf(store.stopService())
            self.assertEqual(clock.getDelayedCalls(), [])

        self.addCleanup(stop)
        return clock, store, database

    def rows(self) -> list[tuple[Any, ...]]:
        """
        The rows of the test's table, in the order written.
        """
        query = sql.SQL(
            "SELECT mount, kind, started, ended, bytes, user_agent, referrer, client, country"
            " FROM {}.sessions ORDER BY id"
        ).format(sql.Identifier(self.schema))
        return self.admin.execute(query).fetchall()

    def numbers(self) -> list[int]:
        """
        The numbers (bytes) of the sessions in the table, in the order
        written.
        """
        return [row[4] for row in self.rows()]

    def connections(self) -> list[int]:
        """
        The server processes of the test's store.
        """
        found = self.admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.schema,)
        )
        return [pid for (pid,) in found.fetchall()]

    def test_write_and_read(self) -> None:
        """
        Sessions are written each interval, every field in its column, and
        read back by period and by mount, written or still waiting.
        """
        clock, store, _ = self.build()
        full = ListenerSession(
            "/stream", HLS, NOON - 65.5, NOON, 2**40, "Safari/17", "http://e.org/", "ab", "FR"
        )
        store.record(full)
        store.record(listening(1, "/other"))
        store.record(listening(2))
        self.assertEqual(self.rows(), [])
        clock.advance(FLUSH_INTERVAL)
        self.assertEqual(
            self.rows()[0],
            ("/stream", "hls", NOON - 65.5, NOON, 2**40, "Safari/17", "http://e.org/", "ab", "FR"),
        )
        self.assertEqual(self.numbers(), [2**40, 1, 2])
        waiting = listening(3)
        store.record(waiting)
        everything = self.successResultOf(store.sessions(None, NOON - 2000, NOON + 10))
        self.assertEqual(everything, [listening(1, "/other"), listening(2), waiting, full])
        stream = self.successResultOf(store.sessions("/stream", NOON - 2000, NOON + 10))
        self.assertEqual(stream, [listening(2), waiting, full])
        # Half-open: a session ending as the period starts is not in it.
        after = self.successResultOf(store.sessions(None, NOON, NOON + 10))
        self.assertEqual(after, [])
        self.assertEqual((store.written, store.pending, store.dropped), (3, 1, 0))

    def test_schema(self) -> None:
        """
        The table is made at the first connection, with its indexes; a
        second store finds it there.
        """
        self.build()
        self.build()
        found = self.admin.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'sessions'",
            (self.schema,),
        )
        self.assertEqual(
            {name for (name,) in found.fetchall()},
            {"sessions_pkey", "sessions_mount_started", "sessions_started", "sessions_ended"},
        )

    def test_retention(self) -> None:
        """
        Sessions that started more than C{days} days ago are deleted at
        start, then daily.
        """
        seed = PostgreSQLSessions(self.conninfo)
        seed.insert(
            [
                ListenerSession(
                    "/stream", ICY, NOON - age * DAY, NOON - age * DAY + 60, int(age * 10)
                )
                for age in (12.0, 10.5, 9.5, 1.0)
            ]
        )
        seed.close()
        clock, store, _ = self.build(days=10)
        self.assertEqual(self.numbers(), [95, 10])
        clock.advance(DAY)
        self.assertEqual(self.numbers(), [10])

    def test_connection_lost(self) -> None:
        """
        When the server ends the store's connection (as a restart does),
        the next write fails, is logged once, and is tried again on a new
        connection: every session is written, in order.
        """
        with capturedLogs() as events:
            clock, store, _ = self.build()
            store.record(listening(1))
            clock.advance(FLUSH_INTERVAL)
            [pid] = self.connections()
            self.admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            store.record(listening(2))
            store.record(listening(3))
            clock.advance(FLUSH_INTERVAL)
            self.assertEqual(store.pending, 2)
            clock.advance(MAX_RETRY_DELAY)
        self.assertEqual(self.numbers(), [1, 2, 3])
        self.assertEqual((store.written, store.pending, store.dropped), (3, 0, 0))
        self.assertNotEqual(self.connections(), [pid])
        errors = [e for e in events if "Cannot write listener sessions" in e["log_format"]]
        self.assertEqual(len(errors), 1)
        self.assertEqual(len([e for e in events if "are written" in e["log_format"]]), 1)

    def test_down_then_up(self) -> None:
        """
        A server that cannot be reached keeps the sessions waiting, up to
        the bound (the oldest dropped and counted); once the server can be
        reached, the rest are written, and the table made.
        """
        port = closed_port()
        database = PostgreSQLSessions(f"postgresql://radiod:secret@127.0.0.1:{port}/radiod_test")
        self.assertEqual(
            database.description, f"PostgreSQL postgresql://radiod@127.0.0.1:{port}/radiod_test"
        )
        with capturedLogs() as events:
            clock, store, _ = self.build(database, max_pending=4)
            for number in range(6):
                store.record(listening(number))
                clock.advance(FLUSH_INTERVAL)
            self.assertEqual((store.pending, store.dropped, store.written), (4, 2, 0))
            database.conninfo = self.conninfo
            clock.advance(MAX_RETRY_DELAY)
        self.assertEqual(self.numbers(), [2, 3, 4, 5])
        self.assertEqual((store.pending, store.dropped, store.written), (0, 2, 4))
        errors = [e for e in events if "Cannot write listener sessions" in e["log_format"]]
        self.assertEqual(len(errors), 1)
        self.assertNotIn("secret", str(errors[0]))

    def test_stop(self) -> None:
        """
        Stopping writes what waits and closes the connection.
        """
        clock, store, _ = self.build()
        store.record(listening(1))
        clock.advance(FLUSH_INTERVAL)
        store.record(listening(2))
        self.assertEqual(len(self.connections()), 1)
        self.successResultOf(store.stopService())
        self.assertEqual(self.numbers(), [1, 2])
        self.assertEqual(self.connections(), [])

    def test_setting(self) -> None:
        """
        The station's setting, a C{postgresql://} URL, names this
        database.
        """
        database = session_database(URL, "state")
        self.assertIsInstance(database, PostgreSQLSessions)
        self.assertEqual(database.description.split()[0], "PostgreSQL")
