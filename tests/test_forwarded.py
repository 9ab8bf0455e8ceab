"""
Tests for L{radiod.forwarded}: the client's address behind trusted proxies,
its configuration, and what the server makes of it.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address, ip_address

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address as TwistedIPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from radiod.audio.track import TrackInfo
from radiod.broadcast.mount import Mount
from radiod.config import ConfigError, MountConfig, StationConfig, load_config, validate
from radiod.forwarded import client_address, parse_address, parse_networks
from radiod.station.options import Options
from radiod.station.worker import config_from_json, config_to_json
from radiod.testing import FakeFrameSource, silent_frame
from radiod.wire.accesslog import Access
from radiod.wire.server import RadioFactory, RadioProtocol

TRUSTED = parse_networks(["127.0.0.1", "10.0.0.0/8", "2001:db8:1::/48"])


def _untrusted(address: IPv4Address | IPv6Address) -> bool:
    return not any(address in network for network in TRUSTED)


def untrusted_v4() -> st.SearchStrategy[str]:
    """
    IPv4 addresses none of L{TRUSTED} covers.
    """
    return st.ip_addresses(v=4).filter(_untrusted).map(str)


def trusted_v4() -> st.SearchStrategy[str]:
    """
    IPv4 addresses of trusted proxies.
    """
    return st.one_of(st.just("127.0.0.1"), st.ip_addresses(network="10.0.0.0/8").map(str))


class ParseNetworksTests(SynchronousTestCase):
    """
    L{parse_networks} reads addresses and CIDR networks.
    """

    def test_addresses_and_networks(self) -> None:
        """
        An address is a network of one; v4 and v6 both work.
        """
        networks = parse_networks(["127.0.0.1", " 10.0.0.0/8 ", "::1", "2001:db8::/32"])
        self.assertEqual([n.num_addresses for n in networks[:2]], [1, 2**24])
        self.assertIn(ip_address("10.1.2.3"), networks[1])
        self.assertIn(ip_address("::1"), networks[2])

    def test_errors_name_the_entry(self) -> None:
        """
        A bad entry is named by position in one line.
        """
        for entries, message in [
            (["127.0.0.1", "10.0.0.300"], "entry 1: '10.0.0.300' is not an IP address or network"),
            (["localhost"], "entry 0: 'localhost' is not an IP address or network"),
            (["10.0.0.0/33"], "entry 0: '10.0.0.0/33' is not an IP address or network"),
            (
                ["10.1.2.3/8"],
                "entry 0: '10.1.2.3/8' has bits set after the prefix (write the network's "
                "first address, such as 10.0.0.0/8)",
            ),
        ]:
            with self.assertRaises(ValueError) as raised:
                parse_networks(entries)
            self.assertEqual(str(raised.exception), message)


class ParseAddressTests(SynchronousTestCase):
    """
    L{parse_address} reads one C{X-Forwarded-For} entry.
    """

    def test_forms(self) -> None:
        """
        Bare addresses, with ports, bracketed IPv6, and mapped IPv4.
        """
        for text, expected in [
            ("192.0.2.1", "192.0.2.1"),
            (" 192.0.2.1 ", "192.0.2.1"),
            ("192.0.2.1:4711", "192.0.2.1"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("2001:DB8:0:0::1", "2001:db8::1"),
        ]:
            self.assertEqual(str(parse_address(text)), expected, text)

    def test_malformed(self) -> None:
        """
        Anything else is not an address.
        """
        for text in (
            "",
            "unknown",
            "_hidden",
            "192.0.2",
            "192.0.2.1:",
            "192.0.2.1:99999999",
            "010.0.0.1",
            "[192.0.2.1",
            "1.2.3.4 5.6.7.8",
            "2001:db8::1:80:",
            "for=192.0.2.1",
        ):
            self.assertIsNone(parse_address(text), text)


class ClientAddressTests(SynchronousTestCase):
    """
    L{client_address} walks the header from the right while proxies are
    trusted.
    """

    def test_untrusted_peer_ignores_header(self) -> None:
        """
        Without a trusted peer, the header is ignored.
        """
        self.assertEqual(client_address("192.0.2.7", ["198.51.100.1"], TRUSTED), "192.0.2.7")
        self.assertEqual(client_address("192.0.2.7", ["198.51.100.1"], ()), "192.0.2.7")

    def test_one_proxy(self) -> None:
        """
        Behind one trusted proxy, the client is the last entry.
        """
        self.assertEqual(client_address("127.0.0.1", ["198.51.100.1"], TRUSTED), "198.51.100.1")

    def test_spoofed_entries_ignored(self) -> None:
        """
        Entries left of the first untrusted address, which the client may
        have written itself, do not count.
        """
        self.assertEqual(
            client_address("127.0.0.1", ["1.1.1.1, 10.0.0.9, 198.51.100.1"], TRUSTED),
            "198.51.100.1",
        )

    def test_chain_of_proxies(self) -> None:
        """
        Trusted proxies are walked through, across several headers read as
        one list.
        """
        self.assertEqual(
            client_address("127.0.0.1", ["6.6.6.6, 198.51.100.1", "10.0.0.2", "10.1.1.1"], TRUSTED),
            "198.51.100.1",
        )

    def test_all_trusted(self) -> None:
        """
        When every entry is a trusted proxy, the left-most one is taken.
        """
        self.assertEqual(client_address("127.0.0.1", ["10.0.0.1, 10.0.0.2"], TRUSTED), "10.0.0.1")

    def test_no_header(self) -> None:
        """
        A trusted peer without the header (or with an empty one) is the
        client.
        """
        self.assertEqual(client_address("127.0.0.1", [], TRUSTED), "127.0.0.1")
        self.assertEqual(client_address("127.0.0.1", [" , "], TRUSTED), "127.0.0.1")

    def test_malformed_ends_the_walk(self) -> None:
        """
        A malformed entry is never taken; the walk ends at the proxy that
        wrote it, and empty elements are skipped.
        """
        self.assertEqual(
            client_address("127.0.0.1", ["198.51.100.1, unknown"], TRUSTED), "127.0.0.1"
        )
        self.assertEqual(
            client_address("127.0.0.1", ["198.51.100.1, garbage, 10.0.0.3"], TRUSTED), "10.0.0.3"
        )
        self.assertEqual(
            client_address("127.0.0.1", ["garbage, 198.51.100.1"], TRUSTED), "198.51.100.1"
        )
        self.assertEqual(
            client_address("127.0.0.1", ["198.51.100.1,, 10.0.0.3 ,"], TRUSTED), "198.51.100.1"
        )

    def test_ipv6_and_mapped(self) -> None:
        """
        IPv6 proxies and clients work, and an IPv4-mapped peer is matched
        as IPv4.
        """
        self.assertEqual(
            client_address("2001:db8:1::5", ["[2001:db8:2::7]:5000"], TRUSTED), "2001:db8:2::7"
        )
        self.assertEqual(
            client_address("::ffff:127.0.0.1", ["198.51.100.1"], TRUSTED), "198.51.100.1"
        )

    def test_peer_not_an_address(self) -> None:
        """
        A peer that is not an IP address (a UNIX socket) is kept.
        """
        self.assertEqual(client_address("-", ["198.51.100.1"], TRUSTED), "-")

    @given(peer=untrusted_v4(), header=st.lists(st.text(max_size=20), max_size=4))
    def test_untrusted_peer_property(self, peer: str, header: list[str]) -> None:
        """
        Whatever the header says, an untrusted peer is the client.
        """
        self.assertEqual(client_address(peer, header, TRUSTED), peer)

    @given(
        spoofed=st.lists(st.one_of(st.text(max_size=15), trusted_v4(), untrusted_v4()), max_size=4),
        client=untrusted_v4(),
        proxies=st.lists(trusted_v4(), max_size=4),
        peer=trusted_v4(),
        split=st.integers(0, 3),
    )
    def test_client_found_whatever_is_spoofed(
        self, spoofed: list[str], client: str, proxies: list[str], peer: str, split: int
    ) -> None:
        """
        Behind any chain of trusted proxies, the client is the address the
        outermost one saw, whatever the client wrote before it and however
        the list is split across headers.
        """
        entries = [*spoofed, client, *proxies]
        cut = min(split, len(entries))
        header = [", ".join(entries[:cut]), ", ".join(entries[cut:])]
        header = [value for value in header if value]
        self.assertEqual(client_address(peer, header, TRUSTED), client)

    @given(
        peer=st.one_of(trusted_v4(), untrusted_v4()),
        header=st.lists(st.one_of(st.text(max_size=15), trusted_v4(), untrusted_v4()), max_size=6),
    )
    def test_result_is_peer_or_listed(self, peer: str, header: list[str]) -> None:
        """
        The result is always the peer or an address from the header.
        """
        result = client_address(peer, [", ".join(header)], TRUSTED)
        listed = {str(parse_address(entry)) for entry in ", ".join(header).split(",")}
        self.assertIn(result, {peer} | listed)
        self.assertIsInstance(ip_address(result), IPv4Address | IPv6Address)


class ConfigTests(SynchronousTestCase):
    """
    C{trusted_proxies} is checked at load; C{--trusted-proxies} sets it.
    """

    def test_file(self) -> None:
        """
        The key takes a list (or one string) of addresses and networks.
        """
        config = load_config('[server]\ntrusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\n')
        self.assertEqual(config.trusted_proxies, ("127.0.0.1", "10.0.0.0/8"))
        config = load_config('[server]\ntrusted_proxies = "::1"\n')
        self.assertEqual(config.trusted_proxies, ("::1",))

    def test_file_errors(self) -> None:
        """
        A bad entry or type is one line naming the file, line and key.
        """
        for text, message in [
            (
                '[server]\nport = 8000\ntrusted_proxies = ["127.0.0.1", "nope"]\n',
                "radiod.toml line 3: server.trusted_proxies: entry 1: 'nope' is not an IP "
                "address or network",
            ),
            (
                "[server]\ntrusted_proxies = 3\n",
                "radiod.toml line 2: server.trusted_proxies: must be a list of addresses and "
                "networks, not an integer",
            ),
        ]:
            with self.assertRaises(ConfigError) as raised:
                load_config(text)
            self.assertEqual(str(raised.exception), message)

    def test_option(self) -> None:
        """
        The option takes a list separated by commas (or blanks); a bad
        entry is blamed on the option.
        """
        options = Options()
        options.parseOptions(["--trusted-proxies", "127.0.0.1, 10.0.0.0/8"])
        self.assertEqual(options.to_config().trusted_proxies, ("127.0.0.1", "10.0.0.0/8"))
        with self.assertRaises(SystemExit) as raised:
            Options().parseOptions(["--trusted-proxies", "127.0.0.1,300.1.1.1"])
        self.assertEqual(
            str(raised.exception),
            "twistd radiod: error: --trusted-proxies: entry 1: '300.1.1.1' is not an IP "
            "address or network (see twistd radiod --help)",
        )

    def test_validate_and_tuple(self) -> None:
        """
        A list given in code becomes a tuple, and is validated.
        """
        config = StationConfig(trusted_proxies=["127.0.0.1"])  # type: ignore[arg-type]
        self.assertEqual(config.trusted_proxies, ("127.0.0.1",))
        self.assertEqual(config_from_json(config_to_json(config)), config)
        self.assertRaises(ConfigError, validate, StationConfig(trusted_proxies=("x",)))


class ServerTests(SynchronousTestCase):
    """
    The server takes the client's address from a trusted proxy for its
    logs, the access log and the listener.
    """

    def build(self, trusted: tuple[str, ...]) -> tuple[RadioFactory, Mount, list[Access]]:
        clock = Clock()
        config = MountConfig(name="/stream")
        track = TrackInfo("/a.mp3", "Song", "Artist")
        mount = Mount(config, FakeFrameSource([(track, silent_frame(), 1000)]), clock)
        mount.start()
        self.addCleanup(mount.stop)
        station = StationConfig(mounts=(config,), trusted_proxies=trusted)
        factory = RadioFactory(clock, station, {"/stream": mount})
        clock.pump([0.1] * 20)
        seen: list[Access] = []
        factory.on_access.append(seen.append)
        return factory, mount, seen

    def request(self, factory: RadioFactory, peer: str, data: bytes) -> RadioProtocol:
        transport = StringTransport(peerAddress=TwistedIPv4Address("TCP", peer, 41000))
        protocol = factory.buildProtocol(TwistedIPv4Address("TCP", peer, 41000))
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        return protocol

    def test_trusted_proxy(self) -> None:
        """
        Through a trusted proxy, the listener, the server log and the
        access log show the forwarded client.
        """
        factory, mount, seen = self.build(("127.0.0.1",))
        with capturedLogs() as events:
            protocol = self.request(
                factory,
                "127.0.0.1",
                b"GET /stream HTTP/1.1\r\nX-Forwarded-For: 6.6.6.6, 198.51.100.1\r\n\r\n",
            )
        [listener] = mount.listeners
        self.assertEqual(listener.peer, "198.51.100.1")
        self.assertEqual(protocol.peer, "198.51.100.1")
        joined = [e for e in events if "joined" in e["log_format"]]
        self.assertEqual(joined[0]["peer"], "198.51.100.1")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(seen[0].client, "198.51.100.1")

    def test_untrusted_peer(self) -> None:
        """
        From any other peer, the header is ignored.
        """
        factory, mount, seen = self.build(("127.0.0.1",))
        protocol = self.request(
            factory, "192.0.2.7", b"GET /nothing HTTP/1.0\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n"
        )
        self.assertEqual(protocol.peer, "192.0.2.7:41000")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(seen[0].client, "192.0.2.7")

    def test_no_trust_configured(self) -> None:
        """
        Without trusted proxies, even a loopback peer's header is ignored.
        """
        factory, mount, seen = self.build(())
        self.request(
            factory, "127.0.0.1", b"GET /stream HTTP/1.0\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n"
        )
        [listener] = mount.listeners
        self.assertEqual(listener.peer, "127.0.0.1:41000")

    def test_follows_reloaded_config(self) -> None:
        """
        A new configuration (as a reload sets it) changes whom the server
        trusts from the next request on.
        """
        factory, mount, seen = self.build(())
        factory.config = replace(factory.config, trusted_proxies=("127.0.0.0/8",))
        protocol = self.request(
            factory, "127.0.0.2", b"GET /nothing HTTP/1.0\r\nX-Forwarded-For: 198.51.100.1\r\n\r\n"
        )
        self.assertEqual(protocol.peer, "198.51.100.1")
