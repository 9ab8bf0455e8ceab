"""
Tests for L{radiod.auth}: the admin credentials check and the admin
password kept in the state folder.
"""

from __future__ import annotations

import base64
import hmac
import os
import stat

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from radiod.auth import (
    ADMIN_PASSWORD_FILE,
    AdminAccess,
    AdminChecker,
    Administrator,
    AdminRealm,
    IAdministrator,
    load_admin_password,
    same_secret,
    source_allowed,
    with_admin_password,
)
from radiod.config import ConfigError, MountConfig, StationConfig
from radiod.ingest.sources import SourceRefused, Sources
from radiod.request import RequestParser
from radiod.wire.shoutcast import ShoutcastFactory


def basic(user: str, password: str) -> str:
    """
    An C{Authorization} header value for HTTP Basic credentials.
    """
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class CheckerTests(SynchronousTestCase):
    """
    L{AdminChecker}, L{AdminRealm} and L{AdminAccess} let in the admin user
    with the admin password, and no one else.
    """

    def access(self, user: str = "admin", password: str = "s3cret") -> AdminAccess:
        return AdminAccess(lambda: (user, password))

    def test_interfaces(self) -> None:
        """
        The checker is a C{twisted.cred} credentials checker and the realm
        a realm.
        """
        self.assertTrue(verifyObject(ICredentialsChecker, AdminChecker(lambda: ("a", "b"))))
        self.assertTrue(verifyObject(IRealm, AdminRealm()))
        self.assertTrue(verifyObject(IAdministrator, Administrator("admin")))

    def test_same_secret(self) -> None:
        """
        Secrets are equal only when they are, whatever their lengths.
        """
        self.assertTrue(same_secret("s3cret", "s3cret"))
        self.assertFalse(same_secret("s3cre", "s3cret"))
        self.assertFalse(same_secret("", "s3cret"))
        self.assertTrue(same_secret("caf\xe9", "caf\xe9"))

    def test_request_avatar_id(self) -> None:
        """
        The checker gives the user name for the admin credentials and
        fails with L{UnauthorizedLogin} for any others.
        """
        checker = AdminChecker(lambda: ("admin", "s3cret"))
        ok = checker.requestAvatarId(UsernamePassword(b"admin", b"s3cret"))
        self.assertEqual(self.successResultOf(ok), b"admin")
        for user, password in [(b"admin", b"wrong"), (b"root", b"s3cret"), (b"", b"")]:
            failed = checker.requestAvatarId(UsernamePassword(user, password))
            self.failureResultOf(failed, UnauthorizedLogin)

    def test_login(self) -> None:
        """
        Logging in with the admin's C{Authorization} header gives an
        L{Administrator} named after the user.
        """
        admin = self.successResultOf(self.access().login(basic("admin", "s3cret")))
        self.assertEqual(admin, Administrator("admin"))

    def test_refused(self) -> None:
        """
        A missing, malformed or wrong header fails with
        L{UnauthorizedLogin}, the same failure whichever part was wrong.
        """
        access = self.access()
        for header in [
            None,
            "",
            "Basic",
            "Basic !!!",
            "Bearer abc",
            "Basic " + base64.b64encode(b"no-colon").decode(),
            basic("admin", "wrong"),
            basic("other", "s3cret"),
            basic("admin", "s3cret "),
        ]:
            self.failureResultOf(access.login(header), UnauthorizedLogin)
            self.assertFalse(access.allows_header(header), header)

    def test_no_password_refuses_everyone(self) -> None:
        """
        With an empty admin password no login succeeds, not even one with
        an empty password.
        """
        access = self.access(password="")
        self.failureResultOf(access.login(basic("admin", "")), UnauthorizedLogin)
        self.assertFalse(access.allows(("admin", "")))

    def test_reads_current_settings(self) -> None:
        """
        L{AdminAccess.for_config} checks against the settings as they are
        at each login, so a reloaded password applies at once.
        """
        config = [StationConfig(admin_password="old")]
        access = AdminAccess.for_config(lambda: config[0])
        self.assertTrue(access.allows(("admin", "old")))
        config[0] = StationConfig(admin_user="boss", admin_password="new")
        self.assertFalse(access.allows(("admin", "old")))
        self.assertTrue(access.allows(("boss", "new")))

    def test_realm_only_gives_administrators(self) -> None:
        """
        The realm refuses to give an avatar for another interface.
        """
        realm = AdminRealm()
        interface, avatar, logout = realm.requestAvatar(b"admin", None, IAdministrator)
        self.assertIs(interface, IAdministrator)
        self.assertEqual(avatar, Administrator("admin"))
        logout()
        self.assertRaises(NotImplementedError, realm.requestAvatar, b"admin", None, IRealm)

    def test_source_allowed(self) -> None:
        """
        A source's credentials are user C{source} and the mount's source
        password, the mount's own first; none are accepted without a
        password.
        """
        config = StationConfig(
            source_password="hackme",
            mounts=(MountConfig(name="/a"), MountConfig(name="/b", source_password="own")),
        )
        self.assertTrue(source_allowed(config, "/a", ("source", "hackme")))
        self.assertFalse(source_allowed(config, "/a", ("dj", "hackme")))
        self.assertTrue(source_allowed(config, "/b", ("source", "own")))
        self.assertFalse(source_allowed(config, "/b", ("source", "hackme")))
        self.assertFalse(source_allowed(config, "/a", None))
        empty = StationConfig()
        self.assertFalse(source_allowed(empty, "/stream", ("source", "")))


