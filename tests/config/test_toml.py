"""
Tests for L{radiod.config.toml}: reading TOML configuration, and the
one-line errors that name the file, the line and the key.
"""

from __future__ import annotations

import os
from dataclasses import replace

from twisted.trial.unittest import SynchronousTestCase

from radiod.config import (
    KIB,
    ConfigError,
    MountConfig,
    StationConfig,
    find_key_line,
    load_config,
    parse_push_url,
    read_config,
    validate,
)

FULL = """\
# A station with everything set.
[server]
port = 9000
interface = "127.0.0.1"
max_listeners = 100
header_timeout = 7.5
source_password = "hackme"
admin_user = "boss"
admin_password = "secret"

[[mount]]
name = "/jazz"
music = "/srv/jazz"
shuffle = true
station_name = "Jazz FM"
genre = "Jazz"
description = "All jazz, all day"
url = "https://jazz.example"
public = true
metaint = 8192
burst_size = "32KiB"
queue_size = "1 MiB"
max_listeners = 50
charset = "ISO-8859-1"
status_line = "icy"
rescan_interval = 60
source_password = "jazzpass"

[[mount]]
name = "/talk"
live_only = true
fallback = "/jazz"
fallback_override = false
"""


TWO_MOUNTS = """\
[server]
port = 9000

[[mount]]
name = "/a"

[[mount]]
name = "/b"
{extra}
"""


class FindKeyLineTests(SynchronousTestCase):
    """
    Tests for L{find_key_line}.
    """

    def test_tables_and_arrays(self) -> None:
        """
        A key is found in its table, and in the Nth C{[[mount]]} block, not
        in an earlier one with the same key.
        """
        self.assertEqual(find_key_line(FULL, ("server", "port")), 3)
        self.assertEqual(find_key_line(FULL, ("server", "admin_password")), 9)
        self.assertEqual(find_key_line(FULL, ("mount", 0, "name")), 12)
        self.assertEqual(find_key_line(FULL, ("mount", 0, "burst_size")), 21)
        self.assertEqual(find_key_line(FULL, ("mount", 1, "name")), 30)

    def test_missing_key(self) -> None:
        """
        A key that is not written is placed at its table's header, and
        C{None} is the answer when neither appears.
        """
        self.assertEqual(find_key_line(FULL, ("mount", 1, "queue_size")), 29)
        self.assertEqual(find_key_line(FULL, ("server", "nothing")), 2)
        self.assertIsNone(find_key_line(FULL, ("mount", 2, "name")))
        self.assertIsNone(find_key_line("", ("server", "port")))

    def test_key_forms(self) -> None:
        """
        Quoted keys, dotted keys, inline tables and indented lines are
        found; lines inside multi-line strings and comments are not keys.
        """
        text = (
            'top = """\n'
            "port = 1\n"
            '"""\n'
            "# port = 2\n"
            "server.port = 3\n"
            "  [[mount]]  # first\n"
            "  'name' = \"/a\"\n"
            "inline = { port = 4 }\n"
        )
        self.assertEqual(find_key_line(text, ("port",)), None)
        self.assertEqual(find_key_line(text, ("server", "port")), 5)
        self.assertEqual(find_key_line(text, ("mount", 0, "name")), 7)
        self.assertEqual(find_key_line(text, ("mount", 0, "inline", "port")), 8)


