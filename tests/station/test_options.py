"""
Tests for L{radiod.station.options}: the C{twistd radiod} command line, its help,
its precedence over the configuration file, and its one-line errors.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import replace
from typing import Any

from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.config import KIB, MountConfig, StationConfig
from radiod.station.options import Options, format_size

DEFAULT = StationConfig()
MOUNT = MountConfig()

CONFIG = """\
[server]
port = 9000
interface = "127.0.0.1"
max_listeners = 40

[[mount]]
name = "/a"
genre = "Ambient"
burst_size = "100KiB"

[[mount]]
name = "/b"
live_only = true
fallback = "/a"
"""


def parse(*args: str) -> Options:
    """
    Parse a command line.

    @param args: the arguments after C{twistd radiod}.
    @return: the parsed options.
    """
    options = Options()
    options.parseOptions(list(args))
    return options


class FormatSizeTests(SynchronousTestCase):
    """
    Tests for L{format_size}.
    """

    def test_units(self) -> None:
        """
        Sizes use the largest binary unit that divides them exactly.
        """
        self.assertEqual(format_size(64 * KIB), "64KiB")
        self.assertEqual(format_size(KIB * KIB), "1MiB")
        self.assertEqual(format_size(2 * KIB**3), "2GiB")
        self.assertEqual(format_size(1000), "1000")
        self.assertEqual(format_size(0), "0")


class OptionsTests(SynchronousTestCase):
    """
    Tests for L{Options} without a configuration file.
    """

    def test_defaults(self) -> None:
        """
        With no options the configuration is the built-in default, and no
        option counts as given.
        """
        options = parse()
        self.assertEqual(options.to_config(), DEFAULT)
        self.assertEqual(options.given(), set())

    def test_each_option(self) -> None:
        """
        Each option sets its own value and nothing else: server options on
        the station, mount options on its only mount.
        """
        music = self.mktemp()
        os.mkdir(music)
        server_cases: list[tuple[list[str], dict[str, Any]]] = [
            (["--port", "8080"], {"port": 8080}),
            (["-p", "0"], {"port": 0}),
            (["--interface", "127.0.0.1"], {"interface": "127.0.0.1"}),
            (["--max-listeners", "300"], {"max_listeners": 300}),
            (["--header-timeout", "2.5"], {"header_timeout": 2.5}),
            (["--state-dir", "/var/lib/radiod"], {"state_dir": "/var/lib/radiod"}),
            (["--cache-dir", "/var/cache/radiod"], {"cache_dir": "/var/cache/radiod"}),
            (["--cache-size", "100MiB"], {"cache_size": 100 * 1024 * 1024}),
        ]
        for args, changes in server_cases:
            self.assertEqual(parse(*args).to_config(), replace(DEFAULT, **changes), args)
        mount_cases: list[tuple[list[str], dict[str, Any]]] = [
            (["--music", music], {"music": music}),
            (["--mount", "/live.mp3"], {"name": "/live.mp3"}),
            (["--name", "Radio Free"], {"station_name": "Radio Free"}),
            (["--genre", "Rock"], {"genre": "Rock"}),
            (["--description", "Loud"], {"description": "Loud"}),
            (["--url", "https://radio.example"], {"url": "https://radio.example"}),
            (["--public"], {"public": True}),
            (["--shuffle"], {"shuffle": True}),
            (["--icy-status-line"], {"icy_status_line": True}),
            (["--metaint", "8192"], {"metaint": 8192}),
            (["--burst-size", "32768"], {"burst_size": 32768}),
            (["--queue-size", "1000000"], {"queue_size": 1000000}),
            (["--max-listeners-per-mount", "7"], {"max_listeners": 7}),
            (["--charset", "ISO-8859-1"], {"charset": "latin-1"}),
            (["--bitrate", "192"], {"bitrate": 192}),
            (["--sample-rate", "48000"], {"sample_rate": 48000}),
            (["--channels", "1"], {"channels": 1}),
            (["--normalize"], {"normalize": True}),
        ]
        for args, changes in mount_cases:
            expected = replace(DEFAULT, mounts=(replace(MOUNT, **changes),))
            self.assertEqual(parse(*args).to_config(), expected, args)

    def test_units(self) -> None:
        """
        Sizes on the command line take units.
        """
        config = parse("--burst-size", "16KiB", "--queue-size=2MiB").to_config()
        self.assertEqual(config.default_mount.burst_size, 16 * KIB)
        self.assertEqual(config.default_mount.queue_size, 2 * KIB * KIB)

    def test_given(self) -> None:
        """
        L{Options.given} names the options on the command line, flags only
        when set.
        """
        options = parse("--port", "8000", "--shuffle", "--genre", "")
        self.assertEqual(options.given(), {"port", "shuffle", "genre"})

    def test_config_kept(self) -> None:
        """
        The configuration is built once, while parsing.
        """
        options = parse("--port", "1234")
        self.assertIs(options.to_config(), options.config)
        self.assertIs(options.to_config(), options.to_config())


class PrecedenceTests(SynchronousTestCase):
    """
    Tests for how L{Options} combines defaults, the configuration file and
    the command line.
    """

    def setUp(self) -> None:
        """
        Write L{CONFIG} to a file.
        """
        self.path = self.mktemp()
        with open(self.path, "w") as f:
            f.write(CONFIG)

    def test_file(self) -> None:
        """
        Without other options, the file's values win over the defaults.
        """
        config = parse("--config", self.path).to_config()
        self.assertEqual(
            config,
            replace(
                DEFAULT,
                port=9000,
                interface="127.0.0.1",
                max_listeners=40,
                mounts=(
                    MountConfig(name="/a", genre="Ambient", burst_size=100 * KIB),
                    MountConfig(name="/b", live_only=True, fallback="/a"),
                ),
            ),
        )

    def test_command_line_wins(self) -> None:
        """
        Options given on the command line override the file; mount options
        change only the first mount; values not given keep the file's.
        """
        config = parse(
            "--config", self.path, "--port", "9100", "--genre", "Jazz", "--shuffle"
        ).to_config()
        self.assertEqual(config.port, 9100)
        self.assertEqual(config.interface, "127.0.0.1")
        self.assertEqual(config.max_listeners, 40)
        self.assertEqual(
            config.mounts,
            (
                MountConfig(name="/a", genre="Jazz", shuffle=True, burst_size=100 * KIB),
                MountConfig(name="/b", live_only=True, fallback="/a"),
            ),
        )

    def test_blame_the_option(self) -> None:
        """
        A problem made by combining file and command line blames the option
        given, in that option's terms.
        """
        exit = self.assertRaises(SystemExit, parse, "--config", self.path, "--queue-size", "64KiB")
        self.assertEqual(
            exit.code,
            "twistd radiod: error: --queue-size: must be larger than burst_size (102400) "
            "(see twistd radiod --help)",
        )
        exit = self.assertRaises(SystemExit, parse, "--config", self.path, "--mount", "/b")
        self.assertEqual(
            exit.code,
            "twistd radiod: error: --mount: '/b' is already the name of mount[1] "
            "(see twistd radiod --help)",
        )

    def test_blame_the_combination(self) -> None:
        """
        A problem no given option holds alone is reported with the key, the
        file and a note that the options given play a part.
        """
        exit = self.assertRaises(SystemExit, parse, "--config", self.path, "--mount", "/c")
        self.assertEqual(
            exit.code,
            "twistd radiod: error: mount[1].fallback: no mount is named '/a' "
            f"(with {self.path} and the options given) (see twistd radiod --help)",
        )


class ErrorTests(SynchronousTestCase):
    """
    Tests for L{Options}' errors: each ends the program with one line.
    """

    def assert_exit(self, args: list[str], problem: str) -> None:
        """
        Parsing C{args} raises L{SystemExit} carrying C{problem} in radiod's
        one-line error form.
        """
        exit = self.assertRaises(SystemExit, parse, *args)
        self.assertEqual(exit.code, f"twistd radiod: error: {problem} (see twistd radiod --help)")

    def test_bad_values(self) -> None:
        """
        Values that cannot be read, or are out of range, name the option.
        """
        cases = [
            (["--port", "nope"], "--port: expected a whole number, not 'nope'"),
            (["--port", "70000"], "--port: must be between 0 and 65535, not 70000"),
            (["--max-listeners", "-1"], "--max-listeners: must be 0 (no limit) or more, not -1"),
            (
                ["--max-listeners-per-mount", "many"],
                "--max-listeners-per-mount: expected a whole number, not 'many'",
            ),
            (
                ["--header-timeout", "soon"],
                "--header-timeout: expected a number of seconds, not 'soon'",
            ),
            (
                ["--header-timeout", "0"],
                "--header-timeout: must be more than 0 and at most 3600 seconds, not 0",
            ),
            (["--metaint", "100"], "--metaint: must be between 256 and 65535, not 100"),
            (
                ["--burst-size", "lots"],
                "--burst-size: 'lots' is not a size (write bytes, or a number with KiB or MiB)",
            ),
            (["--burst-size", "1MiB"], "--burst-size: must be smaller than queue_size (524288)"),
            (["--queue-size", "32KiB"], "--queue-size: must be larger than burst_size (65536)"),
            (["--charset", "ascii"], '--charset: must be "utf-8" or "latin-1", not \'ascii\''),
            (
                ["--mount", "stream"],
                "--mount: must start with \"/\" and name something, not 'stream'",
            ),
            (
                ["--mount", "/a.m3u"],
                "--mount: must not end with .m3u, .pls or .xspf (playlist URLs): '/a.m3u'",
            ),
            (["--name", "a\nb"], "--name: must be one line of text, without control characters"),
            (["--interface", "a b"], "--interface: must be an address, or empty for all: 'a b'"),
            (["--channels", "3"], "--channels: must be 0 (the first track's), 1 or 2, not 3"),
            (
                ["--sample-rate", "8000", "--bitrate", "128"],
                "--bitrate: must be 0 (any) or an MP3 bitrate at 8000 Hz in kbit/s "
                "(8, 16, 24, 32, 40, 48, 56, 64), not 128",
            ),
            (
                ["--cache-size", "1KiB"],
                "--cache-size: must be at least 1048576 bytes (1MiB), not 1024",
            ),
        ]
        for args, problem in cases:
            self.assert_exit(args, problem)

    def test_missing_music(self) -> None:
        """
        Music that does not exist is refused before the server starts.
        """
        path = self.mktemp()
        self.assert_exit(["--music", path], f"--music: no such file or folder: {path}")

    def test_command_line_syntax(self) -> None:
        """
        Unknown options, missing values and stray arguments are one line.
        """
        self.assert_exit(["--prot", "1"], "option --prot not recognized")
        self.assert_exit(["--port"], "option --port requires argument")
        self.assert_exit(["music"], "Wrong number of arguments.")

    def test_config_file(self) -> None:
        """
        A missing configuration file, or one with a mistake, is one line
        naming the file (and the line and key).
        """
        path = self.mktemp()
        self.assert_exit(
            ["--config", path], f"cannot read config {path}: No such file or directory"
        )
        with open(path, "w") as f:
            f.write("[server]\nport = 80\n\n[[mount]]\nname = 'a'\n")
        self.assert_exit(
            ["--config", path],
            f"{path} line 5: mount[0].name: must start with \"/\" and name something, not 'a'",
        )


class HelpTests(SynchronousTestCase):
    """
    Tests for the help text of L{Options}.
    """

    def test_every_option(self) -> None:
        """
        The usage text lists every parameter and flag with its help, and
        every parameter's help gives its default.
        """
        usage = " ".join(str(Options()).split())
        squeezed = "".join(usage.split())
        for long, short, default, doc, *_ in Options.optParameters:
            self.assertIn(f"--{long}=", usage)
            self.assertIn("".join(doc.split()), squeezed)
            self.assertIn("[default: ", doc)
            self.assertIsNone(default, long)
            if short:
                self.assertIn(f"-{short}, --{long}=", usage)
        for long, _short, doc in Options.optFlags:
            self.assertIn(f"--{long} ", usage)
            self.assertIn("".join(doc.split()), squeezed)
        self.assertEqual(len(Options.optParameters) + len(Options.optFlags), 40)

    def test_description(self) -> None:
        """
        The long description explains the defaults and gives examples.
        """
        usage = " ".join(str(Options()).split())
        self.assertIn("http://localhost:8000/stream", usage)
        self.assertIn("Examples: 'twistd -n radiod --music ~/Music --shuffle'", usage)

    def test_help_exits(self) -> None:
        """
        C{--help} prints the usage text and exits successfully.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        exit = self.assertRaises(SystemExit, parse, "--help")
        self.assertEqual(exit.code, 0)
        self.assertIn("--burst-size=", out.getvalue())


