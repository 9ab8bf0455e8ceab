# -*- test-case-name: tests.web.test_monitoring -*-
"""
A request's query, read as radiod reads every query (and as Icecast
does): only C{&} separates parameters, a key without C{=} is there with
the value C{""}, and values are text (UTF-8, else Latin-1).

Not Twisted's C{request.args}, which drops a key without C{=}, splits at
C{;} too, and lays a form body over the query: the status pages and the
admin commands answer such queries as they always have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from radiod.ingest.metadata import decode_value, parse_form, raw_query
from radiod.web.site import StationRequest

__all__ = ["first", "query"]


def query(request: StationRequest) -> dict[str, list[str]]:
    """
    The parameters of C{request}'s query.

    @return: each key mapped to its values, in order.
    """
    form = parse_form(raw_query(request.uri.decode("latin-1")))
    return {key: [decode_value(value) for value in values] for key, values in form.items()}


def first(params: Mapping[str, Sequence[str]], key: str) -> str | None:
    """
    The first value of parameter C{key}, or C{None} when it is absent.
    """
    values = params.get(key)
    return values[0] if values else None