class LoadConfigTests(SynchronousTestCase):
    """
    Tests for L{load_config} on configurations that are right.
    """

    def test_empty(self) -> None:
        """
        An empty file gives the built-in defaults.
        """
        self.assertEqual(load_config(""), StationConfig())

    def test_everything(self) -> None:
        """
        Every server and mount key reaches its field, with sizes, charset
        names and the status-line style converted.
        """
        config = load_config(FULL)
        self.assertEqual(
            config,
            StationConfig(
                port=9000,
                interface="127.0.0.1",
                max_listeners=100,
                header_timeout=7.5,
                source_password="hackme",
                admin_user="boss",
                admin_password="secret",
                mounts=(
                    MountConfig(
                        name="/jazz",
                        music="/srv/jazz",
                        shuffle=True,
                        station_name="Jazz FM",
                        genre="Jazz",
                        description="All jazz, all day",
                        url="https://jazz.example",
                        public=True,
                        metaint=8192,
                        burst_size=32 * KIB,
                        queue_size=KIB * KIB,
                        max_listeners=50,
                        charset="latin-1",
                        icy_status_line=True,
                        rescan_interval=60.0,
                        source_password="jazzpass",
                    ),
                    MountConfig(
                        name="/talk", live_only=True, fallback="/jazz", fallback_override=False
                    ),
                ),
            ),
        )
        self.assertEqual(config.default_mount.name, "/jazz")

    def test_http_status_line(self) -> None:
        """
        C{status_line = "http"} keeps the HTTP status line.
        """
        config = load_config('[[mount]]\nname = "/a"\nstatus_line = "HTTP"\n')
        self.assertFalse(config.default_mount.icy_status_line)

    def test_integer_sizes(self) -> None:
        """
        Sizes may be plain integers of bytes.
        """
        config = load_config('[[mount]]\nname = "/a"\nburst_size = 1000\nqueue_size = 100000\n')
        self.assertEqual(
            (config.default_mount.burst_size, config.default_mount.queue_size), (1000, 100000)
        )

    def test_base(self) -> None:
        """
        The file changes the base configuration's server values it names and
        keeps the base's mounts when it declares none; declared mounts
        replace them.
        """
        base = StationConfig(port=1234, interface="::1", mounts=(MountConfig(name="/x"),))
        config = load_config("[server]\nmax_listeners = 5\n", base=base)
        self.assertEqual(config, replace(base, max_listeners=5))
        config = load_config('[[mount]]\nname = "/y"\n', base=base)
        self.assertEqual(config, replace(base, mounts=(MountConfig(name="/y"),)))

    def test_relative_music(self) -> None:
        """
        Relative music paths are taken from the configuration file's folder;
        absolute ones are kept.
        """
        text = '[[mount]]\nname = "/a"\nmusic = "songs"\n[[mount]]\nname = "/b"\nmusic = "/abs"\n'
        config = load_config(text, os.path.join("etc", "radiod.toml"))
        self.assertEqual([m.music for m in config.mounts], [os.path.join("etc", "songs"), "/abs"])
        self.assertEqual(load_config(text).default_mount.music, "songs")

    def test_record(self) -> None:
        """
        C{record} is off by default and C{record_dir} defaults to
        C{"recordings"} in the working directory; a C{record_dir} set in
        the file is taken from the file's folder unless absolute.
        """
        self.assertEqual((MountConfig().record, MountConfig().record_dir), (False, "recordings"))
        text = (
            '[[mount]]\nname = "/a"\nrecord = true\nrecord_dir = "shows"\n'
            '[[mount]]\nname = "/b"\nrecord_dir = "/abs"\n[[mount]]\nname = "/c"\n'
        )
        config = load_config(text, os.path.join("etc", "radiod.toml"))
        self.assertEqual(
            [(m.record, m.record_dir) for m in config.mounts],
            [(True, os.path.join("etc", "shows")), (False, "/abs"), (False, "recordings")],
        )
        self.assertEqual(load_config(text).default_mount.record_dir, "shows")

    def test_listener_lists(self) -> None:
        """
        The listener lists, the server's and each mount's, are empty by
        default; relative paths set in the file are taken from the file's
        folder, absolute ones kept; with C{path_exists}, a missing one is
        an error naming its key and line.
        """
        self.assertEqual(
            (StationConfig().deny_agents_file, StationConfig().allow_ips, StationConfig().deny_ips),
            ("", "", ""),
        )
        self.assertFalse(MountConfig().fallback_when_full)
        text = (
            '[server]\ndeny_agents_file = "agents.txt"\nallow_ips = "/abs/allow.txt"\n'
            'deny_ips = "deny.txt"\n[[mount]]\nname = "/a"\ndeny_ips = "a-deny.txt"\n'
            '[[mount]]\nname = "/b"\n'
        )
        etc = os.path.join("etc", "radiod.toml")
        config = load_config(text, etc)
        self.assertEqual(
            (config.deny_agents_file, config.allow_ips, config.deny_ips),
            (os.path.join("etc", "agents.txt"), "/abs/allow.txt", os.path.join("etc", "deny.txt")),
        )
        self.assertEqual(
            [(m.deny_ips, m.allow_ips, m.deny_agents_file) for m in config.mounts],
            [(os.path.join("etc", "a-deny.txt"), "", ""), ("", "", "")],
        )
        with self.assertRaises(ConfigError) as caught:
            load_config(text, etc, path_exists=lambda path: not path.endswith("a-deny.txt"))
        self.assertEqual(
            str(caught.exception),
            f"{etc} line 7: mount[0].deny_ips: no such file: {os.path.join('etc', 'a-deny.txt')}",
        )

    def test_fallback_when_full(self) -> None:
        """
        C{fallback_when_full} needs a fallback to send listeners to.
        """
        text = '[[mount]]\nname = "/a"\nlive_only = true\nfallback_when_full = true\n'
        with self.assertRaises(ConfigError) as caught:
            load_config(text)
        self.assertEqual(
            str(caught.exception),
            "radiod.toml line 4: mount[0].fallback_when_full: needs a fallback "
            "(the mount listeners beyond the limit hear)",
        )
        config = load_config(text + 'fallback = "/b"\n[[mount]]\nname = "/b"\n')
        self.assertTrue(config.mounts[0].fallback_when_full)

    def test_state_dir(self) -> None:
        """
        C{state_dir} is empty by default, meaning C{"state"} in the working
        directory; one set in the file is taken from the file's folder
        unless absolute.
        """
        self.assertEqual((StationConfig().state_dir, StationConfig().state_path), ("", "state"))
        etc = os.path.join("etc", "radiod.toml")
        config = load_config('[server]\nstate_dir = "var"\n', etc)
        self.assertEqual(config.state_path, os.path.join("etc", "var"))
        self.assertEqual(load_config('[server]\nstate_dir = "/abs"\n', etc).state_dir, "/abs")
        self.assertEqual(load_config("[server]\nport = 1\n", etc).state_path, "state")
        self.assertEqual(load_config('[server]\nstate_dir = "var"\n').state_dir, "var")

    def test_cache(self) -> None:
        """
        C{cache_dir} is empty by default, meaning C{"cache"} in the state
        folder; one set in the file is taken from the file's folder unless
        absolute.  C{cache_size} is a size, 2GiB by default.
        """
        self.assertEqual(StationConfig().cache_path, os.path.join("state", "cache"))
        self.assertEqual(StationConfig().cache_size, 2 * KIB**3)
        etc = os.path.join("etc", "radiod.toml")
        config = load_config('[server]\ncache_dir = "c"\ncache_size = "10MiB"\n', etc)
        self.assertEqual(config.cache_path, os.path.join("etc", "c"))
        self.assertEqual(config.cache_size, 10 * KIB * KIB)
        config = load_config('[server]\nstate_dir = "/var/lib/radiod"\n', etc)
        self.assertEqual(config.cache_path, os.path.join("/var/lib/radiod", "cache"))
        self.assertEqual(load_config('[server]\ncache_dir = "/abs"\n', etc).cache_path, "/abs")

    def test_format(self) -> None:
        """
        A mount's format keys and C{normalize} are read; all default to
        taking the format from the first track, without normalization.
        """
        default = MountConfig()
        self.assertEqual(
            (default.bitrate, default.sample_rate, default.channels, default.normalize),
            (0, 0, 0, False),
        )
        config = load_config(
            TWO_MOUNTS.format(
                extra="bitrate = 96\nsample_rate = 22050\nchannels = 1\nnormalize = true"
            )
        )
        mount = config.mounts[1]
        self.assertEqual(
            (mount.bitrate, mount.sample_rate, mount.channels, mount.normalize),
            (96, 22050, 1, True),
        )

    def test_music_checked(self) -> None:
        """
        With C{path_exists}, every music path is asked about and must exist.
        """
        asked: list[str] = []

        def exists(path: str) -> bool:
            asked.append(path)
            return path != "/missing"

        text = (
            '[[mount]]\nname = "/a"\nmusic = "/here"\n[[mount]]\nname = "/b"\nmusic = "/missing"\n'
        )
        with self.assertRaises(ConfigError) as caught:
            load_config(text, path_exists=exists)
        self.assertEqual(
            str(caught.exception),
            "radiod.toml line 6: mount[1].music: no such file or folder: /missing",
        )
        self.assertEqual(asked, ["/here", "/missing"])


