# -*- test-case-name: tests.web.test_ranges -*-
"""
HTTP byte ranges (RFC 9110, section 14): what part of a file a C{Range}
header asks for.

Everything here is pure: a header and a file size in, a decision out.
radiod answers one range at a time: a header naming several ranges is
served as the one range they make when they overlap or touch, and
otherwise with the whole file (a server may always ignore C{Range}).
Malformed headers and other units are ignored the same way, so a client
that sends something odd gets the whole file rather than an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_RANGES", "ByteRange", "Unsatisfiable", "parse_range"]

MAX_RANGES = 64
"""
The most ranges one header may list before it is ignored outright.
"""

_HUGE = 10**19
"""
Stands for any position with more digits than a file size can have.
"""

_SPEC = re.compile(r"([0-9]*)-([0-9]*)")

_PAST_END = (-1, -1)
"""
What L{_spec} gives for a well-formed range that lies past the file's end.
"""


@dataclass(frozen=True, slots=True)
class ByteRange:
    """
    The bytes C{start} to C{end} of a file, both included: what a
    C{206 Partial Content} answer carries.

    @ivar start: the first byte's offset.
    @ivar end: the last byte's offset.
    @ivar size: the whole file's size.
    """

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        """
        How many bytes the range holds.
        """
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        """
        The C{Content-Range} header's value: C{bytes 0-1/4096}.
        """
        return f"bytes {self.start}-{self.end}/{self.size}"


@dataclass(frozen=True, slots=True)
class Unsatisfiable:
    """
    A well-formed C{Range} header none of whose ranges overlaps the file:
    the answer is C{416 Range Not Satisfiable}.

    @ivar size: the file's size.
    """

    size: int

    @property
    def content_range(self) -> str:
        """
        The C{Content-Range} header's value: C{bytes */4096}.
        """
        return f"bytes */{self.size}"


def _number(digits: str) -> int:
    """
    A position from its digits; absurdly long ones stand for "past any
    file's end" (Python refuses to convert thousands of digits).
    """
    stripped = digits.lstrip("0")
    return int(stripped or "0") if len(stripped) <= 18 else _HUGE


def _spec(text: str, size: int) -> tuple[int, int] | None:
    """
    Read one range spec.

    @return: the range as C{(start, end)} clipped to the file; L{_PAST_END}
        when it is well formed but lies past the end; C{None} when it is
        malformed.
    """
    match = _SPEC.fullmatch(text.strip(" \t"))
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = _number(last)
        if suffix == 0 or size == 0:
            return _PAST_END
        return max(0, size - suffix), size - 1
    start = _number(first)
    end = _number(last) if last else _HUGE
    if end < start:
        return None
    if start >= size:
        return _PAST_END
    return start, min(end, size - 1)


def parse_range(header: str | None, size: int) -> ByteRange | Unsatisfiable | None:
    """
    Decide what a C{Range} header asks of a file of C{size} bytes.

    Never raises, whatever the header holds.

    @param header: the header's value, or C{None} when the request has
        none.
    @param size: the file's size in bytes.
    @return: the one range to send (C{206}); L{Unsatisfiable} when the
        header is well formed but no range of it overlaps the file
        (C{416}); C{None} to send the whole file (C{200}): no header, a
        malformed one, a unit other than C{bytes}, more than
        L{MAX_RANGES} ranges, or several ranges that do not make one.
    """
    if header is None:
        return None
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip(" \t").lower() != "bytes":
        return None
    parts = [part for part in specs.split(",") if part.strip(" \t")]
    if not parts or len(parts) > MAX_RANGES:
        return None
    wanted: list[tuple[int, int]] = []
    for part in parts:
        spec = _spec(part, size)
        if spec is None:
            return None
        if spec != _PAST_END:
            wanted.append(spec)
    if not wanted:
        return Unsatisfiable(size)
    wanted.sort()
    start, end = wanted[0]
    for next_start, next_end in wanted[1:]:
        if next_start > end + 1:
            return None
        end = max(end, next_end)
    return ByteRange(start, end, size)
