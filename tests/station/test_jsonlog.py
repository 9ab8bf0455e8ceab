"""
Tests for L{radiod.station.jsonlog}: JSON log lines, where twistd's log goes, and
C{twistd -n radiod --log-format json} as a running program.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from typing import Any

from twisted.application.service import Application, IServiceCollection
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorProcess, IReactorTCP
from twisted.internet.protocol import ProcessProtocol, Protocol
from twisted.logger import (
    ILogObserver,
    Logger,
    LogLevel,
    LogPublisher,
    eventFromJSON,
    formatEvent,
)
from twisted.python.failure import Failure
from twisted.python.logfile import LogFile
from twisted.scripts._twistd_unix import ServerOptions
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.station.jsonlog import LogObserverService, format_json, json_observer, twistd_log_output
from radiod.station.options import Options
from radiod.station.service import StationService
from radiod.tap import makeService
from tests.support.loopback import ROOT
from tests.support.services import station_in

reactor: Any = _reactor

FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def twistd_options(**values: Any) -> ServerOptions:
    """
    twistd's own options, as twistd would have parsed them.
    """
    options = ServerOptions()
    options.update(values)
    return options


class FormatTests(SynchronousTestCase):
    """
    Each event becomes one line holding one JSON object.
    """

    def emit(self, emit: Any) -> list[str]:
        """
        Log through a private publisher into a JSON observer.

        @return: the lines written.
        """
        output = io.StringIO()
        publisher = LogPublisher(json_observer(output))
        emit(Logger(namespace="radiod.test", observer=publisher))
        return output.getvalue().splitlines(keepends=True)

    def test_structured_fields(self) -> None:
        """
        The fields are keys of their own, beside the format, the level, the
        namespace and the formatted text.
        """
        lines = self.emit(
            lambda log: log.info(
                "Listener {listener} from {peer} joined {mount}",
                listener=7,
                peer="192.0.2.7:4000",
                mount="/stream",
            )
        )
        [line] = lines
        self.assertTrue(line.endswith("}\n"))
        data = json.loads(line)
        self.assertEqual(data["listener"], 7)
        self.assertEqual(data["peer"], "192.0.2.7:4000")
        self.assertEqual(data["mount"], "/stream")
        self.assertEqual(data["log_namespace"], "radiod.test")
        self.assertEqual(data["log_level"]["name"], "info")
        self.assertEqual(data["log_text"], "Listener 7 from 192.0.2.7:4000 joined /stream")
        self.assertIsInstance(data["log_time"], float)

    def test_round_trip(self) -> None:
        """
        Twisted reads the line back as the same event.
        """
        [line] = self.emit(lambda log: log.warn("Slow {mount}", mount="/a"))
        event = eventFromJSON(line)
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertEqual(formatEvent(event), "Slow /a")

    def test_failure_and_odd_values(self) -> None:
        """
        A failure is kept with its traceback; values JSON cannot hold are
        marked, never fatal; text with line breaks stays on one line.
        """

        def emit(log: Logger) -> None:
            try:
                1 / 0  # noqa: B018
            except ZeroDivisionError:
                log.failure("Pacer for {mount} stopped", mount="/s")
            log.info("Odd {thing}", thing=object())
            log.info("Two\nlines {x}", x="a\nb")

        lines = self.emit(emit)
        self.assertEqual(len(lines), 3)
        failure = json.loads(lines[0])
        self.assertEqual(failure["mount"], "/s")
        self.assertIn("ZeroDivisionError", json.dumps(failure["log_failure"]))
        self.assertEqual(json.loads(lines[1])["thing"], {"unpersistable": True})
        self.assertEqual(json.loads(lines[2])["log_text"], "Two\nlines a\nb")

    def test_format_json(self) -> None:
        """
        L{format_json} alone gives the line.
        """
        line = format_json({"log_format": "{a}", "a": 1, "log_level": LogLevel.info})
        self.assertEqual(json.loads(line)["log_text"], "1")


class OutputTests(SynchronousTestCase):
    """
    L{twistd_log_output} sends the JSON where twistd would send its log.
    """

    def test_foreground(self) -> None:
        """
        In the foreground, without C{--logfile} or with C{-}, and without
        twistd, it is standard output.
        """
        for options in (None, {"nodaemon": True}, {"nodaemon": True, "logfile": "-"}):
            self.assertIs(twistd_log_output(options), sys.stdout)

    def test_log_file(self) -> None:
        """
        With C{--logfile}, or as a daemon, it is a rotating log file.
        """
        path = os.path.abspath(self.mktemp())
        output = twistd_log_output({"nodaemon": True, "logfile": path})
        self.addCleanup(output.close)
        assert isinstance(output, LogFile)
        self.assertEqual(output.path, path)
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        cwd = os.getcwd()
        os.chdir(folder)
        self.addCleanup(os.chdir, cwd)
        daemon = twistd_log_output({"nodaemon": False})
        self.addCleanup(daemon.close)
        assert isinstance(daemon, LogFile)
        self.assertEqual(daemon.path, os.path.join(folder, "twistd.log"))

    def test_impossible(self) -> None:
        """
        A daemon cannot log to standard output, and syslog is not JSON.
        """
        with self.assertRaises(ValueError) as raised:
            twistd_log_output({"nodaemon": False, "logfile": "-"})
        self.assertIn("daemon cannot log to standard output", str(raised.exception))
        with self.assertRaises(ValueError) as raised:
            twistd_log_output({"nodaemon": True, "syslog": True})
        self.assertIn("--syslog", str(raised.exception))


class ServiceTests(SynchronousTestCase):
    """
    L{LogObserverService} gives the application its observer.
    """

    def test_sets_component(self) -> None:
        """
        Added to an application, it sets the application's L{ILogObserver}
        (which twistd logs with) and runs its children.
        """
        observer = json_observer(io.StringIO())
        service = LogObserverService(observer)
        application = Application("radiod")
        service.setServiceParent(application)
        self.assertIs(application.getComponent(ILogObserver), observer)
        self.assertEqual(list(IServiceCollection(application)), [service])

    def test_make_service(self) -> None:
        """
        C{--log-format json} makes makeService wrap the station in a
        L{LogObserverService} writing to twistd's C{--logfile}; rotation
        on SIGUSR1 is set up as twistd does for its own file.
        """
        previous = signal.getsignal(signal.SIGUSR1)
        self.addCleanup(signal.signal, signal.SIGUSR1, previous)
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        options = Options()
        options.parseOptions(["--log-format", "json", "--music", FIXTURES])
        path = os.path.abspath(self.mktemp())
        options.parent = twistd_options(nodaemon=True, logfile=path)
        service = makeService(options)
        assert isinstance(service, LogObserverService)
        [top] = list(service)
        self.assertIsInstance(station_in(top), StationService)
        observer: Any = service.observer
        self.addCleanup(observer._outFile.close)
        self.assertEqual(observer._outFile.path, path)
        self.assertNotEqual(signal.getsignal(signal.SIGUSR1), signal.SIG_DFL)
        observer({"log_format": "hello {who}", "who": "json", "log_level": LogLevel.info})
        with open(path) as f:
            self.assertEqual(json.loads(f.read())["log_text"], "hello json")

    def test_text_by_default(self) -> None:
        """
        Without the option, makeService gives the station, with no log
        observer of its own around it.
        """
        options = Options()
        options.parseOptions(["--music", FIXTURES])
        service = makeService(options)
        self.assertNotIsInstance(service, LogObserverService)
        self.assertIsInstance(station_in(service), StationService)

    def test_bad_combination_is_one_line(self) -> None:
        """
        A daemon asked to write JSON to standard output stops with one
        line.
        """
        options = Options()
        options.parseOptions(["--log-format", "json", "--music", FIXTURES])
        options.parent = twistd_options(nodaemon=False, logfile="-")
        with self.assertRaises(SystemExit) as raised:
            makeService(options)
        self.assertEqual(
            str(raised.exception.code),
            "twistd radiod: error: a daemon cannot log to standard output (use --logfile FILE)",
        )

    def test_bad_format(self) -> None:
        """
        An unknown format is refused with one line naming the option.
        """
        with self.assertRaises(SystemExit) as raised:
            Options().parseOptions(["--log-format", "xml"])
        self.assertEqual(
            str(raised.exception),
            'twistd radiod: error: --log-format: must be "text" or "json", not \'xml\' '
            "(see twistd radiod --help)",
        )


class Twistd(ProcessProtocol):
    """
    A running C{twistd}: its standard output as lines, and its end.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.stderr = b""
        self._partial = b""
        self._waiting: list[tuple[Any, Deferred[dict[str, Any]]]] = []
        self.ended: Deferred[None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        *complete, self._partial = (self._partial + data).split(b"\n")
        for raw in complete:
            line = raw.decode("utf-8")
            self.lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            for waiting in list(self._waiting):
                test, found = waiting
                if test(event):
                    self._waiting.remove(waiting)
                    found.callback(event)

    def errReceived(self, data: bytes) -> None:
        self.stderr += data

    def wait_for(self, test: Any) -> Deferred[dict[str, Any]]:
        """
        Fire with the first event, from now on, for which C{test} is true.
        """
        found: Deferred[dict[str, Any]] = Deferred()
        self._waiting.append((test, found))
        return found

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(None)


class TwistdTests(TestCase):
    """
    C{twistd -n radiod --log-format json} logs JSON lines with the
    structured fields.
    """

    timeout = 180

    def test_json_lines(self) -> Deferred[None]:
        """
        Every line on standard output is a JSON object; a listener's
        events carry its C{listener} id, C{peer} and C{mount}.
        """
        return Deferred.fromCoroutine(self._json_lines())

    async def _json_lines(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        twistd = Twistd()
        started = twistd.wait_for(lambda e: "starting on" in e.get("log_text", ""))
        process: IReactorProcess = reactor
        args = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
        args += ["-n", "--pidfile=", "radiod", "--log-format", "json", "--port", "0"]
        args += ["--interface", "127.0.0.1", "--music", FIXTURES]
        transport = process.spawnProcess(
            twistd, sys.executable, args, env=dict(os.environ, PYTHONPATH=ROOT), path=folder
        )

        def stop() -> Deferred[None]:
            if not twistd.ended.called:
                transport.signalProcess("TERM")
            return twistd.ended

        self.addCleanup(stop)
        event = await started
        port = int(event["log_text"].rsplit(" ", 1)[1])
        joined = twistd.wait_for(lambda e: "joined" in e.get("log_format", ""))
        left = twistd.wait_for(lambda e: "left" in e.get("log_format", ""))
        client = Protocol()
        tcp: IReactorTCP = reactor
        await connectProtocol(TCP4ClientEndpoint(tcp, "127.0.0.1", port), client)
        assert client.transport is not None
        client.transport.write(b"GET /stream HTTP/1.0\r\n\r\n")
        for event in (await joined,):
            self.assertIsInstance(event["listener"], int)
            self.assertTrue(event["peer"].startswith("127.0.0.1:"), event)
            self.assertEqual(event["mount"], "/stream")
        client.transport.loseConnection()
        event = await left
        self.assertEqual(event["mount"], "/stream")
        self.assertIsInstance(event["sent"], int)
        await stop()
        self.assertNotIn(b"Traceback", twistd.stderr)
        for line in twistd.lines:
            self.assertIsInstance(json.loads(line), dict, line)
        self.assertFalse(os.path.exists(os.path.join(folder, "twistd.log")))
