# -*- test-case-name: tests.config.test_errors -*-
"""
What goes wrong with a configuration: L{ConfigError}, the error callers
see, and L{Invalid}, the bare problem the checks raise before anyone knows
which file, if any, the value came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["ConfigError", "Invalid", "KeyPath", "format_key_path"]

KeyPath = tuple[str | int, ...]
"""
Where a value lives in the TOML document: C{("mount", 1, "burst_size")}.
"""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class ConfigError(Exception):
    """
    The configuration cannot be used.  C{str(error)} is one line for the
    operator, naming the option or key (and the file line where known).

    @ivar path: the key at fault, or C{()} when none is.
    @ivar reason: the message without the key and file, as in
        C{"must be smaller than queue_size (524288)"}.
    @ivar alternatives: other C{(path, reason)} ways to tell the same
        problem, blaming another key involved (for burst and queue size,
        the queue size); a caller blames the one the user actually set.
    """

    def __init__(
        self,
        message: str,
        path: KeyPath = (),
        reason: str = "",
        alternatives: Sequence[tuple[KeyPath, str]] = (),
    ) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason or message
        self.alternatives = tuple(alternatives)


class Invalid(Exception):
    """
    A value is wrong; carries the key and the reason, without a file name.
    Raised and caught inside L{radiod.config}, which turns it into a
    L{ConfigError}.

    @ivar path: the key at fault.
    @ivar reason: why, as in C{"must be smaller than queue_size (524288)"}.
    @ivar alternatives: as for L{ConfigError.alternatives}.
    """

    def __init__(
        self, path: KeyPath, reason: str, alternatives: Sequence[tuple[KeyPath, str]] = ()
    ) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason
        self.alternatives = tuple(alternatives)


def format_key_path(path: KeyPath) -> str:
    """
    Spell a key path the way error messages do: C{mount[1].burst_size}.

    @param path: the path, such as C{("mount", 1, "burst_size")}.
    @return: the dotted form; keys that are not bare TOML keys are quoted.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            text += "." + name if text else name
    return text
