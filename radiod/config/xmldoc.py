# -*- test-case-name: tests.config.test_icecast -*-
"""
Reading an XML configuration such as Icecast's C{icecast.xml} into a tree
of L{Element}s that remember their file and line, with Icecast-KH's
C{<include>}s put in place, and the readers of an element's value
(L{integer_of}, L{flag_of}) whose errors name the file, the line and the
element.  Pure: the files are read by the caller's includer.

A document type declaration is refused, so no entity can be declared,
expanded or loaded from elsewhere.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from xml.parsers import expat

from radiod.config.errors import ConfigError

__all__ = [
    "INTEGER",
    "Element",
    "Includer",
    "Origin",
    "element_error",
    "expand_includes",
    "flag_of",
    "include_files",
    "integer_of",
    "parse_xml",
    "read_file",
]

_MAX_INCLUDE_DEPTH = 8
INTEGER = re.compile(r"[+-]?\d+")
"""
An integer, as an element's text or an attribute may give one.
"""
_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off"})


Includer = Callable[[str], Sequence[tuple[str, bytes]]]
"""
Reads the files an C{<include>} names: given the path or pattern (already
taken from the including file's folder when relative), the matching
files' paths and contents, in order; raises C{OSError} for a file that
cannot be read.
"""


@dataclass(frozen=True)
class Origin:
    """
    Where a value came from: an element of a file.
    """

    file: str
    """
    The file's name, as given.
    """
    line: int
    """
    The line the element starts on, counting from 1.
    """
    element: str
    """
    The element's name, without brackets.
    """

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: <{self.element}>"


class Element:
    """
    One element of the document.
    """

    __slots__ = ("attributes", "children", "file", "line", "name", "order", "parts")

    def __init__(self, name: str, attributes: dict[str, str], file: str, line: int) -> None:
        self.name = name
        self.attributes = attributes
        self.file = file
        self.line = line
        self.parts: list[str] = []
        self.children: list[Element] = []
        self.order = 0

    @property
    def text(self) -> str:
        """
        The element's own text (not its children's), stripped.
        """
        return "".join(self.parts).strip()

    @property
    def origin(self) -> Origin:
        return Origin(self.file, self.line, self.name)

    def walk(self) -> Iterator[Element]:
        """
        The element and everything in it, in document order.
        """
        yield self
        for child in self.children:
            yield from child.walk()


class Refused(Exception):
    """
    The document uses something refused (a DTD, an entity).
    """

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def parse_xml(data: bytes, filename: str) -> Element:
    """
    Parse a document into a tree of L{Element}s.  A document type
    declaration is refused: without one, no entity can be declared (so
    none expanded, or loaded from elsewhere), and one used is an error.

    @raise ConfigError: for malformed XML, or a document type declaration.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Element] = []
    roots: list[Element] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        element = Element(name, attributes, filename, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(name: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].parts.append(data)

    def doctype(*args: object) -> None:
        raise Refused(parser.CurrentLineNumber, "<!DOCTYPE> declarations are not allowed")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        reason = expat.ErrorString(e.code)
        raise ConfigError(
            f"{filename} line {e.lineno}: not valid XML: {reason} (column {e.offset + 1})"
        ) from None
    except Refused as e:
        raise ConfigError(f"{filename} line {e.line}: {e.reason}") from None
    return roots[0]


def element_error(element: Element, reason: str) -> ConfigError:
    return ConfigError(f"{element.origin}: {reason}", reason=reason)


def integer_of(element: Element, low: int | None = 0, high: int | None = None) -> int:
    """
    An element's text as an integer in a range.

    @raise ConfigError: if it is not one.
    """
    text = element.text
    if not INTEGER.fullmatch(text):
        raise element_error(element, f"must be an integer, not {text!r}")
    value = int(text)
    if low is not None and high is not None and not low <= value <= high:
        raise element_error(element, f"must be between {low} and {high}, not {value}")
    if low is not None and value < low:
        raise element_error(element, f"must be {low} or more, not {value}")
    return value


def flag_of(element: Element) -> bool:
    """
    An element's text as a boolean: an integer (true unless 0), or
    C{true}/C{false}, C{yes}/C{no}, C{on}/C{off}.

    @raise ConfigError: for anything else.
    """
    text = element.text.lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if INTEGER.fullmatch(text):
        return int(text) != 0
    raise element_error(element, f"must be 0 or 1, not {element.text!r}")


def expand_includes(root: Element, include: Includer | None, depth: int = 0) -> list[Element]:
    """
    Put the root elements of the files C{<include>}s name after them.

    @return: the includes that matched no file.
    """
    empty: list[Element] = []
    children: list[Element] = []
    for child in root.children:
        children.append(child)
        if child.name != "include":
            continue
        if include is None:
            raise element_error(child, "cannot read included files here")
        if depth >= _MAX_INCLUDE_DEPTH:
            raise element_error(child, f"includes nest more than {_MAX_INCLUDE_DEPTH} deep")
        pattern = os.path.join(os.path.dirname(child.file), child.text)
        try:
            found = include(pattern)
        except OSError as e:
            raise element_error(child, f"cannot read {pattern}: {e.strerror or e}") from None
        if not found:
            empty.append(child)
        for path, data in found:
            included = parse_xml(data, path)
            holder = Element("icecast", {}, path, included.line)
            holder.children.append(included)
            empty += expand_includes(holder, include, depth + 1)
            children.extend(holder.children)
    root.children = children
    return empty


def read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def include_files(pattern: str) -> list[tuple[str, bytes]]:
    """
    The files an C{<include>} names: the one file, or every file a
    pattern with C{*}, C{?} or C{[} matches, in order of name.  Blocking.
    """
    if not any(c in pattern for c in "*?["):
        return [(pattern, read_file(pattern))]
    return [(path, read_file(path)) for path in sorted(glob.glob(pattern))]
