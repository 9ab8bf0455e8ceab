"""
Tests for L{radiod.wire.admission}: reading the lists of who may listen,
and the refusals they give.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.config import MountConfig, StationConfig
from radiod.wire.admission import (
    Admission,
    ListError,
    Rules,
    parse_addresses,
    parse_agents,
    read_admission,
    refusal,
)


def agents(text: str) -> Rules:
    """
    Rules refusing the user agents of a list file's C{text}.
    """
    return Rules(agents=parse_agents(text, "agents.txt"), agents_file="agents.txt")


def addresses(allow: str = "", deny: str = "") -> Rules:
    """
    Rules from the texts of an allow list and a deny list.
    """
    return Rules(
        allow=parse_addresses(allow, "allow.txt"),
        allow_file="allow.txt",
        deny=parse_addresses(deny, "deny.txt"),
        deny_file="deny.txt",
    )


class AgentTests(SynchronousTestCase):
    """
    User-agent patterns: C{*} for any characters, matched whole, without
    regard to case.
    """

    def test_exact(self) -> None:
        """
        A pattern without C{*} matches that user agent alone, in any case.
        """
        rules = agents("BadBot/1.0\n")
        self.assertIsNotNone(refusal(rules, "192.0.2.1", "badbot/1.0"))
        self.assertIsNone(refusal(rules, "192.0.2.1", "BadBot/1.0 extra"))
        self.assertIsNone(refusal(rules, "192.0.2.1", "VLC/3.0.18"))

    def test_wildcards(self) -> None:
        """
        C{*} stands for any run of characters, none included, anywhere in
        the pattern; other characters (dots, brackets) are plain.
        """
        rules = agents("*bot*\nLavf/*\nWinamp*[x].?\n")
        for agent in ("bot", "Googlebot/2.1", "a BOT", "Lavf/59.27.100", "WinampMPEG[x].?"):
            self.assertIsNotNone(refusal(rules, "192.0.2.1", agent), agent)
        for agent in ("Mozilla/5.0", "xLavf/1", "WinampMPEG[x]ab", "Lavf"):
            self.assertIsNone(refusal(rules, "192.0.2.1", agent), agent)

    def test_reason(self) -> None:
        """
        The reason names the user agent, the pattern, the list and its
        file.
        """
        self.assertEqual(
            refusal(agents("*bot*\n"), "192.0.2.1", "Googlebot"),
            "user agent 'Googlebot' matches '.*bot.*' in deny_agents_file (agents.txt)",
        )

    def test_comments(self) -> None:
        """
        Blank lines and comments are left out; blanks around a pattern
        are not part of it.
        """
        rules = agents("# crawlers\n\n   \n  curl/*  # scripts\n")
        self.assertEqual(len(rules.agents), 1)
        self.assertIsNotNone(refusal(rules, "192.0.2.1", "curl/8.0"))
        self.assertIsNone(refusal(rules, "192.0.2.1", ""))

    def test_every_agent(self) -> None:
        """
        C{*} alone refuses every client, even one without a user agent.
        """
        self.assertIsNotNone(refusal(agents("*"), "192.0.2.1", ""))

    def test_control_characters(self) -> None:
        """
        A pattern with control characters is an error naming the file and
        the line.
        """
        with self.assertRaises(ListError) as caught:
            parse_agents("ok\n\nbad\x00one\n", "agents.txt")
        self.assertEqual(
            str(caught.exception), "agents.txt line 3: control characters in 'bad\\x00one'"
        )


class AddressTests(SynchronousTestCase):
    """
    Address lists: addresses and CIDR networks, IPv4 and IPv6.
    """

    def test_deny_v4(self) -> None:
        """
        An address on the deny list, or in a network on it, is refused;
        others pass.
        """
        rules = addresses(deny="192.0.2.7\n10.0.0.0/8\n")
        self.assertEqual(
            refusal(rules, "192.0.2.7", ""), "address 192.0.2.7 is in deny_ips (deny.txt)"
        )
        self.assertIsNotNone(refusal(rules, "10.200.3.4", ""))
        self.assertIsNone(refusal(rules, "192.0.2.8", ""))
        self.assertIsNone(refusal(rules, "11.0.0.1", ""))

    def test_deny_v6(self) -> None:
        """
        IPv6 addresses and networks are read and matched.
        """
        rules = addresses(deny="2001:db8::/32\n::1\n")
        self.assertIsNotNone(refusal(rules, "2001:db8:1::5", ""))
        self.assertIsNotNone(refusal(rules, "::1", ""))
        self.assertIsNone(refusal(rules, "2001:db9::1", ""))
        self.assertIsNone(refusal(rules, "127.0.0.1", ""))

    def test_mapped(self) -> None:
        """
        An IPv4-mapped client address is matched as the IPv4 address, and
        an IPv4-mapped network in a list as the IPv4 network.
        """
        self.assertIsNotNone(refusal(addresses(deny="192.0.2.0/24"), "::ffff:192.0.2.9", ""))
        rules = addresses(deny="::ffff:198.51.100.0/120")
        self.assertEqual([str(n) for n in rules.deny], ["198.51.100.0/24"])
        self.assertIsNotNone(refusal(rules, "198.51.100.3", ""))

    def test_icecast_wildcards(self) -> None:
        """
        Icecast's trailing wildcards are read as the networks they cover.
        """
        networks = parse_addresses("192.168.1.*\n10.*.*.*\n", "deny.txt")
        self.assertEqual([str(n) for n in networks], ["192.168.1.0/24", "10.0.0.0/8"])

    def test_allow(self) -> None:
        """
        With an allow list, only the addresses on it pass; a client whose
        address cannot be read does not.
        """
        rules = addresses(allow="192.0.2.0/24\n2001:db8::/32\n")
        self.assertIsNone(refusal(rules, "192.0.2.200", ""))
        self.assertIsNone(refusal(rules, "2001:db8::9", ""))
        self.assertEqual(
            refusal(rules, "198.51.100.1", ""),
            "address 198.51.100.1 is not in allow_ips (allow.txt)",
        )
        self.assertIsNotNone(refusal(rules, "-", ""))

    def test_allow_and_deny(self) -> None:
        """
        An address on both lists is refused: the deny list wins.
        """
        rules = addresses(allow="10.0.0.0/8\n", deny="10.0.0.66\n")
        self.assertIsNone(refusal(rules, "10.0.0.65", ""))
        self.assertEqual(
            refusal(rules, "10.0.0.66", ""), "address 10.0.0.66 is in deny_ips (deny.txt)"
        )
        self.assertIsNotNone(refusal(rules, "192.0.2.1", ""))

    def test_no_rules(self) -> None:
        """
        Without lists everyone passes, whatever its address.
        """
        self.assertIsNone(refusal(Rules(), "-", "anything"))

    def test_comments(self) -> None:
        """
        Blank lines and everything after C{#} are left out.
        """
        networks = parse_addresses("# office\n\n192.0.2.1   # desk\n  ::1\n", "deny.txt")
        self.assertEqual([str(n) for n in networks], ["192.0.2.1/32", "::1/128"])

    def test_malformed(self) -> None:
        """
        An entry that is not an address or network is an error naming the
        file and the line.
        """
        with self.assertRaises(ListError) as caught:
            parse_addresses("# list\n192.0.2.1\n10.0.0.300\n", "deny.txt")
        self.assertEqual(
            str(caught.exception), "deny.txt line 3: '10.0.0.300' is not an IP address or network"
        )
        for bad in ("*.1.2.3", "10.*.1.*", "example.org", "10.0.0.0/33"):
            self.assertRaises(ListError, parse_addresses, bad, "deny.txt")

    def test_host_bits(self) -> None:
        """
        A network written with bits set after its prefix is an error that
        says how to write it.
        """
        with self.assertRaises(ListError) as caught:
            parse_addresses("10.1.2.3/8\n", "deny.txt")
        self.assertEqual(
            str(caught.exception),
            "deny.txt line 1: '10.1.2.3/8' has bits set after the prefix "
            "(write the network's first address, such as 10.0.0.0/8)",
        )


class ReadAdmissionTests(SynchronousTestCase):
    """
    L{read_admission} reads the lists of a configuration.
    """

    def reader(self, files: dict[str, str]) -> tuple[list[str], object]:
        """
        A fake file reader over C{files}, and the list of paths it read.
        """
        read: list[str] = []

        def read_text(path: str) -> str:
            read.append(path)
            if path not in files:
                raise FileNotFoundError(2, "No such file or directory", path)
            return files[path]

        return read, read_text

    def test_none(self) -> None:
        """
        A configuration naming no lists reads nothing and refuses no one.
        """
        read, read_text = self.reader({})
        admission = read_admission(StationConfig(), read_text)  # type: ignore[arg-type]
        self.assertEqual(read, [])
        self.assertIsNone(refusal(admission.rules_for("/stream"), "192.0.2.1", "x"))

    def test_mount_replaces_server(self) -> None:
        """
        A mount's own list replaces the server's; a mount without one, its
        rungs, and a mount not configured (a live source's) follow the
        server's.  Each file is read once.
        """
        config = StationConfig(
            deny_ips="server-deny",
            deny_agents_file="agents",
            mounts=(
                MountConfig(name="/a", deny_ips="a-deny", ladder=(64,)),
                MountConfig(name="/b"),
            ),
        )
        read, read_text = self.reader(
            {"server-deny": "192.0.2.1\n", "a-deny": "192.0.2.2\n", "agents": "*bot*\n"}
        )
        admission = read_admission(config, read_text)  # type: ignore[arg-type]
        self.assertEqual(sorted(read), ["a-deny", "agents", "server-deny"])
        for name, refused, passes in [
            ("/a", "192.0.2.2", "192.0.2.1"),
            ("/a-64", "192.0.2.2", "192.0.2.1"),
            ("/b", "192.0.2.1", "192.0.2.2"),
            ("/live", "192.0.2.1", "192.0.2.2"),
        ]:
            rules = admission.rules_for(name)
            self.assertIsNotNone(refusal(rules, refused, ""), name)
            self.assertIsNone(refusal(rules, passes, ""), name)
            self.assertIsNotNone(refusal(rules, passes, "a bot"), name)

    def test_errors(self) -> None:
        """
        A malformed entry names the key, the file and the line; a file that
        cannot be read names the key and the file.
        """
        read, read_text = self.reader({"bad": "192.0.2.1\nnope\n"})
        config = StationConfig(mounts=(MountConfig(name="/a", allow_ips="bad"),))
        with self.assertRaises(ListError) as caught:
            read_admission(config, read_text)  # type: ignore[arg-type]
        self.assertEqual(
            str(caught.exception),
            "mount[0].allow_ips: bad line 2: 'nope' is not an IP address or network",
        )
        with self.assertRaises(ListError) as caught:
            read_admission(StationConfig(deny_agents_file="gone"), read_text)  # type: ignore[arg-type]
        self.assertEqual(
            str(caught.exception),
            "server.deny_agents_file: cannot read gone: No such file or directory",
        )

    def test_not_utf8(self) -> None:
        """
        A file that is not UTF-8 is an error naming the key and the file.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"caf\xe9\n")
        with self.assertRaises(ListError) as caught:
            read_admission(StationConfig(deny_agents_file=path))
        self.assertEqual(
            str(caught.exception),
            f"server.deny_agents_file: cannot read {path}: not UTF-8 text (byte 3)",
        )

    def test_default(self) -> None:
        """
        L{Admission} with no rules refuses no one.
        """
        self.assertIsNone(refusal(Admission().rules_for("/any"), "-", ""))
