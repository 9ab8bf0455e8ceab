"""
Tests for L{radiod.config.cli}: C{radiod-config --from-icecast} prints
the C{radiod.toml} equivalent to an C{icecast.xml}.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from radiod.config import StationConfig, load_config
from radiod.config.cli import main, run
from radiod.config.icecast import read_icecast_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "icecast")


def fixture(name: str) -> str:
    """
    The path of a fixture in C{tests/fixtures/icecast}.
    """
    return os.path.join(FIXTURES, name)


class RunTests(SynchronousTestCase):
    """
    L{run} with the output captured.
    """

    def run_command(self, *argv: str) -> tuple[int, str, str]:
        """
        Run the command.

        @return: its exit status, standard output and standard error.
        """
        stdout, stderr = io.StringIO(), io.StringIO()
        status = run(list(argv), stdout, stderr)
        return status, stdout.getvalue(), stderr.getvalue()

    def test_converts(self) -> None:
        """
        The configuration is printed, and reads back into what the Icecast
        file was read into; the warnings go to standard error, one line
        each, and are repeated as comments at the top of the file.
        """
        path = fixture("everything.xml")
        status, out, err = self.run_command("--from-icecast", path)
        self.assertEqual(status, 0)
        result = read_icecast_config(path)
        self.assertEqual(load_config(out), result.station)
        self.assertEqual(
            err.splitlines(), [f"radiod-config: warning: {w}" for w in result.warnings]
        )
        for warning in result.warnings:
            self.assertIn(f"#   {warning}\n", out)
        self.assertTrue(out.startswith(f"# radiod.toml made by radiod-config from {path}.\n"))
        self.assertIn(f"#   from {path} line 30: <port>\nport = 8100\n", out)

    def test_music(self) -> None:
        """
        C{--music} names what the first mount plays, as an absolute path.
        """
        status, out, err = self.run_command(
            "--from-icecast", fixture("minimal.xml"), "--music", os.path.relpath(FIXTURES)
        )
        self.assertEqual(status, 0, err)
        config = load_config(out)
        self.assertEqual(config.mounts[0].music, FIXTURES)

    def test_music_missing(self) -> None:
        """
        A C{--music} that does not exist is an error.
        """
        status, out, err = self.run_command(
            "--from-icecast", fixture("minimal.xml"), "--music", "/nothere"
        )
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            err, "radiod-config: error: --music /nothere: no such file or folder: /nothere\n"
        )

    def test_config(self) -> None:
        """
        C{--config} names a C{radiod.toml} whose settings the Icecast ones
        are applied over.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        path = os.path.join(folder, "radiod.toml")
        with open(path, "w") as f:
            f.write('[server]\ntimezone = "Europe/Paris"\nport = 7000\n')
            f.write('[[mount]]\nname = "/autodj"\nstation_name = "Auto"\n')
        status, out, err = self.run_command(
            "--from-icecast", fixture("shoutcast.xml"), "--config", path
        )
        self.assertEqual(status, 0, err)
        config = load_config(out)
        self.assertEqual((config.timezone, config.port), ("Europe/Paris", 8200))
        self.assertEqual([m.name for m in config.mounts], ["/live", "/autodj"])
        self.assertEqual(config.mounts[1].station_name, "Auto")

    def test_bad_input(self) -> None:
        """
        A file that cannot be used is one line on standard error and exit
        status 1, and nothing on standard output.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        cases = {
            "port.xml": (
                "<icecast>\n<listen-socket>\n<port>70000</port></listen-socket></icecast>",
                "line 3: <port>: must be between 0 and 65535, not 70000",
            ),
            "limit.xml": (
                "<icecast>\n<limits><clients>-1</clients></limits></icecast>",
                "line 2: <clients>: must be 0 or more, not -1",
            ),
            "malformed.xml": ("<icecast>\n<limits>\n</icecast>", "line 3: not valid XML"),
            "include.xml": (
                "<icecast>\n<include>nothere.xml</include></icecast>",
                "line 2: <include>: cannot read",
            ),
        }
        for name, (text, message) in cases.items():
            path = os.path.join(folder, name)
            with open(path, "w") as f:
                f.write(text)
            status, out, err = self.run_command("--from-icecast", path)
            self.assertEqual((status, out), (1, ""))
            self.assertTrue(err.startswith(f"radiod-config: error: {path} {message}"), err)
            self.assertEqual(len(err.splitlines()), 1)

    def test_missing_file(self) -> None:
        """
        A file that cannot be read is one line naming it.
        """
        status, out, err = self.run_command("--from-icecast", "/nothere/icecast.xml")
        self.assertEqual(status, 1)
        self.assertEqual(
            err,
            "radiod-config: error: cannot read config /nothere/icecast.xml: "
            "No such file or directory\n",
        )

    def test_usage(self) -> None:
        """
        C{--from-icecast} is needed; without it, argparse's usage error.
        """
        stderr = io.StringIO()
        self.patch(sys, "stderr", stderr)
        with self.assertRaises(SystemExit) as caught:
            run([], io.StringIO(), stderr)
        self.assertEqual(caught.exception.code, 2)
        self.assertIn("--from-icecast", stderr.getvalue())

    def test_main(self) -> None:
        """
        L{main} writes to the process's standard output and error, and
        exits with status 1 on bad input.
        """
        stdout, stderr = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", stdout)
        self.patch(sys, "stderr", stderr)
        main(["--from-icecast", fixture("minimal.xml")])
        self.assertEqual(
            load_config(stdout.getvalue()), read_icecast_config(fixture("minimal.xml")).station
        )
        with self.assertRaises(SystemExit) as caught:
            main(["--from-icecast", "/nothere.xml"])
        self.assertEqual(caught.exception.code, 1)


class ProcessTests(SynchronousTestCase):
    """
    The command run as a process, as an operator runs it.
    """

    def test_from_icecast(self) -> None:
        """
        C{python -m radiod.config.cli --from-icecast FILE} prints a
        C{radiod.toml} that reads back into the same configuration, exits
        with status 0, and warns on standard error.
        """
        path = fixture("urlauth.xml")
        done = subprocess.run(
            [sys.executable, "-m", "radiod.config.cli", "--from-icecast", path],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        expected = read_icecast_config(path).station
        self.assertEqual(load_config(done.stdout), expected)
        members = expected.mounts[1]
        self.assertEqual(members.name, "/members.mp3")
        self.assertEqual(members.auth_listener_add, "http://auth.example.org/hooks/listener.php")
        self.assertIn(
            'auth_listener_add = "http://auth.example.org/hooks/listener.php"', done.stdout
        )
        self.assertIn("<basedir> is not supported by radiod", done.stderr)
        self.assertNotEqual(expected, StationConfig())

    def test_bad_input(self) -> None:
        """
        Bad input: exit status 1, and one line on standard error.
        """
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        path = os.path.join(folder, "icecast.xml")
        with open(path, "w") as f:
            f.write("<icecast>\n<listen-socket>\n<port>70000</port></listen-socket></icecast>")
        done = subprocess.run(
            [sys.executable, "-m", "radiod.config.cli", "--from-icecast", path],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stdout, "")
        self.assertEqual(
            done.stderr,
            f"radiod-config: error: {path} line 3: <port>: must be between 0 and 65535, "
            "not 70000\n",
        )
