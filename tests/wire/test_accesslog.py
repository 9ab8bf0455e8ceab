"""
Tests for L{radiod.wire.accesslog}: the line format, password masking, the file
writer, the server's lines, and a real listener's line end to end.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import reactor as _reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReactorCore, IReactorTCP
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import MountConfig, StationConfig, load_config
from radiod.runner import thread_runner
from radiod.station.options import Options
from radiod.station.service import StationService
from radiod.tap import makeService
from radiod.testing import FakeFrameSource, silent_frame, synchronous_runner
from radiod.web.tree import station_site
from radiod.wire.accesslog import (
    FLUSH_SIZE,
    MAX_BACKLOG,
    Access,
    AccessLog,
    AppendFile,
    clf_time,
    format_line,
    mask_target,
)
from radiod.wire.server import RadioFactory, RadioProtocol
from tests.support.loopback import FIXTURES, Reader, Recording, run_ffmpeg, wait_for
from tests.support.tools import require_ffmpeg

reactor: Any = _reactor

ALPHA = TrackInfo("/a.mp3", "First Song", "Alpha Artist")
# 2024-01-02 03:04:05 UTC
WHEN = 1704164645.0
LINE = re.compile(
    r'(?P<host>\S+) - - \[(?P<date>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}|-) '
    r'(?P<sent>\d+) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)" (?P<duration>\d+)'
)


class FormatTests(SynchronousTestCase):
    """
    L{format_line} writes the combined log format with Icecast's duration.
    """

    def test_listener_line(self) -> None:
        """
        A listening session gives every field in order, the duration in
        whole seconds last.
        """
        access = Access(
            client="192.0.2.7",
            ended=WHEN,
            duration=65.9,
            status=200,
            sent=1048576,
            method="GET",
            target="/stream",
            version="HTTP/1.1",
            referer="http://example.org/player",
            user_agent="VLC/3.0.20 LibVLC/3.0.20",
        )
        self.assertEqual(
            format_line(access),
            '192.0.2.7 - - [02/Jan/2024:03:04:05 +0000] "GET /stream HTTP/1.1" 200 1048576 '
            '"http://example.org/player" "VLC/3.0.20 LibVLC/3.0.20" 65',
        )

    def test_dashes_for_missing(self) -> None:
        """
        A request that could not be read, absent headers and an unknown
        status are written C{-}.
        """
        access = Access(client="2001:db8::1", ended=WHEN, duration=0, status=None, sent=0)
        self.assertEqual(
            format_line(access),
            '2001:db8::1 - - [02/Jan/2024:03:04:05 +0000] "-" - 0 "-" "-" 0',
        )
        refused = Access(client="192.0.2.7", ended=WHEN, duration=0.2, status=400, sent=16)
        self.assertEqual(
            format_line(refused),
            '192.0.2.7 - - [02/Jan/2024:03:04:05 +0000] "-" 400 16 "-" "-" 0',
        )

    def test_escaping(self) -> None:
        """
        Quotes, backslashes and control characters in headers are escaped,
        so a line always splits into the same fields; other text is kept.
        """
        access = Access(
            client="192.0.2.7",
            ended=WHEN,
            duration=1,
            status=200,
            sent=5,
            method="GET",
            target='/a"b',
            version="HTTP/1.0",
            user_agent='Evil" 200 0 "x\\y\x1b[31m\u2028Ünïcode',
        )
        line = format_line(access)
        self.assertIn(r'"GET /a\"b HTTP/1.0"', line)
        self.assertIn(r'"Evil\" 200 0 \"x\\y\x1b[31m\u2028Ünïcode"', line)
        self.assertNotIn("\x1b", line)
        self.assertNotIn("\n", line)

    def test_clf_time(self) -> None:
        """
        Dates are UTC with English month names.
        """
        self.assertEqual(clf_time(0), "01/Jan/1970:00:00:00 +0000")
        self.assertEqual(clf_time(WHEN + 0.99), "02/Jan/2024:03:04:05 +0000")
        self.assertEqual(clf_time(1730000000), "27/Oct/2024:03:33:20 +0000")

    def test_negative_duration(self) -> None:
        """
        A clock stepping back never gives a negative duration.
        """
        access = Access(client="192.0.2.7", ended=WHEN, duration=-3, status=200, sent=0)
        self.assertTrue(format_line(access).endswith(" 0"))

    @given(
        client=st.from_regex(r"[0-9a-f.:]{1,39}", fullmatch=True),
        status=st.integers(100, 599),
        sent=st.integers(0, 2**40),
        duration=st.floats(0, 1e7),
        target=st.from_regex(r"/[!#-~]{0,60}", fullmatch=True),
        referer=st.text(max_size=40),
        agent=st.text(max_size=40),
    )
    def test_always_parses(
        self,
        client: str,
        status: int,
        sent: int,
        duration: float,
        target: str,
        referer: str,
        agent: str,
    ) -> None:
        """
        Whatever the client sends, the line is one line that a combined log
        format parser splits into the right fields.
        """
        access = Access(
            client=client,
            ended=WHEN,
            duration=duration,
            status=status,
            sent=sent,
            method="GET",
            target=target,
            version="HTTP/1.1",
            referer=referer,
            user_agent=agent,
        )
        line = format_line(access)
        self.assertEqual(len(line.splitlines()), 1)
        match = re.fullmatch(
            r'(\S+) - - \[[^\]]+\] "((?:[^"\\]|\\.)*)" (\d+) (\d+) '
            r'"((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" (\d+)',
            line,
        )
        assert match is not None, line
        self.assertEqual(match.group(1), client)
        self.assertEqual(int(match.group(3)), status)
        self.assertEqual(int(match.group(4)), sent)
        self.assertEqual(int(match.group(7)), int(duration))


class MaskTests(SynchronousTestCase):
    """
    Passwords never reach the log.
    """

    def test_shoutcast_admin(self) -> None:
        """
        SHOUTcast's C{pass} is masked; other items are kept as sent.
        """
        self.assertEqual(
            mask_target("/admin.cgi?pass=secret&mode=updinfo&song=Hello+World"),
            "/admin.cgi?pass=***&mode=updinfo&song=Hello+World",
        )

    def test_every_spelling(self) -> None:
        """
        C{password} and C{passwd} too, in any case, percent-encoded keys,
        C{;} separators, repeated keys, and with a fragment.
        """
        self.assertEqual(
            mask_target("/x?Password=a&PASS=b;passwd=c&p%61ss=d&pass=e#pass=f"),
            "/x?Password=***&PASS=***;passwd=***&p%61ss=***&pass=***#pass=f",
        )

    def test_userinfo(self) -> None:
        """
        The user and password of an absolute URL are masked.
        """
        self.assertEqual(
            mask_target("http://source:hackme@radio.example:8000/stream?x=1"),
            "http://***@radio.example:8000/stream?x=1",
        )

    def test_untouched(self) -> None:
        """
        Targets without secrets come back unchanged.
        """
        for target in ("/stream", "/", "/a?passage=1&bypass=2", "/x?pass", "/x?", "*"):
            self.assertEqual(mask_target(target), target)

    def test_line_masks_target_and_referer(self) -> None:
        """
        The line masks the target and the referrer.
        """
        access = Access(
            client="192.0.2.7",
            ended=WHEN,
            duration=0,
            status=200,
            sent=0,
            method="GET",
            target="/admin/metadata?mount=/stream&mode=updinfo&song=x&pass=hunter2",
            version="HTTP/1.0",
            referer="http://radio.example/admin.cgi?password=hunter2",
        )
        line = format_line(access)
        self.assertNotIn("hunter2", line)
        self.assertIn("pass=***", line)
        self.assertIn("password=***", line)

    @given(
        secret=st.from_regex(r"[A-Za-z0-9%+._~-]{8,30}", fullmatch=True),
        key=st.sampled_from(["pass", "password", "passwd", "PASS", "Password"]),
        before=st.lists(st.from_regex(r"[a-z]{1,5}=[a-z]{0,5}", fullmatch=True), max_size=3),
        after=st.lists(st.from_regex(r"[a-z]{1,5}=[a-z]{0,5}", fullmatch=True), max_size=3),
    )
    def test_secret_never_kept(
        self, secret: str, key: str, before: list[str], after: list[str]
    ) -> None:
        """
        Wherever the password item is among others, its value is gone.
        """
        query = "&".join([*before, f"{key}=SECRET{secret}", *after])
        masked = mask_target(f"/admin.cgi?{query}")
        self.assertNotIn("SECRET", masked)
        self.assertIn(f"{key}=***", masked)


class AccessLogTests(SynchronousTestCase):
    """
    L{AccessLog} keeps lines in memory and appends them in the runner.
    """

    def build(
        self, path: str | None = None, runner: Any = synchronous_runner
    ) -> tuple[Clock, AccessLog, str]:
        """
        A started log on a fresh file, written synchronously.
        """
        clock = Clock()
        path = path or self.mktemp()
        log = AccessLog(path, clock, runner)
        log.startService()
        self.addCleanup(lambda: log.stopService() if log.running else None)
        return clock, log, path

    def read(self, path: str) -> str:
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_flushed_each_interval(self) -> None:
        """
        Lines wait for the next flush, which comes within a second.
        """
        clock, log, path = self.build()
        log.write("one")
        log.write("two")
        self.assertFalse(os.path.exists(path))
        clock.advance(1.0)
        self.assertEqual(self.read(path), "one\ntwo\n")
        self.assertEqual(log.written, 2)

    def test_flushed_when_large(self) -> None:
        """
        Once L{FLUSH_SIZE} bytes wait, they are written at once.
        """
        clock, log, path = self.build()
        line = "x" * 1023
        for _ in range(FLUSH_SIZE // 1024):
            log.write(line)
        self.assertEqual(len(self.read(path)), FLUSH_SIZE)

    def test_appends(self) -> None:
        """
        An existing file is appended to, never truncated.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("old\n")
        clock, log, _ = self.build(path)
        log.write("new")
        self.successResultOf(log.flush())
        self.assertEqual(self.read(path), "old\nnew\n")

    def test_reopen(self) -> None:
        """
        After the file is moved away (log rotation), C{reopen} starts a new
        one at the path; lines logged before it go to the old file.
        """
        clock, log, path = self.build()
        log.write("before")
        self.successResultOf(log.flush())
        os.rename(path, path + ".1")
        log.write("still old")
        self.successResultOf(log.reopen())
        log.write("after")
        clock.advance(1.0)
        self.assertEqual(self.read(path + ".1"), "before\nstill old\n")
        self.assertEqual(self.read(path), "after\n")

    def test_error_logged_once(self) -> None:
        """
        A file that cannot be written is reported once, with its path; the
        lines are counted as dropped; when writing works again, that is
        said too.
        """
        folder = self.mktemp()
        path = os.path.join(folder, "access.log")
        with capturedLogs() as events:
            clock, log, _ = self.build(path)
            for _ in range(3):
                log.write("lost")
                clock.advance(1.0)
            os.makedirs(folder)
            log.write("kept")
            clock.advance(1.0)
        errors = [e for e in events if "Cannot write access log" in e["log_format"]]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["path"], path)
        self.assertEqual(log.dropped, 3)
        self.assertEqual(self.read(path), "kept\n")
        self.assertEqual([e["path"] for e in events if "written again" in e["log_format"]], [path])

    def test_stop_flushes_then_appends_directly(self) -> None:
        """
        Stopping writes what waits and closes the file; lines that come
        later (connections closing at shutdown) are appended one by one.
        """
        clock, log, path = self.build()
        log.write("waiting")
        self.successResultOf(log.stopService())
        self.assertEqual(self.read(path), "waiting\n")
        self.assertEqual(clock.getDelayedCalls(), [])
        log.write("late")
        self.assertEqual(self.read(path), "waiting\nlate\n")

    def test_writes_in_order_one_at_a_time(self) -> None:
        """
        With a slow runner, writes wait for each other and land in order.
        """
        jobs: list[tuple[Any, Deferred[None]]] = []

        def runner(work: Any) -> Deferred[None]:
            done: Deferred[None] = Deferred()
            jobs.append((work, done))
            return done

        clock, log, path = self.build(runner=runner)
        log.write("a")
        first = log.flush()
        log.write("b")
        second = log.flush()
        self.assertEqual(len(jobs), 1)
        work, done = jobs.pop()
        work()
        done.callback(None)
        self.successResultOf(first)
        self.assertNoResult(second)
        work, done = jobs.pop()
        work()
        done.callback(None)
        self.successResultOf(second)
        self.assertEqual(self.read(path), "a\nb\n")

    def test_stalled_file_bounded(self) -> None:
        """
        While a write never finishes, lines are kept up to
        L{MAX_BACKLOG} bytes, then dropped with one warning.
        """
        clock, log, path = self.build(runner=lambda work: Deferred())
        line = "y" * 1023
        with capturedLogs() as events:
            for _ in range(MAX_BACKLOG // 1024 + 10):
                log.write(line)
        self.assertEqual(log.dropped, 10)
        self.assertEqual(len([e for e in events if "cannot keep up" in e["log_format"]]), 1)


class AppendFileTests(SynchronousTestCase):
    """
    L{AppendFile} appends whole buffers.
    """

    def test_write_reopen_close(self) -> None:
        """
        It creates the file on first write, appends, and reopens the path.
        """
        path = self.mktemp()
        appender = AppendFile(path)
        self.addCleanup(appender.close)
        appender.write(b"a\n")
        appender.write(b"b\n")
        os.rename(path, path + ".old")
        appender.reopen()
        appender.write(b"c\n")
        appender.close()
        with open(path + ".old", "rb") as f:
            self.assertEqual(f.read(), b"a\nb\n")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"c\n")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o644 & ~_umask())

    def test_missing_folder(self) -> None:
        """
        A path in a missing folder raises C{OSError}.
        """
        appender = AppendFile(os.path.join(self.mktemp(), "x.log"))
        self.assertRaises(OSError, appender.write, b"x")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class ConfigTests(SynchronousTestCase):
    """
    C{access_log} and C{--access-log} name the file; the station opens it.
    """

    def test_file_path_relative_to_file(self) -> None:
        """
        A relative path in the file is taken from the file's folder;
        C{"-"} and absolute paths are kept.
        """
        config = load_config('[server]\naccess_log = "logs/access.log"\n', "/etc/radiod/r.toml")
        self.assertEqual(config.access_log, "/etc/radiod/logs/access.log")
        for value in ("-", "/var/log/radiod/access.log", ""):
            config = load_config(f'[server]\naccess_log = "{value}"\n', "/etc/radiod/r.toml")
            self.assertEqual(config.access_log, value)

    def test_option(self) -> None:
        """
        The option sets it; a control character is refused with one line.
        """
        options = Options()
        options.parseOptions(["--access-log", "access.log", "--log-format", "json"])
        self.assertEqual(options.to_config().access_log, "access.log")
        self.assertEqual(options.to_config().log_format, "json")
        with self.assertRaises(SystemExit) as raised:
            Options().parseOptions(["--access-log", "a\tb"])
        self.assertIn("--access-log: must be one line of text", str(raised.exception))

    def test_unwritable_stops_start(self) -> None:
        """
        A log that cannot be opened stops start-up with one line.
        """
        options = Options()
        path = os.path.join(self.mktemp(), "access.log")
        options.parseOptions(["--access-log", path, "--music", FIXTURES])
        with self.assertRaises(SystemExit) as raised:
            makeService(options)
        self.assertEqual(
            str(raised.exception.code),
            f"twistd radiod: error: access_log: cannot open {path}: No such file or directory",
        )

    def test_station_writes_it(self) -> None:
        """
        A station with an access log runs it as a child service and feeds
        it every request; without one it has none.
        """
        path = self.mktemp()
        config = StationConfig(port=0, access_log=path, mounts=(MountConfig(music=FIXTURES),))
        service = StationService(config, Clock(), synchronous_runner)
        assert service.access_log is not None
        self.assertIn(service.access_log, list(service))
        self.assertIn(service.access_log.log, service.factory.on_access)
        plain = StationService(replace(config, access_log=""), Clock(), synchronous_runner)
        self.assertIsNone(plain.access_log)


