"""
Tests for L{radiod.audience.countries}: the country of an address.
"""

from __future__ import annotations

from mmdb_writer import MMDBWriter
from netaddr import IPSet
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from radiod.audience import countries as countries_module
from radiod.audience.countries import NoCountries, open_countries


def write_countries(path: str) -> str:
    """
    Write a small country database: loopback and TEST-NET-3 in France,
    the IPv6 documentation range in the United States.
    """
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-Country", ipv4_compatible=True)
    writer.insert_network(IPSet(["127.0.0.0/8", "203.0.113.0/24"]), {"country": {"iso_code": "FR"}})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "US"}})
    writer.to_db_file(path)
    return path


class CountriesTests(SynchronousTestCase):
    """
    L{open_countries} reads a MaxMind-format database; addresses outside
    it, or not addresses, have no country.
    """

    def test_lookup(self) -> None:
        countries = open_countries(write_countries(self.mktemp()))
        self.assertEqual(countries.country("203.0.113.9"), "FR")
        self.assertEqual(countries.country("127.0.0.1"), "FR")
        self.assertEqual(countries.country("2001:db8::7"), "US")
        self.assertEqual(countries.country("198.51.100.1"), "")
        self.assertEqual(countries.country("not an address"), "")

    def test_none(self) -> None:
        """
        Without a database, no country; a file that is not a database is
        one log line, and no country.
        """
        self.assertIsInstance(open_countries(""), NoCountries)
        broken = self.mktemp()
        with open(broken, "wb") as f:
            f.write(b"not a database")
        with capturedLogs() as events:
            countries = open_countries(broken)
        self.assertEqual(countries.country("203.0.113.9"), "")
        self.assertEqual(len([e for e in events if "GeoIP" in e.get("log_format", "")]), 1)

    def test_package_missing(self) -> None:
        """
        A database named without the C{maxminddb} package installed is one
        warning naming the extra to install, and no country.
        """
        self.patch(countries_module, "find_spec", lambda name: None)
        with capturedLogs() as events:
            countries = open_countries(write_countries(self.mktemp()))
        self.assertIsInstance(countries, NoCountries)
        warned = [e for e in events if "radiod[geoip]" in e.get("log_format", "")]
        self.assertEqual(len(warned), 1)
