# -*- test-case-name: tests.audience.test_countries -*-
"""
The country of a listener's address, from a MaxMind-format database
(GeoLite2-Country, GeoIP2-Country, DB-IP's country lite, or any C{.mmdb}
whose records carry C{country.iso_code}), for the audience figures.

The database is read with the C{maxminddb} package (C{pip install
'radiod[geoip]'}) and kept in memory, so a lookup costs a few
microseconds and never touches the disk.  Without the package, or with a
database that cannot be read, every country stays unknown and the log
says why once.
"""

from __future__ import annotations

import ipaddress
from importlib.util import find_spec
from typing import Any, Protocol

from twisted.logger import Logger

__all__ = ["Countries", "NoCountries", "open_countries"]

_log = Logger(namespace="radiod.audience.countries")


class Countries(Protocol):
    """
    Finds the country of an address.
    """

    def country(self, address: str) -> str:
        """
        The ISO 3166 code of C{address}'s country, or C{""} when unknown.
        """


class NoCountries:
    """
    Knows no country.
    """

    def country(self, address: str) -> str:
        return ""


class _Database:
    """
    The countries of a MaxMind-format database read into memory.
    """

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def country(self, address: str) -> str:
        try:
            ipaddress.ip_address(address)
            record = self._reader.get(address)
        except ValueError:
            return ""
        if not isinstance(record, dict):
            return ""
        for key in ("country", "registered_country"):
            found = record.get(key)
            if isinstance(found, dict) and isinstance(found.get("iso_code"), str):
                return str(found["iso_code"])
        return ""


def open_countries(path: str) -> Countries:
    """
    The countries of the database at C{path}, read now (blocking: call it
    at start, or in a thread).

    @param path: the C{.mmdb} file; C{""} for none.
    @return: the lookup; one that knows no country when C{path} is empty,
        the C{maxminddb} package is missing or the file cannot be read
        (logged).
    """
    if not path:
        return NoCountries()
    # An optional dependency, imported only when a database is named.
    if find_spec("maxminddb") is None:
        _log.warn(
            "geoip_database is set but the maxminddb package is not installed "
            "(pip install 'radiod[geoip]'): countries stay unknown"
        )
        return NoCountries()
    import maxminddb

    try:
        reader = maxminddb.open_database(path, maxminddb.MODE_MEMORY)
    except (OSError, ValueError, RuntimeError) as error:
        # (maxminddb's InvalidDatabaseError is a RuntimeError.)
        _log.error(
            "Cannot read the GeoIP database {path}: {reason}; countries stay unknown",
            path=path,
            reason=str(error),
        )
        return NoCountries()
    return _Database(reader)
