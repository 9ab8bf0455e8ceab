# -*- test-case-name: tests.ingest.test_source -*-
"""
Decoding a source's C{Transfer-Encoding: chunked} request body as it
arrives.

Pure: bytes in, payload bytes out.
"""

from __future__ import annotations

__all__ = ["ChunkError", "Dechunker"]

_MAX_CHUNK_LINE = 4096


class ChunkError(Exception):
    """
    A chunked request body is malformed.
    """


class Dechunker:
    """
    Decode a C{Transfer-Encoding: chunked} body incrementally.

    @ivar done: whether the last chunk and the trailer have been read;
        later bytes are ignored.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._left = 0
        self._state = "size"
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """
        Decode the next bytes of the body.

        @return: the payload bytes they complete (possibly empty).
        @raise ChunkError: on a malformed size line or chunk ending, or a
            size or trailer line longer than 4096 bytes.
        """
        if self.done:
            return b""
        self._buffer += data
        out = bytearray()
        buffer = self._buffer
        while buffer and not self.done:
            if self._state == "data":
                take = min(self._left, len(buffer))
                out += buffer[:take]
                del buffer[:take]
                self._left -= take
                if self._left == 0:
                    self._state = "end"
                continue
            if self._state == "end":
                if len(buffer) < 2:
                    break
                if buffer[:2] != b"\r\n":
                    raise ChunkError("chunk not followed by CRLF")
                del buffer[:2]
                self._state = "size"
                continue
            line = self._line()
            if line is None:
                break
            if self._state == "size":
                self._size(line)
            elif not line:
                self.done = True
                buffer.clear()
        return bytes(out)

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_CHUNK_LINE:
                raise ChunkError("chunk line too long")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _size(self, line: bytes) -> None:
        digits = line.split(b";", 1)[0].strip()
        if (
            not digits
            or len(digits) > 16
            or any(c not in b"0123456789abcdefABCDEF" for c in digits)
        ):
            raise ChunkError("bad chunk size")
        size = int(digits, 16)
        if size == 0:
            self._state = "trailer"
        else:
            self._left = size
            self._state = "data"
