# -*- test-case-name: tests.test_auth -*-
"""
Who may use the admin interface: the admin credentials, checked through a
C{twisted.cred} portal, and the admin password kept in the state folder.

L{AdminChecker} compares HTTP Basic credentials with the configured admin
user and password in constant time; L{AdminRealm} hands out an
L{Administrator} for them; L{AdminAccess} puts the two behind a
L{Portal} and reads C{Authorization} headers.  Every admin check of the
station goes through one L{AdminAccess}: the Icecast admin commands,
radiod's admin API, C{/admin/stats} and the admin half of metadata
updates.

There is no default admin password.  When the configuration sets none,
L{with_admin_password} reads the one stored in the state folder
(L{ADMIN_PASSWORD_FILE}), or generates one at the first start, stores it
there readable by its owner only, and logs the file's name (never the
password).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, replace

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from zope.interface import Interface, implementer

from radiod.config import ConfigError, StationConfig, source_password
from radiod.secret import same_secret

__all__ = [
    "ADMIN_PASSWORD_FILE",
    "CHALLENGE",
    "UNAUTHORISED",
    "AdminAccess",
    "AdminChecker",
    "AdminRealm",
    "Administrator",
    "IAdministrator",
    "load_admin_password",
    "parse_basic_auth",
    "same_secret",
    "source_allowed",
    "with_admin_password",
]

ADMIN_PASSWORD_FILE = "admin-password"
"""
The file in the state folder that holds the generated admin password.
"""

CHALLENGE = ("WWW-Authenticate", 'Basic realm="radiod"')
"""
The header a refusal for missing or wrong credentials carries.
"""

UNAUTHORISED = "You need to authenticate"
"""
The reason given for missing or wrong credentials, whichever part was
wrong.
"""

_log = Logger()


def source_allowed(config: StationConfig, mount: str, credentials: tuple[str, str] | None) -> bool:
    """
    Whether credentials are a live source's for C{mount}: user C{source}
    and the mount's source password (never when no password is set).

    @param config: the station's settings.
    @param mount: the mount's name.
    @param credentials: the user and password given, or C{None}.
    """
    if credentials is None:
        return False
    expected = source_password(config, mount)
    user_ok = same_secret(credentials[0], "source")
    password_ok = same_secret(credentials[1], expected)
    return user_ok and password_ok and bool(expected)


class IAdministrator(Interface):
    """
    The avatar of someone who gave the admin credentials.
    """


@implementer(IAdministrator)
@dataclass(frozen=True)
class Administrator:
    """
    Someone logged in with the admin credentials.

    @ivar name: the user name they gave, for logs.
    """

    name: str


@implementer(ICredentialsChecker)
class AdminChecker:
    """
    Checks a user name and password against the station's admin user and
    password.  Both parts are always compared, in constant time.  While
    the admin password is empty every login fails.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, expected: Callable[[], tuple[str, str]]) -> None:
        """
        @param expected: gives the admin user and password now (read at
            every check, so a reloaded configuration applies at once).
        """
        self._expected = expected

    def matches(self, user: str, password: str) -> bool:
        """
        Whether C{user} and C{password} are the admin's.
        """
        admin_user, admin_password = self._expected()
        user_ok = same_secret(user, admin_user)
        password_ok = same_secret(password, admin_password)
        return user_ok and password_ok and bool(admin_password)

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        """
        The admin user's name, if the credentials are the admin's.

        @return: fires with the user name as UTF-8 bytes, or fails with
            L{UnauthorizedLogin}.
        """
        user = _text(credentials.username)
        if self.matches(user, _text(credentials.password)):
            return succeed(user.encode("utf-8", "surrogateescape"))
        return fail(UnauthorizedLogin())


