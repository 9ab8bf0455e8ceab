# -*- test-case-name: tests.test_forwarded -*-
"""
The real client behind a reverse proxy: C{X-Forwarded-For}, believed only
as far as trusted proxies vouch for it.

Each proxy that forwards a request appends the address it got the request
from to C{X-Forwarded-For}.  Everything left of what a trusted proxy
appended may have been written by the client itself, so the header is read
from the right: starting from the connection's peer, while the address in
hand is a trusted proxy, the entry it appended (the next one to the left)
is taken as the one before it.  The first address that is not a trusted
proxy is the client.  A malformed entry ends the walk at the proxy that
appended it (as nginx's C{real_ip_recursive} does), since nothing left of
it can be vouched for; empty list elements are skipped.  When the peer
itself is not trusted, the header is ignored.

Everything here is pure: values in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

__all__ = [
    "Network",
    "client_address",
    "format_peer",
    "is_trusted",
    "parse_address",
    "parse_networks",
]

Network = IPv4Network | IPv6Network
"""
A trusted proxy: one address (a network of one) or a CIDR network.
"""

_Address = IPv4Address | IPv6Address

_BRACKETED = re.compile(r"\[([^\]]+)\](?::[0-9]{1,5})?")
_V4_PORT = re.compile(r"([0-9.]+):[0-9]{1,5}")


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """
    Read a list of trusted proxies.

    @param entries: addresses (C{"127.0.0.1"}, C{"::1"}) and CIDR networks
        (C{"10.0.0.0/8"}, C{"2001:db8::/32"}).
    @return: the networks, in the order given (an address is a network of
        one).
    @raise ValueError: with a one-line reason naming the first entry that
        is not an address or network (counted from 0), such as C{entry 1:
        '10.0.0.300' is not an IP address or network}.
    """
    networks = []
    for position, entry in enumerate(entries):
        text = entry.strip()
        try:
            networks.append(ip_network(text, strict=True))
        except ValueError as error:
            if "host bits set" in str(error):
                raise ValueError(
                    f"entry {position}: {entry!r} has bits set after the prefix "
                    f"(write the network's first address, such as "
                    f"{ip_network(text, strict=False)})"
                ) from None
            raise ValueError(
                f"entry {position}: {entry!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def _unmapped(address: _Address) -> _Address:
    """
    An IPv4-mapped IPv6 address (C{::ffff:192.0.2.1}) as the IPv4 address it
    stands for; any other address as it is.
    """
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(text: str) -> IPv4Address | IPv6Address | None:
    """
    Read one entry of C{X-Forwarded-For}.

    @param text: an address as proxies write it: C{192.0.2.1},
        C{2001:db8::1}, or with a port, C{192.0.2.1:4711} or
        C{[2001:db8::1]:4711}; surrounding blanks are ignored.
    @return: the address (an IPv4-mapped IPv6 address as IPv4), or C{None}
        if C{text} is not one (C{unknown}, an obfuscated identifier,
        garbage).
    """
    text = text.strip()
    bracketed = _BRACKETED.fullmatch(text)
    if bracketed is not None:
        text = bracketed.group(1)
    else:
        with_port = _V4_PORT.fullmatch(text)
        if with_port is not None:
            text = with_port.group(1)
    try:
        return _unmapped(ip_address(text))
    except ValueError:
        return None


def _trusted(address: _Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def is_trusted(peer: str, trusted: Sequence[Network]) -> bool:
    """
    Whether C{peer} (an address without a port) is one of the trusted
    proxies.
    """
    address = parse_address(peer)
    return address is not None and _trusted(address, trusted)


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """
    The address of the client a request comes from.

    @param peer: the address of the connection's peer, without a port.
    @param forwarded_for: every C{X-Forwarded-For} header value, in the
        order received (several headers read as one list).
    @param trusted: the proxies whose word is taken.
    @return: C{peer} unchanged when it is not a trusted proxy (or not an IP
        address) or the header names no one; otherwise the right-most address in the header that is
        not a trusted proxy, or, if every one is, the left-most one; a
        malformed entry ends the walk at the proxy that appended it.
        Addresses found in the header are written in their short form,
        IPv4-mapped ones as IPv4.
    """
    current = parse_address(peer)
    if current is None or not _trusted(current, trusted):
        return peer
    entries = [entry for value in forwarded_for for entry in value.split(",")]
    client = peer
    for entry in reversed(entries):
        if not entry.strip():
            continue
        found = parse_address(entry)
        if found is None:
            break
        client = str(found)
        if not _trusted(found, trusted):
            break
    return client


def format_peer(address: object) -> str:
    """
    C{host:port} of a peer address (anything with C{host} and C{port},
    such as a Twisted C{IPv4Address}), for logs.
    """
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None:
        return str(address)
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"
