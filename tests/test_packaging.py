"""
Tests for the packaging: what an installation of radiod holds.
"""

from __future__ import annotations

import os
import tomllib

from twisted.trial.unittest import SynchronousTestCase

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PackagesTests(SynchronousTestCase):
    """
    C{pyproject.toml} lists every package of radiod, so an installation
    (not only an editable one) has them all.
    """

    def test_every_package_listed(self) -> None:
        with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
            listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
        found = set()
        for folder, _, files in os.walk(os.path.join(ROOT, "radiod")):
            modules = [name for name in files if name.endswith(".py") and name != "__init__.py"]
            # A folder of data files (the page's static files) ships as
            # its package's data.
            if "__init__.py" in files and modules:
                found.add(os.path.relpath(folder, ROOT).replace(os.sep, "."))
        self.assertEqual(sorted(found - listed), [])
