"""
Tests for the documentation: the sample configuration file in the user
guide stays complete and true to L{radiod.config}.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import fields
from typing import Any

from prometheus_client import generate_latest
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from radiod.config import (
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
from radiod.config.schema import FROM_STATION
from radiod.station.service import StationService
from radiod.testing import synchronous_runner

REQUIRED_PLAYLIST_KEYS = {"name", "music", "every_songs"}
"""
The sample playlist's keys that must differ from the default for it to
load: a playlist needs a name, music and a way to take its turn.
"""

USER_GUIDE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "user-guide.md")

_FENCE = re.compile(r"^```(?P<lang>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_INTRODUCTION = "lists every key"


def sample_config(guide: str) -> str:
    """
    Find the sample configuration file in the user guide: the one C{toml}
    block whose introducing text (the prose since the block before it)
    says that it lists every key.

    @param guide: the Markdown text of the user guide.
    @return: the block's TOML text.
    @raise ValueError: if there is no such block, or more than one.
    """
    found = []
    prose_start = 0
    for block in _FENCE.finditer(guide):
        prose = " ".join(guide[prose_start : block.start()].split())
        if block.group("lang").strip() == "toml" and _INTRODUCTION in prose:
            found.append(block.group("body"))
        prose_start = block.end()
    if len(found) != 1:
        raise ValueError(f"{len(found)} toml blocks introduced as listing every key")
    return found[0]


def _read_guide() -> str:
    """
    The text of C{docs/user-guide.md}.
    """
    with open(USER_GUIDE, encoding="utf-8") as f:
        return f.read()


class SampleConfigTests(SynchronousTestCase):
    """
    The sample C{radiod.toml} in C{docs/user-guide.md}, which says it lists
    every key with its default, against the keys L{radiod.config} reads
    and the defaults of L{StationConfig} and L{MountConfig}.
    """

    def setUp(self) -> None:
        self.text = sample_config(_read_guide())
        self.document: dict[str, Any] = tomllib.loads(self.text)

    def server(self) -> dict[str, Any]:
        """
        The sample's C{[server]} table.
        """
        table = self.document["server"]
        assert isinstance(table, dict)
        return table

    def _one(self, tables: object) -> dict[str, Any]:
        assert isinstance(tables, list)
        self.assertEqual(len(tables), 1)
        table = tables[0]
        assert isinstance(table, dict)
        return table

    def mount(self) -> dict[str, Any]:
        """
        The sample's one C{[[mount]]} table, without its playlist.
        """
        table = self._one(self.document["mount"])
        return {key: value for key, value in table.items() if key != "playlist"}

    def playlist(self) -> dict[str, Any]:
        """
        The sample mount's one C{[[mount.playlist]]} table.
        """
        return self._one(self._one(self.document["mount"])["playlist"])

    def webhook(self) -> dict[str, Any]:
        """
        The sample's one C{[[webhook]]} table.
        """
        return self._one(self.document["webhook"])

    def test_tables(self) -> None:
        """
        The sample has a C{[server]} table, one C{[[mount]]} table with one
        C{[[mount.playlist]]} table, and one C{[[webhook]]} table, and
        nothing else.
        """
        self.assertEqual(sorted(self.document), ["mount", "server", "webhook"])
        self.server()
        self.mount()
        self.playlist()
        self.webhook()

    def test_playlist_keys(self) -> None:
        """
        Every playlist key radiod reads is in the sample's playlist, and no
        other; those it need not set have their defaults.
        """
        self.assertEqual(sorted(self.playlist()), sorted(playlist_keys()))
        loaded = load_config(self.text, "radiod.toml").mounts[0].playlists[0]
        default = PlaylistConfig()
        for key in set(self.playlist()) - REQUIRED_PLAYLIST_KEYS:
            self.assertEqual(getattr(loaded, key), getattr(default, key), key)

    def test_webhook_keys(self) -> None:
        """
        Every webhook key radiod reads is in the sample's webhook, and no
        other; all but its URL have their defaults.
        """
        self.assertEqual(sorted(self.webhook()), sorted(webhook_keys()))
        loaded = load_config(self.text, "radiod.toml").webhooks[0]
        for key in set(self.webhook()) - {"url"}:
            self.assertEqual(getattr(loaded, key), getattr(WebhookConfig(), key), key)

    def test_server_keys(self) -> None:
        """
        Every server key radiod reads is in the sample, and no other.
        """
        sample = set(self.server())
        keys = set(server_keys())
        self.assertEqual(sorted(keys - sample), [], "missing from the sample")
        self.assertEqual(sorted(sample - keys), [], "unknown to radiod")

    def test_mount_keys(self) -> None:
        """
        Every mount key radiod reads is in the sample, and no other.
        """
        sample = set(self.mount())
        keys = set(mount_keys())
        self.assertEqual(sorted(keys - sample), [], "missing from the sample")
        self.assertEqual(sorted(sample - keys), [], "unknown to radiod")

    def test_every_field_has_a_key(self) -> None:
        """
        Every setting of L{StationConfig} (besides its mounts and
        webhooks) and of L{MountConfig} (besides its playlists and the
        station's keys it copies) is read from some key, so the key tables
        the other tests check the sample against are the whole schema.
        """
        station = {f.name for f in fields(StationConfig) if f.name not in ("mounts", "webhooks")}
        mount = {f.name for f in fields(MountConfig) if f.name != "playlists"} - set(FROM_STATION)
        self.assertEqual(station - {s.field_name for s in server_keys().values()}, set())
        self.assertEqual(mount - {s.field_name for s in mount_keys().values()}, set())

    def test_loads(self) -> None:
        """
        radiod's own loader accepts the sample.
        """
        config = load_config(self.text, "radiod.toml")
        self.assertEqual(len(config.mounts), 1)

    def test_server_defaults(self) -> None:
        """
        Each server value in the sample, as radiod reads it, is the
        default of its L{StationConfig} field.
        """
        loaded = load_config(self.text, "radiod.toml")
        default = StationConfig()
        for key in self.server():
            field_name = server_keys()[key].field_name
            self.assertEqual(
                getattr(loaded, field_name),
                getattr(default, field_name),
                f"server.{key} = {self.server()[key]!r} is not the default",
            )

    def test_mount_defaults(self) -> None:
        """
        Each mount value in the sample, as radiod reads it, is the default
        of its L{MountConfig} field.
        """
        loaded = load_config(self.text, "radiod.toml").mounts[0]
        default = MountConfig()
        for key in self.mount():
            field_name = mount_keys()[key].field_name
            self.assertEqual(
                getattr(loaded, field_name),
                getattr(default, field_name),
                f"mount.{key} = {self.mount()[key]!r} is not the default",
            )


class SampleConfigFinderTests(SynchronousTestCase):
    """
    L{sample_config} picks the block the guide introduces as the sample.
    """

    def test_other_blocks(self) -> None:
        """
        Other C{toml} blocks, and blocks in other languages after the
        introduction, are passed over.
        """
        guide = (
            "Run it:\n\n```sh\ntwistd -n radiod\n```\n\n"
            "For example:\n\n```toml\nport = 1\n```\n\n"
            "This file lists every\nkey with its default:\n\n```toml\nport = 2\n```\n\n"
            "Another:\n\n```toml\nport = 3\n```\n"
        )
        self.assertEqual(sample_config(guide), "port = 2\n")

    def test_none(self) -> None:
        """
        A guide without the sample is an error, not an empty sample.
        """
        self.assertRaises(ValueError, sample_config, "```toml\nport = 1\n```\n")


PROGRAMMING = os.path.join(os.path.dirname(USER_GUIDE), "programming.md")


class ProgrammingPageTests(SynchronousTestCase):
    """
    The example station of C{docs/programming.md} is a configuration radiod
    reads, and its error lines are the ones radiod writes.
    """

    def setUp(self) -> None:
        with open(PROGRAMMING, encoding="utf-8") as f:
            self.page = f.read()

    def test_example_loads(self) -> None:
        """
        The first TOML block is a whole configuration, with playlists that
        take their turns each way and a webhook.
        """
        block = next(
            match.group("body")
            for match in _FENCE.finditer(self.page)
            if match.group("lang").strip() == "toml"
        )
        config = load_config(block, "radiod.toml")
        (mount,) = config.mounts
        self.assertEqual(
            sorted(playlist.turn for playlist in mount.playlists),
            ["every_minutes", "every_songs", "schedule", "schedule", "weight"],
        )
        self.assertEqual(config.timezone, "Europe/Paris")
        self.assertEqual(len(config.webhooks), 1)


DASHBOARD = os.path.join(os.path.dirname(USER_GUIDE), "grafana-dashboard.json")


class DashboardTests(SynchronousTestCase):
    """
    The Grafana dashboard in C{docs/} queries only metrics a station
    exports.
    """

    def test_metrics_exist(self) -> None:
        with open(DASHBOARD, encoding="utf-8") as f:
            dashboard = json.load(f)
        state = self.mktemp()
        config = StationConfig(port=0, state_dir=state, stats_database="off")
        service = StationService(config, Clock(), synchronous_runner)
        exported = generate_latest(service.monitoring.metrics.registry).decode()
        names = set(re.findall(r"^# TYPE (\w+) ", exported, re.MULTILINE))
        queried = set()
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                queried.update(re.findall(r"\b(radiod_\w+)", target["expr"]))
        self.assertTrue(queried)
        for name in sorted(queried):
            base = re.sub(r"_(bucket|total|count|sum)$", "", name)
            self.assertTrue(name in names or base in names, name)
