# -*- test-case-name: tests.config.test_icecast -*-
"""
Reading Icecast's configuration: the C{icecast.xml} of an Icecast 2.4
server in, the equivalent L{StationConfig} out, so that radiod can take
an Icecast server's place with the file the operator already has.

What the file says is applied over a base configuration (built-in
defaults, C{radiod.toml}, C{--music}): music is not Icecast's business,
so the base still says what plays where no source is live.  Each
C{<mount>} becomes a live-only mount (in Icecast a mount exists for its
source), each C{<relay>} a mount relaying its upstream, a
C{<master-server>} the station's C{origin}; a name the base already has
is changed in place, keeping its music.  In short:

  - C{<listen-socket>}: the first plain one gives C{port}, C{interface}
    and C{send_buffer}; one with C{<ssl>1</ssl>} gives C{tls_port} (with
    C{<paths><ssl-certificate>} as C{tls_cert}); a C{<shoutcast-mount>},
    or a C{<shoutcast-compat>} socket on the port after the main one, is
    radiod's SHOUTcast v1 source port, which feeds the first mount, so
    that mount comes first;
  - C{<limits>}: C{<clients>} is C{max_listeners}, C{<header-timeout>}
    C{header_timeout}, C{<queue-size>} and C{<burst-size>} every mount's
    own;
  - C{<authentication>}: the source password and the admin user and
    password;
  - C{<hostname>} with the main port: C{public_url};
  - C{<logging><accesslog>} and C{<playlistlog>}, in C{<paths><logdir>}:
    C{access_log} and C{playlist_log}.
  - C{<paths><deny-ip>} and C{<allow-ip>}: C{deny_ips} and
    C{allow_ips}; a mount's C{<fallback-when-full>}, its
    C{fallback_when_full}.

Every element radiod does not support gets one warning, naming the file,
the line and the element, such as C{icecast.xml line 17: <sources> is not
supported by radiod: it has no limit on sources}; nothing is silently
ignored.  Values that radiod has no key for yet (the location and admin
contact shown on status pages, the web root, aliases, per-mount intros)
are kept in L{IcecastExtras} for the station to use.

A bad value is a L{ConfigError} of one line naming the file, the line and
the element: C{icecast.xml line 12: <port>: must be between 0 and 65535,
not 70000}.  So is malformed XML, with expat's reason and the column.
The finished configuration goes through radiod's own checks, whose
complaints are told the same way, blaming the element the value came
from.

The document is read into a tree of elements that keep their lines
(L{radiod.config.xmldoc}).  Icecast-KH's top-level C{<include>} is
supported: each file it names (a relative path is taken from the
including file's folder; a pattern may match several, in order of name)
puts its root element in the include's place.  A missing file is an
error; a pattern that matches none is warned about.

L{load_icecast_config} is pure; L{read_icecast_config} reads the files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from radiod.config.check import check
from radiod.config.errors import ConfigError, Invalid, KeyPath, format_key_path
from radiod.config.schema import MountConfig, StationConfig, mount_keys
from radiod.config.urls import parse_http_url
from radiod.config.values import normalize_charset
from radiod.config.xmldoc import (
    INTEGER,
    Element,
    Includer,
    Origin,
    element_error,
    expand_includes,
    flag_of,
    include_files,
    integer_of,
    parse_xml,
    read_file,
)

__all__ = [
    "EXTRAS",
    "Alias",
    "IcecastConfig",
    "IcecastExtras",
    "Includer",
    "ListenerAuth",
    "MountExtras",
    "Origin",
    "load_icecast_config",
    "read_icecast_config",
]

EXTRAS = (
    "location",
    "admin",
    "hostname",
    "fileserve",
    "webroot",
    "aliases",
    "log_dir",
    "error_log",
    "intro",
    "dump_file",
    "hidden",
    "username",
    "authentication",
)
"""
The values kept in L{IcecastExtras} (and its L{MountExtras}) that radiod
has no key for.  A caller that puts one to use names it in
L{load_icecast_config}'s C{used}, and its element is no longer warned
about.
"""

_AUTH_OPTIONS = {
    "listener_add": "auth_listener_add",
    "listener_remove": "auth_listener_remove",
    "mount_add": "auth_mount_add",
    "mount_remove": "auth_mount_remove",
    "stream_auth": "auth_stream",
    "username": "auth_user",
    "password": "auth_password",
    "auth_header": "auth_header",
    "timelimit_header": "auth_timelimit_header",
    "headers": "auth_headers",
    "header_prefix": "auth_header_prefix",
}
"""
The options of Icecast's C{<authentication type="url">}, and the mount
keys they set.
"""

_MOUNT_KEYS = {setting.field_name: setting.key for setting in mount_keys().values()}


@dataclass(frozen=True)
class Alias:
    """
    One C{<paths><alias>}: requests for L{source} are served as if for
    L{destination}.
    """

    source: str
    """
    The path asked for.
    """
    destination: str
    """
    The path served.
    """
    port: int | None = None
    """
    The only listening port it applies to, or C{None} for all.
    """
    bind_address: str = ""
    """
    The only bound address it applies to, or C{""} for all.
    """


@dataclass(frozen=True)
class ListenerAuth:
    """
    A mount's C{<authentication type="...">} of listeners.
    """

    type: str
    """
    C{"htpasswd"}, C{"url"} or C{"command"}.
    """
    options: tuple[tuple[str, str], ...] = ()
    """
    Its C{<option name="..." value="..."/>} pairs, in order.
    """


@dataclass(frozen=True)
class MountExtras:
    """
    What a C{<mount>} says that radiod has no mount key for.
    """

    name: str
    """
    The mount's name (C{""} for the default mount).
    """
    intro: str = ""
    """
    A file played to each new listener before the stream.
    """
    dump_file: str = ""
    """
    Not kept: C{<dump-file>} sets the mount's C{dump_file}.
    """
    hidden: bool = False
    """
    Whether the mount is left off the public status pages.
    """
    username: str = ""
    """
    The user a source logs in as, when not C{source}.
    """
    authentication: ListenerAuth | None = None
    """
    How listeners are authenticated, if they are.
    """


@dataclass(frozen=True)
class IcecastExtras:
    """
    What an C{icecast.xml} says that radiod has no key for yet, kept for
    the station to use (see L{EXTRAS}); empty where the file says
    nothing.
    """

    location: str = ""
    """
    Shown on the status pages (C{<location>}).
    """
    admin: str = ""
    """
    The contact shown on the status pages (C{<admin>}).
    """
    hostname: str = ""
    """
    The name listeners reach the server by (also in C{public_url}).
    """
    fileserve: bool = True
    """
    Whether files are served from L{webroot}.
    """
    webroot: str = ""
    """
    The folder of static files.
    """
    aliases: tuple[Alias, ...] = ()
    """
    The C{<alias>}es, in order.
    """
    log_dir: str = ""
    """
    The folder of the logs (the access log's is in C{access_log}).
    """
    error_log: str = ""
    """
    The server log, with L{log_dir} (radiod's goes where twistd puts it).
    """
    default_mount: MountExtras | None = None
    """
    The values of C{<mount type="default">} (named C{""}), which every
    mount without its own takes.
    """
    mounts: tuple[MountExtras, ...] = ()
    """
    The per-mount values of the named C{<mount>}s that set some, the
    default mount's merged in.
    """

    def mount(self, name: str) -> MountExtras | None:
        """
        The extra values of the mount called C{name}: its own, else the
        default mount's, else C{None}.
        """
        for extras in self.mounts:
            if extras.name == name:
                return extras
        if self.default_mount is not None:
            return replace(self.default_mount, name=name)
        return None


@dataclass(frozen=True)
class IcecastConfig:
    """
    An C{icecast.xml} read: the station, and what did not carry over.
    """

    station: StationConfig
    """
    The checked configuration.
    """
    warnings: tuple[str, ...]
    """
    One line per element radiod does not support or supports
    differently, in the order of the document.
    """
    extras: IcecastExtras
    """
    The values radiod has no key for yet.
    """
    origins: Mapping[KeyPath, Origin]
    """
    The element each key of L{station} was set from, by key path (such
    as C{("mount", 1, "burst_size")}).
    """
    mapped: tuple[Origin, ...] = ()
    """
    Every element that carried over (including those whose value is
    what radiod does anyway), in the order of the document.
    """
    warned: tuple[Origin, ...] = ()
    """
    The elements of L{warnings}, in the same order; an element inside
    one of them is covered by its warning.
    """

    def notes(self) -> dict[KeyPath, str]:
        """
        For each key set from the file, a note naming its element, for
        the comments of a rendered C{radiod.toml}.
        """
        return {
            path: f"from {origin}"
            for path, origin in self.origins.items()
            if isinstance(path[-1], str)
        }


def _host_port(host: str, port: int) -> str:
    """
    C{host:port} for a URL, IPv6 addresses in brackets.
    """
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


@dataclass
class _Value:
    """
    One field of a mount, set from one element.
    """

    field: str
    value: object
    element: Element


@dataclass
class _Entry:
    """
    One C{<mount>} or C{<relay>}: the mount it names and what it sets.
    """

    name: str
    element: Element
    name_element: Element
    values: list[_Value] = field(default_factory=list)


@dataclass
class _Socket:
    """
    One C{<listen-socket>}.
    """

    element: Element
    port: int = 8000
    port_element: Element | None = None
    bind_element: Element | None = None
    ssl: bool = False
    compat: bool = False
    shoutcast_mount: Element | None = None
    sndbuf: Element | None = None

    @property
    def bind(self) -> str:
        return self.bind_element.text if self.bind_element is not None else ""


@dataclass
class _Draft:
    """
    A mount being put together: its base, the fields set, and the
    elements they were set from (by TOML key).
    """

    base: MountConfig
    values: dict[str, Any] = field(default_factory=dict)
    elements: dict[str, Element] = field(default_factory=dict)
    element: Element | None = None
    touched: bool = False

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def live_only(self) -> bool:
        return bool(self.values.get("live_only", self.base.live_only))

    def set(self, value: _Value) -> None:
        self.values[value.field] = value.value
        self.elements[_MOUNT_KEYS[value.field]] = value.element

    def unset(self, name: str) -> None:
        self.values.pop(name, None)
        self.elements.pop(_MOUNT_KEYS[name], None)

    def build(self) -> MountConfig:
        return replace(self.base, **self.values)


_Handlers = Mapping[str, Callable[[Element], None]]


class _Reading:
    """
    One reading of a document: what its elements set, and the fate of
    each element (carried over, or warned about).
    """

    def __init__(
        self,
        root: Element,
        base: StationConfig,
        used: Collection[str],
        empty_includes: Collection[Element] = (),
    ) -> None:
        self._root = root
        self._empty_includes = {id(element) for element in empty_includes}
        self._base = base
        self._used = frozenset(used)
        self._done: set[int] = set()
        self._warned: set[int] = set()
        self._mapped: dict[int, Element] = {}
        self._warnings: list[tuple[int, str, Element]] = []
        self._server: dict[str, tuple[object, Element]] = {}
        self._sockets: list[_Socket] = []
        self._top_port: Element | None = None
        self._top_bind: Element | None = None
        self._shoutcast_mount: Element | None = None
        self._hostname: Element | None = None
        self._mount_defaults: list[_Value] = []
        self._template: list[_Value] = []
        self._entries: list[_Entry] = []
        self._master: dict[str, Element] = {}
        self._certificate: Element | None = None
        self._log_dir: Element | None = None
        self._webroot: Element | None = None
        self._fileserve_element: Element | None = None
        self._error_log: Element | None = None
        self._intros: list[tuple[Element, list[_Value]]] = []
        self._access_log: Element | None = None
        self._playlist_log: Element | None = None
        self._extras: dict[str, Any] = {}
        self._mount_extras: dict[str, dict[str, Any]] = {}

    # The fate of elements

    def _map(self, element: Element, whole: bool = False) -> None:
        """
        Record that C{element} carried over (with everything in it, if
        C{whole}).
        """
        for each in element.walk() if whole else [element]:
            if id(each) not in self._done:
                self._done.add(id(each))
                self._mapped[id(each)] = each

    def _warn(self, element: Element, text: str, dropped: bool) -> None:
        """
        Warn about C{element}, once; the warning covers everything in it.
        """
        if id(element) in self._warned:
            return
        self._warned.add(id(element))
        for each in element.walk():
            self._done.add(id(each))
            if dropped:
                self._mapped.pop(id(each), None)
        self._warnings.append((element.order, f"{element.origin}{text}", element))

    def _unsupported(self, element: Element, reason: str) -> None:
        self._warn(element, f" is not supported by radiod: {reason}", dropped=True)

    def _caveat(self, element: Element, text: str) -> None:
        """
        Warn that radiod does what C{element} says differently.
        """
        self._warn(element, f": {text}", dropped=False)

    def _extra(self, element: Element, name: str, reason: str) -> None:
        """
        An element kept in the extras: warn unless the caller uses it.
        """
        if name in self._used:
            self._map(element, whole=True)
        else:
            self._unsupported(element, f"{reason} (kept for later)")

    def _unknown(self, element: Element, parent: str) -> None:
        self._unsupported(element, f"not an Icecast 2.4 setting of <{parent}>")

    def _children(self, element: Element, handlers: _Handlers) -> None:
        """
        Read the elements in C{element}, each with its handler.
        """
        self._map(element)
        for child in element.children:
            handler = handlers.get(child.name)
            if handler is None:
                self._unknown(child, element.name)
            else:
                handler(child)

    def _set(self, element: Element, name: str, value: object) -> None:
        """
        Set a server key from C{element}.
        """
        self._server[name] = (value, element)
        self._map(element)

    def _off(self, element: Element, reason: str) -> None:
        """
        An on/off element radiod supports only off.
        """
        if flag_of(element):
            self._unsupported(element, reason)
        else:
            self._map(element)

    def _kept(self, name: str, reason: str) -> Callable[[Element], None]:
        """
        A handler keeping an element's text in the extras.
        """

        def read(element: Element) -> None:
            self._extras[name] = element.text
            self._extra(element, name, reason)

        return read

    def _kept_as(self, name: str, key: str) -> Callable[[Element], None]:
        """
        A handler setting the server key C{key} from an element's text,
        also kept in the extras as C{name}.
        """

        def read(element: Element) -> None:
            self._extras[name] = element.text
            self._set(element, key, element.text)

        return read

    def _unsupported_with(self, reason: str) -> Callable[[Element], None]:
        return lambda element: self._unsupported(element, reason)

    # The document

    def read(self) -> None:
        """
        Read every element of the root.
        """
        headers = "radiod sends its own headers (CORS included)"
        master = self._master_element
        self._children(
            self._root,
            {
                "location": self._kept_as("location", "location"),
                "admin": self._kept_as("admin", "admin_contact"),
                "hostname": self._hostname_element,
                "server-id": self._unsupported_with("radiod names itself in its replies"),
                "authentication": self._authentication,
                "source-password": lambda e: self._set(e, "source_password", e.text),
                "icelogin": lambda e: self._off(e, "radiod takes no Icecast 1 logins"),
                "fileserve": self._fileserve,
                "relays-on-demand": self._on_demand,
                "mime-types": self._unsupported_with("radiod serves MP3 and its own pages"),
                "listen-socket": self._listen_socket,
                "port": self._top_level_port,
                "bind-address": self._top_level_bind,
                "master-server": master,
                "master-server-port": master,
                "master-username": master,
                "master-password": master,
                "master-update-interval": master,
                "shoutcast-mount": self._global_shoutcast_mount,
                "limits": self._limits,
                "http-headers": self._unsupported_with(headers),
                "relay": self._relay,
                "mount": self._mount,
                "directory": self._unsupported_with("radiod lists itself in no directory"),
                "paths": self._paths,
                "logging": self._logging,
                "security": self._security,
                "include": self._include,
            },
        )

    def _include(self, element: Element) -> None:
        if id(element) in self._empty_includes:
            self._caveat(element, f"{element.text} matches no file")
        else:
            self._map(element)

    def _hostname_element(self, element: Element) -> None:
        self._extras["hostname"] = element.text
        self._hostname = element

    def _fileserve(self, element: Element) -> None:
        self._extras["fileserve"] = flag_of(element)
        self._fileserve_element = element
        self._map(element)

    def _on_demand(self, element: Element) -> None:
        self._off(element, "radiod's relays pull their stream all the time")

    def _authentication(self, element: Element) -> None:
        def source_password(child: Element) -> None:
            if "mount" in child.attributes:
                self._unsupported(child, "a mount's password goes in its <mount>")
            else:
                self._set(child, "source_password", child.text)

        no_login = self._unsupported_with(
            "radiod's edges read their origin's public status, without a login"
        )
        self._children(
            element,
            {
                "source-password": source_password,
                "admin-user": lambda e: self._set(e, "admin_user", e.text),
                "admin-password": lambda e: self._set(e, "admin_password", e.text),
                "relay-user": no_login,
                "relay-password": no_login,
            },
        )

    # Listening

    def _listen_socket(self, element: Element) -> None:
        socket = _Socket(element)

        def port(child: Element) -> None:
            socket.port = integer_of(child, 0, 65535)
            socket.port_element = child

        def bind(child: Element) -> None:
            socket.bind_element = child

        def ssl(child: Element) -> None:
            socket.ssl = flag_of(child)

        def compat(child: Element) -> None:
            socket.compat = flag_of(child)

        def shoutcast_mount(child: Element) -> None:
            socket.shoutcast_mount = child

        def sndbuf(child: Element) -> None:
            integer_of(child)
            socket.sndbuf = child

        handlers = {
            "port": port,
            "bind-address": bind,
            "ssl": ssl,
            "shoutcast-compat": compat,
            "shoutcast-mount": shoutcast_mount,
            "so-sndbuf": sndbuf,
        }
        for child in element.children:
            handler = handlers.get(child.name)
            if handler is None:
                self._unknown(child, element.name)
            else:
                handler(child)
        self._sockets.append(socket)

    def _top_level_port(self, element: Element) -> None:
        integer_of(element, 0, 65535)
        self._top_port = element

    def _top_level_bind(self, element: Element) -> None:
        self._top_bind = element

    def _global_shoutcast_mount(self, element: Element) -> None:
        self._shoutcast_mount = element

    def _master_element(self, element: Element) -> None:
        if element.name == "master-server-port":
            integer_of(element, 1, 65535)
        elif element.name == "master-update-interval":
            integer_of(element)
        self._master[element.name] = element

    # Limits

    def _limits(self, element: Element) -> None:
        def clients(child: Element) -> None:
            value = integer_of(child)
            if value == 0:
                self._caveat(child, "0 refuses every client in Icecast; radiod sets no limit")
            else:
                self._set(child, "max_listeners", value)

        def burst_on_connect(child: Element) -> None:
            if not flag_of(child):
                self._mount_defaults.append(_Value("burst_size", 0, child))
            self._map(child)

        def every_mount(name: str) -> Callable[[Element], None]:
            def read(child: Element) -> None:
                self._mount_defaults.append(_Value(name, integer_of(child), child))
                self._map(child)

            return read

        def unsupported(reason: str) -> Callable[[Element], None]:
            def read(child: Element) -> None:
                integer_of(child)
                self._unsupported(child, reason)

            return read

        unused = unsupported("Icecast 2.4 does not use it either")
        self._children(
            element,
            {
                "clients": clients,
                "sources": unsupported("it has no limit on sources"),
                "queue-size": every_mount("queue_size"),
                "burst-size": every_mount("burst_size"),
                "burst-on-connect": burst_on_connect,
                "header-timeout": lambda e: self._set(e, "header_timeout", float(integer_of(e))),
                "source-timeout": unsupported("its source timeout is fixed"),
                "client-timeout": unused,
                "threadpool": unused,
            },
        )

    # Mounts and relays

    def _mount(self, element: Element) -> None:
        kind = element.attributes.get("type", "normal")
        if kind not in ("normal", "default"):
            self._unsupported(element, f'an unknown type of mount, "{kind}" (Icecast ignores it)')
            return
        values: list[_Value] = []
        names: list[Element] = []
        extras: dict[str, Any] = {}

        def put(name: str, value: object, child: Element) -> None:
            values.append(_Value(name, value, child))
            self._map(child)

        def text(name: str) -> Callable[[Element], None]:
            return lambda child: put(name, child.text, child)

        def number(name: str) -> Callable[[Element], None]:
            return lambda child: put(name, integer_of(child), child)

        def unsupported(reason: str, zero_is_off: bool = False) -> Callable[[Element], None]:
            def read(child: Element) -> None:
                if zero_is_off and not flag_of(child):
                    self._map(child)
                else:
                    self._unsupported(child, reason)

            return read

        def keep(name: str, reason: str, flagged: bool = False) -> Callable[[Element], None]:
            def read(child: Element) -> None:
                value = flag_of(child) if flagged else child.text
                extras[name] = value
                if value:
                    self._extra(child, name, reason)
                else:
                    self._map(child)

            return read

        def mount_name(child: Element) -> None:
            if kind == "default":
                self._unsupported(child, "a default mount has no name (Icecast ignores it too)")
            else:
                names.append(child)
                self._map(child)

        def username(child: Element) -> None:
            if child.text == "source":
                self._map(child)
            else:
                keep("username", 'radiod\'s sources log in as "source"')(child)

        def intro(child: Element) -> None:
            extras["intro"] = child.text
            if child.text:
                # Found in the webroot, known once the whole file is read.
                self._intros.append((child, self._template if kind == "default" else values))
            else:
                self._map(child)

        def hidden(child: Element) -> None:
            extras["hidden"] = flag_of(child)
            put("hidden", flag_of(child), child)

        def max_listeners(child: Element) -> None:
            value = integer_of(child, -1)
            if value == 0:
                self._caveat(child, "0 refuses every listener in Icecast; radiod sets no limit")
            else:
                put("max_listeners", max(value, 0), child)

        def charset(child: Element) -> None:
            try:
                put("charset", normalize_charset(child.text), child)
            except ValueError:
                self._unsupported(child, "radiod sends titles in UTF-8 or Latin-1 only")

        def public(child: Element) -> None:
            if child.text == "-1":
                self._map(child)
            else:
                put("public", flag_of(child), child)

        def no_yp(child: Element) -> None:
            if flag_of(child):
                put("public", False, child)
            else:
                self._map(child)

        def content_type(child: Element) -> None:
            if child.text.lower() in ("audio/mpeg", "audio/mp3"):
                self._map(child)
            else:
                self._unsupported(child, "radiod streams MP3 only")

        def authentication(child: Element) -> None:
            options = tuple(
                (option.attributes.get("name", ""), option.attributes.get("value", ""))
                for option in child.children
                if option.name == "option"
            )
            kind = child.attributes.get("type", "")
            extras["authentication"] = ListenerAuth(kind, options)
            if kind != "url":
                self._unsupported(
                    child, f'radiod authenticates listeners by URL only, not "{kind}"'
                )
                return
            self._map(child)
            for option in child.children:
                if option.name != "option":
                    self._unknown(option, "authentication")
                    continue
                name = option.attributes.get("name", "")
                value = option.attributes.get("value", "")
                key = _AUTH_OPTIONS.get(name)
                if key is None:
                    self._unsupported(option, f'radiod has no URL authentication option "{name}"')
                elif key == "auth_headers":
                    names = tuple(part.strip() for part in value.split(",") if part.strip())
                    put(key, names, option)
                else:
                    put(key, value, option)

        hooks = "radiod tells of shows through webhooks (live_start, live_end) instead"
        self._children(
            element,
            {
                "mount-name": mount_name,
                "username": username,
                "password": text("source_password"),
                "dump-file": text("dump_file"),
                "intro": intro,
                "fallback-mount": text("fallback"),
                "fallback-when-full": lambda child: put(
                    "fallback_when_full", flag_of(child), child
                ),
                "fallback-override": lambda child: put("fallback_override", flag_of(child), child),
                "max-listeners": max_listeners,
                "charset": charset,
                "mp3-metadata-interval": number("metaint"),
                "no-mount": unsupported("listeners can reach every radiod mount", True),
                "no-yp": no_yp,
                "hidden": hidden,
                "authentication": authentication,
                "on-connect": unsupported(hooks),
                "on-disconnect": unsupported(hooks),
                "max-listener-duration": unsupported("radiod lets listeners stay", True),
                "queue-size": number("queue_size"),
                "burst-size": number("burst_size"),
                "source-timeout": unsupported("its source timeout is fixed"),
                "cluster-password": unsupported("radiod has no clusters of mounts"),
                "stream-name": text("station_name"),
                "stream-description": text("description"),
                "stream-url": text("url"),
                "genre": text("genre"),
                "public": public,
                "bitrate": unsupported("radiod sends the stream's own bitrate"),
                "type": content_type,
                "subtype": unsupported("radiod streams MP3 only"),
                "http-headers": unsupported("radiod sends its own headers (CORS included)"),
            },
        )
        if kind == "default":
            self._template.extend(values)
            self._mount_extras.setdefault("", {}).update(extras)
        elif not names:
            self._unsupported(element, "it has no <mount-name> (Icecast ignores it too)")
        else:
            name = names[-1]
            self._entries.append(_Entry(name.text, element, name, values))
            if extras:
                self._mount_extras.setdefault(name.text, {}).update(extras)

    def _relay(self, element: Element) -> None:
        parts: dict[str, Element] = {}

        def part(child: Element) -> None:
            parts[child.name] = child
            self._map(child)

        def port(child: Element) -> None:
            integer_of(child, 1, 65535)
            part(child)

        def metadata(child: Element) -> None:
            if flag_of(child):
                self._map(child)
            else:
                self._caveat(child, "radiod's relays always ask for ICY metadata")

        login = self._unsupported_with("radiod's relays connect without a login")
        self._children(
            element,
            {
                "server": part,
                "port": port,
                "mount": part,
                "local-mount": part,
                "relay-shoutcast-metadata": metadata,
                "on-demand": self._on_demand,
                "username": login,
                "password": login,
                "bind": self._unsupported_with("radiod connects from any address"),
            },
        )
        if "port" not in parts:
            raise element_error(element, "needs a <port> (the upstream server's)")
        server = parts["server"].text if "server" in parts else "127.0.0.1"
        path = parts["mount"].text if "mount" in parts else "/"
        if not path.startswith("/"):
            raise element_error(parts["mount"], f'must start with "/", not {path!r}')
        name_element = parts.get("local-mount") or parts.get("mount") or element
        name = name_element.text if name_element is not element else path
        url = f"http://{_host_port(server, int(parts['port'].text))}{path}"
        self._entries.append(_Entry(name, element, name_element, [_Value("relay", url, element)]))

    # Files

    def _paths(self, element: Element) -> None:
        def certificate(child: Element) -> None:
            self._certificate = child

        def log_dir(child: Element) -> None:
            self._log_dir = child
            self._extras["log_dir"] = child.text

        def webroot(child: Element) -> None:
            self._extras["webroot"] = child.text
            self._webroot = child

        def alias(child: Element) -> None:
            attributes = child.attributes
            source = attributes.get("source")
            destination = attributes.get("destination", attributes.get("dest"))
            if source is None or destination is None:
                self._unsupported(child, "it needs a source and a destination (as in Icecast)")
                return
            port = attributes.get("port")
            if port is not None and not INTEGER.fullmatch(port.strip()):
                raise element_error(child, f"port must be an integer, not {port!r}")
            found = Alias(
                source,
                destination,
                int(port) if port is not None else None,
                attributes.get("bind-address", ""),
            )
            self._extras["aliases"] = (*self._extras.get("aliases", ()), found)
            aliases = cast(tuple[str, ...], self._server.get("aliases", ((), child))[0])
            self._set(child, "aliases", (*aliases, f"{source}={destination}"))
            if port is not None or "bind-address" in attributes or "vhost" in attributes:
                self._caveat(child, "radiod answers it on every port and address")

        self._children(
            element,
            {
                "basedir": self._unsupported_with("radiod does not chroot"),
                "logdir": log_dir,
                "pidfile": self._unsupported_with("twistd's --pidfile sets it"),
                "deny-ip": lambda e: self._set(e, "deny_ips", e.text),
                "allow-ip": lambda e: self._set(e, "allow_ips", e.text),
                "deny-agents": lambda e: self._set(e, "deny_agents_file", e.text),
                "ssl-certificate": certificate,
                "ssl-allowed-ciphers": self._unsupported_with("radiod uses Twisted's TLS defaults"),
                "webroot": webroot,
                "adminroot": self._unsupported_with("radiod serves its own admin pages"),
                "alias": alias,
            },
        )

    def _logging(self, element: Element) -> None:
        def access_log(child: Element) -> None:
            self._access_log = child

        def playlist_log(child: Element) -> None:
            self._playlist_log = child

        def error_log(child: Element) -> None:
            self._extras["error_log"] = child.text
            self._error_log = child

        rotation = self._unsupported_with("radiod leaves log rotation to logrotate")
        self._children(
            element,
            {
                "accesslog": access_log,
                "errorlog": error_log,
                "playlistlog": playlist_log,
                "loglevel": lambda e: self._set(e, "error_log_level", integer_of(e, 1, 4)),
                "logsize": rotation,
                "logarchive": rotation,
            },
        )

    def _security(self, element: Element) -> None:
        self._children(
            element,
            {
                "chroot": lambda e: self._off(e, "radiod does not chroot (systemd can confine it)"),
                "changeowner": self._unsupported_with(
                    "twistd's --uid and --gid (or systemd's User=) set it"
                ),
            },
        )

    # Putting it together

    def finish(self, path_exists: Callable[[str], bool] | None) -> IcecastConfig:
        """
        Resolve what depends on several elements, then build and check
        the configuration.

        @raise ConfigError: when radiod's checks refuse it, blaming the
            element the value came from.
        """
        shoutcast = self._resolve_sockets()
        self._resolve_hostname()
        self._resolve_files(path_exists)
        self._resolve_master()
        drafts = self._build_mounts(shoutcast)
        server: dict[str, Any] = {name: value for name, (value, _) in self._server.items()}
        station = replace(self._base, **server, mounts=tuple(draft.build() for draft in drafts))
        elements: dict[KeyPath, Element] = {
            ("server", name): element for name, (_, element) in self._server.items()
        }
        for index, draft in enumerate(drafts):
            if draft.element is not None:
                elements[("mount", index)] = draft.element
            for key, element in draft.elements.items():
                elements[("mount", index, key)] = element
        origins = {path: element.origin for path, element in elements.items()}
        try:
            check(station, path_exists)
        except Invalid as e:
            raise _translate(e, origins, self._root.file) from None
        for element in self._root.walk():
            if id(element) not in self._done:
                self._unsupported(element, "radiod does not know what it means here")
        self._warnings.sort(key=lambda warning: warning[0])
        return IcecastConfig(
            station=station,
            warnings=tuple(text for _, text, _ in self._warnings),
            extras=self._make_extras(),
            origins=origins,
            mapped=tuple(e.origin for e in sorted(self._mapped.values(), key=lambda e: e.order)),
            warned=tuple(element.origin for _, _, element in self._warnings),
        )

    def _make_extras(self) -> IcecastExtras:
        default = self._mount_extras.get("")
        mounts = tuple(
            MountExtras(name=name, **{**(default or {}), **values})
            for name, values in self._mount_extras.items()
            if name
        )
        return IcecastExtras(
            **self._extras,
            default_mount=MountExtras(name="", **default) if default is not None else None,
            mounts=mounts,
        )

    def _port(self) -> int:
        """
        The station's port, as set so far.
        """
        if "port" in self._server:
            return int(cast(int, self._server["port"][0]))
        return self._base.port

    def _resolve_sockets(self) -> tuple[str, Element] | None:
        """
        Work out the ports from the C{<listen-socket>}s.

        @return: the SHOUTcast v1 sources' mount and the element naming
            it, if the file has radiod's SHOUTcast port.
        """
        named = self._shoutcast_mount
        if not self._sockets:
            if self._top_port is not None:
                self._set(self._top_port, "port", int(self._top_port.text))
            if self._top_bind is not None:
                self._set(self._top_bind, "interface", self._top_bind.text)
            if named is not None:
                self._no_shoutcast_socket(named)
            return None
        for element in (self._top_port, self._top_bind):
            if element is not None:
                self._unsupported(element, "a <listen-socket> sets it instead (as in Icecast)")
        plain = [s for s in self._sockets if not s.ssl and not s.compat]
        main = plain[0] if plain else None
        shoutcast: tuple[str, Element] | None = None
        if main is not None:
            self._map(main.element, whole=True)
            self._set(main.port_element or main.element, "port", main.port)
            if main.bind_element is not None:
                self._set(main.bind_element, "interface", main.bind)
            if main.sndbuf is not None:
                self._set(main.sndbuf, "send_buffer", int(main.sndbuf.text))
            if main.shoutcast_mount is not None:
                shoutcast = (main.shoutcast_mount.text, main.shoutcast_mount)
        port = self._port()
        tls_port = 0
        for socket in self._sockets:
            if socket is main:
                continue
            if socket.ssl and not tls_port:
                tls_port = socket.port
                self._tls_socket(socket, main)
            elif socket.ssl:
                self._unsupported(socket.element, f"radiod has one TLS port, {tls_port}")
            elif socket.compat and main is not None and socket.port == port + 1 and not shoutcast:
                self._map(socket.element, whole=True)
                source = socket.shoutcast_mount or named
                if source is not None:
                    self._map(source)
                    shoutcast = (source.text, source)
                else:
                    shoutcast = ("/stream", socket.element)
            elif socket.compat:
                self._unsupported(
                    socket.element, f"radiod takes SHOUTcast v1 sources on port {port + 1} only"
                )
            else:
                self._unsupported(
                    socket.element, f"radiod listens on one port, {port} (and tls_port)"
                )
        if named is not None and id(named) not in self._done:
            self._no_shoutcast_socket(named)
        if main is None:
            self._caveat(self._sockets[0].element, f"radiod also listens on port {port}")
        return shoutcast

    def _no_shoutcast_socket(self, element: Element) -> None:
        self._caveat(
            element,
            "no <listen-socket> takes SHOUTcast sources; radiod takes them on the port after "
            "its own, for its first mount",
        )

    def _tls_socket(self, socket: _Socket, main: _Socket | None) -> None:
        if self._certificate is None:
            raise element_error(socket.element, "<ssl> needs an <ssl-certificate> in <paths>")
        self._map(socket.element, whole=True)
        self._set(socket.port_element or socket.element, "tls_port", socket.port)
        self._set(self._certificate, "tls_cert", self._certificate.text)
        interface = main.bind if main is not None else ""
        if socket.bind_element is not None and socket.bind != interface:
            self._caveat(socket.bind_element, f"radiod's TLS port listens on {interface!r} too")
        for child in (socket.shoutcast_mount, socket.sndbuf):
            if child is not None:
                self._unsupported(child, "radiod takes it from the main <listen-socket> only")

    def _resolve_hostname(self) -> None:
        element = self._hostname
        if element is None:
            return
        host = element.text
        if host in ("", "localhost"):
            if "hostname" in self._used:
                self._map(element)
            else:
                self._caveat(element, f"{host!r} is Icecast's default; public_url stays empty")
            return
        port = self._port()
        url = "http://" + (_host_port(host, port) if port != 80 else host)
        try:
            parse_http_url(url)
        except ValueError as e:
            self._extra(element, "hostname", f"cannot make public_url of it: {e}")
            return
        self._set(element, "public_url", url)

    def _resolve_files(self, path_exists: Callable[[str], bool] | None) -> None:
        logs = (
            (self._access_log, "access_log"),
            (self._playlist_log, "playlist_log"),
            (self._error_log, "error_log"),
        )
        for log, key in logs:
            if log is None:
                continue
            folder = self._log_dir.text if self._log_dir is not None else ""
            self._set(log, key, os.path.join(folder, log.text))
            if self._log_dir is not None:
                self._map(self._log_dir)
        if self._log_dir is not None and id(self._log_dir) not in self._done:
            self._extra(self._log_dir, "log_dir", "radiod logs where twistd's --logfile says")
        serving = self._fileserve_element is None or flag_of(self._fileserve_element)

        def missing(path: str) -> bool:
            return path_exists is not None and not path_exists(path)

        webroot = self._webroot
        if webroot is not None:
            if not serving:
                self._map(webroot)
            elif missing(webroot.text):
                # Icecast starts without it too, and serves no files.
                self._caveat(webroot, f"no such folder, {webroot.text}: radiod serves no files")
            else:
                self._set(webroot, "webroot", webroot.text)
        folder = webroot.text if webroot is not None else ""
        for intro, values in self._intros:
            # Icecast finds an intro in its webroot.
            path = os.path.join(folder, intro.text.lstrip("/")) if folder else intro.text
            if missing(path):
                self._caveat(intro, f"no such file, {path}: listeners join without an intro")
                continue
            values.append(_Value("intro", path, intro))
            self._map(intro)
        if self._certificate is not None and id(self._certificate) not in self._done:
            self._unsupported(self._certificate, "no <listen-socket> has <ssl>1</ssl>")

    def _resolve_master(self) -> None:
        master = self._master
        server = master.get("master-server")
        port = master.get("master-server-port")
        if server is not None and port is not None:
            self._set(server, "origin", f"http://{_host_port(server.text, int(port.text))}")
            self._map(port)
            self._caveat(
                server,
                "radiod mirrors the mounts of another radiod (its /api/v1/status), "
                "not those of an Icecast master",
            )
        elif server is not None:
            self._unsupported(server, "it needs a <master-server-port> (as in Icecast)")
        elif port is not None:
            self._unsupported(port, "it needs a <master-server> (as in Icecast)")
        no_login = "radiod's edges read their origin's public status, without a login"
        reasons = {
            "master-username": no_login,
            "master-password": no_login,
            "master-update-interval": "radiod's edges look for new mounts at a fixed interval",
        }
        for name, reason in reasons.items():
            if name in master:
                self._unsupported(master[name], reason)

    def _build_mounts(self, shoutcast: tuple[str, Element] | None) -> list[_Draft]:
        """
        The mounts: the base's, then those the file names, in order; the
        SHOUTcast sources' mount first.
        """
        drafts: dict[str, _Draft] = {}
        for mount in self._base.mounts:
            drafts[mount.name] = self._draft(mount)

        def named(name: str, element: Element, name_element: Element) -> _Draft:
            draft = drafts.get(name)
            if draft is None:
                draft = self._draft(MountConfig(name=name, live_only=True, fallback_override=False))
                draft.elements.update(
                    name=name_element, live_only=element, fallback_override=element
                )
                drafts[name] = draft
            if not draft.touched:
                draft.touched = True
                draft.element = element
                for value in self._template:
                    if not (value.field == "fallback" and value.value == name):
                        draft.set(value)
            return draft

        for entry in self._entries:
            draft = named(entry.name, entry.element, entry.name_element)
            for value in entry.values:
                if value.field == "relay" and "relay" in draft.values:
                    relayed = draft.values["relay"]
                    self._unsupported(value.element, f"{entry.name} already relays {relayed}")
                else:
                    draft.set(value)
        for draft in list(drafts.values()):
            target = draft.values.get("fallback")
            if not target:
                continue
            element = draft.elements["fallback"]
            if not draft.live_only:
                draft.unset("fallback")
                draft.unset("fallback_when_full")
                self._caveat(element, f"{draft.name} plays music between shows instead")
            elif target not in drafts:
                named(str(target), element, element)
                self._caveat(
                    element,
                    f"radiod declares {target} as a live-only mount (it cannot fall back to "
                    "a file)",
                )
        for draft in drafts.values():
            if draft.values.get("fallback_when_full") and not draft.values.get("fallback"):
                when_full = draft.elements["fallback_when_full"]
                draft.unset("fallback_when_full")
                self._caveat(
                    when_full,
                    f"{draft.name} has no fallback mount, so its listeners beyond the limit "
                    "are refused",
                )
        order = list(drafts.values())
        if shoutcast is not None:
            name, element = shoutcast
            first = named(name, element, element)
            if first is not order[0]:
                order = [first] + [draft for draft in drafts.values() if draft is not first]
                self._caveat(
                    element,
                    f"radiod puts SHOUTcast v1 sources on its first mount, so {name} comes "
                    "first (and /; reaches it)",
                )
        return order

    def _draft(self, mount: MountConfig) -> _Draft:
        """
        A mount's draft, with the server-wide mount settings applied.
        """
        draft = _Draft(mount)
        for value in self._mount_defaults:
            draft.set(value)
        return draft


def _translate(problem: Invalid, origins: Mapping[KeyPath, Origin], filename: str) -> ConfigError:
    """
    Tell a problem radiod's checks found, blaming the element the value
    came from (or another one involved).
    """

    def find(path: KeyPath) -> Origin | None:
        for end in range(len(path), 1, -1):
            if path[:end] in origins:
                return origins[path[:end]]
        return None

    path, reason = problem.path, problem.reason
    if path not in origins:
        for other_path, other_reason in problem.alternatives:
            if other_path in origins:
                path, reason = other_path, other_reason
                break
    origin = find(path)
    if origin is None:
        return ConfigError(f"{filename}: {format_key_path(path)}: {reason}", path, reason)
    return ConfigError(f"{origin}: {reason}", path, reason)


def load_icecast_config(
    data: bytes,
    filename: str = "icecast.xml",
    base: StationConfig | None = None,
    include: Includer | None = None,
    used: Collection[str] = (),
    path_exists: Callable[[str], bool] | None = None,
) -> IcecastConfig:
    """
    Read an Icecast 2.4 configuration.  Performs no I/O unless
    C{include} or C{path_exists} do.

    @param data: the file's contents.
    @param filename: the file's name, for messages and for finding the
        files C{<include>}s name.
    @param base: the configuration the file's values are applied over;
        by default the built-in defaults.
    @param include: reads included files; without it, an C{<include>}
        is an error.
    @param used: the names in L{EXTRAS} that the caller uses, whose
        elements are not warned about.
    @param path_exists: if given, file paths are checked with it.
    @return: the checked configuration, the warnings and the extras.
    @raise ConfigError: with a one-line message naming the file, the
        line and the element.
    """
    root = parse_xml(data, filename)
    if root.name != "icecast":
        raise ConfigError(
            f"{filename} line {root.line}: the root element must be <icecast>, not <{root.name}>"
        )
    empty = expand_includes(root, include)
    for order, element in enumerate(root.walk()):
        element.order = order
    reading = _Reading(root, base or StationConfig(), used, empty)
    reading.read()
    return reading.finish(path_exists)


def read_icecast_config(
    path: str,
    base: StationConfig | None = None,
    used: Collection[str] = (),
    path_exists: Callable[[str], bool] | None = None,
) -> IcecastConfig:
    """
    Read an Icecast 2.4 configuration file and the files it includes.
    Blocking.

    @param path: the file, such as C{/etc/icecast2/icecast.xml}.
    @param base: as for L{load_icecast_config}.
    @param used: as for L{load_icecast_config}.
    @param path_exists: if given, file paths (the TLS certificate, the
        base's music) are checked with it, as a station starting would;
        by default they are not, so that a file can be converted on
        another machine.
    @raise ConfigError: C{cannot read config <path>: <reason>} if the file
        cannot be read, else as L{load_icecast_config}.
    """
    try:
        data = read_file(path)
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from None
    return load_icecast_config(data, path, base, include_files, used, path_exists)