def _text(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    return value.decode("utf-8", "surrogateescape")


@implementer(IRealm)
class AdminRealm:
    """
    Gives an L{Administrator} to whoever the checker let in.
    """

    def requestAvatar(
        self, avatarId: bytes | tuple[()], mind: object, *interfaces: type[Interface]
    ) -> tuple[type[Interface], object, Callable[[], None]]:
        """
        An L{Administrator} named after the avatar id.

        @raise NotImplementedError: when L{IAdministrator} is not asked for.
        """
        if IAdministrator not in interfaces:
            raise NotImplementedError("only IAdministrator avatars are given")
        name = _text(avatarId) if isinstance(avatarId, bytes) else ""
        return IAdministrator, Administrator(name), lambda: None


class AdminAccess:
    """
    The station's admin check: a L{Portal} with an L{AdminChecker} and an
    L{AdminRealm}.

    @ivar checker: the checker, shared by every admin check.
    @ivar portal: the portal logins go through.
    """

    def __init__(self, expected: Callable[[], tuple[str, str]]) -> None:
        """
        @param expected: gives the admin user and password now.
        """
        self.checker = AdminChecker(expected)
        self.portal = Portal(AdminRealm(), [self.checker])

    @classmethod
    def for_config(cls, config: Callable[[], StationConfig]) -> AdminAccess:
        """
        The admin check of a station whose settings C{config} gives.
        """

        def expected() -> tuple[str, str]:
            current = config()
            return current.admin_user, current.admin_password

        return cls(expected)

    def login(self, authorization: str | None) -> Deferred[Administrator]:
        """
        Log in with a request's C{Authorization} header.

        @param authorization: the header's value, or C{None}.
        @return: fires with the L{Administrator}, or fails with
            L{UnauthorizedLogin} for missing, malformed or wrong
            credentials.
        """
        credentials = parse_basic_auth(authorization)
        if credentials is None:
            return fail(UnauthorizedLogin())
        user, password = credentials
        attempt = UsernamePassword(
            user.encode("utf-8", "surrogateescape"), password.encode("utf-8", "surrogateescape")
        )
        logged_in = self.portal.login(attempt, None, IAdministrator)

        def avatar(result: tuple[type[Interface], object, Callable[[], None]]) -> Administrator:
            admin = result[1]
            assert isinstance(admin, Administrator)
            return admin

        return logged_in.addCallback(avatar)

    def allows(self, credentials: tuple[str, str] | None) -> bool:
        """
        Whether credentials already read are the admin's (for checks that
        answer at once, such as a title update's).

        @param credentials: the user and password, or C{None}.
        """
        return credentials is not None and self.checker.matches(*credentials)

    def allows_header(self, authorization: str | None) -> bool:
        """
        Whether a request's C{Authorization} header gives the admin
        credentials.

        @param authorization: the header's value, or C{None}.
        """
        return self.allows(parse_basic_auth(authorization))


def load_admin_password(folder: str) -> tuple[str, str, bool]:
    """
    The admin password stored in C{folder}, generated and stored there
    (readable by its owner only) when there is none yet.  Blocking, but
    one small file: call it before the reactor runs.

    @param folder: the station's state folder, created when needed.
    @return: the password, the file it is kept in, and whether it was
        generated just now.
    @raise ConfigError: when the file cannot be read or written.
    """
    path = os.path.join(folder, ADMIN_PASSWORD_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            stored = f.readline().strip()
    except FileNotFoundError:
        stored = ""
    except (OSError, UnicodeDecodeError) as error:
        raise _unusable(path, error) from None
    if stored:
        _warn_if_shared(path)
        return stored, path, False
    password = secrets.token_urlsafe(18)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(password + "\n")
    except OSError as error:
        raise _unusable(path, error) from None
    return password, path, True


def _unusable(path: str, error: OSError | UnicodeDecodeError) -> ConfigError:
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return ConfigError(
        f"state_dir: cannot keep the admin password in {path}: {reason}",
        path=("server", "state_dir"),
        reason=reason,
    )


def _warn_if_shared(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_IMODE(mode) & 0o077:
        _log.warn(
            "The admin password file {path} can be read by other users; "
            "make it readable by its owner only (chmod 600)",
            path=path,
        )


def with_admin_password(config: StationConfig) -> StationConfig:
    """
    C{config} with its admin password: the configured one, else the one
    kept in the state folder (see L{load_admin_password}).  A password
    generated now is announced in the log by the file it is kept in,
    never by its value.

    @raise ConfigError: when the stored password cannot be read or a new
        one cannot be stored.
    """
    if config.admin_password:
        return config
    password, path, generated = load_admin_password(config.state_path)
    if generated:
        # The password itself stays out of the log: log shippers should
        # not carry it; the operator reads the file.
        _log.info(
            "Admin password generated and stored in {path} (readable by its owner only)",
            path=path,
        )
    return replace(config, admin_password=password)


def parse_basic_auth(value: str | None) -> tuple[str, str] | None:
    """
    Read HTTP Basic credentials.

    @param value: an C{Authorization} header value, or C{None}.
    @return: the user and password, or C{None} if C{value} is missing or
        not well-formed Basic credentials.
    """
    if value is None:
        return None
    scheme, _, encoded = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("latin-1")
    user, colon, password = text.partition(":")
    if not colon:
        return None
    return user, password
