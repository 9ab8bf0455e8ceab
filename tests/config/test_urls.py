"""
Tests for L{radiod.config.urls}: the relay and push URLs a mount names.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.config import is_tls_url, parse_http_url


class ParseHttpUrlTests(SynchronousTestCase):
    """
    Tests for L{parse_http_url}.
    """

    def test_parts(self) -> None:
        """
        The host, port (80 by default) and path with query are returned;
        an empty path is C{"/"}.
        """
        self.assertEqual(parse_http_url("http://up.example/live"), ("up.example", 80, "/live"))
        self.assertEqual(parse_http_url("HTTP://up:8000"), ("up", 8000, "/"))
        self.assertEqual(parse_http_url("http://[::1]:81/s?a=1"), ("::1", 81, "/s?a=1"))
        self.assertEqual(parse_http_url("https://up/live"), ("up", 443, "/live"))
        self.assertEqual(parse_http_url("HTTPS://up:8443/"), ("up", 8443, "/"))
        self.assertTrue(is_tls_url("https://up/") and is_tls_url("HTTPS://up/"))
        self.assertFalse(is_tls_url("http://up/"))

    def test_refused(self) -> None:
        """
        Other schemes, missing hosts, bad ports, credentials and spaces
        are refused.
        """
        for url in (
            "ftp://up/",
            "up:8000/live",
            "http:///x",
            "http://up:0/",
            "http://up:x/",
            "http://u:p@up/",
            "http://up/a b",
        ):
            with self.assertRaises(ValueError, msg=url):
                parse_http_url(url)
