# -*- test-case-name: tests.ingest.test_source -*-
"""
What a live source says about its stream: the C{ice-*} headers of its
request (or their C{icy-*} forms), which listeners get back as C{icy-*}
headers and a live mount takes its description from.

Pure: a parsed request in, a value out.
"""

from __future__ import annotations

from dataclasses import dataclass

from radiod.request import Request

__all__ = ["StreamInfo"]


@dataclass(frozen=True)
class StreamInfo:
    """
    What a source says about its stream (C{ice-*} headers, or their
    C{icy-*} forms), passed on to listeners as C{icy-*} headers.

    @ivar name: C{ice-name}.
    @ivar genre: C{ice-genre}.
    @ivar description: C{ice-description}.
    @ivar url: C{ice-url}.
    @ivar public: C{ice-public}, or C{None} when not given.
    @ivar audio_info: C{ice-audio-info}, as given.
    """

    name: str = ""
    genre: str = ""
    description: str = ""
    url: str = ""
    public: bool | None = None
    audio_info: str = ""

    @classmethod
    def from_request(cls, request: Request) -> StreamInfo:
        """
        Read the stream's description from a source request's headers.
        """

        def get(key: str) -> str:
            value = request.header("ice-" + key)
            if value is None:
                value = request.header("icy-" + key)
            return value or ""

        public = get("public") or get("pub")
        return cls(
            name=get("name"),
            genre=get("genre"),
            description=get("description"),
            url=get("url"),
            public=None if not public else public.strip() not in ("0", "false", "no"),
            audio_info=get("audio-info"),
        )
