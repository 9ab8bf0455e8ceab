"""
Tests for TLS: the HTTPS listener, and C{https://} relays and pushes that
check the server's certificate and name, against a certificate authority
made for the test.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IReactorCore
from twisted.internet.ssl import optionsForClientTLS
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase, TestCase

from radiod.config import ConfigError, MountConfig, StationConfig, load_config
from radiod.runner import thread_runner
from radiod.station.service import StationService
from radiod.tls import load_trust, tls_endpoint_description
from radiod.wire.limits import KEEPALIVE_IDLE, socket_of
from tests.support.loopback import FIRST, FIXTURES, SECOND, Reader, asynchronous, wait_for

reactor: Any = _reactor


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_authority(folder: str) -> tuple[str, Any, Any]:
    """
    A certificate authority: its PEM file, certificate and key.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("radiod test CA"))
        .issuer_name(_name("radiod test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = os.path.join(folder, "ca.pem")
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return path, cert, key


def make_server_cert(
    folder: str, authority: tuple[str, Any, Any], names: list[str], stem: str = "server"
) -> tuple[str, str]:
    """
    A certificate for C{names} (host names or IP addresses) signed by
    C{authority}: the paths of its PEM certificate and key.
    """
    _, ca_cert, ca_key = authority
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = os.path.join(folder, f"{stem}.pem")
    key_path = os.path.join(folder, f"{stem}.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


class ConfigTests(SynchronousTestCase):
    """
    The TLS keys are checked like every other.
    """

    def test_keys(self) -> None:
        """
        A TLS port needs a certificate; the port must not clash with the
        listener's; the files must exist; paths are taken from the file's
        folder.
        """
        errors = {
            "[server]\ntls_port = 8443\n": "server.tls_port: needs tls_cert",
            '[server]\ntls_port = 8000\ntls_cert = "c.pem"\n': "must differ from port",
            '[server]\ntls_port = 70000\ntls_cert = "c.pem"\n': "server.tls_port",
            '[server]\ntls_ca = "missing.pem"\n': "server.tls_ca: no such file",
        }
        for text, expected in errors.items():
            with self.assertRaises(ConfigError) as caught:
                load_config(
                    text, "/etc/radiod/radiod.toml", path_exists=lambda p: "missing" not in p
                )
            self.assertIn(expected, str(caught.exception))
        config = load_config(
            '[server]\ntls_port = 8443\ntls_cert = "c.pem"\ntls_key = "k.pem"\n',
            "/etc/radiod/radiod.toml",
        )
        self.assertEqual(
            (config.tls_port, config.tls_cert, config.tls_key),
            (8443, "/etc/radiod/c.pem", "/etc/radiod/k.pem"),
        )

    def test_endpoint_description(self) -> None:
        """
        The endpoint string escapes colons and names the interface.
        """
        config = StationConfig(
            interface="::1", tls_port=8443, tls_cert="/a:b/c.pem", tls_key="/k.pem"
        )
        self.assertEqual(
            tls_endpoint_description(config),
            "ssl:8443:privateKey=/k.pem:certKey=/a\\:b/c.pem:backlog=4096:interface=\\:\\:1",
        )

    def test_load_trust(self) -> None:
        """
        A file without a certificate is refused.
        """
        path = str(self.mktemp())
        with open(path, "w") as f:
            f.write("not a certificate")
        self.assertRaises(ValueError, load_trust, path)


class TLSEndToEndTests(TestCase):
    """
    Real TLS connections on loopback.
    """

    timeout = 60

    def setUp(self) -> None:
        self.folder = os.path.abspath(str(self.mktemp()))
        os.makedirs(self.folder)
        self.authority = make_authority(self.folder)

    def music(self) -> str:
        folder = os.path.join(self.folder, "music")
        if not os.path.isdir(folder):
            os.makedirs(folder)
            for name in ("alpha-artist-first-song.mp3", "beta-artist-second-song.mp3"):
                shutil.copy(os.path.join(FIXTURES, name), folder)
        return folder

    async def start(self, config: StationConfig) -> tuple[StationService, int]:
        core: IReactorCore = reactor
        service = StationService(config, reactor, thread_runner(core, reactor.getThreadPool()))
        service.startService()
        self.addCleanup(service.stopService)
        port = (await service.listener.listening).getHost().port  # type: ignore[attr-defined]
        if service.tls_listener is not None:
            await service.tls_listener.listening
        return service, port

    async def upstream(self, names: list[str]) -> tuple[StationService, int]:
        """
        A station with an HTTPS listener whose certificate is for C{names}.
        """
        cert, key = make_server_cert(self.folder, self.authority, names)
        tls_port = free_port()
        mount = MountConfig(name="/stream", music=self.music(), metaint=2000)
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(mount,),
            tls_port=tls_port,
            tls_cert=cert,
            tls_key=key,
            source_password="pw",
        )
        service, _ = await self.start(config)
        return service, tls_port

    @asynchronous
    async def test_https_listener(self) -> None:
        """
        A listener on the HTTPS port gets the stream, verifying the
        station's certificate against the test authority.
        """
        service, tls_port = await self.upstream(["localhost"])
        reader = Reader(b"GET /stream HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        options = optionsForClientTLS("localhost", trustRoot=load_trust(self.authority[0]))
        endpoint = SSL4ClientEndpoint(reactor, "127.0.0.1", tls_port, options)
        await connectProtocol(endpoint, reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(reader.capture.audio) > 20000, 10, reactor)
        self.assertEqual(reader.capture.status_line, "HTTP/1.0 200 OK")
        self.assertIn(reader.capture.titles[0][1], (FIRST, SECOND))

    @asynchronous
    async def test_https_listener_socket(self) -> None:
        """
        An HTTPS listener's socket gets the same treatment as a plain one:
        TCP keepalive probes on, and the kernel send buffer capped at
        C{send_buffer}, read back from the socket under the TLS connection.
        """
        service, tls_port = await self.upstream(["localhost"])
        reader = Reader(b"GET /stream HTTP/1.0\r\n\r\n", reactor)
        options = optionsForClientTLS("localhost", trustRoot=load_trust(self.authority[0]))
        endpoint = SSL4ClientEndpoint(reactor, "127.0.0.1", tls_port, options)
        await connectProtocol(endpoint, reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        await wait_for(lambda: len(reader.capture.audio) > 1000, 10, reactor)
        [listener] = service.mounts["/stream"].listeners
        self.assertNotIsInstance(listener.transport.getHandle(), socket.socket)  # type: ignore[attr-defined]
        handle = socket_of(listener.transport)
        assert handle is not None
        self.assertEqual(handle.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), 1)
        self.assertEqual(handle.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), KEEPALIVE_IDLE)
        # Linux doubles the requested size for its bookkeeping.
        sndbuf = handle.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        self.assertLessEqual(sndbuf, 2 * service.config.send_buffer)

    async def relaying(
        self, names: list[str], host: str, trusted: bool
    ) -> tuple[StationService, Reader]:
        """
        Start an HTTPS upstream with a certificate for C{names}, and a
        station relaying it as C{https://host:port/stream}, trusting the
        test authority when C{trusted}; return the relaying station and a
        listener of it.
        """
        upstream, tls_port = await self.upstream(names)
        mount = MountConfig(
            name="/relay",
            music=self.music(),
            relay=f"https://{host}:{tls_port}/stream",
            metaint=2000,
        )
        config = StationConfig(
            port=0,
            interface="127.0.0.1",
            mounts=(mount,),
            tls_ca=self.authority[0] if trusted else "",
        )
        service, port = await self.start(config)
        reader = Reader(b"GET /relay HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", reactor)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), reader)
        self.addCleanup(lambda: reader.transport.loseConnection() if reader.transport else None)
        return service, reader

    @asynchronous
    async def test_https_relay(self) -> None:
        """
        A relay of an C{https://} upstream whose certificate chains to the
        trusted authority and names the host plays the upstream.
        """
        service, reader = await self.relaying(["localhost"], "localhost", trusted=True)
        relay = service.relays[0]
        await wait_for(
            lambda: relay.protocol is not None and relay.protocol.live is not None, 10, reactor
        )
        await wait_for(lambda: len(reader.capture.audio) > 10000, 10, reactor)

    @asynchronous
    async def test_untrusted_upstream(self) -> None:
        """
        An upstream whose certificate does not chain to a trusted
        authority is refused with a clear log line, and the relay's
        listener hears the mount's own music meanwhile.
        """
        with capturedLogs() as events:
            service, reader = await self.relaying(["localhost"], "localhost", trusted=False)
            await wait_for(
                lambda: any("not trusted" in str(e.get("reason", "")) for e in events), 10, reactor
            )
        await wait_for(lambda: len(reader.capture.audio) > 10000, 10, reactor)
        self.assertIsNone(service.relays[0].protocol)

    @asynchronous
    async def test_wrong_host(self) -> None:
        """
        An upstream whose certificate is for another name is refused, and
        the log says so.
        """
        with capturedLogs() as events:
            service, reader = await self.relaying(["elsewhere.example"], "localhost", True)
            await wait_for(
                lambda: any("not for this host" in str(e.get("reason", "")) for e in events),
                10,
                reactor,
            )

    @asynchronous
    async def test_https_push(self) -> None:
        """
        A mount pushed to an C{https://} server (another radiod's HTTPS
        port, trusted through the test authority) goes live there.
        """
        target, tls_port = await self.upstream(["localhost"])
        mount = MountConfig(
            name="/stream",
            music=self.music(),
            push_to=(f"https://source:pw@localhost:{tls_port}/pushed",),
        )
        config = StationConfig(
            port=0, interface="127.0.0.1", mounts=(mount,), tls_ca=self.authority[0]
        )
        pushing, _ = await self.start(config)
        assert target.factory.sources is not None
        sources = target.factory.sources
        await wait_for(lambda: "/pushed" in sources.connected, 15, reactor)
        await wait_for(
            lambda: target.factory.mounts["/pushed"].now_playing is not None, 10, reactor
        )
        # Close the TLS connection from our side and let it finish, so the
        # reactor is clean when the test ends.
        connection = pushing.relays_out[0].connection
        assert connection is not None
        await pushing.stopService()
        await connection.closed
        await wait_for(lambda: "/pushed" not in sources.connected, 10, reactor)
