"""
Tests for L{radiod.config.errors}: how errors spell a key.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.config import format_key_path


class FormatKeyPathTests(SynchronousTestCase):
    """
    Tests for L{format_key_path}.
    """

    def test_paths(self) -> None:
        """
        Tables are joined by dots, array indexes in brackets, and keys that
        are not bare TOML keys are quoted.
        """
        self.assertEqual(format_key_path(("server", "port")), "server.port")
        self.assertEqual(format_key_path(("mount", 1, "burst_size")), "mount[1].burst_size")
        self.assertEqual(format_key_path(("mount",)), "mount")
        self.assertEqual(format_key_path(("odd key",)), '"odd key"')