class ServerLineTests(SynchronousTestCase):
    """
    The server tells the access log about every request when its
    connection ends.
    """

    def build(self, **station: Any) -> tuple[Clock, RadioFactory, list[Access]]:
        clock = Clock()
        clock.advance(WHEN)
        config = MountConfig(name="/stream")
        mount = Mount(config, FakeFrameSource([(ALPHA, silent_frame(), 1000)]), clock)
        mount.start()
        self.addCleanup(mount.stop)
        factory = RadioFactory(
            clock, StationConfig(mounts=(config,), **station), {"/stream": mount}
        )
        station_site(factory, clock)
        clock.pump([0.1] * 20)
        lines: list[Access] = []
        factory.on_access.append(lines.append)
        return clock, factory, lines

    def connect(
        self, factory: RadioFactory, host: str = "192.0.2.7"
    ) -> tuple[RadioProtocol, StringTransport]:
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        protocol = factory.buildProtocol(IPv4Address("TCP", host, 40000))
        protocol.makeConnection(transport)
        return protocol, transport

    def end(self, protocol: RadioProtocol) -> None:
        protocol.connectionLost(Failure(ConnectionDone()))

    def test_listener(self) -> None:
        """
        A listener's line comes when it leaves, with the audio bytes it was
        sent and the seconds it listened.
        """
        clock, factory, lines = self.build()
        protocol, transport = self.connect(factory)
        protocol.dataReceived(
            b"GET /stream?x=1 HTTP/1.1\r\nUser-Agent: Test/1.0\r\n"
            b"Referer: http://example.org/\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\n\r\n"
        )
        clock.pump([0.1] * 600)
        clock.advance(0.5)
        self.assertEqual(lines, [])
        assert protocol.listener is not None
        sent = protocol.listener.sent
        self.assertGreater(sent, 0)
        head = transport.value().index(b"\r\n\r\n") + 4
        self.assertEqual(len(transport.value()) - head, sent)
        self.end(protocol)
        [access] = lines
        self.assertEqual(
            format_line(access),
            f'192.0.2.7 - - [{clf_time(WHEN + 62)}] "GET /stream?x=1 HTTP/1.1" 200 {sent} '
            '"http://example.org/" "Test/1.0" 60',
        )

    def test_replies_and_refusals(self) -> None:
        """
        Playlists, HEAD requests, refusals and unreadable requests get a
        line each with their status and body size; a connection that never
        sends a request gets none.
        """
        clock, factory, lines = self.build()
        for request in (
            b"GET /stream.m3u HTTP/1.0\r\n\r\n",
            b"HEAD /stream HTTP/1.0\r\n\r\n",
            b"GET /nothing HTTP/1.0\r\n\r\n",
            b"GET /admin.cgi?pass=hunter2&mode=updinfo&song=x HTTP/1.0\r\n\r\n",
            b"BAD\r\n\r\n",
        ):
            protocol, transport = self.connect(factory)
            protocol.dataReceived(request)
            head = transport.value().find(b"\r\n\r\n") + 4
            body = len(transport.value()) - head
            self.end(protocol)
            self.assertEqual(lines[-1].sent, body, request)
        protocol, transport = self.connect(factory)
        self.end(protocol)
        self.assertEqual([access.status for access in lines], [200, 200, 404, 401, 400])
        text = "\n".join(format_line(access) for access in lines)
        self.assertNotIn("hunter2", text)
        self.assertIn('"GET /admin.cgi?pass=***&mode=updinfo&song=x HTTP/1.0" 401', text)
        self.assertIn('"-" 400', text)
        self.assertIn('"HEAD /stream HTTP/1.0" 200 0', text)

    def test_refusal_log_masked(self) -> None:
        """
        The server log's line for a refused request masks its target too.
        """
        clock, factory, lines = self.build()
        protocol, transport = self.connect(factory)
        with capturedLogs() as events:
            protocol.dataReceived(b"GET /nothing?password=hunter2 HTTP/1.0\r\n\r\n")
        [event] = [e for e in events if "Refused" in e["log_format"]]
        self.assertEqual(event["path"], "/nothing?password=***")
        self.assertEqual(event["peer"], "192.0.2.7:40000")


