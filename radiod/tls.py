# -*- test-case-name: tests.test_tls -*-
"""
TLS: the HTTPS listener's endpoint, and the checks made of the servers
radiod connects to over C{https://} (relays in, pushes out).

Connections to C{https://} servers verify the server's certificate against
the system's trusted authorities (or the ones in C{tls_ca}) and its
hostname with service-identity; a server that fails either is refused
with a log line saying why.
"""

from __future__ import annotations

import re

from twisted.internet._sslverify import IOpenSSLTrustRoot
from twisted.internet.ssl import (
    Certificate,
    platformTrust,
    trustRootFromCertificates,
)
from twisted.python.failure import Failure

from radiod.config import StationConfig

__all__ = [
    "load_trust",
    "tls_endpoint_description",
    "tls_failure_reason",
]

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s.+?\s-----END CERTIFICATE-----", re.DOTALL)


def load_trust(path: str) -> IOpenSSLTrustRoot:
    """
    The authorities that vouch for C{https://} servers: every certificate
    in the PEM file at C{path}, or the system's when C{path} is empty.

    @raise ValueError: if the file holds no certificate.
    @raise OSError: if it cannot be read.
    """
    if not path:
        system: IOpenSSLTrustRoot = platformTrust()
        return system
    with open(path, "rb") as f:
        data = f.read()
    blocks = _PEM.findall(data)
    if not blocks:
        raise ValueError(f"no PEM certificate in {path}")
    roots: IOpenSSLTrustRoot = trustRootFromCertificates(
        [Certificate.loadPEM(block) for block in blocks]
    )
    return roots


def tls_endpoint_description(config: StationConfig) -> str:
    """
    The server endpoint string of the HTTPS listener: C{config.tls_port}
    on the station's interface, with its certificate and key.
    """

    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")

    description = (
        f"ssl:{config.tls_port}:privateKey={escape(config.tls_key or config.tls_cert)}"
        f":certKey={escape(config.tls_cert)}:backlog=4096"
    )
    if config.interface:
        description += f":interface={escape(config.interface)}"
    return description


def tls_failure_reason(failure: Failure) -> str:
    """
    Say in a few words why a TLS connection failed: an untrusted or
    expired certificate, or a certificate for another host.
    """
    text = failure.getErrorMessage()
    name = type(failure.value).__name__
    if "VerificationError" in name or "does not match" in text:
        return f"certificate is not for this host ({text})"
    if "certificate verify failed" in text:
        return "certificate not trusted (certificate verify failed)"
    return text
