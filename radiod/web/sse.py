# -*- test-case-name: tests.web.test_sse -*-
"""
The Server-Sent Events wire format (C{text/event-stream}): events,
comments and the reconnection delay, as bytes.

Only framing lives here; what is sent and when is L{radiod.web.events}.
"""

from __future__ import annotations

import re

__all__ = ["CONTENT_TYPE", "format_comment", "format_event"]

CONTENT_TYPE = "text/event-stream; charset=utf-8"
"""
The media type of an event stream (always UTF-8).
"""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _field(name: str, value: str) -> str:
    """
    One single-line field; a value that would break the framing is refused.
    """
    if _LINE_BREAK.search(value) or "\0" in value:
        raise ValueError(f"{name} must be one line without NUL: {value!r}")
    return f"{name}: {value}\n"


def format_event(
    data: str,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """
    Frame one event.

    Every line of C{data} (split at CR LF, CR or LF, as a client splits
    them) becomes its own C{data:} field, so the client gets C{data} back
    with its line breaks as LF.

    @param data: the event's data (may span lines; may be empty).
    @param event: the event type, or C{None} for the default C{message}.
    @param id: the event id, or C{None} for none.
    @param retry: milliseconds the client should wait before reconnecting,
        or C{None} to leave its setting alone.
    @return: the event, ending with the blank line that dispatches it.
    @raise ValueError: if C{event} or C{id} spans lines or holds NUL, or
        C{retry} is negative.
    """
    parts = []
    if retry is not None:
        if retry < 0:
            raise ValueError(f"retry must not be negative: {retry}")
        parts.append(f"retry: {retry}\n")
    if event is not None:
        parts.append(_field("event", event))
    if id is not None:
        parts.append(_field("id", id))
    parts.extend(f"data: {line}\n" for line in _LINE_BREAK.split(data))
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def format_comment(text: str = "") -> bytes:
    """
    Frame a comment: clients ignore it, proxies see traffic (a keep-alive).

    @param text: the comment (may span lines; each becomes a comment line).
    @return: the comment lines and a blank line.
    """
    lines = "".join(f":{' ' if line else ''}{line}\n" for line in _LINE_BREAK.split(text))
    return (lines + "\n").encode("utf-8")
