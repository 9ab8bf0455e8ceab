"""
Tests for L{radiod.config.check}: L{validate} on configurations built
in code.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.config import KIB, ConfigError, MountConfig, StationConfig, validate


class ValidateTests(SynchronousTestCase):
    """
    Tests for L{validate} on configurations built in code.
    """

    def test_defaults(self) -> None:
        """
        The built-in defaults are valid.
        """
        validate(StationConfig())

    def test_error(self) -> None:
        """
        Errors name the key path without a file, and carry the path, the
        bare reason and other keys that could be blamed.
        """
        config = StationConfig(mounts=(MountConfig(burst_size=600 * KIB),))
        with self.assertRaises(ConfigError) as caught:
            validate(config)
        error = caught.exception
        self.assertEqual(
            str(error), "mount[0].burst_size: must be smaller than queue_size (524288)"
        )
        self.assertEqual(error.path, ("mount", 0, "burst_size"))
        self.assertEqual(error.reason, "must be smaller than queue_size (524288)")
        self.assertEqual(
            error.alternatives,
            ((("mount", 0, "queue_size"), "must be larger than burst_size (614400)"),),
        )

    def test_no_mounts(self) -> None:
        """
        A station needs at least one mount.
        """
        with self.assertRaises(ConfigError) as caught:
            validate(StationConfig(mounts=()))
        self.assertEqual(str(caught.exception), "mount: at least one mount is needed")

    def test_charset(self) -> None:
        """
        A charset other than radiod's two spellings is refused.
        """
        with self.assertRaises(ConfigError) as caught:
            validate(StationConfig(mounts=(MountConfig(charset="UTF-8"),)))
        self.assertEqual(
            str(caught.exception), 'mount[0].charset: must be "utf-8" or "latin-1", not \'UTF-8\''
        )

    def test_path_exists(self) -> None:
        """
        Music paths are only checked when C{path_exists} is given, and the
        empty path (the demo library) never is.
        """
        config = StationConfig(mounts=(MountConfig(music="/nowhere"), MountConfig(name="/b")))
        validate(config)
        with self.assertRaises(ConfigError) as caught:
            validate(config, path_exists=lambda path: False)
        self.assertEqual(str(caught.exception), "mount[0].music: no such file or folder: /nowhere")
