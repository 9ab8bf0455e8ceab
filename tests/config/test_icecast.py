"""
Tests for L{radiod.config.icecast}: an Icecast 2.4 C{icecast.xml} read
into a L{StationConfig}, with a warning for each element radiod does not
support and one-line errors naming the file, the line and the element.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from xml.parsers import expat

from twisted.trial.unittest import SkipTest, SynchronousTestCase

import radiod.config.icecast as icecast
from radiod.config import ConfigError, MountConfig, StationConfig
from radiod.config.icecast import (
    EXTRAS,
    Alias,
    IcecastConfig,
    ListenerAuth,
    MountExtras,
    Origin,
    load_icecast_config,
    read_icecast_config,
)
from radiod.config.xmldoc import parse_xml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "icecast")
DEBIAN = "/etc/icecast2/icecast.xml"


def fixture(name: str) -> str:
    """
    The path of a fixture in C{tests/fixtures/icecast}.
    """
    return os.path.join(FIXTURES, name)


def load(text: str, **options: object) -> IcecastConfig:
    """
    Read an C{icecast.xml} given as text (named C{icecast.xml}).
    """
    return load_icecast_config(text.encode("utf-8"), **options)  # type: ignore[arg-type]


def elements(path: str) -> list[tuple[Origin, tuple[Origin, ...]]]:
    """
    Every element of a file, with the elements around it, read with
    expat on its own (not with the code under test).
    """
    parser = expat.ParserCreate()
    stack: list[Origin] = []
    found: list[tuple[Origin, tuple[Origin, ...]]] = []

    def start(name: str, attributes: object) -> None:
        origin = Origin(path, parser.CurrentLineNumber, name)
        found.append((origin, tuple(stack)))
        stack.append(origin)

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: stack.pop()
    with open(path, "rb") as f:
        parser.ParseFile(f)
    return found


class IcecastTestCase(SynchronousTestCase):
    """
    Assertions on what became of a file's elements: carried over, or
    warned about.
    """

    def assertCovered(self, result: IcecastConfig, paths: Sequence[str]) -> None:
        """
        Every element of the files at C{paths} is in C{result.mapped}, or
        it or an element around it is in C{result.warned}; each warning
        names its element once.
        """
        mapped = set(result.mapped)
        warned = set(result.warned)
        self.assertEqual(len(warned), len(result.warned))
        self.assertEqual(len(result.warned), len(result.warnings))
        for warning, origin in zip(result.warnings, result.warned, strict=True):
            self.assertTrue(warning.startswith(str(origin)), warning)
        for path in paths:
            for origin, around in elements(path):
                covered = origin in mapped or origin in warned
                covered = covered or any(outer in warned for outer in around)
                self.assertTrue(covered, f"{origin} neither carried over nor warned about")

    def assertAllAccounted(self, result: IcecastConfig) -> None:
        """
        No element of an inline document went unaccounted for (the sweep
        would have warned "radiod does not know what it means here").
        """
        self.assertFalse([w for w in result.warnings if "does not know" in w])

    def assertWarned(self, result: IcecastConfig, where: str, text: str = "") -> str:
        """
        Exactly one warning starts with C{where} (such as C{"icecast.xml
        line 3: <sources>"}), and it contains C{text}.

        @return: the warning.
        """
        found = [warning for warning in result.warnings if warning.startswith(where)]
        self.assertEqual(len(found), 1, f"{where} in {result.warnings}")
        self.assertIn(text, found[0])
        return found[0]


class ParseTests(SynchronousTestCase):
    """
    The XML itself: malformed documents, declarations that are refused,
    the root element.
    """

    def assertError(self, text: str, message: str) -> None:
        with self.assertRaises(ConfigError) as caught:
            load(text)
        self.assertEqual(str(caught.exception), message)

    def test_malformed(self) -> None:
        """
        Malformed XML is one line with expat's reason, the line and the
        column.
        """
        self.assertError(
            "<icecast>\n  <limits>\n    <clients>5</limits>\n</icecast>\n",
            "icecast.xml line 3: not valid XML: mismatched tag (column 17)",
        )

    def test_empty(self) -> None:
        """
        An empty file is malformed XML.
        """
        self.assertError("", "icecast.xml line 1: not valid XML: no element found (column 1)")

    def test_entity_expansion(self) -> None:
        """
        A document type declaration (the way to define entities, and so
        to expand them exponentially) is refused.
        """
        self.assertError(
            '<?xml version="1.0"?>\n'
            '<!DOCTYPE icecast [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
            "<icecast><location>&b;</location></icecast>\n",
            "icecast.xml line 2: <!DOCTYPE> declarations are not allowed",
        )

    def test_external_entity(self) -> None:
        """
        An external document type (a file or URL to load) is refused, and
        an entity never declared is an error.
        """
        self.assertError(
            '<!DOCTYPE icecast SYSTEM "file:///etc/passwd">\n<icecast/>\n',
            "icecast.xml line 1: <!DOCTYPE> declarations are not allowed",
        )
        self.assertError(
            "<icecast>\n<location>&secret;</location>\n</icecast>\n",
            "icecast.xml line 2: not valid XML: undefined entity (column 11)",
        )

    def test_root(self) -> None:
        """
        The root element must be C{<icecast>}.
        """
        self.assertError(
            "<!-- comment -->\n<shoutcast/>\n",
            "icecast.xml line 2: the root element must be <icecast>, not <shoutcast>",
        )

    def test_text(self) -> None:
        """
        An element's text is its own (not its children's), with the
        standard entities and character references replaced, CDATA
        included, and spaces around it stripped.
        """
        result = load(
            "<icecast>\n<authentication>\n"
            "<source-password>  a&amp;b&#x41;<![CDATA[<c>]]>\n</source-password>\n"
            "</authentication>\n</icecast>\n"
        )
        self.assertEqual(result.station.source_password, "a&bA<c>")

    def test_encoding(self) -> None:
        """
        The document's declared encoding is honoured.
        """
        data = (
            '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
            "<icecast><mount><mount-name>/a</mount-name>"
            "<stream-name>Caf\xe9</stream-name></mount></icecast>"
        ).encode("latin-1")
        result = load_icecast_config(data)
        self.assertEqual(result.station.mounts[1].station_name, "Café")

    def test_filename(self) -> None:
        """
        Messages name the file as given.
        """
        with self.assertRaises(ConfigError) as caught:
            load_icecast_config(b"<icecast>", "/etc/icecast2/icecast.xml")
        self.assertTrue(str(caught.exception).startswith("/etc/icecast2/icecast.xml line 1: "))


class BadValueTests(SynchronousTestCase):
    """
    Values that cannot be used are errors naming the file, the line and
    the element.
    """

    def assertError(self, text: str, message: str, **options: object) -> None:
        with self.assertRaises(ConfigError) as caught:
            load(text, **options)
        self.assertEqual(str(caught.exception), message)
        self.assertNotIn("\n", str(caught.exception))

    def test_port_out_of_range(self) -> None:
        """
        A port of 70000.
        """
        self.assertError(
            "<icecast>\n  <listen-socket>\n    <port>70000</port>\n  </listen-socket>\n</icecast>",
            "icecast.xml line 3: <port>: must be between 0 and 65535, not 70000",
        )

    def test_negative_limit(self) -> None:
        """
        A negative limit.
        """
        for name in ("clients", "sources", "queue-size", "burst-size", "source-timeout"):
            self.assertError(
                f"<icecast>\n<limits>\n<{name}>-5</{name}>\n</limits>\n</icecast>",
                f"icecast.xml line 3: <{name}>: must be 0 or more, not -5",
            )

    def test_not_a_number(self) -> None:
        """
        Numbers must be integers: Icecast's C{atoi} would read C{"8k"} as
        8, radiod refuses it.
        """
        self.assertError(
            "<icecast><limits>\n<burst-size>8k</burst-size>\n</limits></icecast>",
            "icecast.xml line 2: <burst-size>: must be an integer, not '8k'",
        )

    def test_not_a_flag(self) -> None:
        """
        An on/off value is an integer or a word such as C{true}.
        """
        self.assertError(
            "<icecast><listen-socket><port>8000</port>\n<ssl>maybe</ssl></listen-socket></icecast>",
            "icecast.xml line 2: <ssl>: must be 0 or 1, not 'maybe'",
        )

    def test_max_listeners(self) -> None:
        """
        A mount's C{max-listeners} is -1 (no limit) or more.
        """
        self.assertError(
            "<icecast><mount><mount-name>/a</mount-name>\n"
            "<max-listeners>-2</max-listeners></mount></icecast>",
            "icecast.xml line 2: <max-listeners>: must be -1 or more, not -2",
        )

    def test_relay_port(self) -> None:
        """
        A relay needs the upstream's port, between 1 and 65535.
        """
        self.assertError(
            "<icecast>\n<relay><server>up</server><mount>/m</mount></relay></icecast>",
            "icecast.xml line 2: <relay>: needs a <port> (the upstream server's)",
        )
        self.assertError(
            "<icecast>\n<relay><server>up</server>\n<port>0</port></relay></icecast>",
            "icecast.xml line 3: <port>: must be between 1 and 65535, not 0",
        )

    def test_relay_mount(self) -> None:
        """
        A relay's upstream mount starts with a slash.
        """
        self.assertError(
            "<icecast>\n<relay><port>8000</port>\n<mount>live</mount></relay></icecast>",
            "icecast.xml line 3: <mount>: must start with \"/\", not 'live'",
        )

    def test_master_port(self) -> None:
        """
        The master's port is between 1 and 65535.
        """
        self.assertError(
            "<icecast>\n<master-server>m</master-server>\n"
            "<master-server-port>70000</master-server-port></icecast>",
            "icecast.xml line 3: <master-server-port>: must be between 1 and 65535, not 70000",
        )

    def test_ssl_without_certificate(self) -> None:
        """
        A TLS listening socket needs a certificate.
        """
        self.assertError(
            "<icecast><listen-socket><port>8000</port></listen-socket>\n"
            "<listen-socket><port>8443</port><ssl>1</ssl></listen-socket></icecast>",
            "icecast.xml line 2: <listen-socket>: <ssl> needs an <ssl-certificate> in <paths>",
        )

    def test_alias_port(self) -> None:
        """
        An alias's port attribute is an integer.
        """
        self.assertError(
            '<icecast><paths>\n<alias source="/" destination="/x" port="http"/></paths></icecast>',
            "icecast.xml line 2: <alias>: port must be an integer, not 'http'",
        )


class CheckTests(SynchronousTestCase):
    """
    The configuration built goes through radiod's own checks; what they
    refuse is told blaming the element the value came from.
    """

    def assertError(self, text: str, message: str, **options: object) -> None:
        with self.assertRaises(ConfigError) as caught:
            load(text, **options)
        self.assertEqual(str(caught.exception), message)

    def test_burst_and_queue(self) -> None:
        """
        A burst as large as the queue blames the burst size, where it was
        set.
        """
        self.assertError(
            "<icecast>\n<limits>\n<burst-size>600000</burst-size>\n</limits>\n</icecast>",
            "icecast.xml line 3: <burst-size>: must be smaller than queue_size (524288)",
        )

    def test_queue_and_burst(self) -> None:
        """
        When only the queue size is set, it is the one blamed.
        """
        self.assertError(
            "<icecast>\n<mount><mount-name>/a</mount-name>\n"
            "<queue-size>32768</queue-size></mount></icecast>",
            "icecast.xml line 3: <queue-size>: must be larger than burst_size (65536)",
        )

    def test_mount_name(self) -> None:
        """
        A mount name radiod refuses blames C{<mount-name>}.
        """
        self.assertError(
            "<icecast>\n<mount>\n<mount-name>/my stream</mount-name></mount></icecast>",
            "icecast.xml line 3: <mount-name>: must not contain spaces: '/my stream'",
        )

    def test_metaint(self) -> None:
        """
        An ICY metadata interval out of radiod's range.
        """
        self.assertError(
            "<icecast><mount><mount-name>/a</mount-name>\n"
            "<mp3-metadata-interval>100</mp3-metadata-interval></mount></icecast>",
            "icecast.xml line 2: <mp3-metadata-interval>: must be between 256 and 65535, not 100",
        )

    def test_fallback_loop(self) -> None:
        """
        Fallbacks going round in a loop blame the first C{<fallback-mount>}.
        """
        self.assertError(
            "<icecast>\n"
            "<mount><mount-name>/a</mount-name>\n<fallback-mount>/b</fallback-mount></mount>\n"
            "<mount><mount-name>/b</mount-name>\n<fallback-mount>/a</fallback-mount></mount>\n"
            "</icecast>",
            "icecast.xml line 3: <fallback-mount>: fallbacks go round in a loop: /a -> /b -> /a",
        )

    def test_tls_port(self) -> None:
        """
        A TLS port on the SHOUTcast source port blames its C{<port>}.
        """
        self.assertError(
            "<icecast><listen-socket><port>8000</port></listen-socket>\n"
            "<listen-socket>\n<port>8001</port><ssl>1</ssl></listen-socket>\n"
            "<paths><ssl-certificate>/etc/cert.pem</ssl-certificate></paths></icecast>",
            "icecast.xml line 3: <port>: must differ from port (8000) and the SHOUTcast "
            "source port after it",
        )

    def test_relay_url(self) -> None:
        """
        A relay URL radiod cannot read blames the C{<relay>}.
        """
        self.assertError(
            "<icecast>\n<relay><server>up stream</server><port>8000</port><mount>/m</mount>"
            "</relay></icecast>",
            "icecast.xml line 2: <relay>: must be a URL without spaces or control "
            "characters: 'http://up stream:8000/m'",
        )

    def test_base(self) -> None:
        """
        A check that fails on a value the file did not set names the key.
        """
        base = StationConfig(workers=2)
        self.assertError(
            "<icecast>\n<mount><mount-name>/a</mount-name></mount></icecast>",
            "icecast.xml line 2: <mount>: needs workers = 1 (one process takes the live sources)",
            base=base,
        )
        self.assertError(
            "<icecast/>",
            "icecast.xml: mount[0].burst_size: must be smaller than queue_size (524288)",
            base=StationConfig(mounts=(MountConfig(burst_size=1024 * 1024),)),
        )

    def test_paths(self) -> None:
        """
        With C{path_exists}, file paths are checked.
        """
        self.assertError(
            "<icecast><listen-socket><port>8000</port></listen-socket>\n"
            "<listen-socket><port>8443</port><ssl>1</ssl></listen-socket>\n"
            "<paths>\n<ssl-certificate>/nothere.pem</ssl-certificate></paths></icecast>",
            "icecast.xml line 4: <ssl-certificate>: no such file: /nothere.pem",
            path_exists=lambda path: False,
        )


class ListenerListTests(SynchronousTestCase):
    """
    C{<paths><deny-ip>} and C{<allow-ip>} become the station's
    C{deny_ips} and C{allow_ips}; a mount's C{<fallback-when-full>} its
    C{fallback_when_full}.
    """

    def test_address_lists(self) -> None:
        """
        The files of denied and allowed addresses carry over, without a
        warning.
        """
        result = load(
            "<icecast><paths><deny-ip>/etc/icecast/deny.txt</deny-ip>"
            "<allow-ip>/etc/icecast/allow.txt</allow-ip></paths></icecast>"
        )
        station = result.station
        self.assertEqual(
            (station.deny_ips, station.allow_ips),
            ("/etc/icecast/deny.txt", "/etc/icecast/allow.txt"),
        )
        self.assertEqual(result.warnings, ())

    def test_missing_list(self) -> None:
        """
        With C{path_exists}, a list file that does not exist blames its
        element.
        """
        with self.assertRaises(ConfigError) as caught:
            load(
                "<icecast>\n<paths>\n<deny-ip>/nothere.txt</deny-ip>\n</paths>\n</icecast>",
                path_exists=lambda path: False,
            )
        self.assertEqual(
            str(caught.exception), "icecast.xml line 3: <deny-ip>: no such file: /nothere.txt"
        )

    def test_fallback_when_full(self) -> None:
        """
        A mount with a fallback that sends its extra listeners there keeps
        doing so, without a warning.
        """
        result = load(
            "<icecast><mount><mount-name>/live</mount-name>"
            "<fallback-mount>/auto</fallback-mount>"
            "<fallback-when-full>1</fallback-when-full></mount>"
            "<mount><mount-name>/auto</mount-name></mount></icecast>"
        )
        live = result.station.mounts[1]
        self.assertEqual((live.fallback, live.fallback_when_full), ("/auto", True))
        self.assertEqual(result.warnings, ())

    def test_fallback_when_full_without_fallback(self) -> None:
        """
        Without a fallback mount, C{<fallback-when-full>} has nowhere to
        send listeners: it is warned about and left off.
        """
        result = load(
            "<icecast>\n<mount>\n<mount-name>/live</mount-name>\n"
            "<fallback-when-full>1</fallback-when-full>\n</mount>\n</icecast>"
        )
        self.assertFalse(result.station.mounts[1].fallback_when_full)
        self.assertEqual(
            result.warnings,
            (
                "icecast.xml line 4: <fallback-when-full>: /live has no fallback mount, "
                "so its listeners beyond the limit are refused",
            ),
        )


class FixtureTests(IcecastTestCase):
    """
    The example configurations in C{tests/fixtures/icecast}, in the shapes
    of Icecast's own examples.
    """

    def test_minimal(self) -> None:
        """
        The minimal configuration: the port, the limits, the passwords,
        the access log; the base's mount plays on, with the file's queue
        and burst sizes.
        """
        path = fixture("minimal.xml")
        result = read_icecast_config(path)
        station = result.station
        self.assertEqual(
            (station.port, station.interface, station.max_listeners, station.header_timeout),
            (8010, "", 50, 10.0),
        )
        self.assertEqual(
            (station.source_password, station.admin_user, station.admin_password),
            ("small-source", "boss", "small-admin"),
        )
        self.assertEqual(station.access_log, "/var/log/small-radio/access.log")
        self.assertEqual(station.public_url, "")
        [mount] = station.mounts
        self.assertEqual(
            mount,
            MountConfig(burst_size=32768, queue_size=262144),
        )
        self.assertWarned(result, f"{path} line 6: <sources>", "no limit on sources")
        self.assertWarned(result, f"{path} line 8: <client-timeout>")
        self.assertWarned(result, f"{path} line 10: <source-timeout>")
        self.assertWarned(result, f"{path} line 16: <relay-password>")
        self.assertWarned(result, f"{path} line 21: <hostname>", "public_url stays empty")
        self.assertWarned(result, f"{path} line 32: <adminroot>")
        self.assertEqual(len(result.warnings), 6)
        self.assertEqual(station.webroot, "/usr/share/small-radio/web")
        self.assertEqual(station.error_log, "/var/log/small-radio/error.log")
        self.assertEqual(station.error_log_level, 3)
        self.assertIn(Origin(path, 30, "logdir"), result.mapped)
        self.assertEqual(result.origins[("server", "port")], Origin(path, 24, "port"))
        self.assertEqual(result.origins[("mount", 0, "queue_size")], Origin(path, 7, "queue-size"))
        self.assertCovered(result, [path])

    def test_shoutcast(self) -> None:
        """
        The SHOUTcast-compatible configuration: the mount the listening
        socket names for SHOUTcast sources is live-only and comes first,
        since radiod puts v1 sources (on the port after its own) on its
        first mount; the host name makes the public URL.
        """
        path = fixture("shoutcast.xml")
        result = read_icecast_config(path)
        station = result.station
        self.assertEqual(station.port, 8200)
        self.assertEqual(station.public_url, "http://stream.example.org:8200")
        self.assertEqual(station.source_password, "dsp-password")
        self.assertEqual([m.name for m in station.mounts], ["/live", "/stream"])
        live = station.mounts[0]
        self.assertEqual(
            live,
            MountConfig(
                name="/live",
                live_only=True,
                fallback_override=False,
                public_url="http://stream.example.org:8200",
            ),
        )
        self.assertEqual(station.mounts[1], MountConfig(public_url=station.public_url))
        self.assertWarned(
            result, f"{path} line 25: <shoutcast-mount>", "so /live comes first (and /; reaches it)"
        )
        self.assertWarned(result, f"{path} line 16: <directory>", "no directory")
        self.assertCovered(result, [path])

    def test_url_authentication(self) -> None:
        """
        The URL-authentication configuration: the mount is declared,
        live-only, and each option of its authentication sets the key
        of the same meaning; the alias and the webroot carry over.
        """
        path = fixture("urlauth.xml")
        result = read_icecast_config(path)
        station = result.station
        self.assertEqual([m.name for m in station.mounts], ["/stream", "/members.mp3"])
        hooks = "http://auth.example.org/hooks/"
        self.assertEqual(
            station.mounts[1],
            MountConfig(
                name="/members.mp3",
                live_only=True,
                fallback_override=False,
                burst_size=65536,
                queue_size=524288,
                auth_mount_add=hooks + "mount.php",
                auth_mount_remove=hooks + "mount.php",
                auth_listener_add=hooks + "listener.php",
                auth_listener_remove=hooks + "listener.php",
                auth_stream=hooks + "source.php",
                auth_user="radio",
                auth_password="hook-secret",
                auth_headers=("Referer", "Cookie"),
                auth_header_prefix="hdr_",
            ),
        )
        self.assertFalse([w for w in result.warnings if "authentication" in w or "option" in w])
        self.assertEqual(result.origins[("mount", 1, "auth_stream")], Origin(path, 34, "option"))
        extras = result.extras.mount("/members.mp3")
        assert extras is not None and extras.authentication is not None
        self.assertEqual(extras.authentication.type, "url")
        self.assertEqual(station.aliases, ("/=/status.xsl",))
        self.assertEqual(result.extras.aliases, (Alias("/", "/status.xsl"),))
        self.assertEqual(station.webroot, "/usr/share/members-radio/web")
        self.assertWarned(result, f"{path} line 47: <basedir>")
        self.assertCovered(result, [path])

    def test_other_authentication(self) -> None:
        """
        Listener authentication other than by URL (htpasswd, a command)
        is warned about, with its options, and sets nothing; an unknown
        option of URL authentication is warned about alone.
        """
        result = load(
            "<icecast><mount><mount-name>/m</mount-name>\n"
            '<authentication type="htpasswd">\n'
            '<option name="filename" value="/etc/users"/></authentication></mount>\n'
            "<mount><mount-name>/n</mount-name>\n"
            '<authentication type="url">\n'
            '<option name="listener_add" value="http://a.example/add"/>\n'
            '<option name="presence" value="1"/></authentication></mount></icecast>'
        )
        m, n = result.station.mounts[1:]
        self.assertEqual(m.auth_listener_add, "")
        self.assertEqual(n.auth_listener_add, "http://a.example/add")
        self.assertEqual(
            result.warnings,
            (
                "icecast.xml line 2: <authentication> is not supported by radiod: radiod "
                'authenticates listeners by URL only, not "htpasswd"',
                "icecast.xml line 7: <option> is not supported by radiod: radiod has no URL "
                'authentication option "presence"',
            ),
        )

    def test_everything(self) -> None:
        """
        The configuration with every supported element: each one's value
        is where radiod keeps it.
        """
        path = fixture("everything.xml")
        result = read_icecast_config(path)
        station = result.station
        self.assertEqual(station.port, 8100)
        self.assertEqual(station.interface, "192.0.2.10")
        self.assertEqual(station.send_buffer, 131072)
        self.assertEqual((station.tls_port, station.tls_cert), (8443, "/etc/radio/radio.pem"))
        self.assertEqual(station.max_listeners, 250)
        self.assertEqual(station.header_timeout, 20.0)
        self.assertEqual(
            (station.source_password, station.admin_user, station.admin_password),
            ("studio-source", "operator", "desk-secret"),
        )
        self.assertEqual(station.public_url, "http://radio.example.org:8100")
        self.assertEqual(station.origin, "http://origin.example.org:8200")
        self.assertEqual(station.access_log, "/var/log/radio/access.log")
        self.assertEqual(station.playlist_log, "/var/log/radio/playlist.log")
        self.assertEqual(
            [m.name for m in station.mounts], ["/studio", "/stream", "/news", "/autodj"]
        )
        studio, stream, news, autodj = station.mounts
        self.assertEqual(
            studio,
            MountConfig(
                name="/studio",
                live_only=True,
                source_password="studio-mount-pass",
                max_listeners=500,
                fallback="/autodj",
                fallback_override=True,
                fallback_when_full=True,
                burst_size=65536,
                queue_size=524288,
                public=True,
                station_name="Studio B Live",
                description="Live from Studio B",
                genre="Talk & Jazz",
                url="https://radio.example.org/",
                charset="latin-1",
                metaint=8192,
                dump_file="/var/lib/radio/studio.mp3",
                intro="/srv/radio/web/studio-intro.mp3",
                public_url=station.public_url,
            ),
        )
        self.assertEqual(
            stream,
            MountConfig(burst_size=131072, queue_size=1048576, public_url=station.public_url),
        )
        self.assertEqual(
            news,
            MountConfig(
                name="/news",
                live_only=True,
                fallback_override=False,
                relay="http://upstream.example.net:8000/news.mp3",
                public=False,
                burst_size=131072,
                queue_size=1048576,
                intro="/srv/radio/web/intro.mp3",
                public_url=station.public_url,
            ),
        )
        self.assertEqual(
            autodj,
            MountConfig(
                name="/autodj",
                live_only=True,
                fallback_override=False,
                station_name="Studio B Automation",
                public=False,
                burst_size=131072,
                queue_size=1048576,
                intro="/srv/radio/web/intro.mp3",
                hidden=True,
                public_url=station.public_url,
            ),
        )
        self.assertEqual(
            (station.location, station.admin_contact),
            ("Studio B, Lyon", "ops@radio.example.org"),
        )
        self.assertEqual(
            (station.webroot, station.error_log, station.error_log_level),
            ("/srv/radio/web", "/var/log/radio/error.log", 3),
        )
        self.assertEqual(station.aliases, ("/=/status.xsl", "/listen=/studio"))
        extras = result.extras
        self.assertEqual(
            (extras.location, extras.admin, extras.hostname),
            ("Studio B, Lyon", "ops@radio.example.org", "radio.example.org"),
        )
        self.assertEqual(
            (extras.webroot, extras.log_dir, extras.error_log),
            ("/srv/radio/web", "/var/log/radio", "error.log"),
        )
        self.assertEqual(
            extras.aliases,
            (Alias("/", "/status.xsl"), Alias("/listen", "/studio", 8100, "192.0.2.10")),
        )
        self.assertEqual(
            extras.mount("/studio"),
            MountExtras(
                name="/studio",
                intro="/studio-intro.mp3",
                authentication=ListenerAuth(
                    "htpasswd",
                    (("filename", "/etc/radio/listeners.htpasswd"), ("allow_duplicate_users", "0")),
                ),
            ),
        )
        self.assertEqual(
            extras.mount("/autodj"),
            MountExtras(name="/autodj", intro="/intro.mp3", hidden=True, username="autodj"),
        )
        self.assertEqual(extras.mount("/news"), MountExtras("/news", intro="/intro.mp3"))
        self.assertCovered(result, [path])

    def test_everything_warnings(self) -> None:
        """
        The elements of the full configuration that do not carry over, or
        carry over differently, are each warned about once, in the order
        of the file.
        """
        path = fixture("everything.xml")
        result = read_icecast_config(path)
        expected = [
            (12, "sources"),
            (17, "source-timeout"),
            (18, "client-timeout"),
            (23, "relay-user"),
            (24, "relay-password"),
            (32, "shoutcast-mount"),
            (41, "master-server"),
            (43, "master-update-interval"),
            (44, "master-username"),
            (45, "master-password"),
            (82, "authentication"),
            (90, "username"),
            (100, "alias"),
        ]
        self.assertEqual([(origin.line, origin.element) for origin in result.warned], expected)
        self.assertWarned(
            result,
            f"{path} line 41: <master-server>",
            "radiod mirrors the mounts of another radiod (its /api/v1/status)",
        )
        self.assertWarned(
            result, f"{path} line 100: <alias>", "radiod answers it on every port and address"
        )
        self.assertWarned(result, f"{path} line 90: <username>", 'log in as "source"')

    def test_everything_used(self) -> None:
        """
        A caller that uses the extras is not warned about them.
        """
        path = fixture("everything.xml")
        result = read_icecast_config(path, used=EXTRAS)
        self.assertEqual(
            [(origin.line, origin.element) for origin in result.warned],
            [
                (12, "sources"),
                (17, "source-timeout"),
                (18, "client-timeout"),
                (23, "relay-user"),
                (24, "relay-password"),
                (32, "shoutcast-mount"),
                (41, "master-server"),
                (43, "master-update-interval"),
                (44, "master-username"),
                (45, "master-password"),
                (82, "authentication"),
                (100, "alias"),
            ],
        )
        self.assertCovered(result, [path])

    def test_base_music(self) -> None:
        """
        A base whose mount has the name of an Icecast mount keeps its
        music: that mount is not live-only, and another mount falling back
        to it falls back to its music.
        """
        base = StationConfig(mounts=(MountConfig(name="/autodj", music=FIXTURES),))
        result = read_icecast_config(fixture("everything.xml"), base)
        station = result.station
        self.assertEqual([m.name for m in station.mounts], ["/studio", "/autodj", "/news"])
        autodj = station.mounts[1]
        self.assertEqual(autodj.music, FIXTURES)
        self.assertFalse(autodj.live_only)
        self.assertEqual(autodj.station_name, "Studio B Automation")
        self.assertEqual(station.mounts[0].fallback, "/autodj")

    def test_include(self) -> None:
        """
        Each C{<include>} puts the root element of the files it names in
        its place; a relative path is taken from the including file's
        folder, a pattern takes every file it matches in order of name,
        and warnings name the included file.
        """
        path = fixture("include.xml")
        result = read_icecast_config(path)
        station = result.station
        self.assertEqual(station.port, 8400)
        self.assertEqual(station.source_password, "split-source")
        self.assertEqual([m.name for m in station.mounts], ["/stream", "/world.mp3", "/a", "/b"])
        self.assertEqual(station.mounts[1].relay, "http://upstream.example.net:8000/world.mp3")
        self.assertEqual(station.mounts[2].station_name, "Channel A")
        self.assertEqual(station.mounts[3].fallback, "/a")
        included = fixture(os.path.join("included", "mount-a.xml"))
        self.assertEqual(
            result.warnings,
            (
                f"{included} line 4: <server-side-playlist> is not supported by radiod: "
                "not an Icecast 2.4 setting of <mount>",
            ),
        )
        self.assertEqual(
            result.origins[("mount", 3, "fallback")],
            Origin(fixture(os.path.join("included", "mount-b.xml")), 4, "fallback-mount"),
        )
        self.assertCovered(
            result,
            [path]
            + [fixture(os.path.join("included", name)) for name in ("relay.xml", "mount-a.xml")]
            + [fixture(os.path.join("included", "mount-b.xml"))],
        )


class DebianTests(IcecastTestCase):
    """
    The C{icecast.xml} Debian's icecast2 package installs, read where it
    put it.
    """

    def setUp(self) -> None:
        if not os.access(DEBIAN, os.R_OK):
            raise SkipTest(f"{DEBIAN} cannot be read here (is icecast2 installed?)")

    def test_debian(self) -> None:
        """
        Debian's configuration listens on port 8000 and defines no mount
        or relay (its examples are comments), so the station keeps its one
        default mount, with Icecast's queue and burst sizes; every element
        carries over or is warned about.
        """
        result = read_icecast_config(DEBIAN)
        station = result.station
        self.assertEqual(station.port, 8000)
        self.assertEqual(station.max_listeners, 100)
        self.assertEqual(station.header_timeout, 15.0)
        self.assertEqual([m.name for m in station.mounts], ["/stream"])
        self.assertFalse([m for m in station.mounts if m.relay or m.live_only])
        self.assertEqual(station.origin, "")
        self.assertEqual(station.mounts[0].queue_size, 524288)
        self.assertEqual(station.mounts[0].burst_size, 65535)
        self.assertEqual(station.access_log, "/var/log/icecast2/access.log")
        self.assertTrue(station.source_password)
        self.assertTrue(station.admin_password)
        self.assertEqual(station.location, "Earth")
        self.assertEqual(station.webroot, "/usr/share/icecast2/web")
        self.assertEqual(station.aliases, ("/=/status.xsl",))
        self.assertEqual(station.error_log, "/var/log/icecast2/error.log")
        self.assertEqual(station.error_log_level, 3)
        warned = {origin.element for origin in result.warned}
        self.assertTrue({"sources", "relay-password", "http-headers", "logsize"} <= warned)
        self.assertFalse({"location", "webroot", "alias", "errorlog", "loglevel"} & warned)
        self.assertCovered(result, [DEBIAN])


class MappingTests(IcecastTestCase):
    """
    Each element, read from small documents.
    """

    def test_deny_agents(self) -> None:
        """
        Icecast-KH's C{<paths><deny-agents>} (which AzuraCast writes) is
        the user-agent deny list.
        """
        result = load(
            "<icecast><paths><deny-agents>/etc/agents.txt</deny-agents></paths></icecast>"
        )
        self.assertEqual(result.station.deny_agents_file, "/etc/agents.txt")
        self.assertEqual(result.warnings, ())

    def test_files_in_webroot(self) -> None:
        """
        An intro is found in the webroot, as Icecast finds it; a webroot or
        an intro that is not there (when paths are checked) is warned
        about and left out, as Icecast starts without them; C{fileserve}
        off serves no webroot.
        """
        text = (
            "<icecast><paths><webroot>/srv/web</webroot></paths>\n"
            "<mount><mount-name>/a</mount-name><intro>/in.mp3</intro></mount>\n"
            "<mount><mount-name>/b</mount-name>\n<intro>/gone.mp3</intro></mount>{}</icecast>"
        )
        exists = {"/srv/web", "/srv/web/in.mp3"}.__contains__
        result = load(text.format(""), path_exists=exists)
        a, b = result.station.mounts[1:]
        self.assertEqual(
            (result.station.webroot, a.intro, b.intro), ("/srv/web", "/srv/web/in.mp3", "")
        )
        self.assertEqual(
            result.warnings,
            (
                "icecast.xml line 4: <intro>: no such file, /srv/web/gone.mp3: listeners "
                "join without an intro",
            ),
        )
        result = load(text.format(""), path_exists=lambda path: False)
        self.assertEqual(result.station.webroot, "")
        self.assertIn(
            "icecast.xml line 1: <webroot>: no such folder, /srv/web: radiod serves no files",
            result.warnings,
        )
        result = load(text.format("<fileserve>0</fileserve>"))
        self.assertEqual(result.station.webroot, "")
        self.assertEqual(result.station.mounts[1].intro, "/srv/web/in.mp3")

    def test_listen_sockets(self) -> None:
        """
        The first plain listening socket gives the port and address; any
        other plain one is warned about.
        """
        result = load(
            "<icecast>\n"
            "<listen-socket><port>8010</port>\n<bind-address>::1</bind-address></listen-socket>\n"
            "<listen-socket>\n<port>8080</port></listen-socket>\n"
            "</icecast>"
        )
        self.assertEqual((result.station.port, result.station.interface), (8010, "::1"))
        self.assertEqual(
            result.warnings,
            (
                "icecast.xml line 4: <listen-socket> is not supported by radiod: radiod "
                "listens on one port, 8010 (and tls_port)",
            ),
        )

    def test_socket_without_port(self) -> None:
        """
        A listening socket without a port listens on 8000, as in Icecast.
        """
        result = load("<icecast><listen-socket/></icecast>", base=StationConfig(port=9000))
        self.assertEqual(result.station.port, 8000)

    def test_top_level_port(self) -> None:
        """
        The old top-level C{<port>} and C{<bind-address>} are read when no
        C{<listen-socket>} is given, and warned about otherwise.
        """
        result = load("<icecast><port>8020</port><bind-address>127.0.0.1</bind-address></icecast>")
        self.assertEqual((result.station.port, result.station.interface), (8020, "127.0.0.1"))
        self.assertEqual(result.warnings, ())
        result = load(
            "<icecast>\n<port>8020</port>\n<listen-socket><port>8030</port></listen-socket>"
            "</icecast>"
        )
        self.assertEqual(result.station.port, 8030)
        self.assertWarned(result, "icecast.xml line 2: <port>", "a <listen-socket> sets it")

    def test_shoutcast_compat(self) -> None:
        """
        A C{<shoutcast-compat>} socket on the port after the main one is
        radiod's SHOUTcast source port, for the top-level
        C{<shoutcast-mount>} (C{/stream} by default); on another port it is
        warned about.
        """
        result = load(
            "<icecast><shoutcast-mount>/dsp</shoutcast-mount>\n"
            "<listen-socket><port>8000</port></listen-socket>\n"
            "<listen-socket><port>8001</port><shoutcast-compat>1</shoutcast-compat>"
            "</listen-socket>\n"
            "</icecast>"
        )
        self.assertEqual([m.name for m in result.station.mounts], ["/dsp", "/stream"])
        self.assertWarned(result, "icecast.xml line 1: <shoutcast-mount>", "so /dsp comes first")
        self.assertAllAccounted(result)
        result = load(
            "<icecast><listen-socket><port>8000</port></listen-socket>\n"
            "<listen-socket><port>8001</port><shoutcast-compat>1</shoutcast-compat>"
            "</listen-socket></icecast>"
        )
        self.assertEqual([m.name for m in result.station.mounts], ["/stream"])
        self.assertEqual(result.warnings, ())
        result = load(
            "<icecast><listen-socket><port>8000</port></listen-socket>\n"
            "<listen-socket><port>9001</port><shoutcast-compat>1</shoutcast-compat>"
            "</listen-socket></icecast>"
        )
        self.assertWarned(
            result, "icecast.xml line 2: <listen-socket>", "SHOUTcast v1 sources on port 8001"
        )

    def test_shoutcast_mount_unused(self) -> None:
        """
        A top-level C{<shoutcast-mount>} with no SHOUTcast socket is warned
        about: radiod takes SHOUTcast sources for its first mount anyway.
        """
        result = load("<icecast>\n<shoutcast-mount>/dsp</shoutcast-mount></icecast>")
        self.assertWarned(result, "icecast.xml line 2: <shoutcast-mount>", "for its first mount")
        self.assertEqual([m.name for m in result.station.mounts], ["/stream"])

    def test_shoutcast_existing_mount(self) -> None:
        """
        The SHOUTcast mount may be one the base has: it moves first.
        """
        base = StationConfig(mounts=(MountConfig(name="/a"), MountConfig(name="/b")))
        result = load(
            "<icecast><listen-socket><port>8000</port>\n"
            "<shoutcast-mount>/b</shoutcast-mount></listen-socket></icecast>",
            base=base,
        )
        self.assertEqual(result.station.mounts, (MountConfig(name="/b"), MountConfig(name="/a")))
        result = load(
            "<icecast><listen-socket><port>8000</port>\n"
            "<shoutcast-mount>/a</shoutcast-mount></listen-socket></icecast>",
            base=base,
        )
        self.assertEqual(result.station.mounts, base.mounts)
        self.assertEqual(result.warnings, ())

    def test_tls(self) -> None:
        """
        A socket with C{<ssl>1</ssl>} is the TLS port, with the
        certificate from C{<paths>}; a second is warned about, and so is a
        different address for it.
        """
        result = load(
            "<icecast><listen-socket><port>8000</port></listen-socket>\n"
            "<listen-socket><port>8443</port><ssl>1</ssl>\n"
            "<bind-address>10.0.0.1</bind-address></listen-socket>\n"
            "<listen-socket><port>9443</port><ssl>1</ssl></listen-socket>\n"
            "<paths><ssl-certificate>/etc/radio.pem</ssl-certificate></paths></icecast>"
        )
        station = result.station
        self.assertEqual(
            (station.tls_port, station.tls_cert, station.tls_key), (8443, "/etc/radio.pem", "")
        )
        self.assertWarned(result, "icecast.xml line 3: <bind-address>", "listens on '' too")
        self.assertWarned(result, "icecast.xml line 4: <listen-socket>", "one TLS port, 8443")

    def test_certificate_without_tls(self) -> None:
        """
        A certificate no socket uses is warned about.
        """
        result = load(
            "<icecast><paths>\n<ssl-certificate>/etc/radio.pem</ssl-certificate></paths></icecast>"
        )
        self.assertEqual(result.station.tls_cert, "")
        self.assertWarned(result, "icecast.xml line 2: <ssl-certificate>", "<ssl>1</ssl>")

    def test_hostname(self) -> None:
        """
        The host name with the port makes the public URL (port 80 left
        out, IPv6 addresses in brackets).
        """
        cases = [
            ("radio.example.org", 8000, "http://radio.example.org:8000"),
            ("radio.example.org", 80, "http://radio.example.org"),
            ("2001:db8::1", 8000, "http://[2001:db8::1]:8000"),
        ]
        for host, port, url in cases:
            result = load(
                f"<icecast><hostname>{host}</hostname>"
                f"<listen-socket><port>{port}</port></listen-socket></icecast>"
            )
            self.assertEqual(result.station.public_url, url)
            self.assertEqual(result.extras.hostname, host)
            self.assertEqual(result.warnings, ())
        result = load("<icecast>\n<hostname>bad host</hostname></icecast>")
        self.assertEqual(result.station.public_url, "")
        self.assertWarned(result, "icecast.xml line 2: <hostname>", "cannot make public_url")

    def test_logs(self) -> None:
        """
        The access log is in the log folder, unless its path is absolute
        or no folder is given.
        """
        cases = [
            ("<logdir>/var/log/r</logdir>", "access.log", "/var/log/r/access.log"),
            ("<logdir>/var/log/r</logdir>", "/srv/access.log", "/srv/access.log"),
            ("", "access.log", "access.log"),
        ]
        for paths, access, expected in cases:
            result = load(
                f"<icecast><paths>{paths}</paths>"
                f"<logging><accesslog>{access}</accesslog></logging></icecast>"
            )
            self.assertEqual(result.station.access_log, expected)

    def test_limits(self) -> None:
        """
        C{<burst-on-connect>0} means a burst of 0, unless a later
        C{<burst-size>} says otherwise; C{<clients>0} (Icecast refuses
        everyone) is warned about and sets no limit.
        """
        result = load(
            "<icecast><limits>\n<burst-on-connect>0</burst-on-connect>\n<clients>0</clients>"
            "</limits></icecast>"
        )
        self.assertEqual(result.station.mounts[0].burst_size, 0)
        self.assertEqual(result.station.max_listeners, 0)
        self.assertWarned(result, "icecast.xml line 3: <clients>", "radiod sets no limit")
        result = load(
            "<icecast><limits><burst-on-connect>0</burst-on-connect>"
            "<burst-size>4096</burst-size></limits></icecast>"
        )
        self.assertEqual(result.station.mounts[0].burst_size, 4096)

    def test_mount(self) -> None:
        """
        A mount the base does not have is live-only, with Icecast's
        default of no fallback override; a mount's own sizes win over the
        server-wide ones.
        """
        result = load(
            "<icecast><limits><queue-size>1048576</queue-size><burst-size>1000</burst-size>"
            "</limits><mount><mount-name>/m</mount-name><burst-size>2000</burst-size>"
            "<no-yp>1</no-yp><type>audio/mpeg</type><username>source</username>"
            "<max-listeners>-1</max-listeners><public>-1</public>"
            "<hidden>0</hidden><fallback-when-full>0</fallback-when-full>"
            "<max-listener-duration>0</max-listener-duration><no-mount>0</no-mount>"
            "</mount></icecast>"
        )
        mount = result.station.mounts[1]
        self.assertEqual(
            mount,
            MountConfig(
                name="/m",
                live_only=True,
                fallback_override=False,
                queue_size=1048576,
                burst_size=2000,
                public=False,
            ),
        )
        self.assertEqual(result.warnings, ())
        self.assertEqual(result.extras.mount("/m"), MountExtras("/m"))

    def test_mount_unsupported(self) -> None:
        """
        Mount elements radiod does not support are warned about, each with
        its reason.
        """
        result = load(
            "<icecast><mount><mount-name>/m</mount-name>\n"
            "<charset>KOI8-R</charset>\n"
            "<type>application/ogg</type>\n"
            "<max-listeners>0</max-listeners>\n"
            "<on-connect>/bin/true</on-connect>\n"
            "<no-mount>1</no-mount>\n"
            "<bitrate>128</bitrate>\n"
            "<http-headers><header name='a' value='b'/></http-headers>\n"
            "<colour>red</colour>\n"
            "</mount></icecast>"
        )
        self.assertEqual(
            [origin.element for origin in result.warned],
            [
                "charset",
                "type",
                "max-listeners",
                "on-connect",
                "no-mount",
                "bitrate",
                "http-headers",
                "colour",
            ],
        )
        self.assertWarned(result, "icecast.xml line 2: <charset>", "UTF-8 or Latin-1 only")
        self.assertWarned(result, "icecast.xml line 9: <colour>", "not an Icecast 2.4 setting")
        mount = result.station.mounts[1]
        self.assertEqual((mount.charset, mount.max_listeners), ("utf-8", 0))

    def test_mount_without_name(self) -> None:
        """
        A mount without a name, or of an unknown type, is ignored (as by
        Icecast) and warned about, with everything in it.
        """
        result = load(
            "<icecast>\n<mount><stream-name>x</stream-name></mount>\n"
            '<mount type="special"><mount-name>/a</mount-name></mount></icecast>'
        )
        self.assertEqual([m.name for m in result.station.mounts], ["/stream"])
        self.assertEqual([(o.line, o.element) for o in result.warned], [(2, "mount"), (3, "mount")])
        self.assertEqual(result.mapped, (Origin("icecast.xml", 1, "icecast"),))

    def test_default_mount(self) -> None:
        """
        The default mount's settings apply to every mount the file names
        (before their own), but not to the base's other mounts; a default
        fallback is not applied to the mount it names.
        """
        result = load(
            '<icecast><mount type="default"><genre>Jazz</genre>'
            "<fallback-mount>/backup</fallback-mount></mount>"
            "<mount><mount-name>/a</mount-name></mount>"
            "<mount><mount-name>/b</mount-name><genre>Soul</genre></mount>"
            "<mount><mount-name>/backup</mount-name></mount></icecast>"
        )
        stream, a, b, backup = result.station.mounts
        self.assertEqual(
            (stream.genre, a.genre, b.genre, backup.genre), ("", "Jazz", "Soul", "Jazz")
        )
        self.assertEqual((a.fallback, b.fallback, backup.fallback), ("/backup", "/backup", ""))

    def test_fallback_to_music(self) -> None:
        """
        A live mount may fall back to a base mount with music; a base
        mount with music named by the file keeps it, and its fallback is
        dropped with a warning.
        """
        result = load(
            "<icecast><mount><mount-name>/live</mount-name>"
            "<fallback-mount>/stream</fallback-mount></mount>\n"
            "<mount><mount-name>/stream</mount-name>\n"
            "<fallback-mount>/live</fallback-mount></mount></icecast>"
        )
        stream, live = result.station.mounts
        self.assertEqual((stream.fallback, stream.live_only, live.fallback), ("", False, "/stream"))
        self.assertWarned(
            result, "icecast.xml line 3: <fallback-mount>", "/stream plays music between shows"
        )

    def test_default_fallback_to_music(self) -> None:
        """
        A default mount's fallback dropped from several mounts with music
        is warned about once.
        """
        base = StationConfig(mounts=(MountConfig(name="/a"), MountConfig(name="/b")))
        result = load(
            '<icecast><mount type="default">\n<fallback-mount>/live</fallback-mount></mount>'
            "<mount><mount-name>/a</mount-name></mount><mount><mount-name>/b</mount-name></mount>"
            "<mount><mount-name>/live</mount-name></mount></icecast>",
            base=base,
        )
        self.assertEqual([m.fallback for m in result.station.mounts], ["", "", ""])
        self.assertWarned(result, "icecast.xml line 2: <fallback-mount>", "/a plays music")
        self.assertEqual(len(result.warnings), 1)

    def test_fallback_undeclared(self) -> None:
        """
        A fallback to a mount the file does not declare declares it, as a
        live-only mount (Icecast could also fall back to a file).
        """
        result = load(
            "<icecast><mount><mount-name>/live</mount-name>\n"
            "<fallback-mount>/autodj</fallback-mount></mount></icecast>"
        )
        self.assertEqual(
            result.station.mounts[2],
            MountConfig(name="/autodj", live_only=True, fallback_override=False),
        )
        self.assertWarned(result, "icecast.xml line 2: <fallback-mount>", "declares /autodj")
        self.assertEqual(
            result.origins[("mount", 2, "name")], Origin("icecast.xml", 2, "fallback-mount")
        )

    def test_relay(self) -> None:
        """
        A relay is a mount relaying C{http://server:port/mount}: its local
        mount is the upstream's by default, its server 127.0.0.1, and a
        base mount of that name keeps its music while the upstream is
        down.
        """
        result = load(
            "<icecast><relay><port>8001</port><mount>/up</mount></relay>"
            "<relay><server>::1</server><port>8002</port><mount>/x</mount>"
            "<local-mount>/stream</local-mount>\n"
            "<relay-shoutcast-metadata>0</relay-shoutcast-metadata>\n"
            "<on-demand>1</on-demand>\n"
            "<username>u</username><password>p</password></relay></icecast>"
        )
        stream, up = result.station.mounts
        self.assertEqual((stream.relay, stream.live_only), ("http://[::1]:8002/x", False))
        self.assertEqual(
            up,
            MountConfig(
                name="/up",
                relay="http://127.0.0.1:8001/up",
                live_only=True,
                fallback_override=False,
            ),
        )
        self.assertEqual(
            [(o.line, o.element) for o in result.warned],
            [(2, "relay-shoutcast-metadata"), (3, "on-demand"), (4, "username"), (4, "password")],
        )

    def test_relay_twice(self) -> None:
        """
        Two relays for one mount: the second is warned about.
        """
        result = load(
            "<icecast><relay><port>8001</port><mount>/up</mount></relay>\n"
            "<relay><port>8002</port><mount>/up</mount></relay></icecast>"
        )
        self.assertEqual(result.station.mounts[1].relay, "http://127.0.0.1:8001/up")
        self.assertWarned(result, "icecast.xml line 2: <relay>", "already relays")

    def test_relays_on_demand(self) -> None:
        """
        Relays on demand are warned about: radiod's relays pull all the
        time.
        """
        result = load("<icecast>\n<relays-on-demand>1</relays-on-demand></icecast>")
        self.assertWarned(result, "icecast.xml line 2: <relays-on-demand>", "all the time")

    def test_master(self) -> None:
        """
        A master server with its port is the station's origin; without
        its port it is warned about, as Icecast does not use it either.
        """
        result = load(
            "<icecast><master-server>10.0.0.2</master-server>"
            "<master-server-port>8000</master-server-port></icecast>"
        )
        self.assertEqual(result.station.origin, "http://10.0.0.2:8000")
        result = load("<icecast>\n<master-server>10.0.0.2</master-server></icecast>")
        self.assertEqual(result.station.origin, "")
        self.assertWarned(result, "icecast.xml line 2: <master-server>", "<master-server-port>")

    def test_source_password(self) -> None:
        """
        The top-level C{<source-password>} (the old place) is read; one
        inside C{<authentication>} naming a mount is warned about.
        """
        result = load("<icecast><source-password>old</source-password></icecast>")
        self.assertEqual(result.station.source_password, "old")
        result = load(
            "<icecast><authentication>\n<source-password mount='/a'>x</source-password>"
            "</authentication></icecast>"
        )
        self.assertEqual(result.station.source_password, "")
        self.assertWarned(result, "icecast.xml line 2: <source-password>", "in its <mount>")

    def test_security(self) -> None:
        """
        C{<chroot>0} is what radiod does; C{<chroot>1} and
        C{<changeowner>} are warned about.
        """
        result = load(
            "<icecast><security>\n<chroot>1</chroot>\n<changeowner><user>icecast</user>"
            "<group>icecast</group></changeowner></security></icecast>"
        )
        self.assertEqual(
            [(o.line, o.element) for o in result.warned], [(2, "chroot"), (3, "changeowner")]
        )

    def test_unknown(self) -> None:
        """
        An element radiod does not know is warned about once, with
        everything in it.
        """
        result = load(
            "<icecast>\n<event-bindings><event type='x'/></event-bindings>\n"
            "<limits>\n<burst>1</burst></limits></icecast>"
        )
        self.assertEqual(
            result.warnings,
            (
                "icecast.xml line 2: <event-bindings> is not supported by radiod: not an "
                "Icecast 2.4 setting of <icecast>",
                "icecast.xml line 4: <burst> is not supported by radiod: not an Icecast 2.4 "
                "setting of <limits>",
            ),
        )

    def test_flags(self) -> None:
        """
        On/off values may be integers or words, in any case.
        """
        result = load(
            "<icecast><mount><mount-name>/a</mount-name><public>on</public>"
            "<fallback-override>TRUE</fallback-override></mount>"
            "<mount><mount-name>/b</mount-name><public>no</public>"
            "<fallback-override>2</fallback-override></mount></icecast>"
        )
        a, b = result.station.mounts[1:]
        self.assertEqual((a.public, a.fallback_override), (True, True))
        self.assertEqual((b.public, b.fallback_override), (False, True))

    def test_off(self) -> None:
        """
        Elements that are off carry over without a warning (radiod does
        not do what they would turn on); on, they are warned about.
        """
        result = load(
            "<icecast><fileserve>0</fileserve><icelogin>0</icelogin>"
            "<relays-on-demand>0</relays-on-demand><security><chroot>0</chroot></security>"
            "<mount><mount-name>/a</mount-name><no-yp>0</no-yp></mount></icecast>"
        )
        self.assertEqual(result.warnings, ())
        self.assertFalse(result.extras.fileserve)
        self.assertFalse(result.station.mounts[1].public)
        result = load("<icecast>\n<icelogin>1</icelogin></icecast>")
        self.assertWarned(result, "icecast.xml line 2: <icelogin>", "Icecast 1 logins")

    def test_listen_socket_unknown(self) -> None:
        """
        An element of a listening socket radiod does not know is warned
        about; the rest of the socket carries over.
        """
        result = load(
            "<icecast><listen-socket><port>8001</port>\n<tls>1</tls></listen-socket></icecast>"
        )
        self.assertEqual(result.station.port, 8001)
        self.assertWarned(
            result, "icecast.xml line 2: <tls>", "not an Icecast 2.4 setting of <listen-socket>"
        )

    def test_default_mount_name(self) -> None:
        """
        A name given to the default mount is warned about (Icecast
        ignores it too).
        """
        result = load(
            '<icecast><mount type="default">\n<mount-name>/x</mount-name>'
            "<genre>g</genre></mount></icecast>"
        )
        self.assertEqual([m.name for m in result.station.mounts], ["/stream"])
        self.assertWarned(result, "icecast.xml line 2: <mount-name>", "a default mount has no name")

    def test_alias_incomplete(self) -> None:
        """
        An alias without a source or a destination is warned about; one
        written with C{dest} is read.
        """
        result = load(
            '<icecast><paths>\n<alias source="/a"/>\n<alias source="/b" dest="/c"/>'
            "</paths></icecast>",
            used=["aliases"],
        )
        self.assertWarned(result, "icecast.xml line 2: <alias>", "a source and a destination")
        self.assertEqual(result.extras.aliases, (Alias("/b", "/c"),))
        self.assertEqual(len(result.warnings), 1)

    def test_shoutcast_mount_without_compat(self) -> None:
        """
        A top-level C{<shoutcast-mount>} beside listening sockets none of
        which is for SHOUTcast sources is warned about.
        """
        result = load(
            "<icecast>\n<shoutcast-mount>/dsp</shoutcast-mount>"
            "<listen-socket><port>8000</port></listen-socket></icecast>"
        )
        self.assertWarned(result, "icecast.xml line 2: <shoutcast-mount>", "for its first mount")

    def test_tls_only(self) -> None:
        """
        With only a TLS socket, radiod still listens without TLS, on its
        port; a SHOUTcast mount or send buffer on the TLS socket is
        warned about.
        """
        result = load(
            "<icecast>\n<listen-socket><port>8443</port><ssl>1</ssl>\n"
            "<shoutcast-mount>/a</shoutcast-mount>\n<so-sndbuf>8192</so-sndbuf></listen-socket>"
            "<paths><ssl-certificate>/c.pem</ssl-certificate></paths></icecast>",
            base=StationConfig(port=8000),
        )
        self.assertEqual((result.station.port, result.station.tls_port), (8000, 8443))
        self.assertEqual(
            [(o.line, o.element) for o in result.warned],
            [(2, "listen-socket"), (3, "shoutcast-mount"), (4, "so-sndbuf")],
        )
        self.assertWarned(
            result, "icecast.xml line 2: <listen-socket>", "radiod also listens on port 8000"
        )

    def test_hostname_used(self) -> None:
        """
        A caller that uses the host name is not warned about an
        unconfigured one.
        """
        result = load("<icecast><hostname>localhost</hostname></icecast>", used=["hostname"])
        self.assertEqual((result.warnings, result.extras.hostname), ((), "localhost"))

    def test_log_dir_alone(self) -> None:
        """
        A log folder without an access log is kept in the extras.
        """
        result = load("<icecast><paths>\n<logdir>/var/log/r</logdir></paths></icecast>")
        self.assertEqual(result.station.access_log, "")
        self.assertEqual(result.extras.log_dir, "/var/log/r")
        self.assertWarned(result, "icecast.xml line 2: <logdir>", "kept for later")

    def test_master_port_alone(self) -> None:
        """
        A master port without a master server is warned about.
        """
        result = load("<icecast>\n<master-server-port>8000</master-server-port></icecast>")
        self.assertEqual(result.station.origin, "")
        self.assertWarned(result, "icecast.xml line 2: <master-server-port>", "<master-server>")

    def test_unaccounted(self) -> None:
        """
        Should any element escape every reader, it is still warned about
        rather than silently ignored.
        """
        root = parse_xml(b"<icecast>\n<limits/>\n</icecast>", "icecast.xml")
        for order, element in enumerate(root.walk()):
            element.order = order
        result = icecast._Reading(root, StationConfig(), ()).finish(None)
        self.assertEqual(
            result.warnings,
            (
                "icecast.xml line 1: <icecast> is not supported by radiod: radiod does not "
                "know what it means here",
            ),
        )

    def test_base(self) -> None:
        """
        The file's values are applied over the base; what it does not set
        stays the base's.
        """
        base = StationConfig(port=9000, workers=1, timezone="Europe/Paris", max_listeners=7)
        result = load("<icecast><limits><clients>9</clients></limits></icecast>", base=base)
        self.assertEqual(
            (result.station.port, result.station.timezone, result.station.max_listeners),
            (9000, "Europe/Paris", 9),
        )

    def test_notes(self) -> None:
        """
        The notes name the element each key came from.
        """
        result = load("<icecast>\n<limits>\n<clients>9</clients></limits></icecast>")
        self.assertEqual(
            result.notes(), {("server", "max_listeners"): "from icecast.xml line 3: <clients>"}
        )


class ExtrasTests(SynchronousTestCase):
    """
    The values radiod has no key for, kept in L{IcecastExtras}.
    """

    def test_used(self) -> None:
        """
        A caller that uses an extra is not warned about its element; the
        others still are.
        """
        text = (
            "<icecast>\n<mount><mount-name>/a</mount-name><username>dj</username></mount>\n"
            "<mount><mount-name>/b</mount-name><username>dj</username></mount></icecast>"
        )
        self.assertEqual([o.element for o in load(text).warned], ["username", "username"])
        result = load(text, used=["username"])
        self.assertEqual(result.warned, ())
        self.assertEqual(result.extras.mount("/a"), MountExtras("/a", username="dj"))
        self.assertIn(Origin("icecast.xml", 2, "username"), result.mapped)

    def test_default_mount(self) -> None:
        """
        The default mount's extras are every mount's, under their own.
        """
        result = load(
            '<icecast><mount type="default"><intro>/i.mp3</intro><hidden>1</hidden></mount>'
            "<mount><mount-name>/a</mount-name><intro>/a.mp3</intro></mount></icecast>"
        )
        extras = result.extras
        self.assertEqual(extras.default_mount, MountExtras("", intro="/i.mp3", hidden=True))
        self.assertEqual(extras.mount("/a"), MountExtras("/a", intro="/a.mp3", hidden=True))
        self.assertEqual(extras.mount("/b"), MountExtras("/b", intro="/i.mp3", hidden=True))

    def test_none(self) -> None:
        """
        Without the elements, the extras are empty.
        """
        result = load("<icecast/>")
        self.assertEqual(result.extras.mount("/stream"), None)
        self.assertEqual(result.extras.location, "")
        self.assertTrue(result.extras.fileserve)


class IncludeTests(SynchronousTestCase):
    """
    C{<include>}: errors, and includes given by the caller.
    """

    def write(self, name: str, text: str, folder: str) -> str:
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_missing(self) -> None:
        """
        An include of a missing file is one line naming the including
        file, the line, the element and the file that is missing.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        path = self.write(
            "icecast.xml", "<icecast>\n  <include>mounts.xml</include>\n</icecast>", folder
        )
        with self.assertRaises(ConfigError) as caught:
            read_icecast_config(path)
        missing = os.path.join(folder, "mounts.xml")
        self.assertEqual(
            str(caught.exception),
            f"{path} line 2: <include>: cannot read {missing}: No such file or directory",
        )

    def test_matches_nothing(self) -> None:
        """
        A pattern that matches no file is warned about.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        path = self.write(
            "icecast.xml", "<icecast>\n<include>conf.d/*.xml</include></icecast>", folder
        )
        result = read_icecast_config(path)
        self.assertEqual(
            result.warnings, (f"{path} line 2: <include>: conf.d/*.xml matches no file",)
        )

    def test_malformed_included(self) -> None:
        """
        Malformed XML in an included file names that file.
        """
        files = {"/etc/a.xml": b"<mount>\n<mount-name>/a</mount></mount>"}
        with self.assertRaises(ConfigError) as caught:
            load_icecast_config(
                b"<icecast><include>a.xml</include></icecast>",
                "/etc/icecast.xml",
                include=lambda path: [(path, files[path])],
            )
        self.assertEqual(
            str(caught.exception), "/etc/a.xml line 2: not valid XML: mismatched tag (column 17)"
        )

    def test_nested(self) -> None:
        """
        An included file may include more; an include of itself stops at
        a depth.
        """
        files = {
            "/etc/a.xml": b"<include>b.xml</include>",
            "/etc/b.xml": b"<mount><mount-name>/b</mount-name></mount>",
            "/etc/loop.xml": b"<include>loop.xml</include>",
        }

        def include(path: str) -> list[tuple[str, bytes]]:
            return [(path, files[path])]

        result = load_icecast_config(
            b"<icecast><include>a.xml</include></icecast>", "/etc/icecast.xml", include=include
        )
        self.assertEqual([m.name for m in result.station.mounts], ["/stream", "/b"])
        with self.assertRaises(ConfigError) as caught:
            load_icecast_config(
                b"<icecast><include>loop.xml</include></icecast>",
                "/etc/icecast.xml",
                include=include,
            )
        self.assertEqual(
            str(caught.exception),
            "/etc/loop.xml line 1: <include>: includes nest more than 8 deep",
        )

    def test_no_includer(self) -> None:
        """
        Without a way to read files, an include is an error.
        """
        with self.assertRaises(ConfigError) as caught:
            load("<icecast>\n<include>a.xml</include></icecast>")
        self.assertEqual(
            str(caught.exception), "icecast.xml line 2: <include>: cannot read included files here"
        )


class ReadTests(SynchronousTestCase):
    """
    L{read_icecast_config} reads a file.
    """

    def test_missing(self) -> None:
        """
        A file that cannot be read is one line naming it.
        """
        path = os.path.join(self.mktemp(), "icecast.xml")
        with self.assertRaises(ConfigError) as caught:
            read_icecast_config(path)
        self.assertEqual(
            str(caught.exception), f"cannot read config {path}: No such file or directory"
        )

    def test_path_exists(self) -> None:
        """
        With C{path_exists}, file paths are checked.
        """
        path = fixture("everything.xml")
        with self.assertRaises(ConfigError) as caught:
            read_icecast_config(path, path_exists=os.path.exists)
        self.assertEqual(
            str(caught.exception),
            f"{path} line 98: <ssl-certificate>: no such file: /etc/radio/radio.pem",
        )

    def test_base(self) -> None:
        """
        The base is passed on.
        """
        base = StationConfig(timezone="Europe/Paris")
        result = read_icecast_config(fixture("minimal.xml"), base)
        self.assertEqual(result.station.timezone, "Europe/Paris")
