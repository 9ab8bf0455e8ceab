# -*- test-case-name: tests.wire.test_admission -*-
"""
Who may listen: the user-agent deny list and the address allow and deny
lists a station and its mounts name (C{deny_agents_file}, C{allow_ips},
C{deny_ips}), read into L{Rules}, and L{refusal}, which says why a
listener is turned away.

An agent list has one pattern per line, matched against the whole
C{User-Agent} header without regard to case, C{*} standing for any run of
characters (as Icecast 2.5 reads its C{deny-agents} file).  An address
list has one address or CIDR network per line (C{192.0.2.7},
C{10.0.0.0/8}, C{2001:db8::/32}); Icecast's trailing wildcards
(C{192.168.1.*}) are read as the network they cover.  In both, blank lines
and everything after a C{#} are ignored.

When the allow list names anything, only the addresses on it may listen;
an address on the deny list may not, even when allowed.  A mount's own
list replaces the station's.

Parsing is pure (L{parse_agents}, L{parse_addresses}); L{read_admission}
reads the files, blocking, so it runs where the configuration is read: at
start, before the reactor runs, and on a reload.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network

from radiod.config import StationConfig
from radiod.forwarded import Network, parse_address

__all__ = [
    "Admission",
    "ListError",
    "Rules",
    "parse_addresses",
    "parse_agents",
    "read_admission",
    "read_text",
    "refusal",
]

_MAPPED = IPv6Network("::ffff:0:0/96")


class ListError(ValueError):
    """
    A list file cannot be used: C{str(error)} is one line naming the key,
    the file and, for a malformed entry, its line.
    """


@dataclass(frozen=True)
class Rules:
    """
    Who may listen to one mount: the patterns and networks of its lists,
    each with the file it came from (for logs).
    """

    agents: tuple[re.Pattern[str], ...] = ()
    """
    The user agents refused, compiled.
    """
    agents_file: str = ""
    """
    The file they came from.
    """
    allow: tuple[Network, ...] = ()
    """
    When not empty, the only networks that may listen.
    """
    allow_file: str = ""
    """
    The file they came from.
    """
    deny: tuple[Network, ...] = ()
    """
    The networks refused.
    """
    deny_file: str = ""
    """
    The file they came from.
    """


@dataclass(frozen=True)
class Admission:
    """
    The rules of the station and of each of its mounts.
    """

    server: Rules = field(default_factory=Rules)
    """
    The station's rules, which any mount without lists of its own (and
    any mount made for a live source) follows.
    """
    mounts: Mapping[str, Rules] = field(default_factory=dict)
    """
    The rules of each configured mount (and its ladder's rungs), by
    name.
    """

    def rules_for(self, mount: str) -> Rules:
        """
        The rules a listener asking for C{mount} is held to.
        """
        return self.mounts.get(mount, self.server)


def _lines(text: str) -> list[tuple[int, str]]:
    """
    The entries of a list file: each line's number (from 1) and text,
    without comments and surrounding blanks, blank lines left out.
    """
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.partition("#")[0].strip()
        if entry:
            found.append((number, entry))
    return found


def _agent_pattern(entry: str) -> re.Pattern[str]:
    """
    A user-agent pattern: C{*} for any run of characters, the rest as it
    is, matched whole and without regard to case.
    """
    body = ".*".join(re.escape(part) for part in entry.split("*"))
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def parse_agents(text: str, filename: str) -> tuple[re.Pattern[str], ...]:
    """
    Read a user-agent deny list.

    @param text: the file's contents.
    @param filename: the file's name, for errors.
    @return: the patterns, compiled, in order.
    @raise ListError: naming the file and line of an entry with control
        characters.
    """
    patterns = []
    for number, entry in _lines(text):
        if not entry.isprintable():
            raise ListError(f"{filename} line {number}: control characters in {entry!r}")
        patterns.append(_agent_pattern(entry))
    return tuple(patterns)


def _wildcard_network(entry: str) -> str:
    """
    Icecast's C{192.168.1.*} as the CIDR network it covers
    (C{192.168.1.0/24}); any other entry as it is.
    """
    parts = entry.split(".")
    if len(parts) != 4 or "*" not in parts:
        return entry
    stars = parts.index("*")
    if stars == 0 or any(part != "*" for part in parts[stars:]):
        return entry
    return ".".join(parts[:stars] + ["0"] * (4 - stars)) + f"/{8 * stars}"


def _unmapped(network: Network) -> Network:
    """
    An IPv4-mapped IPv6 network as the IPv4 network it stands for.
    """
    if isinstance(network, IPv6Network) and network.subnet_of(_MAPPED):
        first = network.network_address.ipv4_mapped
        assert first is not None
        return IPv4Network(f"{first}/{network.prefixlen - 96}")
    return network


def parse_addresses(text: str, filename: str) -> tuple[Network, ...]:
    """
    Read an address allow or deny list.

    @param text: the file's contents.
    @param filename: the file's name, for errors.
    @return: the networks (an address is a network of one; IPv4-mapped
        IPv6 ones as IPv4), in order.
    @raise ListError: naming the file and line of the first entry that is
        not an address or network.
    """
    networks = []
    for number, entry in _lines(text):
        where = f"{filename} line {number}"
        written = _wildcard_network(entry)
        try:
            network = ip_network(written, strict=True)
        except ValueError as error:
            if "host bits set" in str(error):
                first = ip_network(written, strict=False)
                raise ListError(
                    f"{where}: {entry!r} has bits set after the prefix "
                    f"(write the network's first address, such as {first})"
                ) from None
            raise ListError(f"{where}: {entry!r} is not an IP address or network") from None
        networks.append(_unmapped(network))
    return tuple(networks)


def refusal(rules: Rules, client: str, user_agent: str) -> str | None:
    """
    Why a listener may not listen, if it may not.

    @param rules: the rules of the mount it asks for.
    @param client: its address, without a port (behind a trusted proxy,
        the one the proxy forwards).
    @param user_agent: its C{User-Agent} header, C{""} when it sent none.
    @return: C{None} when it may listen; otherwise the reason, naming the
        list that refuses it, such as C{"address 192.0.2.7 is in deny_ips
        (/etc/radiod/deny.txt)"}.
    """
    address = parse_address(client)
    if rules.allow and (address is None or not any(address in n for n in rules.allow)):
        return f"address {client} is not in allow_ips ({rules.allow_file})"
    if address is not None and any(address in network for network in rules.deny):
        return f"address {client} is in deny_ips ({rules.deny_file})"
    for pattern in rules.agents:
        if pattern.fullmatch(user_agent):
            return (
                f"user agent {user_agent!r} matches {pattern.pattern!r} in "
                f"deny_agents_file ({rules.agents_file})"
            )
    return None


def read_text(path: str) -> str:
    """
    Read a list file (blocking).

    @raise OSError: when it cannot be read.
    @raise UnicodeDecodeError: when it is not UTF-8.
    """
    with open(path, encoding="utf-8") as f:
        return f.read()


class _Reader:
    """
    Reads list files for L{read_admission}, each one once however many
    mounts name it.
    """

    def __init__(self, read: Callable[[str], str]) -> None:
        self._read = read
        self._agents: dict[str, tuple[re.Pattern[str], ...]] = {}
        self._networks: dict[str, tuple[Network, ...]] = {}

    def _text(self, where: str, path: str) -> str:
        try:
            return self._read(path)
        except OSError as error:
            reason = error.strerror or str(error)
            raise ListError(f"{where}: cannot read {path}: {reason}") from None
        except UnicodeDecodeError as error:
            raise ListError(
                f"{where}: cannot read {path}: not UTF-8 text (byte {error.start})"
            ) from None

    def agents(self, where: str, path: str) -> tuple[re.Pattern[str], ...]:
        if path and path not in self._agents:
            text = self._text(where, path)
            try:
                self._agents[path] = parse_agents(text, path)
            except ListError as error:
                raise ListError(f"{where}: {error}") from None
        return self._agents.get(path, ())

    def networks(self, where: str, path: str) -> tuple[Network, ...]:
        if path and path not in self._networks:
            text = self._text(where, path)
            try:
                self._networks[path] = parse_addresses(text, path)
            except ListError as error:
                raise ListError(f"{where}: {error}") from None
        return self._networks.get(path, ())

    def rules(self, where: str, agents_file: str, allow_file: str, deny_file: str) -> Rules:
        """
        One set of lists, C{where} naming the table they are set in.
        """
        return Rules(
            agents=self.agents(f"{where}.deny_agents_file", agents_file),
            agents_file=agents_file,
            allow=self.networks(f"{where}.allow_ips", allow_file),
            allow_file=allow_file,
            deny=self.networks(f"{where}.deny_ips", deny_file),
            deny_file=deny_file,
        )


def read_admission(config: StationConfig, read: Callable[[str], str] = read_text) -> Admission:
    """
    Read every list the station and its mounts name (blocking: at start,
    before the reactor runs, or on a reload).

    @param config: the station's configuration.
    @param read: reads a file's text; L{read_text} by default.
    @return: the station's rules and each mount's.
    @raise ListError: one line naming the key, the file and the line at
        fault, such as C{mount[1].deny_ips: deny.txt line 3: '10.0.0.300'
        is not an IP address or network}.
    """
    reader = _Reader(read)
    server = reader.rules("server", config.deny_agents_file, config.allow_ips, config.deny_ips)
    mounts: dict[str, Rules] = {}
    for index, mount in enumerate(config.mounts):
        rules = reader.rules(
            f"mount[{index}]",
            mount.deny_agents_file or config.deny_agents_file,
            mount.allow_ips or config.allow_ips,
            mount.deny_ips or config.deny_ips,
        )
        for name in (mount.name, *mount.rung_names):
            mounts[name] = rules
    return Admission(server, mounts)
