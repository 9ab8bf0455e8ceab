"""
Tests for L{radiod.config.values}: sizes and charset names.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.config import KIB, normalize_charset, parse_size, values


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


class DurationTests(SynchronousTestCase):
    """
    L{values.duration} reads numbers of seconds and durations such as
    C{"30m"}.
    """

    def test_durations(self) -> None:
        """
        Hours, minutes and seconds add up; a bare number is seconds.
        """
        cases = {"30m": 1800.0, "3h": 10800.0, "1h30m": 5400.0, "90s": 90.0, "45": 45.0}
        for text, seconds in cases.items():
            self.assertEqual(values.duration(text), seconds, text)
        self.assertEqual(values.duration(120), 120.0)
        self.assertEqual(values.duration(" 2H "), 7200.0)

    def test_refused(self) -> None:
        """
        Anything else is refused with a reason naming the text.
        """
        for bad in ("", "m", "3 hours", "-5m", "1d"):
            with self.assertRaises(ValueError) as caught:
                values.duration(bad)
            self.assertIn("must be a duration", str(caught.exception))
        self.assertRaises(ValueError, values.duration, True)
