# -*- test-case-name: tests.audience.test_store,tests.audience.test_store_postgresql -*-
"""
The databases listener sessions are kept in: SQLite (L{SQLiteSessions}, a
file in the state folder by default, in WAL mode) and PostgreSQL
(L{PostgreSQLSessions}, through psycopg 3, an optional dependency: C{pip
install 'radiod[postgresql]'}), with the same table (see L{SCHEMA}).  Both
are blocking and keep one connection, used by one thread at a time (the
session store's writer thread, see L{radiod.audience.store}); a
connection that fails is closed, and the next piece of work connects again
(and creates the table and its indexes if they are missing).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import suppress
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from radiod.audience.session import HLS, ICY, Kind, ListenerSession

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "BUSY_TIMEOUT",
    "CONNECT_TIMEOUT",
    "DATABASE_FILE",
    "SCHEMA",
    "PostgreSQLSessions",
    "SQLiteSessions",
    "SessionDatabase",
    "describe_conninfo",
    "session_database",
]

_T = TypeVar("_T")

DATABASE_FILE = "audience.sqlite3"
"""
The SQLite file, in the state folder, that sessions are kept in by
default.
"""

BUSY_TIMEOUT = 10.0
"""
Seconds a SQLite write waits for another process's write to end.
"""

CONNECT_TIMEOUT = 10
"""
Seconds a PostgreSQL connection may take to open.
"""

SCHEMA = """\
CREATE TABLE IF NOT EXISTS sessions (
    id {identity},
    mount TEXT NOT NULL,
    kind TEXT NOT NULL,
    started DOUBLE PRECISION NOT NULL,
    ended DOUBLE PRECISION NOT NULL,
    bytes BIGINT NOT NULL,
    user_agent TEXT NOT NULL,
    referrer TEXT NOT NULL,
    client TEXT NOT NULL,
    country TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_mount_started ON sessions (mount, started);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started);
