"""
Tests for L{radiod.config.render}: a configuration written back out as
the text of a C{radiod.toml}, which reads back into the same
configuration.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import replace

from twisted.trial.unittest import SynchronousTestCase

import radiod.config.render as render
from radiod.config import (
    KIB,
    MountConfig,
    PlaylistConfig,
    StationConfig,
    WebhookConfig,
    load_config,
    mount_keys,
    playlist_keys,
    server_keys,
    webhook_keys,
)
from radiod.config.icecast import read_icecast_config
from radiod.config.render import COMMENTS, render_config, toml_string, toml_value

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "icecast")

CHANGED = StationConfig(
    port=9000,
    interface="127.0.0.1",
    header_timeout=7.5,
    send_buffer=0,
    source_password='he said "hi"\\',
    admin_password="it's café ☕ 東京",
    trusted_proxies=("127.0.0.1", "10.0.0.0/8"),
    cache_size=3 * KIB**3,
    timezone="Europe/Paris",
    public_url="https://radio.example.org",
    redirect_when_full=("http://b.example.org:8000",),
    mounts=(
        MountConfig(
            name="/jazz",
            music="/srv/jazz",
            shuffle=True,
            station_name="Jazz FM",
            charset="latin-1",
            icy_status_line=True,
            burst_size=32 * KIB,
            queue_size=KIB * KIB + 1,
            metaint=8192,
            ladder=(64, 32),
            artist_separation=1800.0,
            crossfade=2.5,
            icy_art=True,
            push_to=("http://source:pw@other.example.org:8000/jazz",),
            playlists=(
                PlaylistConfig(name="ids", music="/srv/ids", every_songs=4, jingle=True),
                PlaylistConfig(
                    name="morning", music="/srv/morning", schedule=("Mon-Fri 06:00-10:00",)
                ),
            ),
        ),
        MountConfig(name="/live", live_only=True, fallback="/jazz", fallback_override=False),
        MountConfig(),
    ),
    webhooks=(
        WebhookConfig(url="https://hooks.example.org/a"),
        WebhookConfig(url="https://hooks.example.org/b", events=("track",), secret="s"),
    ),
)


class RenderTests(SynchronousTestCase):
    """
    L{render_config} writes what differs from the defaults, and the text
    reads back into the same configuration.
    """

    def assertRoundTrip(self, config: StationConfig) -> str:
        """
        C{config} rendered reads back into C{config}.

        @return: the text.
        """
        text = render_config(config)
        self.assertEqual(load_config(text), config, text)
        return text

    def test_defaults(self) -> None:
        """
        The built-in defaults are an empty file.
        """
        self.assertEqual(self.assertRoundTrip(StationConfig()), "\n")

    def test_changed(self) -> None:
        """
        A configuration with keys of every kind changed reads back the
        same.
        """
        self.assertRoundTrip(CHANGED)

    def test_only_changes(self) -> None:
        """
        Only the keys that differ from their defaults are written, each
        under a comment; a mount's name always is.
        """
        config = StationConfig(port=9000, mounts=(MountConfig(), MountConfig(name="/b")))
        text = render_config(config)
        self.assertEqual(
            text,
            "[server]\n"
            "# TCP port for listeners, sources and pages (0 asks the system for a free one).\n"
            "port = 9000\n"
            "\n"
            "[[mount]]\n"
            "# The mount's path.\n"
            'name = "/stream"\n'
            "\n"
            "[[mount]]\n"
            "# The mount's path.\n"
            'name = "/b"\n',
        )

    def test_station_copies(self) -> None:
        """
        The station's public URL, which every mount holds a copy of, does
        not make the default mount differ.
        """
        config = StationConfig(public_url="https://radio.example.org")
        self.assertNotIn("[[mount]]", self.assertRoundTrip(config))

    def test_header(self) -> None:
        """
        The header is comment lines at the top.
        """
        text = render_config(StationConfig(port=1), ["Made for a test.", "", "Two lines."])
        self.assertTrue(text.startswith("# Made for a test.\n#\n# Two lines.\n\n[server]\n"), text)
        self.assertEqual(load_config(text), StationConfig(port=1))

    def test_notes(self) -> None:
        """
        A note is a line of its key's comment; a key with a note is
        written even when it has its default value, and so is its table.
        """
        text = render_config(
            StationConfig(),
            notes={("server", "port"): "from <port>", ("mount", 0, "queue_size"): "from <q>"},
        )
        self.assertIn("#   from <port>\nport = 8000\n", text)
        self.assertIn('name = "/stream"\n', text)
        self.assertIn('#   from <q>\nqueue_size = "512KiB"\n', text)
        self.assertEqual(load_config(text), StationConfig())

    def test_sizes(self) -> None:
        """
        Sizes are written with the largest unit that divides them.
        """
        size = server_keys()["send_buffer"]
        cases = {
            0: "0",
            65535: "65535",
            65536: '"64KiB"',
            KIB * KIB: '"1MiB"',
            3 * KIB**3: '"3GiB"',
            KIB * KIB + KIB: '"1025KiB"',
        }
        for value, written in cases.items():
            self.assertEqual(toml_value(value, size), written)

    def test_values(self) -> None:
        """
        Each kind of value is written as TOML writes it.
        """
        mount = mount_keys()
        self.assertEqual(toml_value(True, mount["status_line"]), '"icy"')
        self.assertEqual(toml_value(False, mount["status_line"]), '"http"')
        self.assertEqual(toml_value(True, mount["shuffle"]), "true")
        self.assertEqual(toml_value(16000, mount["metaint"]), "16000")
        self.assertEqual(toml_value(30.0, mount["rescan_interval"]), "30")
        self.assertEqual(toml_value(0.25, mount["rescan_interval"]), "0.25")
        self.assertEqual(toml_value(1e20, mount["rescan_interval"]), "1e+20")
        self.assertEqual(toml_value(-50.0, mount["silence_threshold"]), "-50")
        self.assertEqual(toml_value((64, 32), mount["ladder"]), "[64, 32]")
        self.assertEqual(toml_value(("a", "b"), mount["push_to"]), '["a", "b"]')
        self.assertEqual(toml_value((), mount["push_to"]), "[]")
        with self.assertRaises(TypeError):
            toml_value(None, mount["name"])

    def test_special_floats(self) -> None:
        """
        Infinities and NaN are TOML's C{inf} and C{nan}.
        """
        setting = mount_keys()["rescan_interval"]
        for value, written in [(float("inf"), "inf"), (float("-inf"), "-inf")]:
            self.assertEqual(toml_value(value, setting), written)
            self.assertEqual(tomllib.loads(f"x = {written}")["x"], value)
        self.assertEqual(toml_value(float("nan"), setting), "nan")

    def test_strings(self) -> None:
        """
        Strings are basic strings with quotes, backslashes and control
        characters escaped, and read back the same.
        """
        for text in ['"', "\\", "a\nb\r\tc", "\x00\x1f\x7f", "café ☕ 東京", "'single'", ""]:
            written = toml_string(text)
            self.assertEqual(tomllib.loads(f"x = {written}")["x"], text)
            self.assertNotIn("\n", written)

    def test_comments(self) -> None:
        """
        Every key of every table has a comment, and no comment is for a
        key that does not exist.
        """
        tables = {
            "server": server_keys(),
            "mount": mount_keys(),
            "playlist": playlist_keys(),
            "webhook": webhook_keys(),
        }
        self.assertEqual(sorted(COMMENTS), sorted(tables))
        for table, keys in tables.items():
            self.assertEqual(sorted(COMMENTS[table]), sorted(keys), table)

    def test_no_comment(self) -> None:
        """
        A key missing from L{COMMENTS} is written without a comment.
        """
        comments = {table: dict(keys) for table, keys in COMMENTS.items()}
        del comments["server"]["port"]
        self.patch(render, "COMMENTS", comments)
        self.assertEqual(render_config(StationConfig(port=1)), "[server]\nport = 1\n")

    def test_every_key(self) -> None:
        """
        Every key written once differs from its default reads back.
        """
        config = replace(
            CHANGED,
            state_dir="/var/lib/radiod",
            cache_dir="/var/cache/radiod",
            access_log="-",
            max_listeners=5,
            max_per_address=3,
            admin_user="boss",
            log_format="json",
            origin="http://origin.example.org:8000",
            origin_linger=10.0,
            hls_dir="/srv/hls",
            on_track="notify --json",
            default_art="/srv/art.png",
            stats_database="off",
            stats_days=30,
            stats_addresses="plain",
        )
        text = self.assertRoundTrip(config)
        for key in server_keys():
            if getattr(config, server_keys()[key].field_name) != server_keys()[key].default:
                self.assertIn(f"\n{key} = ", text)

    def test_icecast_fixtures(self) -> None:
        """
        The configurations read from the Icecast fixtures, with their
        notes and warnings, read back the same.
        """
        for name in sorted(os.listdir(FIXTURES)):
            if not name.endswith(".xml"):
                continue
            result = read_icecast_config(os.path.join(FIXTURES, name))
            text = render_config(result.station, result.warnings, result.notes())
            self.assertEqual(load_config(text), result.station, name)
            for note in result.notes().values():
                self.assertIn(f"#   {note}\n", text)