class LoadConfigErrorTests(SynchronousTestCase):
    """
    Tests for the errors of L{load_config}: one line each, naming the file,
    the line and the key.
    """

    def assert_error(self, text: str, message: str, filename: str = "radiod.toml") -> None:
        """
        Loading C{text} fails with exactly C{message}, on one line.
        """
        with self.assertRaises(ConfigError) as caught:
            load_config(text, filename)
        self.assertEqual(str(caught.exception), message)
        self.assertNotIn("\n", str(caught.exception))

    def test_syntax(self) -> None:
        """
        TOML syntax errors keep tomllib's reason, with its line, on one line.
        """
        self.assert_error(
            "[server]\nport = 80 80\n",
            "radiod.toml line 2: not valid TOML: Expected newline or end of document "
            "after a statement (column 11)",
        )
        self.assert_error(
            "[server]\nport = 1\nport = 2\n",
            "radiod.toml line 3: not valid TOML: Cannot overwrite a value (column 9)",
        )
        self.assert_error(
            'a = "b',
            "etc/r.toml line 1: not valid TOML: Unterminated string (at end of file)",
            "etc/r.toml",
        )

    def test_unknown_keys(self) -> None:
        """
        Unknown keys and tables are errors, suggesting a close known key.
        """
        self.assert_error(
            "[server]\nprot = 80\n",
            'radiod.toml line 2: server.prot: unknown key (did you mean "port"?)',
        )
        self.assert_error(
            TWO_MOUNTS.format(extra="burst = 1"),
            'radiod.toml line 9: mount[1].burst: unknown key (did you mean "burst_size"?)',
        )
        self.assert_error(
            "[servers]\n", 'radiod.toml line 1: servers: unknown key (did you mean "server"?)'
        )
        self.assert_error(
            "[listen]\n",
            "radiod.toml line 1: listen: unknown key (known keys: server, mount, webhook)",
        )

    def test_table_shapes(self) -> None:
        """
        C{server} must be a table and C{mount} an array of tables.
        """
        self.assert_error("server = 1\n", "radiod.toml line 1: server: must be a table ([server])")
        self.assert_error(
            '[mount]\nname = "/a"\n',
            "radiod.toml line 1: mount: must be an array of tables, each one starting [[mount]]",
        )
        self.assert_error("mount = []\n", "radiod.toml line 1: mount: at least one mount is needed")

    def test_types(self) -> None:
        """
        Each key refuses values of the wrong type, naming the type given.
        """
        cases = [
            ("[server]\nport = 80.5\n", "server.port: must be an integer, not a float"),
            ("[server]\nport = true\n", "server.port: must be an integer, not a boolean"),
            ("[server]\ninterface = 0\n", "server.interface: must be a string, not an integer"),
            (
                "[server]\nheader_timeout = '5'\n",
                "server.header_timeout: must be a number, not a string",
            ),
            ("[server]\nadmin_user = []\n", "server.admin_user: must be a string, not an array"),
            (
                "[server]\nport = 1979-05-27\n",
                "server.port: must be an integer, not a date or time",
            ),
            (
                "[server]\nport = {}\n",
                "server.port: must be an integer, not a table",
            ),
        ]
        for text, message in cases:
            self.assert_error(text, f"radiod.toml line 2: {message}")
        mount_cases = [
            ("shuffle = 1", "shuffle: must be true or false, not an integer"),
            ("metaint = '8192'", "metaint: must be an integer, not a string"),
            (
                "burst_size = 1.5",
                'burst_size: must be a size such as 65536 or "64KiB", not a float',
            ),
            (
                "queue_size = '5 bananas'",
                "queue_size: unknown unit 'bananas' in '5 bananas' (use B, KiB, MiB or GiB)",
            ),
            ("charset = 'ascii'", 'charset: must be "utf-8" or "latin-1", not \'ascii\''),
            ("status_line = 'shout'", 'status_line: must be "http" or "icy", not \'shout\''),
            ("rescan_interval = 'often'", "rescan_interval: must be a number, not a string"),
        ]
        for line, message in mount_cases:
            self.assert_error(
                TWO_MOUNTS.format(extra=line), f"radiod.toml line 9: mount[1].{message}"
            )

    def test_server_ranges(self) -> None:
        """
        Server values out of range are refused.
        """
        cases = [
            ("port = 65536", "server.port: must be between 0 and 65535, not 65536"),
            ("port = -1", "server.port: must be between 0 and 65535, not -1"),
            ("interface = 'a b'", "server.interface: must be an address, or empty for all: 'a b'"),
            ("max_listeners = -1", "server.max_listeners: must be 0 (no limit) or more, not -1"),
            (
                "header_timeout = 0",
                "server.header_timeout: must be more than 0 and at most 3600 seconds, not 0",
            ),
            (
                "header_timeout = nan",
                "server.header_timeout: must be more than 0 and at most 3600 seconds, not nan",
            ),
            ("admin_user = 'a:b'", 'server.admin_user: must be a non-empty name without ":"'),
            ("admin_user = ''", 'server.admin_user: must be a non-empty name without ":"'),
            (
                'admin_password = "a\\nb"',
                "server.admin_password: must be one line of text, without control characters",
            ),
        ]
        for line, message in cases:
            self.assert_error(f"\n[server]\n{line}\n", f"radiod.toml line 3: {message}")

    def test_mount_names(self) -> None:
        """
        Mount names start with "/" and hold no spaces, C{?}, C{#}, C{;} or
        C{..}, and do not end like a playlist file.
        """
        cases = [
            ("stream", "must start with \"/\" and name something, not 'stream'"),
            ("/", "must start with \"/\" and name something, not '/'"),
            ("/my stream", "must not contain spaces: '/my stream'"),
            ("/a\\tb", "must not contain spaces: '/a\\tb'"),
            ("/a?b", "must not contain '?': '/a?b'"),
            ("/a#b", "must not contain '#': '/a#b'"),
            ("/a;b", "must not contain ';': '/a;b'"),
            ("/a/../b", "must not contain '..': '/a/../b'"),
            ("/a\\u0000", "must be one line of text, without control characters"),
            ("/live.M3U", "must not end with .m3u, .pls or .xspf (playlist URLs): '/live.M3U'"),
            ("/live.pls", "must not end with .m3u, .pls or .xspf (playlist URLs): '/live.pls'"),
            ("/live.xspf", "must not end with .m3u, .pls or .xspf (playlist URLs): '/live.xspf'"),
        ]
        for name, message in cases:
            self.assert_error(
                f'[[mount]]\nname = "{name}"\n', f"radiod.toml line 2: mount[0].name: {message}"
            )

    def test_missing_name(self) -> None:
        """
        Every mount needs a name; the error points at its C{[[mount]]} line.
        """
        self.assert_error(
            TWO_MOUNTS.replace('name = "/b"', 'music = "/m"').format(extra=""),
            'radiod.toml line 7: mount[1].name: missing (every mount needs one, like "/stream")',
        )

    def test_duplicate_mounts(self) -> None:
        """
        Two mounts may not share a name; the second one is blamed.
        """
        self.assert_error(
            TWO_MOUNTS.replace('"/b"', '"/a"').format(extra=""),
            "radiod.toml line 8: mount[1].name: '/a' is already the name of mount[0]",
        )

    def test_mount_ranges(self) -> None:
        """
        Mount values out of range are refused, naming the bounds.
        """
        cases = [
            ("metaint = 255", "metaint: must be between 256 and 65535, not 255"),
            ("metaint = 65536", "metaint: must be between 256 and 65535, not 65536"),
            (
                "queue_size = '17MiB'",
                "queue_size: must be between 4096 and 16777216 bytes, not 17825792",
            ),
            (
                "queue_size = 4095",
                "queue_size: must be between 4096 and 16777216 bytes, not 4095",
            ),
            ("burst_size = -1", "burst_size: must be 0 or more, not -1"),
            ("max_listeners = -2", "max_listeners: must be 0 (no limit) or more, not -2"),
            ("rescan_interval = 0", "rescan_interval: must be more than 0 seconds, not 0.0"),
            ("rescan_interval = inf", "rescan_interval: must be more than 0 seconds, not inf"),
            (
                'genre = "a\\r\\nicy-pub: 1"',
                "genre: must be one line of text, without control characters",
            ),
        ]
        for line, message in cases:
            self.assert_error(
                TWO_MOUNTS.format(extra=line), f"radiod.toml line 9: mount[1].{message}"
            )

    def test_hls_errors(self) -> None:
        """
        HLS lengths out of range, a segment shorter than a part, a window
        of fewer than three segments, and HLS with several workers are
        refused, naming the key and the bounds.
        """
        cases = [
            ("hls_part = 0.1", "hls_part: must be between 0.2 and 5.0 seconds, not 0.1"),
            ("hls_segment = 31", "hls_segment: must be between 1.0 and 30.0 seconds, not 31.0"),
            (
                "hls_segment = 1.5\nhls_part = 2",
                "hls_segment: must be at least hls_part (2 seconds), not 1.5",
            ),
            ("hls_window = 12", "hls_window: must be between 18.0 and 86400.0 seconds, not 12.0"),
        ]
        for line, message in cases:
            self.assert_error(
                TWO_MOUNTS.format(extra=line), f"radiod.toml line 9: mount[1].{message}"
            )
        self.assert_error(
            TWO_MOUNTS.replace("port = 9000", "port = 9000\nworkers = 2").format(
                extra="hls = true"
            ),
            "radiod.toml line 10: mount[1].hls: needs workers = 1 "
            "(one process cuts and serves the segments)",
        )
        self.assert_error(
            TWO_MOUNTS.format(extra="hls_aac = [96]"),
            "radiod.toml line 9: mount[1].hls_aac: needs hls = true (AAC renditions are HLS only)",
        )
        self.assert_error(
            TWO_MOUNTS.format(extra="hls = true\nhls_aac = [96, 8]"),
            "radiod.toml line 10: mount[1].hls_aac: must be between 16 and 320 kbit/s, not 8",
        )
        self.assert_error(
            TWO_MOUNTS.format(extra="hls = true\nhls_aac = [96, 96]"),
            "radiod.toml line 10: mount[1].hls_aac: lists 96 twice",
        )
        config = load_config(TWO_MOUNTS.format(extra="hls = true\nhls_segment = 4\nhls_part = 0.5"))
        mount = config.mounts[1]
        self.assertEqual((mount.hls, mount.hls_segment, mount.hls_part), (True, 4.0, 0.5))
        self.assertEqual(mount.hls_window, 60.0)

    def test_record_errors(self) -> None:
        """
        C{record} must be a boolean and C{record_dir} a non-empty line of
        text, whether from a file or from code.
        """
        cases = [
            ('record = "yes"', "record: must be true or false, not a string"),
            ("record_dir = 1", "record_dir: must be a string, not an integer"),
            ('record_dir = ""', "record_dir: must name a folder, not be empty"),
            (
                'record_dir = "a\\nb"',
                "record_dir: must be one line of text, without control characters",
            ),
        ]
        for line, message in cases:
            self.assert_error(
                TWO_MOUNTS.format(extra=line), f"radiod.toml line 9: mount[1].{message}"
            )
        with self.assertRaises(ConfigError) as caught:
            validate(StationConfig(mounts=(MountConfig(record_dir=""),)))
        self.assertEqual(
            str(caught.exception), "mount[0].record_dir: must name a folder, not be empty"
        )

    def test_format_errors(self) -> None:
        """
        The sample rate must be an MP3 one, the channels 1 or 2, and the
        bitrate one an MP3 encoder writes at that sample rate (at any, when
        the sample rate is left open); a live-only mount takes none.
        """
        cases = [
            (
                "sample_rate = 44000",
                "sample_rate: must be 0 (the first track's) or an MP3 sample rate (8000, "
                "11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000), not 44000",
            ),
            ("channels = 3", "channels: must be 0 (the first track's), 1 or 2, not 3"),
            (
                "bitrate = 100",
                "bitrate: must be 0 (any) or an MP3 bitrate in kbit/s (8, 16, 24, 32, 40, 48, "
                "56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 320), not 100",
            ),
            (
                "sample_rate = 22050\nbitrate = 192",
                "bitrate: must be 0 (any) or an MP3 bitrate at 22050 Hz in kbit/s (8, 16, 24, "
                "32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160), not 192",
            ),
            ('bitrate = "128k"', "bitrate: must be an integer, not a string"),
            ("normalize = 1", "normalize: must be true or false, not an integer"),
        ]
        for extra, message in cases:
            with self.assertRaises(ConfigError) as caught:
                load_config(TWO_MOUNTS.format(extra=extra))
            self.assertEqual(str(caught.exception).split(": ", 1)[1], f"mount[1].{message}")
        with self.assertRaises(ConfigError) as caught:
            validate(StationConfig(mounts=(MountConfig(live_only=True, channels=1),)))
        self.assertEqual(
            str(caught.exception),
            "mount[0].channels: a live_only mount plays no music (its live audio takes its "
            "fallback's format)",
        )
        validate(StationConfig(mounts=(MountConfig(sample_rate=8000, bitrate=64),)))

    def test_cache_errors(self) -> None:
        """
        C{cache_size} must be at least 1MiB, C{cache_dir} one line.
        """
        self.assert_error(
            '[server]\ncache_size = "1KiB"\n',
            "radiod.toml line 2: server.cache_size: must be at least 1048576 bytes (1MiB), "
            "not 1024",
        )
        with self.assertRaises(ConfigError) as caught:
            validate(StationConfig(cache_dir="a\nb"))
        self.assertEqual(
            str(caught.exception),
            "server.cache_dir: must be one line of text, without control characters",
        )

    def test_state_dir_errors(self) -> None:
        """
        C{state_dir} must be one line of text.
        """
        self.assert_error(
            "[server]\nstate_dir = 1\n",
            "radiod.toml line 2: server.state_dir: must be a string, not an integer",
        )
        with self.assertRaises(ConfigError) as caught:
            validate(StationConfig(state_dir="a\nb"))
        self.assertEqual(
            str(caught.exception),
            "server.state_dir: must be one line of text, without control characters",
        )

    def test_relay(self) -> None:
        """
        C{relay} is read as a string and kept alongside the mount's music.
        """
        config = load_config(
            TWO_MOUNTS.format(extra='relay = "http://up.example:8000/live"\nmusic = "/srv/m"')
        )
        self.assertEqual(config.mounts[1].relay, "http://up.example:8000/live")
        self.assertEqual(config.mounts[1].music, "/srv/m")
        self.assertEqual(config.mounts[0].relay, "")

    def test_relay_errors(self) -> None:
        """
        C{relay} must be an C{http://} URL naming a host, with a valid
        port, whether from a file or from code.
        """
        cases = [
            ("relay = 1", "relay: must be a string, not an integer"),
            (
                'relay = "gopher://up.example/live"',
                "relay: must be an http:// or https:// URL, not 'gopher://up.example/live'",
            ),
            ('relay = "http:///live"', "relay: must name a host: 'http:///live'"),
            ('relay = "http://up:99999/"', "relay: has a bad port: 'http://up:99999/'"),
        ]
        for line, message in cases:
            self.assert_error(
                TWO_MOUNTS.format(extra=line), f"radiod.toml line 9: mount[1].{message}"
            )
        with self.assertRaises(ConfigError) as caught:
            validate(StationConfig(mounts=(MountConfig(relay="ftp://up/x"),)))
        self.assertEqual(
            str(caught.exception),
            "mount[0].relay: must be an http:// or https:// URL, not 'ftp://up/x'",
        )

    def test_push_to(self) -> None:
        """
        C{push_to} is read as a list of URLs (or one URL), empty by
        default, and L{parse_push_url} splits each into credentials and
        target, with C{source} as the default user and port 80.
        """
        urls = '["http://source:pw@ice.example:8000/radio", "http://:x%40y@cdn.example/r"]'
        config = load_config(TWO_MOUNTS.format(extra=f"push_to = {urls}"))
        self.assertEqual(
            config.mounts[1].push_to,
            ("http://source:pw@ice.example:8000/radio", "http://:x%40y@cdn.example/r"),
        )
        self.assertEqual(config.mounts[0].push_to, ())
        self.assertEqual(
            parse_push_url(config.mounts[1].push_to[0]),
            ("source", "pw", "ice.example", 8000, "/radio"),
        )
        self.assertEqual(
            parse_push_url(config.mounts[1].push_to[1]), ("source", "x@y", "cdn.example", 80, "/r")
        )
        one = load_config(TWO_MOUNTS.format(extra='push_to = "http://u:p@h:1/m"'))
        self.assertEqual(one.mounts[1].push_to, ("http://u:p@h:1/m",))
        listed = MountConfig(push_to=["http://u:p@h:1/m"])  # type: ignore[arg-type]
        self.assertEqual(listed, one.mounts[1].__class__(push_to=("http://u:p@h:1/m",)))

    def test_push_to_errors(self) -> None:
        """
        Each C{push_to} URL must be an C{http://} URL with a password and a
        mount; errors name the entry and never show the password.
        """
        cases = [
            ("push_to = 1", "push_to: must be a list of URLs, not an integer"),
            ("push_to = [1]", "push_to: must be a string, not an integer"),
            (
                'push_to = ["http://ice:8000/radio"]',
                "push_to: entry 0: must give the source password: "
                "http://user:password@host:port/mount",
            ),
            (
                'push_to = ["http://u:p@ice/r", "ftp://u:secret@ice/r"]',
                "push_to: entry 1: must be an http:// or https:// URL, not 'ftp://ice/r'",
            ),
            (
                'push_to = ["http://u:secret@ice:8000/"]',
                "push_to: entry 0: must name a mount and nothing after it: 'http://ice:8000/'",
            ),
            (
                'push_to = ["http://u:secret@ice:99999/r"]',
                "push_to: entry 0: has a bad port: 'http://ice:99999/r'",
            ),
            ('push_to = ["http://u:p@i/r", "http://u:p@i/r"]', "push_to: lists the same URL twice"),
        ]
        for line, message in cases:
            self.assert_error(
                TWO_MOUNTS.format(extra=line), f"radiod.toml line 9: mount[1].{message}"
            )
        with self.assertRaises(ConfigError) as caught:
            validate(StationConfig(mounts=(MountConfig(push_to=("http://u:secret@ice/r x",)),)))
        self.assertEqual(
            str(caught.exception),
            "mount[0].push_to: entry 0: must be a URL without spaces or control characters",
        )

    def test_burst_not_below_queue(self) -> None:
        """
        The burst must be smaller than the queue.  The error blames the key
        the file sets: the burst size if given, else the queue size.
        """
        self.assert_error(
            TWO_MOUNTS.format(extra="queue_size = '512KiB'\nburst_size = '512 KiB'"),
            "radiod.toml line 10: mount[1].burst_size: must be smaller than queue_size (524288)",
        )
        self.assert_error(
            TWO_MOUNTS.format(extra="burst_size = '1MiB'"),
            "radiod.toml line 9: mount[1].burst_size: must be smaller than queue_size (524288)",
        )
        self.assert_error(
            TWO_MOUNTS.format(extra="queue_size = '64KiB'"),
            "radiod.toml line 9: mount[1].queue_size: must be larger than burst_size (65536)",
        )

    def test_fallbacks(self) -> None:
        """
        A fallback names another existing mount, belongs to a live_only
        mount, and fallbacks may not loop.  A live_only mount has no music.
        """
        self.assert_error(
            TWO_MOUNTS.format(extra='fallback = "/b"\nlive_only = true'),
            "radiod.toml line 9: mount[1].fallback: must name another mount, not this one",
        )
        self.assert_error(
            TWO_MOUNTS.format(extra='fallback = "/c"\nlive_only = true'),
            "radiod.toml line 9: mount[1].fallback: no mount is named '/c'",
        )
        self.assert_error(
            TWO_MOUNTS.format(extra='fallback = "/a"'),
            "radiod.toml line 9: mount[1].fallback: only a live_only mount falls back "
            "(a mount with music always has audio)",
        )
        self.assert_error(
            TWO_MOUNTS.format(extra='live_only = true\nmusic = "/srv"'),
            "radiod.toml line 10: mount[1].music: a live_only mount plays no music",
        )
        text = TWO_MOUNTS.replace('name = "/a"', 'name = "/a"\nlive_only = true\nfallback = "/b"')
        self.assert_error(
            text.format(extra='fallback = "/a"\nlive_only = true'),
            "radiod.toml line 7: mount[0].fallback: fallbacks go round in a loop: /a -> /b -> /a",
        )
        self.assert_error(
            TWO_MOUNTS.replace("port = 9000", "port = 9000\nworkers = 2").format(
                extra="live_only = true"
            ),
            "radiod.toml line 10: mount[1].live_only: needs workers = 1 "
            "(one process takes the live sources)",
        )
        config = load_config(TWO_MOUNTS.format(extra='live_only = true\nfallback = "/a"'))
        self.assertEqual((config.mounts[1].live_only, config.mounts[1].fallback), (True, "/a"))

    def test_no_line(self) -> None:
        """
        A problem in the base's mounts, which the file does not mention, is
        reported without a line.
        """
        base = StationConfig(mounts=(MountConfig(metaint=1),))
        with self.assertRaises(ConfigError) as caught:
            load_config("", base=base)
        self.assertEqual(
            str(caught.exception),
            "radiod.toml: mount[0].metaint: must be between 256 and 65535, not 1",
        )