CREATE INDEX IF NOT EXISTS sessions_ended ON sessions (ended);
"""
"""
The table, the same in both databases but for its C{id} (an integer that
grows with each row).  One row per L{ListenerSession}, in columns of the
same names and meanings, but for C{started} and C{ended} (its C{start} and
C{end}, in seconds since the epoch).  Reports ask for a mount's sessions
by time (C{mount, started}) or for every mount's (C{started}); the index
on C{ended} finds the sessions that overlap a recent period without
reading the older ones.
"""

_COLUMNS = "mount, kind, started, ended, bytes, user_agent, referrer, client, country"
_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)")


def _statements(identity: str) -> list[str]:
    text = SCHEMA.format(identity=identity)
    return [statement.strip() for statement in text.split(";") if statement.strip()]


def _insert(mark: str) -> str:
    marks = ", ".join([mark] * len(_COLUMNS.split(",")))
    return f"INSERT INTO sessions ({_COLUMNS}) VALUES ({marks})"


def _select(mark: str, mount: str | None) -> str:
    where = f"started < {mark} AND (ended > {mark} OR started = {mark})"
    if mount is not None:
        where += f" AND mount = {mark}"
    return f"SELECT {_COLUMNS} FROM sessions WHERE {where} ORDER BY started, id"


def _select_arguments(mount: str | None, start: float, end: float) -> tuple[object, ...]:
    if mount is None:
        return (end, start, start)
    return (end, start, start, mount)


def _row(session: ListenerSession) -> tuple[object, ...]:
    return (
        session.mount,
        session.kind,
        session.start,
        session.end,
        session.bytes,
        session.user_agent,
        session.referrer,
        session.client,
        session.country,
    )


def _kind(value: object) -> Kind:
    if value == ICY:
        return ICY
    if value == HLS:
        return HLS
    raise ValueError(f"a stored session has an unknown kind: {value!r}")


def _session(row: Sequence[Any]) -> ListenerSession:
    mount, kind, started, ended, sent, user_agent, referrer, client, country = row
    return ListenerSession(
        mount=str(mount),
        kind=_kind(kind),
        start=float(started),
        end=float(ended),
        bytes=int(sent),
        user_agent=str(user_agent),
        referrer=str(referrer),
        client=str(client),
        country=str(country),
    )


class SessionDatabase(Protocol):
    """
    Where sessions are kept: one connection, used by one thread at a time,
    made when first needed and made again after a failure.  Every method
    blocks.

    @ivar description: names the database in log lines, without its
        password.
    """

    description: str

    def open(self) -> None:
        """
        Connect, if not connected, and create the table and its indexes if
        they are missing.

        @raise Exception: if that fails.
        """

    def insert(self, sessions: Sequence[ListenerSession]) -> None:
        """
        Add C{sessions}, all or none.

        @raise Exception: if they could not be written (the connection is
            then closed).
        """

    def expire(self, before: float) -> int:
        """
        Delete the sessions that started before C{before} (seconds since
        the epoch).

        @return: how many were deleted.
        """

    def select(self, mount: str | None, start: float, end: float) -> list[ListenerSession]:
        """
        The sessions that overlap C{[start, end)} (see
        L{ListenerSession.overlaps}), by start.

        @param mount: only this mount's, or every mount's if C{None}.
        """

    def close(self) -> None:
        """
        Close the connection, if one is open.
        """


class SQLiteSessions:
    """
    Sessions kept in a SQLite file (created with its folder if missing),
    in WAL mode: readers never wait for the writer, and several processes
    (worker processes) can share the file.  A committed write survives a
    crash of radiod; C{synchronous=NORMAL} can lose the last commits on a
    power cut, never the file.

    @ivar path: the file.
    """

    def __init__(self, path: str) -> None:
        """
        @param path: the file.
        """
        self.path = path
        self.description = f"SQLite {path}"
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            folder = os.path.dirname(self.path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("BEGIN")
                for statement in _statements("INTEGER PRIMARY KEY"):
                    connection.execute(statement)
                connection.execute("COMMIT")
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _run(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        connection = self._connect()
        try:
            return work(connection)
        except BaseException:
            self.close()
            raise

    def open(self) -> None:
        """
        See L{SessionDatabase.open}.
        """
        self._connect()

    def insert(self, sessions: Sequence[ListenerSession]) -> None:
        """
        See L{SessionDatabase.insert}.
        """

        def work(connection: sqlite3.Connection) -> None:
            connection.execute("BEGIN")
            connection.executemany(_insert("?"), [_row(session) for session in sessions])
            connection.execute("COMMIT")

        self._run(work)

    def expire(self, before: float) -> int:
        """
        See L{SessionDatabase.expire}.
        """

        def work(connection: sqlite3.Connection) -> int:
            return connection.execute("DELETE FROM sessions WHERE started < ?", (before,)).rowcount

        return self._run(work)

    def select(self, mount: str | None, start: float, end: float) -> list[ListenerSession]:
        """
        See L{SessionDatabase.select}.
        """

        def work(connection: sqlite3.Connection) -> list[ListenerSession]:
            rows = connection.execute(_select("?", mount), _select_arguments(mount, start, end))
            return [_session(row) for row in rows]

        return self._run(work)

    def close(self) -> None:
        """
        See L{SessionDatabase.close}.
        """
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def describe_conninfo(conninfo: str) -> str:
    """
    A PostgreSQL connection string fit for a log line: a URL without its
    password and query, or C{key=value} words with the password's value
    written C{***}.
    """
    parts = urlsplit(conninfo)
    if parts.scheme in ("postgresql", "postgres"):
        hosts = parts.netloc.rpartition("@")[2]
        user = parts.netloc.rpartition("@")[0].partition(":")[0]
        netloc = f"{user}@{hosts}" if user else hosts
        return f"{parts.scheme}://{netloc}{parts.path}"
    return _PASSWORD.sub(r"\1***", conninfo)


class PostgreSQLSessions:
    """
    Sessions kept in a PostgreSQL database, through psycopg 3 (its
    blocking API, from the store's thread).  The connection is in
    autocommit mode, each write in a transaction of its own.

    @ivar conninfo: the connection string: a C{postgresql://} URL or
        libpq C{key=value} words.  It is read at each connection, so it
        may be changed between two.
    """

    def __init__(self, conninfo: str) -> None:
        """
        @param conninfo: the connection string.
        """
        self.conninfo = conninfo
        self.description = f"PostgreSQL {describe_conninfo(conninfo)}"
        self._connection: psycopg.Connection[tuple[Any, ...]] | None = None

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._connection is None or self._connection.closed:
            import psycopg

            # The connection string's own settings come first.
            settings: dict[str, Any] = {
                "connect_timeout": CONNECT_TIMEOUT,
                "application_name": "radiod",
            }
            settings.update(psycopg.conninfo.conninfo_to_dict(self.conninfo))
            connection = psycopg.connect(autocommit=True, **settings)
            try:
                with connection.transaction():
                    for statement in _statements("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"):
                        connection.execute(statement)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _run(self, work: Callable[[psycopg.Connection[tuple[Any, ...]]], _T]) -> _T:
        connection = self._connect()
        try:
            return work(connection)
        except BaseException:
            self.close()
            raise

    def open(self) -> None:
        """
        See L{SessionDatabase.open}.
        """
        self._connect()

    def insert(self, sessions: Sequence[ListenerSession]) -> None:
        """
        See L{SessionDatabase.insert}.
        """

        def work(connection: psycopg.Connection[tuple[Any, ...]]) -> None:
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(_insert("%s"), [_row(session) for session in sessions])

        self._run(work)

    def expire(self, before: float) -> int:
        """
        See L{SessionDatabase.expire}.
        """

        def work(connection: psycopg.Connection[tuple[Any, ...]]) -> int:
            cursor = connection.execute("DELETE FROM sessions WHERE started < %s", (before,))
            return cursor.rowcount

        return self._run(work)

    def select(self, mount: str | None, start: float, end: float) -> list[ListenerSession]:
        """
        See L{SessionDatabase.select}.
        """

        def work(connection: psycopg.Connection[tuple[Any, ...]]) -> list[ListenerSession]:
            query = _select("%s", mount)
            cursor = connection.execute(query, _select_arguments(mount, start, end))
            return [_session(row) for row in cursor.fetchall()]

        return self._run(work)

    def close(self) -> None:
        """
        See L{SessionDatabase.close}.
        """
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(Exception):
                connection.close()


def session_database(setting: str, state_folder: str) -> SessionDatabase:
    """
    The database a station's setting names.

    @param setting: C{""} for L{DATABASE_FILE} in the state folder; a
        C{postgresql://} (or C{postgres://}) URL for a PostgreSQL
        database; anything else is the path of a SQLite file.
    @param state_folder: the station's state folder.
    @raise ValueError: for a PostgreSQL URL when psycopg is not installed.
    """
    if not setting:
        return SQLiteSessions(os.path.join(state_folder, DATABASE_FILE))
    if setting.startswith(("postgresql://", "postgres://")):
        if find_spec("psycopg") is None:
            raise ValueError(
                "keeping sessions in PostgreSQL needs psycopg: pip install 'radiod[postgresql]'"
            )
        return PostgreSQLSessions(setting)
    return SQLiteSessions(setting)
