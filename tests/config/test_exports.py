"""
Tests for the names L{radiod.config} exports.
"""

from __future__ import annotations

import importlib

from twisted.trial.unittest import SynchronousTestCase

import radiod.config

_MODULES = ("check", "errors", "icecast", "render", "schema", "toml", "urls", "values", "windows")


class ExportsTests(SynchronousTestCase):
    """
    C{radiod.config} re-exports names from its modules.
    """

    def test_same_objects(self) -> None:
        """
        Each name in C{__all__} is the object its module defines, and
        exactly one module of the package defines it.
        """
        modules = [importlib.import_module(f"radiod.config.{name}") for name in _MODULES]
        for name in radiod.config.__all__:
            owners = [m for m in modules if name in getattr(m, "__all__", ())]
            self.assertEqual(len(owners), 1, name)
            self.assertIs(getattr(radiod.config, name), getattr(owners[0], name), name)