ICECAST_FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "icecast")


class IcecastConfigTests(SynchronousTestCase):
    """
    C{--icecast-config} (or the C{icecast_config} key) takes the server
    from an Icecast C{icecast.xml}, warns once about what radiod does not
    take, and yields to the options given.
    """

    def test_option(self) -> None:
        path = os.path.join(ICECAST_FIXTURES, "minimal.xml")
        with capturedLogs() as events:
            options = parse("--icecast-config", path, "--name", "Small FM")
            config = options.to_config()
            options.reread()
        self.assertEqual(
            (config.port, config.max_listeners, config.source_password, config.admin_user),
            (8010, 50, "small-source", "boss"),
        )
        self.assertEqual(config.mounts[0].station_name, "Small FM")
        warned = [e["unsupported"] for e in events if "unsupported" in e]
        self.assertTrue(warned)
        # Each warning once, though the file was read twice.
        self.assertEqual(len(warned), len(set(warned)))
        self.assertTrue(any("minimal.xml line" in w for w in warned), warned)

    def test_key(self) -> None:
        """
        The C{icecast_config} key of a C{--config} file names it too.
        """
        toml = self.mktemp()
        xml = os.path.join(ICECAST_FIXTURES, "minimal.xml")
        with open(toml, "w") as f:
            f.write(f"[server]\nicecast_config = {xml!r}\n".replace("'", '"'))
        config = parse("--config", toml).to_config()
        self.assertEqual(config.port, 8010)
