"""
Tests for the entry points: the twistd plugin, L{radiod.tap} and
C{radiod.tac}.
"""

from __future__ import annotations

import os
import subprocess
import sys

from twisted.application.service import IServiceCollection, IServiceMaker
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase

from radiod import demo
from radiod.auth import with_admin_password
from radiod.config import with_default_folders
from radiod.station.options import Options
from radiod.tap import makeService
from tests.support.services import station_in

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


class PluginTests(SynchronousTestCase):
    """
    C{twistd radiod} finds the plugin and builds the station from it.
    """

    def test_plugin_found(self) -> None:
        """
        The plugin is discoverable as C{radiod} and points at radiod.tap.
        """
        makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
        self.assertIn("radiod", makers)
        self.assertIsInstance(makers["radiod"].options(), Options)

    def test_make_service(self) -> None:
        """
        makeService builds a station with the options' configuration (and
        the admin password kept in the state folder), and the demo library
        when no music is given.
        """
        options = Options()
        options.parseOptions(["--port", "8123", "--mount", "/live", "--name", "Test"])
        service = station_in(makeService(options))
        expected = with_default_folders(options.to_config(), os.environ)
        self.assertEqual(service.config, with_admin_password(expected))
        self.assertEqual(list(service.mounts), ["/live"])
        programme = service.mounts["/live"].source
        self.assertEqual(programme.library.location, demo.location())  # type: ignore[union-attr]
        self.assertTrue(os.listdir(demo.location()))

    def test_bad_music_is_one_line(self) -> None:
        """
        A music folder with nothing playable stops start-up with one line
        naming it, not a traceback.
        """
        empty = self.mktemp()
        os.makedirs(empty)
        options = Options()
        options.parseOptions(["--music", empty])
        with self.assertRaises(SystemExit) as raised:
            makeService(options)
        message = str(raised.exception.code)
        self.assertEqual(message.count("\n"), 0)
        self.assertIn("no playable audio files in", message)

    def test_twistd_errors_are_one_line(self) -> None:
        """
        Run as a program, twistd with a bad option or an empty library
        prints one line on standard error and exits with status 1.
        """
        empty = self.mktemp()
        os.makedirs(empty)
        env = dict(os.environ, PYTHONPATH=ROOT)
        for args in (["--port", "nope"], ["--music", empty]):
            result = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from twisted.scripts.twistd import run; run()",
                    *["-n", "--pidfile=", "radiod", *args],
                ],
                capture_output=True,
                text=True,
                env=env,
                cwd=empty,
                timeout=60,
            )
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertEqual(result.stderr.count("\n"), 1, result.stderr)
            self.assertTrue(result.stderr.startswith("twistd radiod: error:"), result.stderr)
            self.assertNotIn("Traceback", result.stderr)

    def test_optional_packages_loaded_when_used(self) -> None:
        """
        Building a station that names no GeoIP database and has scaled no
        picture leaves Pillow and maxminddb unimported: a station loads
        what it uses.
        """
        home = self.mktemp()
        os.makedirs(home)
        script = (
            "import sys\n"
            "from radiod.station.options import Options\n"
            "from radiod.tap import makeService\n"
            "options = Options()\n"
            "options.parseOptions(['--port', '0'])\n"
            "makeService(options)\n"
            "print(' '.join(sorted(n for n in ('PIL', 'maxminddb', 'radiod.tap') "
            "if n in sys.modules)))\n"
        )
        env = dict(os.environ, PYTHONPATH=ROOT, HOME=home, XDG_STATE_HOME=home)
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env=env,
            cwd=home,
            timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["radiod.tap"])


class TacTests(SynchronousTestCase):
    """
    radiod.tac builds the same service as the plugin.
    """

    def test_tac_builds_same_service(self) -> None:
        """
        Loading radiod.tac with options in RADIOD_ARGS gives a station with
        the same configuration as C{twistd radiod} with those options.
        """
        args = f"--port 8124 --music {FIXTURES} --name Tac --shuffle"
        previous = os.environ.get("RADIOD_ARGS")
        os.environ["RADIOD_ARGS"] = args
        self.addCleanup(
            lambda: (
                os.environ.pop("RADIOD_ARGS")
                if previous is None
                else os.environ.__setitem__("RADIOD_ARGS", previous)
            )
        )
        namespace: dict[str, object] = {}
        with open(os.path.join(ROOT, "radiod.tac")) as f:
            exec(compile(f.read(), "radiod.tac", "exec"), namespace)
        application = namespace["application"]
        services = list(IServiceCollection(application))
        options = Options()
        options.parseOptions(args.split())
        built = station_in(services[0])
        expected = with_default_folders(options.to_config(), os.environ)
        self.assertEqual(built.config, with_admin_password(expected))
        self.assertTrue(built.config.mounts[0].shuffle)