class ReadConfigTests(SynchronousTestCase):
    """
    Tests for L{read_config}.
    """

    def write(self, data: bytes) -> str:
        """
        Write a configuration file into a fresh folder.

        @return: its path.
        """
        folder = self.mktemp()
        os.makedirs(os.path.join(folder, "songs"))
        path = os.path.join(folder, "radiod.toml")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_read(self) -> None:
        """
        A file is read, and its relative music path found beside it.
        """
        path = self.write(b'[server]\nport = 9001\n[[mount]]\nname = "/a"\nmusic = "songs"\n')
        config = read_config(path)
        self.assertEqual(config.port, 9001)
        self.assertEqual(config.default_mount.music, os.path.join(os.path.dirname(path), "songs"))

    def test_music_must_exist(self) -> None:
        """
        A music path that does not exist is an error naming the file's line.
        """
        path = self.write(b'[[mount]]\nname = "/a"\nmusic = "nothing"\n')
        with self.assertRaises(ConfigError) as caught:
            read_config(path)
        missing = os.path.join(os.path.dirname(path), "nothing")
        self.assertEqual(
            str(caught.exception),
            f"{path} line 3: mount[0].music: no such file or folder: {missing}",
        )

    def test_missing_file(self) -> None:
        """
        A file that cannot be opened is one line giving the reason.
        """
        path = os.path.join(self.mktemp(), "radiod.toml")
        with self.assertRaises(ConfigError) as caught:
            read_config(path)
        self.assertEqual(
            str(caught.exception), f"cannot read config {path}: No such file or directory"
        )

    def test_not_utf8(self) -> None:
        """
        A file that is not UTF-8 is refused, naming the first bad byte.
        """
        path = self.write(b'[server]\ninterface = "\xff"\n')
        with self.assertRaises(ConfigError) as caught:
            read_config(path)
        self.assertEqual(
            str(caught.exception), f"cannot read config {path}: not UTF-8 text (byte 22)"
        )