class EndToEndTests(TestCase):
    """
    A real station writes real listeners' lines to its access log file.
    """

    timeout = 60

    recording: Recording
    """
    What the station's mount put on air (see L{start}).
    """

    async def start(self) -> tuple[StationService, str, int, list[Access]]:
        """
        Start a station with an access log on a free loopback port, with
        L{recording} of its mount from its first audio.

        @return: the service, the log's path, the port, and the requests
            logged so far.
        """
        path = self.mktemp()
        mount = MountConfig(name="/stream", music=FIXTURES)
        config = StationConfig(port=0, interface="127.0.0.1", mounts=(mount,), access_log=path)
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        self.recording = Recording(service.mounts["/stream"], reactor)
        service.startService()
        self.addCleanup(service.stopService)
        port = await service.listener.listening
        seen: list[Access] = []
        service.factory.on_access.append(seen.append)
        return service, path, port.getHost().port, seen  # type: ignore[attr-defined]

    async def read_line(self, service: StationService, path: str) -> re.Match[str]:
        """
        Flush the access log and parse its only line.
        """
        assert service.access_log is not None
        await service.access_log.flush()
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertNotIn("hunter2", text)
        [line] = text.splitlines()
        match = LINE.fullmatch(line)
        assert match is not None, line
        return match

    async def listen(self, port: int) -> Reader:
        reader = Reader(
            b"GET /stream?pass=hunter2 HTTP/1.0\r\nUser-Agent: e2e-test\r\n\r\n", reactor
        )
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), reader)
        return reader

    def test_closed_session_exact(self) -> Deferred[None]:
        """
        A listener whose session the server ends (as when it is kicked or
        the station stops) gets a line with exactly the audio bytes it
        received and the seconds it listened: at least two, once the
        station has played it more than two seconds of audio.
        """
        return Deferred.fromCoroutine(self._closed_session_exact())

    async def _closed_session_exact(self) -> None:
        service, path, port, seen = await self.start()
        mount = service.mounts["/stream"]
        began = reactor.seconds()
        reader = await self.listen(port)
        await wait_for(lambda: len(mount.listeners) == 1, 10, reactor)
        [listener] = mount.listeners
        # No audio goes on air before its time, so this is at least two
        # seconds on the station's clock (less a frame), however busy the
        # machine.
        recording = self.recording
        await wait_for(lambda: recording.seconds_since(listener.connected_at) > 2.2, 20, reactor)
        listener.transport.loseConnection()
        await reader.gone
        await wait_for(lambda: bool(seen), 10, reactor)
        elapsed = reactor.seconds() - began
        match = await self.read_line(service, path)
        self.assertEqual(match["host"], "127.0.0.1")
        self.assertEqual(match["request"], "GET /stream?pass=*** HTTP/1.0")
        self.assertEqual(match["status"], "200")
        self.assertEqual(match["agent"], "e2e-test")
        self.assertEqual(int(match["sent"]), len(reader.capture.audio))
        self.assertEqual(int(match["sent"]), listener.sent)
        self.assertGreaterEqual(int(match["duration"]), 2)
        self.assertLessEqual(int(match["duration"]), elapsed)

    def test_listener_hangs_up(self) -> Deferred[None]:
        """
        A listener that hangs up is logged when the server sees it leave,
        with at least the audio bytes it received.
        """
        return Deferred.fromCoroutine(self._listener_hangs_up())

    async def _listener_hangs_up(self) -> None:
        service, path, port, seen = await self.start()
        began = reactor.seconds()
        reader = await self.listen(port)
        await wait_for(lambda: len(reader.capture.audio) > 100_000, 20, reactor)
        assert reader.transport is not None
        reader.transport.loseConnection()
        await wait_for(lambda: bool(seen), 10, reactor)
        elapsed = reactor.seconds() - began
        match = await self.read_line(service, path)
        self.assertEqual(match["status"], "200")
        self.assertGreaterEqual(int(match["sent"]), len(reader.capture.audio))
        self.assertLessEqual(int(match["duration"]), elapsed)

    def test_ffmpeg_listener(self) -> Deferred[None]:
        """
        ffmpeg, listening for a second of audio, leaves a line with its
        user agent, status 200 and the bytes it was sent.
        """
        return Deferred.fromCoroutine(self._ffmpeg_listener())

    async def _ffmpeg_listener(self) -> None:
        require_ffmpeg()
        service, path, port, seen = await self.start()
        code, log = await run_ffmpeg(f"http://127.0.0.1:{port}/stream", 1)
        self.assertEqual(code, 0, log)
        await wait_for(lambda: bool(seen), 10, reactor)
        match = await self.read_line(service, path)
        self.assertEqual(match["request"], "GET /stream HTTP/1.1")
        self.assertEqual(match["status"], "200")
        self.assertTrue(match["agent"].startswith("Lavf/"), match["agent"])
        self.assertGreaterEqual(int(match["sent"]), 16000)
        self.assertEqual(int(match["sent"]), seen[0].sent)
