# -*- test-case-name: tests.config.test_values -*-
"""
Values as a configuration file writes them: sizes with units, charset
names, and the converters that turn what C{tomllib} reads into what
L{StationConfig<radiod.config.schema.StationConfig>} and
L{MountConfig<radiod.config.schema.MountConfig>} hold.

Each converter takes any TOML value and returns the field's value, or
raises C{ValueError} with a short reason naming the type it was given,
such as C{"must be an integer, not a string"}.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "KIB",
    "Converter",
    "bitrate_list",
    "boolean",
    "charset",
    "duration",
    "integer",
    "normalize_charset",
    "number",
    "parse_duration",
    "parse_size",
    "size",
    "status_line",
    "string",
    "string_list",
]

KIB = 1024
"""
Bytes in a kibibyte, the unit sizes are counted in.
"""

Converter = Callable[[object], Any]
"""
Turns a value read from TOML into a field's value; raises C{ValueError}.
"""

_SIZE = re.compile(r"\s*(\d+)\s*([A-Za-z]*)\s*")
_SIZE_UNITS = {"": 1, "b": 1, "k": KIB, "kib": KIB, "m": KIB**2, "mib": KIB**2}
_SIZE_UNITS.update({"g": KIB**3, "gib": KIB**3})
_CHARSET_NAMES = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1"}
_CHARSET_NAMES.update({"iso-8859-1": "latin-1", "iso8859-1": "latin-1"})


def parse_size(text: str) -> int:
    """
    Read a size in bytes written with an optional binary unit.

    @param text: C{"65536"}, C{"64KiB"}, C{"512 KiB"}, C{"1MiB"}, C{"1G"};
        units are B, K or KiB, M or MiB, G or GiB, in any case.
    @return: the number of bytes.
    @raise ValueError: with a short reason, if C{text} is not such a size.
    """
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size (write bytes, or a number with KiB or MiB)")
    number, unit = match.groups()
    factor = _SIZE_UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown unit {unit!r} in {text!r} (use B, KiB, MiB or GiB)")
    return int(number) * factor


def normalize_charset(name: str) -> str:
    """
    Name a supported ICY title charset the way radiod spells it.

    @param name: C{"UTF-8"}, C{"utf8"}, C{"latin-1"}, C{"ISO-8859-1"} ...
    @return: C{"utf-8"} or C{"latin-1"}.
    @raise ValueError: for any other charset.
    """
    canonical = _CHARSET_NAMES.get(name.strip().lower().replace("_", "-"))
    if canonical is None:
        raise ValueError(f'must be "utf-8" or "latin-1", not {name!r}')
    return canonical


def _type_name(value: object) -> str:
    """
    Describe a TOML value's type the way the TOML specification does.
    """
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def string(value: object) -> str:
    """
    A string, as it is.
    """
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_type_name(value)}")
    return value


def boolean(value: object) -> bool:
    """
    C{true} or C{false}.
    """
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_type_name(value)}")
    return value


def integer(value: object) -> int:
    """
    An integer (not a boolean, not a float).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer, not {_type_name(value)}")
    return value


def number(value: object) -> float:
    """
    An integer or a float, as a float.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, not {_type_name(value)}")
    return float(value)


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """
    Read a duration such as C{"30m"}, C{"3h"}, C{"1h30m"}, C{"90s"} or
    C{"45"} (seconds).

    @return: seconds.
    @raise ValueError: with a short reason, if C{text} is not one.
    """
    found = _DURATION.match(text.strip().lower())
    if not text.strip() or found is None or not any(found.groups()):
        raise ValueError(f'must be a duration such as "30m", "3h" or "1h30m", not {text!r}')
    hours, minutes, seconds = (float(part) if part else 0.0 for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def duration(value: object) -> float:
    """
    A duration in seconds: a number, or a string that L{parse_duration}
    reads.
    """
    if isinstance(value, str):
        return parse_duration(value)
    return number(value)


def size(value: object) -> int:
    """
    A size in bytes: an integer, or a string that L{parse_size} reads.
    """
    if isinstance(value, str):
        return parse_size(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f'must be a size such as 65536 or "64KiB", not {_type_name(value)}')
    return value


def string_list(what: str) -> Converter:
    """
    A converter for a list of strings, where one string stands for a list
    of one.

    @param what: what the list holds, for the error, as in C{"URLs"}
        (C{"must be a list of URLs, not an integer"}).
    @return: the converter, giving a tuple of strings.
    """

    def convert(value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list):
            raise ValueError(f"must be a list of {what}, not {_type_name(value)}")
        return tuple(string(item) for item in value)

    return convert


def bitrate_list(value: object) -> tuple[int, ...]:
    """
    A list of bitrates in kbit/s, where one integer stands for a list of
    one.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if not isinstance(value, list):
        raise ValueError(f"must be a list of bitrates in kbit/s, not {_type_name(value)}")
    return tuple(integer(item) for item in value)


def charset(value: object) -> str:
    """
    A charset name, spelt as L{normalize_charset} spells it.
    """
    return normalize_charset(string(value))


def status_line(value: object) -> bool:
    """
    C{"http"} or C{"icy"}, in any case: whether replies start
    C{ICY 200 OK}.
    """
    style = string(value).strip().lower()
    if style not in ("http", "icy"):
        raise ValueError(f'must be "http" or "icy", not {value!r}')
    return style == "icy"
