"""
Tests for L{radiod.config.values}: sizes and charset names.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.config import KIB, normalize_charset, parse_size


class ParseSizeTests(SynchronousTestCase):
    """
    Tests for L{parse_size}.
    """

    def test_units(self) -> None:
        """
        Plain numbers are bytes; K, M and G units, with or without the
        "iB" and a space, in any case, are powers of 1024.
        """
        cases = {
            "65536": 65536,
            "0": 0,
            "12B": 12,
            "64KiB": 64 * KIB,
            "512 KiB": 512 * KIB,
            "64k": 64 * KIB,
            "1MiB": KIB * KIB,
            "2 mib": 2 * KIB * KIB,
            "1G": KIB**3,
            " 3 GiB ": 3 * KIB**3,
        }
        for text, size in cases.items():
            self.assertEqual(parse_size(text), size, text)

    def test_unknown_unit(self) -> None:
        """
        An unknown unit is named in the error, with the units that work.
        """
        with self.assertRaises(ValueError) as caught:
            parse_size("64KB")
        self.assertEqual(
            str(caught.exception), "unknown unit 'KB' in '64KB' (use B, KiB, MiB or GiB)"
        )

    def test_not_a_size(self) -> None:
        """
        Text that is not a whole number with a unit is refused.
        """
        for text in ("", "lots", "-1", "1.5MiB", "KiB"):
            with self.assertRaises(ValueError) as caught:
                parse_size(text)
            self.assertIn("is not a size", str(caught.exception))


class NormalizeCharsetTests(SynchronousTestCase):
    """
    Tests for L{normalize_charset}.
    """

    def test_aliases(self) -> None:
        """
        Common spellings of UTF-8 and Latin-1 become radiod's two names.
        """
        for name in ("utf-8", "UTF-8", "utf8", "UTF_8"):
            self.assertEqual(normalize_charset(name), "utf-8")
        for name in ("latin-1", "Latin1", "ISO-8859-1", "iso8859-1"):
            self.assertEqual(normalize_charset(name), "latin-1")

    def test_unsupported(self) -> None:
        """
        Any other charset is refused, saying which two are supported.
        """
        with self.assertRaises(ValueError) as caught:
            normalize_charset("koi8-r")
        self.assertEqual(str(caught.exception), 'must be "utf-8" or "latin-1", not \'koi8-r\'')
