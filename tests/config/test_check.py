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


class IcecastKeysTests(SynchronousTestCase):
    """
    The keys Icecast's drop-in needs: intro and dump files, URL
    authentication, and the site's files, aliases and error log.
    """

    def error(self, config: StationConfig, exists: bool = True) -> str:
        """
        The message L{validate} refuses C{config} with (paths checked,
        and found when C{exists}).
        """
        with self.assertRaises(ConfigError) as caught:
            validate(config, path_exists=lambda path: exists)
        return str(caught.exception)

    def mount_error(self, exists: bool = True, **keys: object) -> str:
        return self.error(StationConfig(mounts=(MountConfig(**keys),)), exists)  # type: ignore[arg-type]

    def test_valid(self) -> None:
        """
        Every key set to something usable passes.
        """
        validate(
            StationConfig(
                location="Earth",
                admin_contact="ops@example.org",
                webroot="/srv/web",
                aliases=("/=/status.html", "/radio=/stream"),
                error_log="/var/log/radiod/error.log",
                error_log_level=4,
                mounts=(
                    MountConfig(
                        intro="/srv/intro.mp3",
                        dump_file="/srv/dump-%Y%m%d.mp3",
                        dump_size=100 * KIB,
                        dump_rotate=3600.0,
                        hidden=True,
                        auth_listener_add="http://auth.example.org/add",
                        auth_listener_remove="https://auth.example.org/remove",
                        auth_stream="http://auth.example.org/stream",
                        auth_user="radiod",
                        auth_password="secret",
                        auth_header="x-allowed: yes",
                        auth_headers=("Referer", "Cookie"),
                        auth_timeout=2.5,
                        auth_failure="allow",
                        auth_cache=30.0,
                    ),
                ),
            ),
            path_exists=lambda path: True,
        )

    def test_intro_missing(self) -> None:
        """
        An intro that is not there is refused when paths are checked.
        """
        self.assertEqual(
            self.mount_error(exists=False, intro="/nowhere.mp3"),
            "mount[0].intro: no such file: /nowhere.mp3",
        )

    def test_dump_rotation_needs_a_file(self) -> None:
        """
        Rotation without a dump file, and a negative size, are refused.
        """
        self.assertEqual(self.mount_error(dump_size=KIB), "mount[0].dump_size: needs dump_file")
        self.assertEqual(
            self.mount_error(dump_file="d.mp3", dump_rotate=-1.0),
            "mount[0].dump_rotate: must be between 0.0 and 2678400.0 seconds, not -1.0",
        )
        self.assertEqual(
            self.mount_error(dump_file="d.mp3", dump_size=-1),
            "mount[0].dump_size: must be 0 (no limit) or more, not -1",
        )

    def test_auth_urls(self) -> None:
        """
        Authentication URLs must be C{http://} or C{https://} URLs.
        """
        message = self.mount_error(auth_listener_add="ftp://auth.example.org/")
        self.assertTrue(message.startswith("mount[0].auth_listener_add: "), message)

    def test_auth_headers(self) -> None:
        """
        The admitting and time-limit headers must be C{name: value}, the
        passed header names names.
        """
        self.assertEqual(
            self.mount_error(auth_header="icecast-auth-user"),
            "mount[0].auth_header: must be a header, \"name: value\", not 'icecast-auth-user'",
        )
        self.assertEqual(
            self.mount_error(auth_timelimit_header=": 1"),
            "mount[0].auth_timelimit_header: must be a header, \"name: value\", not ': 1'",
        )
        self.assertEqual(
            self.mount_error(auth_headers=("X Forwarded",)),
            "mount[0].auth_headers: must list header names, not 'X Forwarded'",
        )

    def test_auth_policy(self) -> None:
        """
        The failure policy is C{deny} or C{allow}; the timeout is bounded;
        the user has no colon.
        """
        self.assertEqual(
            self.mount_error(auth_failure="maybe"),
            'mount[0].auth_failure: must be "deny" or "allow", not \'maybe\'',
        )
        self.assertEqual(
            self.mount_error(auth_timeout=0.0),
            "mount[0].auth_timeout: must be between 0.1 and 60.0 seconds, not 0.0",
        )
        self.assertEqual(
            self.mount_error(auth_user="a:b"), "mount[0].auth_user: must not contain ':': 'a:b'"
        )

    def test_auth_pairs_and_workers(self) -> None:
        """
        The user and password of the authentication URLs go together;
        authentication, an intro and a dump file need one process.
        """
        self.assertEqual(
            self.mount_error(auth_user="radio"),
            "mount[0].auth_password: auth_user and auth_password go together",
        )
        self.assertEqual(
            self.mount_error(auth_password="secret"),
            "mount[0].auth_user: auth_user and auth_password go together",
        )
        for keys, message in (
            (
                {"auth_listener_add": "http://a.example/"},
                "mount[0].auth_listener_add: needs workers = 1 (one process asks about every "
                "listener)",
            ),
            (
                {"intro": "i.mp3"},
                "mount[0].intro: needs workers = 1 (one process serves the listeners)",
            ),
        ):
            config = StationConfig(workers=2, mounts=(MountConfig(**keys),))  # type: ignore[arg-type]
            self.assertEqual(self.error(config), message)

    def test_aliases(self) -> None:
        """
        Each alias is two absolute paths joined by C{=}, each asked path
        once.
        """
        self.assertEqual(
            self.error(StationConfig(aliases=("/a",))),
            "server.aliases: entry 0: must be \"/asked=/answered\", not '/a'",
        )
        self.assertEqual(
            self.error(StationConfig(aliases=("/a=/b?x=1",))),
            "server.aliases: entry 0: must be two paths, not '/a=/b?x=1'",
        )
        self.assertEqual(
            self.error(StationConfig(aliases=("/a=/b", "/a=/c"))),
            "server.aliases: entry 1: /a is aliased twice",
        )

    def test_webroot_and_level(self) -> None:
        """
        A webroot that is not there, and an error log level outside 1..4,
        are refused.
        """
        self.assertEqual(
            self.error(StationConfig(webroot="/nowhere"), exists=False),
            "server.webroot: no such folder: /nowhere",
        )
        self.assertEqual(
            self.error(StationConfig(error_log_level=5)),
            "server.error_log_level: must be between 1 and 4, not 5",
        )
