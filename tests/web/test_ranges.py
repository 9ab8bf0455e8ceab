"""
Tests for L{radiod.web.ranges}: reading C{Range} headers.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from radiod.web.ranges import MAX_RANGES, ByteRange, Unsatisfiable, parse_range

SIZE = 10000


class ParseRangeTests(SynchronousTestCase):
    """
    L{parse_range} turns a header into one range, a refusal, or the whole
    file.
    """

    def test_absent(self) -> None:
        """
        No header: the whole file.
        """
        self.assertIsNone(parse_range(None, SIZE))

    def test_closed(self) -> None:
        """
        C{bytes=a-b} is bytes a to b, both included; an end past the file
        is clipped to its last byte.
        """
        self.assertEqual(parse_range("bytes=0-499", SIZE), ByteRange(0, 499, SIZE))
        self.assertEqual(parse_range("bytes=500-999", SIZE), ByteRange(500, 999, SIZE))
        self.assertEqual(parse_range("bytes=9999-9999", SIZE), ByteRange(9999, 9999, SIZE))
        self.assertEqual(parse_range("bytes=9000-20000", SIZE), ByteRange(9000, 9999, SIZE))

    def test_safari_probe(self) -> None:
        """
        Safari's first request, C{bytes=0-1}, is exactly two bytes.
        """
        answer = parse_range("bytes=0-1", SIZE)
        self.assertEqual(answer, ByteRange(0, 1, SIZE))
        assert isinstance(answer, ByteRange)
        self.assertEqual(answer.length, 2)
        self.assertEqual(answer.content_range, "bytes 0-1/10000")

    def test_open(self) -> None:
        """
        C{bytes=a-} is from a to the end.
        """
        self.assertEqual(parse_range("bytes=0-", SIZE), ByteRange(0, 9999, SIZE))
        self.assertEqual(parse_range("bytes=9500-", SIZE), ByteRange(9500, 9999, SIZE))

    def test_suffix(self) -> None:
        """
        C{bytes=-n} is the last n bytes, or the whole file when it is
        shorter.
        """
        self.assertEqual(parse_range("bytes=-500", SIZE), ByteRange(9500, 9999, SIZE))
        self.assertEqual(parse_range("bytes=-1", SIZE), ByteRange(9999, 9999, SIZE))
        self.assertEqual(parse_range("bytes=-20000", SIZE), ByteRange(0, 9999, SIZE))

    def test_unsatisfiable(self) -> None:
        """
        A well-formed range that starts past the end, or an empty suffix,
        cannot be satisfied; the answer names the size.
        """
        for header in ("bytes=10000-", "bytes=10000-10005", "bytes=-0", "bytes=20000-30000"):
            self.assertEqual(parse_range(header, SIZE), Unsatisfiable(SIZE), header)
        self.assertEqual(Unsatisfiable(SIZE).content_range, "bytes */10000")

    def test_empty_file(self) -> None:
        """
        No range of an empty file can be satisfied.
        """
        for header in ("bytes=0-", "bytes=0-0", "bytes=-5"):
            self.assertEqual(parse_range(header, 0), Unsatisfiable(0), header)

    def test_ignored(self) -> None:
        """
        Malformed headers, other units and backwards ranges are ignored:
        the whole file is sent.
        """
        for header in (
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-1",
            "bytes=1-2-3",
            "bytes=0x10-",
            "bytes=+1-2",
            "bytes=1 - 2",
            "bytes=\u0661-\u0662",
            "items=0-1",
            "bytes 0-1",
            "=0-1",
        ):
            self.assertIsNone(parse_range(header, SIZE), repr(header))

    def test_spelling(self) -> None:
        """
        The unit is read in any case, and blanks around the unit and the
        ranges are allowed.
        """
        self.assertEqual(parse_range("Bytes=0-1", SIZE), ByteRange(0, 1, SIZE))
        self.assertEqual(parse_range(" bytes = 0-1 ", SIZE), ByteRange(0, 1, SIZE))
        self.assertEqual(parse_range("bytes=0-1, ", SIZE), ByteRange(0, 1, SIZE))

    def test_several(self) -> None:
        """
        Several ranges that overlap or touch are served as one; ranges
        past the end are dropped; separate ranges get the whole file.
        """
        self.assertEqual(parse_range("bytes=0-99,100-199", SIZE), ByteRange(0, 199, SIZE))
        self.assertEqual(parse_range("bytes=50-150,0-99", SIZE), ByteRange(0, 150, SIZE))
        self.assertEqual(parse_range("bytes=0-1,20000-", SIZE), ByteRange(0, 1, SIZE))
        self.assertEqual(parse_range("bytes=20000-,-0", SIZE), Unsatisfiable(SIZE))
        self.assertIsNone(parse_range("bytes=0-1,5-6", SIZE))
        self.assertIsNone(parse_range("bytes=0-1,-1", SIZE))
        self.assertIsNone(parse_range("bytes=0-1,junk", SIZE))

    def test_too_many(self) -> None:
        """
        A header with more than L{MAX_RANGES} ranges is ignored.
        """
        header = "bytes=" + ",".join(["0-0"] * (MAX_RANGES + 1))
        self.assertIsNone(parse_range(header, SIZE))
        header = "bytes=" + ",".join(["0-0"] * MAX_RANGES)
        self.assertEqual(parse_range(header, SIZE), ByteRange(0, 0, SIZE))

    def test_huge_numbers(self) -> None:
        """
        Positions with thousands of digits are past any end, not an
        error.
        """
        huge = "9" * 5000
        self.assertEqual(parse_range(f"bytes={huge}-", SIZE), Unsatisfiable(SIZE))
        self.assertEqual(parse_range(f"bytes=0-{huge}", SIZE), ByteRange(0, 9999, SIZE))
        self.assertEqual(parse_range(f"bytes=-{huge}", SIZE), ByteRange(0, 9999, SIZE))
        self.assertEqual(parse_range("bytes=" + "0" * 5000 + "1-2", SIZE), ByteRange(1, 2, SIZE))

    @given(st.text(max_size=200), st.integers(min_value=0, max_value=2**40))
    def test_any_text(self, header: str, size: int) -> None:
        """
        Any header, against any size, gives a range within the file, a
        refusal naming the size, or the whole file; never an exception.
        """
        self.check(parse_range(header, size), size)

    @given(
        st.lists(
            st.tuples(
                st.one_of(st.none(), st.integers(min_value=0, max_value=2**70)),
                st.one_of(st.none(), st.integers(min_value=0, max_value=2**70)),
            ),
            min_size=1,
            max_size=5,
        ),
        st.integers(min_value=0, max_value=100000),
    )
    def test_any_ranges(self, specs: list[tuple[int | None, int | None]], size: int) -> None:
        """
        Well-formed headers of any ranges give a valid answer; a single
        satisfiable range is served exactly as asked, clipped to the file.
        """
        text = ",".join(
            f"{'' if first is None else first}-{'' if last is None else last}"
            for first, last in specs
        )
        answer = parse_range("bytes=" + text, size)
        self.check(answer, size)
        if len(specs) == 1:
            first, last = specs[0]
            if first is not None and (last is None or last >= first) and first < size:
                end = size - 1 if last is None else min(last, size - 1)
                self.assertEqual(answer, ByteRange(first, end, size))
            elif first is None and last is not None and last > 0 and size > 0:
                self.assertEqual(answer, ByteRange(max(0, size - last), size - 1, size))

    def check(self, answer: ByteRange | Unsatisfiable | None, size: int) -> None:
        if isinstance(answer, ByteRange):
            self.assertTrue(0 <= answer.start <= answer.end < size, answer)
            self.assertEqual(answer.size, size)
            self.assertGreaterEqual(answer.length, 1)
        elif isinstance(answer, Unsatisfiable):
            self.assertEqual(answer.size, size)
        else:
            self.assertIsNone(answer)