class PasswordFileTests(SynchronousTestCase):
    """
    Without a configured admin password, one is generated at the first
    start, kept in the state folder and logged once.
    """

    def test_generated_once(self) -> None:
        """
        The first start generates a long random password, stores it in
        the state folder (created) readable by its owner only, and logs
        the file, never the password; later starts read it back quietly.
        """
        folder = os.path.join(self.mktemp(), "state")
        config = StationConfig(state_dir=folder)
        with capturedLogs() as events:
            first = with_admin_password(config)
        password = first.admin_password
        self.assertGreaterEqual(len(password), 20)
        path = os.path.join(folder, ADMIN_PASSWORD_FILE)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            self.assertEqual(f.read(), password + "\n")
        texts = [formatEvent(event) for event in events]
        self.assertEqual(
            texts,
            [f"Admin password generated and stored in {path} (readable by its owner only)"],
        )
        self.assertNotIn(password, repr(list(events)))
        with capturedLogs() as events:
            again = with_admin_password(config)
        self.assertEqual(again.admin_password, password)
        self.assertEqual(list(events), [])

    def test_different_per_station(self) -> None:
        """
        Two state folders get two different passwords.
        """
        one, _, _ = load_admin_password(self.mktemp())
        two, _, _ = load_admin_password(self.mktemp())
        self.assertNotEqual(one, two)

    def test_configured_password_kept(self) -> None:
        """
        A configured admin password is used as it is, and nothing is
        written.
        """
        folder = self.mktemp()
        config = StationConfig(admin_password="s3cret", state_dir=folder)
        self.assertIs(with_admin_password(config), config)
        self.assertFalse(os.path.exists(folder))

    def test_stored_password_read(self) -> None:
        """
        A password written into the file by hand is used (its first line,
        without surrounding blanks).
        """
        folder = self.mktemp()
        os.makedirs(folder)
        path = os.path.join(folder, ADMIN_PASSWORD_FILE)
        with open(path, "w") as f:
            f.write("  chosen-by-hand \nsecond line\n")
        os.chmod(path, 0o600)
        self.assertEqual(load_admin_password(folder), ("chosen-by-hand", path, False))

    def test_empty_file_regenerated(self) -> None:
        """
        An empty file is replaced by a new password.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        path = os.path.join(folder, ADMIN_PASSWORD_FILE)
        open(path, "w").close()
        password, _, generated = load_admin_password(folder)
        self.assertTrue(generated)
        self.assertTrue(password)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)

    def test_shared_file_warned(self) -> None:
        """
        A password file other users can read is used, with a warning.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        path = os.path.join(folder, ADMIN_PASSWORD_FILE)
        with open(path, "w") as f:
            f.write("shared\n")
        os.chmod(path, 0o644)
        with capturedLogs() as events:
            self.assertEqual(load_admin_password(folder)[0], "shared")
        texts = [formatEvent(event) for event in events]
        self.assertEqual(len(texts), 1)
        self.assertIn("chmod 600", texts[0])
        self.assertNotIn("shared\n", texts[0])

    def test_unwritable_folder(self) -> None:
        """
        A state folder that cannot be created is a one-line
        L{ConfigError} naming C{state_dir} and the file.
        """
        blocker = self.mktemp()
        with open(blocker, "w") as f:
            f.write("a file, not a folder")
        folder = os.path.join(blocker, "state")
        with self.assertRaises(ConfigError) as caught:
            with_admin_password(StationConfig(state_dir=folder))
        message = str(caught.exception)
        self.assertTrue(message.startswith("state_dir: cannot keep the admin password in "))
        self.assertIn(os.path.join(folder, ADMIN_PASSWORD_FILE), message)
        self.assertNotIn("\n", message)


