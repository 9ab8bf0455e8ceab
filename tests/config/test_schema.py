"""
Tests for L{radiod.config.schema}: the configuration values, their
default folders, and the keys a file sets them with.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace

from twisted.trial.unittest import SynchronousTestCase

from radiod.config import (
    KIB,
    MountConfig,
    StationConfig,
    default_folders,
    mount_keys,
    server_keys,
    source_password,
    with_default_folders,
)
from radiod.config.schema import FROM_STATION


class DefaultFolderTests(SynchronousTestCase):
    """
    L{default_folders} and L{with_default_folders}: where the state and
    the conversion cache go when the configuration does not say.
    """

    def test_systemd(self) -> None:
        """
        systemd's C{StateDirectory=} and C{CacheDirectory=} win over the
        XDG folders; of several listed, the first is taken.
        """
        environ = {
            "HOME": "/home/r",
            "STATE_DIRECTORY": "/var/lib/radiod:/var/lib/other",
            "CACHE_DIRECTORY": "/var/cache/radiod",
            "XDG_STATE_HOME": "/x/state",
            "XDG_CACHE_HOME": "/x/cache",
        }
        self.assertEqual(default_folders(environ), ("/var/lib/radiod", "/var/cache/radiod"))

    def test_xdg(self) -> None:
        """
        Without systemd's folders, the XDG base directories are used.
        """
        environ = {"HOME": "/home/r", "XDG_STATE_HOME": "/x/state", "XDG_CACHE_HOME": "/x/cache"}
        self.assertEqual(default_folders(environ), ("/x/state/radiod", "/x/cache/radiod"))

    def test_home(self) -> None:
        """
        With neither, the XDG defaults in the home folder are used.
        """
        self.assertEqual(
            default_folders({"HOME": "/home/r"}),
            ("/home/r/.local/state/radiod", "/home/r/.cache/radiod"),
        )

    def test_never_working_directory(self) -> None:
        """
        A configuration naming no folder never gets the working
        directory's C{state} folder.
        """
        config = with_default_folders(StationConfig(), {"HOME": "/home/r"})
        self.assertEqual(config.state_path, "/home/r/.local/state/radiod")
        self.assertEqual(config.cache_path, "/home/r/.cache/radiod")

    def test_explicit_wins(self) -> None:
        """
        An explicit C{state_dir} wins over every environment variable and
        keeps its cache beside it; an explicit C{cache_dir} wins too.
        """
        environ = {"HOME": "/home/r", "STATE_DIRECTORY": "/var/lib/radiod"}
        config = with_default_folders(StationConfig(state_dir="/srv/radio"), environ)
        self.assertEqual(config.state_path, "/srv/radio")
        self.assertEqual(config.cache_path, os.path.join("/srv/radio", "cache"))
        config = with_default_folders(
            StationConfig(state_dir="/srv/radio", cache_dir="/fast/cache"), environ
        )
        self.assertEqual(config.cache_path, "/fast/cache")
        environ["CACHE_DIRECTORY"] = "/var/cache/radiod"
        config = with_default_folders(StationConfig(state_dir="/srv/radio"), environ)
        self.assertEqual(config.cache_path, "/var/cache/radiod")


class KeysTests(SynchronousTestCase):
    """
    L{server_keys} and L{mount_keys}: the keys of a configuration file,
    read from the fields of L{StationConfig} and L{MountConfig}.
    """

    def test_server(self) -> None:
        """
        Every field of L{StationConfig} but its mounts and webhooks (tables
        of their own) is a server key of
        the same name, with the field's default, in the order of the
        fields.
        """
        keys = server_keys()
        names = [f.name for f in fields(StationConfig) if f.name not in ("mounts", "webhooks")]
        self.assertEqual(list(keys), names)
        self.assertEqual([setting.field_name for setting in keys.values()], names)
        self.assertEqual(keys["send_buffer"].default, 64 * KIB)
        self.assertEqual(keys["port"].key, "port")

    def test_mount(self) -> None:
        """
        Every field of L{MountConfig} but its playlists (tables of their
        own) and the station's keys it copies is a mount key;
        C{icy_status_line} is read from C{status_line}.
        """
        keys = mount_keys()
        self.assertEqual(
            [setting.field_name for setting in keys.values()],
            [f.name for f in fields(MountConfig) if f.name not in ("playlists", *FROM_STATION)],
        )
        for name in FROM_STATION:
            self.assertNotIn(name, keys)
            self.assertIn(name, server_keys())
        status = keys["status_line"]
        self.assertEqual((status.field_name, status.default), ("icy_status_line", False))
        self.assertNotIn("icy_status_line", keys)
        self.assertEqual(keys["metaint"].default, 16000)

    def test_converters(self) -> None:
        """
        Each key's converter reads the value a TOML file writes into the
        field's value, and refuses the wrong type with C{ValueError}.
        """
        keys = mount_keys()
        self.assertTrue(keys["status_line"].convert("ICY"))
        self.assertEqual(keys["queue_size"].convert("1MiB"), KIB * KIB)
        self.assertEqual(keys["charset"].convert("latin1"), "latin-1")
        self.assertEqual(keys["push_to"].convert("http://u:p@h/m"), ("http://u:p@h/m",))
        self.assertEqual(keys["ladder"].convert([64, 32]), (64, 32))
        self.assertEqual(server_keys()["header_timeout"].convert(5), 5.0)
        with self.assertRaises(ValueError) as caught:
            keys["ladder_names"].convert(1)
        self.assertEqual(str(caught.exception), "must be a list of mount names, not an integer")

    def test_fresh(self) -> None:
        """
        Each call gives a new mapping, so changing one changes nothing else.
        """
        keys = server_keys()
        del keys["port"]
        self.assertIn("port", server_keys())


class SourcePasswordTests(SynchronousTestCase):
    """
    Tests for L{source_password}.
    """

    def test_mount_first(self) -> None:
        """
        A mount's own source password wins over the station's, which the
        other mounts use.
        """
        config = StationConfig(
            source_password="station",
            mounts=(MountConfig(name="/a", source_password="own"), MountConfig(name="/b")),
        )
        self.assertEqual(source_password(config, "/a"), "own")
        self.assertEqual(source_password(config, "/b"), "station")
        self.assertEqual(source_password(config, "/nowhere"), "station")
        self.assertEqual(source_password(StationConfig(), "/stream"), "")


class StationCopiesTests(SynchronousTestCase):
    """
    L{StationConfig} gives each of its mounts a copy of the station's
    keys listed in L{FROM_STATION}.
    """

    def test_copied(self) -> None:
        """
        Every mount of a station gets its C{public_url} and
        C{default_art}; a mount of a station without them is equal to a
        mount built alone.
        """
        config = StationConfig(
            public_url="https://radio.example.org",
            default_art="/srv/cover.png",
            mounts=(MountConfig(), MountConfig(name="/other")),
        )
        for mount in config.mounts:
            self.assertEqual(
                (mount.public_url, mount.default_art),
                ("https://radio.example.org", "/srv/cover.png"),
            )
        self.assertEqual(StationConfig().mounts, (MountConfig(),))

    def test_replaced(self) -> None:
        """
        A station made from another with other values, or other mounts,
        gives its mounts its own values.
        """
        config = StationConfig(public_url="https://a.example", mounts=(MountConfig(),))
        changed = replace(config, public_url="https://b.example")
        self.assertEqual(changed.mounts[0].public_url, "https://b.example")
        remounted = replace(changed, mounts=(MountConfig(name="/new"),))
        self.assertEqual(remounted.mounts[0].public_url, "https://b.example")