PROGRAMMED = """\
[server]
timezone = "Europe/Paris"

[[mount]]
name = "/a"
music = "music"

[[mount]]
name = "/b"
music = "more"
crossfade = 2.5

[[mount.playlist]]
name = "ids"
music = "ids"
every_songs = 2
jingle = true

[[mount.playlist]]
name = "morning"
music = "morning.m3u"
schedule = ["Mon-Fri 06:00-10:00", "Sat 08:00-09:00"]
order = "sequential"
{extra}

[[webhook]]
url = "https://example.org/hook"
events = ["track", "live_start"]
secret = "s3cret"
"""


class ProgrammingConfigTests(SynchronousTestCase):
    """
    The keys that program a station: C{[[mount.playlist]]} tables under
    their mount, the station's time zone, C{[[webhook]]} tables, and their
    errors, each naming the file, the line and the key.
    """

    def assert_error(self, text: str, message: str) -> None:
        with self.assertRaises(ConfigError) as caught:
            load_config(text, "etc/radiod.toml")
        self.assertEqual(str(caught.exception), message)

    def test_read(self) -> None:
        """
        Playlists belong to the mount whose table they follow; relative
        music paths are taken from the file's folder.
        """
        config = load_config(PROGRAMMED.format(extra=""), "etc/radiod.toml")
        self.assertEqual(config.timezone, "Europe/Paris")
        first, second = config.mounts
        self.assertEqual(first.playlists, ())
        ids, morning = second.playlists
        self.assertEqual(
            (ids.name, ids.music, ids.every_songs, ids.jingle, ids.turn),
            ("ids", "etc/ids", 2, True, "every_songs"),
        )
        self.assertEqual(
            (morning.music, morning.order, morning.turn, morning.crossfade),
            ("etc/morning.m3u", "sequential", "schedule", -1.0),
        )
        self.assertEqual(morning.schedule, ("Mon-Fri 06:00-10:00", "Sat 08:00-09:00"))
        (hook,) = config.webhooks
        self.assertEqual(
            (hook.url, hook.events, hook.secret),
            ("https://example.org/hook", ("track", "live_start"), "s3cret"),
        )

    def test_playlist_errors(self) -> None:
        """
        A malformed schedule, a second way of taking turns, an unknown key,
        a bad order or at_minute are errors on the playlist's own line.
        """
        text = PROGRAMMED.replace("Mon-Fri 06:00-10:00", "Mon-Fri 25:00-10:00").format(extra="")
        self.assert_error(
            text,
            "etc/radiod.toml line 22: mount[1].playlist[1].schedule: hour 25 is not a time of "
            'day in "Mon-Fri 25:00-10:00"',
        )
        self.assert_error(
            PROGRAMMED.format(extra="weight = 2"),
            "etc/radiod.toml line 22: mount[1].playlist[1].schedule: a playlist takes its turn "
            "one way; it already has weight",
        )
        self.assert_error(
            PROGRAMMED.format(extra="shuffle = true"),
            "etc/radiod.toml line 24: mount[1].playlist[1].shuffle: unknown key (did you mean "
            '"schedule"?)',
        )
        self.assert_error(
            PROGRAMMED.format(extra="").replace('order = "sequential"', 'order = "random"'),
            'etc/radiod.toml line 23: mount[1].playlist[1].order: must be "shuffle" or '
            "\"sequential\", not 'random'",
        )
        self.assert_error(
            PROGRAMMED.format(extra="").replace("songs = 2", "songs = 2\nat_minute = 0"),
            "etc/radiod.toml line 17: mount[1].playlist[0].at_minute: needs every_minutes",
        )
        self.assert_error(
            PROGRAMMED.format(extra="").replace("every_songs = 2\n", ""),
            "etc/radiod.toml line 13: mount[1].playlist[0]: needs one way to take its turn: "
            "weight, every_songs, every_minutes or schedule",
        )
        self.assert_error(
            PROGRAMMED.format(extra="").replace('name = "morning"', 'name = "ids"'),
            "etc/radiod.toml line 20: mount[1].playlist[1].name: 'ids' is already the name "
            "of playlist[0]",
        )

    def test_station_errors(self) -> None:
        """
        An unknown time zone, a webhook URL that is not http(s), an unknown
        event and a crossfade out of range are errors on their lines.
        """
        self.assert_error(
            PROGRAMMED.format(extra="").replace("Europe/Paris", "Europe/Atlantis"),
            "etc/radiod.toml line 2: server.timezone: unknown time zone 'Europe/Atlantis'",
        )
        self.assert_error(
            PROGRAMMED.format(extra="").replace("https://example.org/hook", "ftp://x/hook"),
            "etc/radiod.toml line 27: webhook[0].url: must be an http:// or https:// URL, "
            "not 'ftp://x/hook'",
        )
        self.assert_error(
            PROGRAMMED.format(extra="").replace('"live_start"', '"song"'),
            "etc/radiod.toml line 28: webhook[0].events: unknown event 'song' (known: track, "
            "live_start, live_end, silence, station_up, station_down, listener_peak)",
        )
        self.assert_error(
            PROGRAMMED.format(extra="").replace("crossfade = 2.5", "crossfade = 20"),
            "etc/radiod.toml line 11: mount[1].crossfade: must be between 0.0 and 15.0 "
            "seconds, not 20.0",
        )