class ConstantTimeTests(SynchronousTestCase):
    """
    Every password check, whether admin, Icecast source or SHOUTcast v1
    source, compares digests of one length, so the time it takes does not
    tell the password's length.
    """

    def setUp(self) -> None:
        self.compared: list[tuple[int, int]] = []
        real = hmac.compare_digest

        def recording(a: bytes, b: bytes) -> bool:
            self.compared.append((len(a), len(b)))
            return real(a, b)

        self.patch(hmac, "compare_digest", recording)

    def assertHashedFirst(self) -> None:
        """
        Something was compared, and only as 32-byte digests.
        """
        self.assertTrue(self.compared, "no password was compared")
        self.assertEqual(set(self.compared), {(32, 32)})
        del self.compared[:]

    def test_admin(self) -> None:
        """
        The admin checker hashes both sides first.
        """
        access = AdminAccess(lambda: ("admin", "a-much-longer-admin-secret"))
        for given in ("admin", "a-much-longer-admin-secret", "x"):
            access.allows_header(basic("admin", given))
            self.assertHashedFirst()

    def test_icecast_source(self) -> None:
        """
        An Icecast source's credentials are hashed before they are
        compared, right or wrong, short or long.
        """
        config = StationConfig(mounts=(MountConfig(name="/stream"),), source_password="pw-123456")
        sources = Sources(Clock(), config, {})
        for password in ("pw-123456", "p", "pw-123456-and-more"):
            request = RequestParser().feed(
                b"PUT /stream HTTP/1.1\r\nContent-Type: audio/mpeg\r\n"
                b"Authorization: " + basic("source", password).encode() + b"\r\n\r\n"
            )
            assert request is not None
            try:
                sources.check(request)
            except SourceRefused as refused:
                self.assertEqual(refused.status, 401)
            self.assertHashedFirst()

    def test_shoutcast_source(self) -> None:
        """
        A SHOUTcast v1 password line is hashed before it is compared.
        """
        config = StationConfig(mounts=(MountConfig(name="/stream"),), source_password="pw-123456")
        sources = Sources(Clock(), config, {})
        factory = ShoutcastFactory(Clock(), config, sources)
        for line in (b"pw-123456", b"p", b"dj:pw-123456:#1"):
            protocol = factory.buildProtocol(None)
            protocol.makeConnection(StringTransport())
            protocol.dataReceived(line + b"\r\n")
            self.assertHashedFirst()
