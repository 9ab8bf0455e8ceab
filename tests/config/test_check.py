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


class CoverArtKeysTests(SynchronousTestCase):
    """
    The keys of cover art: C{public_url}, C{default_art} and C{icy_art}.
    """

    def error(self, config: StationConfig, exists: bool = True) -> str:
        """
        The message L{validate} refuses C{config} with, paths checked (and
        existing when C{exists}).
        """
        with self.assertRaises(ConfigError) as caught:
            validate(config, path_exists=lambda path: exists)
        return str(caught.exception)

    def test_valid(self) -> None:
        """
        A public URL with or without a path, an existing default picture
        and a mount sending its art are accepted.
        """
        for url in ("https://radio.example.org", "http://example.org:8000/radio/"):
            validate(
                StationConfig(
                    public_url=url,
                    default_art="/srv/cover.png",
                    mounts=(MountConfig(icy_art=True),),
                ),
                path_exists=lambda path: True,
            )

    def test_public_url(self) -> None:
        """
        The public URL is an C{http://} or C{https://} URL without a query
        or a fragment.
        """
        self.assertEqual(
            self.error(StationConfig(public_url="radio.example.org")),
            "server.public_url: must be an http:// or https:// URL, not 'radio.example.org'",
        )
        for url in ("https://radio.example.org/?a=1", "https://radio.example.org/#top"):
            self.assertEqual(
                self.error(StationConfig(public_url=url)),
                f"server.public_url: must not have a query or a fragment: {url!r}",
            )

    def test_default_art_missing(self) -> None:
        """
        A default picture that does not exist is refused when paths are
        checked (and only then), as a music folder is.
        """
        config = StationConfig(default_art="/nowhere/cover.png")
        validate(config)
        self.assertEqual(
            self.error(config, exists=False), "server.default_art: no such file: /nowhere/cover.png"
        )

    def test_default_art_one_line(self) -> None:
        """
        The default picture's path is one line.
        """
        self.assertEqual(
            self.error(StationConfig(default_art="a\nb")),
            "server.default_art: must be one line of text, without control characters",
        )

    def test_icy_art_needs_public_url(self) -> None:
        """
        A mount cannot send its cover art in ICY metadata without a public
        URL to name it by.
        """
        config = StationConfig(mounts=(MountConfig(), MountConfig(name="/b", icy_art=True)))
        self.assertEqual(
            self.error(config),
            "mount[1].icy_art: needs the server's public_url (players need an absolute URL)",
        )
