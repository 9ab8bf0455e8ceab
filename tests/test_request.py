# mypy: disallow-untyped-calls=False
"""
Tests for L{radiod.request}.
"""

from __future__ import annotations

import dataclasses
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from radiod.request import (
    MAX_HEAD,
    REASONS,
    Request,
    RequestError,
    RequestParser,
    build_response_head,
)

WINAMP = (
    b"GET /stream HTTP/1.0\r\n"
    b"Host: radio.example.org:8000\r\n"
    b"User-Agent: WinampMPEG/5.66, Ultravox/2.1\r\n"
    b"Ultravox-transport-type: TCP\r\n"
    b"Accept: */*\r\n"
    b"Icy-MetaData:1\r\n"
    b"Connection: close\r\n"
    b"\r\n"
)

VLC = (
    b"GET /live.mp3 HTTP/1.1\r\n"
    b"Host: radio.example.org:8000\r\n"
    b"Accept: */*\r\n"
    b"Accept-Language: en_US\r\n"
    b"User-Agent: VLC/3.0.18 LibVLC/3.0.18\r\n"
    b"Range: bytes=0-\r\n"
    b"Icy-MetaData: 1\r\n"
    b"\r\n"
)

LAVF = (
    b"GET /live.mp3 HTTP/1.1\r\n"
    b"User-Agent: Lavf/59.27.100\r\n"
    b"Accept: */*\r\n"
    b"Range: bytes=0-\r\n"
    b"Connection: close\r\n"
    b"Host: 127.0.0.1:8000\r\n"
    b"Icy-MetaData: 1\r\n"
    b"\r\n"
)

FIREFOX = (
    b"GET /live.mp3 HTTP/1.1\r\n"
    b"Host: radio.example.org:8000\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: audio/webm,audio/ogg,audio/wav,audio/*;q=0.9,application/ogg;q=0.7,"
    b"video/*;q=0.6,*/*;q=0.5\r\n"
    b"Accept-Language: en-GB,en;q=0.5\r\n"
    b"Range: bytes=0-\r\n"
    b"Connection: keep-alive\r\n"
    b"Referer: http://radio.example.org:8000/\r\n"
    b"Sec-Fetch-Dest: audio\r\n"
    b"Sec-Fetch-Mode: no-cors\r\n"
    b"\r\n"
)

SOURCE_PUT = (
    b"PUT /live.mp3 HTTP/1.1\r\n"
    b"Host: localhost:8000\r\n"
    b"Authorization: Basic c291cmNlOmhhY2ttZQ==\r\n"
    b"User-Agent: libshout/2.4.6\r\n"
    b"Content-Type: audio/mpeg\r\n"
    b"ice-name: Caf\xc3\xa9 Radio\r\n"
    b"ice-public: 0\r\n"
    b"ice-audio-info: bitrate=128;channels=2;samplerate=44100\r\n"
    b"Expect: 100-continue\r\n"
    b"\r\n"
)

SAMPLES = [WINAMP, VLC, LAVF, FIREFOX, SOURCE_PUT]


def _parse(data: bytes) -> Request:
    """
    Parse a complete head in one go.

    @param data: the bytes of a request head.
    @return: the request.
    """
    parser = RequestParser()
    request = parser.feed(data)
    assert request is not None, "head not complete"
    return request


def _head(*lines: bytes) -> bytes:
    """
    @param lines: the request line and header lines, without line ends.
    @return: the head with CRLF line ends and the final blank line.
    """
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n"


class RequestParserTests(SynchronousTestCase):
    """
    Tests for L{RequestParser} on well-formed requests.
    """

    def test_winamp(self) -> None:
        """
        Winamp's HTTP/1.0 request with C{Icy-MetaData:1} (no space) asks for
        metadata.
        """
        request = _parse(WINAMP)
        self.assertEqual(request.method, "GET")
        self.assertEqual(request.target, "/stream")
        self.assertEqual(request.path, "/stream")
        self.assertEqual(request.query, {})
        self.assertEqual(request.version, "HTTP/1.0")
        self.assertEqual(request.header("user-agent"), "WinampMPEG/5.66, Ultravox/2.1")
        self.assertEqual(request.header("Icy-MetaData"), "1")
        self.assertTrue(request.wants_metadata)
        self.assertEqual(request.host, "radio.example.org:8000")

    def test_vlc(self) -> None:
        """
        VLC's HTTP/1.1 request asks for metadata.
        """
        request = _parse(VLC)
        self.assertEqual(request.version, "HTTP/1.1")
        self.assertEqual(request.header("RANGE"), "bytes=0-")
        self.assertTrue(request.wants_metadata)

    def test_lavf(self) -> None:
        """
        FFmpeg's request asks for metadata and carries its Host last but
        one.
        """
        request = _parse(LAVF)
        self.assertEqual(request.header("User-Agent"), "Lavf/59.27.100")
        self.assertEqual(request.host, "127.0.0.1:8000")
        self.assertTrue(request.wants_metadata)

    def test_browser(self) -> None:
        """
        A browser's request does not ask for metadata.
        """
        request = _parse(FIREFOX)
        self.assertFalse(request.wants_metadata)
        self.assertEqual(request.header("Sec-Fetch-Dest"), "audio")
        self.assertIn("Firefox/128.0", request.header("user-agent") or "")

    def test_source_put(self) -> None:
        """
        A libshout PUT is parsed with its ice- headers, UTF-8 values decoded.
        """
        request = _parse(SOURCE_PUT)
        self.assertEqual(request.method, "PUT")
        self.assertEqual(request.header("ICE-NAME"), "Café Radio")
        self.assertEqual(request.header("Expect"), "100-continue")
        self.assertFalse(request.wants_metadata)

    def test_latin1_header_value(self) -> None:
        """
        A header value that is not valid UTF-8 is decoded as Latin-1.
        """
        request = _parse(_head(b"SOURCE /m HTTP/1.0", b"ice-name: Caf\xe9"))
        self.assertEqual(request.header("ice-name"), "Café")

    def test_headers_in_order(self) -> None:
        """
        Headers are kept in order with their names as sent and values
        without surrounding blanks; tabs inside values are allowed.
        """
        request = _parse(_head(b"GET / HTTP/1.0", b"X-A:  1 \t", b"x-b:\ttwo\tparts", b"X-A: 3"))
        self.assertEqual(request.headers, (("X-A", "1"), ("x-b", "two\tparts"), ("X-A", "3")))
        self.assertEqual(request.header("x-a"), "1")
        self.assertEqual(request.header_list("X-a"), ["1", "3"])
        self.assertEqual(request.header_list("missing"), [])
        self.assertIsNone(request.header("missing"))

    def test_empty_value(self) -> None:
        """
        A header with an empty value is present with value C{""}.
        """
        request = _parse(_head(b"GET / HTTP/1.0", b"X-Empty:"))
        self.assertEqual(request.header("x-empty"), "")

    def test_no_host(self) -> None:
        """
        Without a Host header, C{host} is C{None}.
        """
        self.assertIsNone(_parse(_head(b"GET / HTTP/1.0")).host)

    def test_unknown_method(self) -> None:
        """
        Unknown methods are returned for the router to refuse.
        """
        self.assertEqual(_parse(_head(b"BREW /pot HTTP/1.1")).method, "BREW")
        self.assertEqual(_parse(_head(b"get / HTTP/1.1")).method, "get")

    def test_frozen(self) -> None:
        """
        Requests are immutable.
        """
        request = _parse(WINAMP)
        self.assertRaises(dataclasses.FrozenInstanceError, setattr, request, "path", "/x")

    def test_byte_by_byte(self) -> None:
        """
        Each sample fed one byte at a time gives the same request as fed at
        once, returned on the last byte and not before.
        """
        for sample in SAMPLES:
            parser = RequestParser()
            for index in range(len(sample) - 1):
                self.assertIsNone(parser.feed(sample[index : index + 1]))
            self.assertEqual(parser.feed(sample[-1:]), _parse(sample))

    def test_random_splits(self) -> None:
        """
        Split at random places, each sample gives the same request.
        """
        rng = random.Random(7)
        for sample in SAMPLES:
            for _ in range(50):
                cuts = sorted(rng.sample(range(1, len(sample)), 3))
                parser = RequestParser()
                results = [
                    parser.feed(sample[start:end])
                    for start, end in zip([0, *cuts], [*cuts, len(sample)], strict=True)
                ]
                self.assertEqual(results[:-1], [None, None, None])
                self.assertEqual(results[-1], _parse(sample))

    def test_remainder(self) -> None:
        """
        Bytes after the head are kept in C{remainder}, and later bytes are
        added to it.
        """
        parser = RequestParser()
        self.assertEqual(parser.remainder, b"")
        request = parser.feed(SOURCE_PUT + b"\xff\xfb\x90")
        self.assertIsNotNone(request)
        self.assertEqual(parser.remainder, b"\xff\xfb\x90")
        self.assertIsNone(parser.feed(b"\x00\n\r"))
        self.assertEqual(parser.remainder, b"\xff\xfb\x90\x00\n\r")

    def test_remainder_split(self) -> None:
        """
        The end of the head can arrive in the same chunk as the body.
        """
        parser = RequestParser()
        self.assertIsNone(parser.feed(SOURCE_PUT[:-3]))
        self.assertIsNotNone(parser.feed(SOURCE_PUT[-3:] + b"body"))
        self.assertEqual(parser.remainder, b"body")


class WantsMetadataTests(SynchronousTestCase):
    """
    Tests for L{Request.wants_metadata}.
    """

    def _wants(self, *headers: bytes) -> bool:
        """
        @param headers: header lines.
        @return: whether a GET with those headers asks for metadata.
        """
        return _parse(_head(b"GET / HTTP/1.0", *headers)).wants_metadata

    def test_true(self) -> None:
        """
        Values that C{atoi} reads as non-zero ask for metadata, whatever the
        header name's case.
        """
        for line in (
            b"Icy-MetaData:1",
            b"icy-metadata: 1",
            b"ICY-METADATA:   1   ",
            b"Icy-MetaData: 2",
            b"Icy-MetaData: 01",
            b"Icy-MetaData: -1",
            b"Icy-MetaData: 1yes",
        ):
            self.assertTrue(self._wants(line), line)

    def test_false(self) -> None:
        """
        Zero, empty, non-numeric values and an absent header do not.
        """
        for line in (
            b"Icy-MetaData: 0",
            b"Icy-MetaData:",
            b"Icy-MetaData: yes",
            b"Icy-MetaData: 00",
            b"Icy-MetaData: +0",
            b"Icy-MetaData: true",
            b"X-Icy-MetaData: 1",
        ):
            self.assertFalse(self._wants(line), line)
        self.assertFalse(self._wants())


class TargetTests(SynchronousTestCase):
    """
    Tests for the request target's forms and decoding.
    """

    def _request(self, target: bytes, method: bytes = b"GET") -> Request:
        """
        @param target: the request target.
        @param method: the method.
        @return: the parsed request.
        """
        return _parse(_head(method + b" " + target + b" HTTP/1.1"))

    def assertStatus(self, status: int, data: bytes) -> None:
        """
        Assert that parsing C{data} fails with C{status}.

        @param status: the expected status.
        @param data: a request head.
        """
        error = self.assertRaises(RequestError, _parse, data)
        self.assertEqual(error.status, status)

    def test_percent_decoding(self) -> None:
        """
        The path is percent-decoded as UTF-8 and the raw target kept.
        """
        request = self._request(b"/a%20b/%E6%9D%B1.mp3")
        self.assertEqual(request.path, "/a b/東.mp3")
        self.assertEqual(request.target, "/a%20b/%E6%9D%B1.mp3")

    def test_shoutcast_alias(self) -> None:
        """
        SHOUTcast-style C{/;} paths are kept as they are.
        """
        self.assertEqual(self._request(b"/;stream.mp3").path, "/;stream.mp3")

    def test_query(self) -> None:
        """
        The query is split off and parsed, C{+} meaning space, repeated keys
        collected, bare keys given an empty value.
        """
        request = self._request(
            b"/admin/metadata?mount=/live.mp3&mode=updinfo&song=AC%2FDC+-+T.N.T.&x&x=2&"
        )
        self.assertEqual(request.path, "/admin/metadata")
        self.assertEqual(
            request.query,
            {
                "mount": ["/live.mp3"],
                "mode": ["updinfo"],
                "song": ["AC/DC - T.N.T."],
                "x": ["", "2"],
            },
        )

    def test_query_charsets(self) -> None:
        """
        Query values are UTF-8, or Latin-1 when not valid UTF-8.
        """
        request = self._request(b"/?a=Mot%C3%B6rhead&b=Mot%F6rhead")
        self.assertEqual(request.query, {"a": ["Motörhead"], "b": ["Motörhead"]})

    def test_absolute_form(self) -> None:
        """
        An absolute-form C{http} or C{https} target gives its path and query.
        """
        request = self._request(b"http://radio.example.org:8000/live.mp3?x=1")
        self.assertEqual(request.path, "/live.mp3")
        self.assertEqual(request.query, {"x": ["1"]})
        self.assertEqual(self._request(b"HTTPS://radio.example.org").path, "/")
        self.assertEqual(self._request(b"http://h?x=1").query, {"x": ["1"]})

    def test_asterisk(self) -> None:
        """
        C{*} is accepted with OPTIONS only.
        """
        self.assertEqual(self._request(b"*", b"OPTIONS").path, "*")
        self.assertStatus(400, _head(b"GET * HTTP/1.1"))

    def test_bad_forms(self) -> None:
        """
        Relative targets, other schemes and authority-form are refused.
        """
        for target in (b"live.mp3", b"ftp://h/x", b"h:8000", b"http:///x", b"?x"):
            self.assertStatus(400, _head(b"GET " + target + b" HTTP/1.1"))

    def test_bad_path_encoding(self) -> None:
        """
        A path that decodes to invalid UTF-8 or to control characters is
        refused.
        """
        self.assertStatus(400, _head(b"GET /%ff HTTP/1.1"))
        self.assertStatus(400, _head(b"GET /a%00b HTTP/1.1"))
        self.assertStatus(400, _head(b"GET /a%0D%0Ab HTTP/1.1"))


class RequestErrorTests(SynchronousTestCase):
    """
    Tests for the errors L{RequestParser} raises.
    """

    def assertStatus(self, status: int, data: bytes) -> RequestError:
        """
        Assert that C{data}, fed at once and byte by byte, fails with
        C{status}.

        @param status: the expected status.
        @param data: request bytes.
        @return: the error.
        """
        error: RequestError = self.assertRaises(RequestError, RequestParser().feed, data)
        self.assertEqual(error.status, status)
        parser = RequestParser()

        def trickle() -> None:
            for index in range(len(data)):
                parser.feed(data[index : index + 1])

        again = self.assertRaises(RequestError, trickle)
        self.assertEqual((again.status, again.reason), (error.status, error.reason))
        return error

    def test_error_fields(self) -> None:
        """
        L{RequestError} carries a status and reason, shown by C{str}.
        """
        error = RequestError(400, "bad thing")
        self.assertEqual((error.status, error.reason), (400, "bad thing"))
        self.assertEqual(str(error), "400 bad thing")

    def test_malformed_request_line(self) -> None:
        """
        A request line that is not three single-space-separated parts is
        refused.
        """
        for line in (
            b"GET /",
            b"GET / HTTP/1.1 extra",
            b"GET  / HTTP/1.1",
            b"GET\t/ HTTP/1.1",
            b" GET / HTTP/1.1",
            b"",
            b"GET / HTTP/1.1 ",
        ):
            self.assertStatus(400, _head(line, b"Host: x"))

    def test_request_line_bytes(self) -> None:
        """
        Non-ASCII and control bytes in the request line are refused.
        """
        for line in (b"GET /caf\xc3\xa9 HTTP/1.1", b"GET /a\x00 HTTP/1.1", b"GET /\x7f HTTP/1.1"):
            self.assertStatus(400, _head(line))

    def test_bad_method(self) -> None:
        """
        A method that is not a token is refused.
        """
        self.assertStatus(400, _head(b"G(ET / HTTP/1.1"))

    def test_unsupported_version(self) -> None:
        """
        Well-formed versions other than 1.0 and 1.1 get 505.
        """
        for version in (b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.2", b"HTTP/3.0"):
            self.assertStatus(505, _head(b"GET / " + version))

    def test_malformed_version(self) -> None:
        """
        Malformed versions get 400.
        """
        for version in (b"HTTP/1", b"http/1.1", b"ICE/1.0", b"HTTP/1.10", b"HTTP/11"):
            self.assertStatus(400, _head(b"GET / " + version))

    def test_no_colon(self) -> None:
        """
        A header line without a colon is refused.
        """
        self.assertStatus(400, _head(b"GET / HTTP/1.0", b"Icy-MetaData 1"))

    def test_bad_header_names(self) -> None:
        """
        Header names with spaces (also before the colon), empty names and
        names with separators or non-ASCII bytes are refused.
        """
        for line in (
            b"Icy MetaData: 1",
            b"Host : x",
            b": x",
            b"Ho(st): x",
            b"H\xc3\xb6st: x",
            b"Host\x01: x",
        ):
            self.assertStatus(400, _head(b"GET / HTTP/1.0", line))

    def test_control_in_value(self) -> None:
        """
        Control characters other than tab in a header value are refused.
        """
        for value in (b"a\x00b", b"a\x1bb", b"a\x7f"):
            self.assertStatus(400, _head(b"GET / HTTP/1.0", b"X-A: " + value))

    def test_obs_fold(self) -> None:
        """
        A header line starting with a space or tab (obs-fold) is refused as
        such, even when it would otherwise look like a header.
        """
        for line in (b" continued", b"\tcontinued", b" X-B: 2"):
            error = self.assertStatus(400, _head(b"GET / HTTP/1.0", b"X-A: 1", line))
            self.assertIn("folding", error.reason)

    def test_bare_lf(self) -> None:
        """
        A line ended by LF alone is refused, wherever it is.
        """
        self.assertStatus(400, b"GET / HTTP/1.0\nHost: x\r\n\r\n")
        self.assertStatus(400, b"GET / HTTP/1.0\r\nHost: x\n\r\n")
        self.assertStatus(400, b"GET / HTTP/1.0\r\nHost: x\r\n\n")
        self.assertStatus(400, b"\n")

    def test_bare_lf_early(self) -> None:
        """
        A bare LF is refused as soon as it arrives, so a client sending
        LF-only requests gets an answer rather than waiting for a CRLF that
        will never come.
        """
        parser = RequestParser()
        self.assertIsNone(parser.feed(b"GET / HTTP/1.0\r"))
        self.assertIsNone(parser.feed(b"\nHost: x\r"))
        error = self.assertRaises(RequestError, parser.feed, b"\n\n")
        self.assertEqual(error.status, 400)

    def test_bare_cr(self) -> None:
        """
        A CR not followed by LF is refused.
        """
        self.assertStatus(400, _head(b"GET / HTTP/1.0", b"X-A: a\rb"))
        self.assertStatus(400, _head(b"GET /\r HTTP/1.0"))

    def test_duplicate_content_length(self) -> None:
        """
        Two Content-Length headers are refused, even when equal.
        """
        self.assertStatus(
            400, _head(b"PUT /m HTTP/1.1", b"Content-Length: 5", b"content-length: 5")
        )

    def test_content_length_and_transfer_encoding(self) -> None:
        """
        Content-Length together with Transfer-Encoding is refused.
        """
        self.assertStatus(
            400,
            _head(b"PUT /m HTTP/1.1", b"Transfer-Encoding: chunked", b"Content-Length: 5"),
        )

    def test_bad_content_length(self) -> None:
        """
        A Content-Length that is not a plain number is refused.
        """
        for value in (b"-1", b"5, 5", b"", b"0x10", b"\xd9\xa1"):
            self.assertStatus(400, _head(b"PUT /m HTTP/1.1", b"Content-Length: " + value))

    def test_framing_headers_accepted(self) -> None:
        """
        A single Content-Length, or Transfer-Encoding alone, is fine.
        """
        request = _parse(_head(b"PUT /m HTTP/1.1", b"Content-Length: 12"))
        self.assertEqual(request.header("content-length"), "12")
        request = _parse(_head(b"PUT /m HTTP/1.1", b"Transfer-Encoding: chunked"))
        self.assertEqual(request.header("transfer-encoding"), "chunked")

    def test_duplicate_host(self) -> None:
        """
        Two Host headers are refused.
        """
        self.assertStatus(400, _head(b"GET / HTTP/1.1", b"Host: a", b"Host: b"))

    def test_sticky(self) -> None:
        """
        Once a parser has failed, it fails again on any later input.
        """
        parser = RequestParser()
        first = self.assertRaises(RequestError, parser.feed, b"GET / HTTP/2.0\r\n\r\n")
        second = self.assertRaises(RequestError, parser.feed, WINAMP)
        self.assertIs(first, second)


class HeadLimitTests(SynchronousTestCase):
    """
    Tests for the L{MAX_HEAD} limit.
    """

    def test_at_limit(self) -> None:
        """
        A head of exactly L{MAX_HEAD} bytes is accepted.
        """
        start = b"GET / HTTP/1.0\r\nX-Pad: "
        data = start + b"a" * (MAX_HEAD - len(start) - 4) + b"\r\n\r\n"
        self.assertEqual(len(data), MAX_HEAD)
        request = _parse(data)
        self.assertEqual(len(request.header("x-pad") or ""), MAX_HEAD - len(start) - 4)

    def test_over_limit(self) -> None:
        """
        A complete head one byte over the limit gets 431, even if it arrives
        in one piece.
        """
        start = b"GET / HTTP/1.0\r\nX-Pad: "
        data = start + b"a" * (MAX_HEAD - len(start) - 3) + b"\r\n\r\n"
        error = self.assertRaises(RequestError, RequestParser().feed, data)
        self.assertEqual(error.status, 431)

    def test_body_does_not_count(self) -> None:
        """
        Bytes after the head do not count towards the limit.
        """
        parser = RequestParser()
        self.assertIsNotNone(parser.feed(SOURCE_PUT + b"x" * (2 * MAX_HEAD)))
        self.assertEqual(len(parser.remainder), 2 * MAX_HEAD)

    def test_trickle_without_line_end(self) -> None:
        """
        A client trickling bytes with no CRLF at all is stopped on the byte
        that makes a valid head impossible, not left to grow.
        """
        parser = RequestParser()
        parser.feed(b"GET /")
        for _ in range(MAX_HEAD - 6):
            self.assertIsNone(parser.feed(b"a"))
        error = self.assertRaises(RequestError, parser.feed, b"a")
        self.assertEqual(error.status, 431)

    def test_trickle_mid_header(self) -> None:
        """
        Endless bytes of one header value are stopped at the limit.
        """
        parser = RequestParser()
        parser.feed(b"GET / HTTP/1.0\r\nX-Endless: ")
        fed = len(b"GET / HTTP/1.0\r\nX-Endless: ")

        def trickle() -> None:
            nonlocal fed
            while fed <= 10 * MAX_HEAD:
                parser.feed(b"b" * 100)
                fed += 100

        error = self.assertRaises(RequestError, trickle)
        self.assertEqual(error.status, 431)
        self.assertLess(fed, MAX_HEAD + 100)

    @settings(max_examples=500, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.binary(max_size=200),
                st.sampled_from(
                    [
                        b"GET ",
                        b"OPTIONS ",
                        b"/",
                        b"*",
                        b"http://h",
                        b"%",
                        b"%ff",
                        b"?a=b&",
                        b" HTTP/1.1",
                        b" HTTP/2.0",
                        b"\r\n",
                        b"\r",
                        b"\n",
                        b": ",
                        b"Content-Length: 1",
                        b"Transfer-Encoding: x",
                        b"Host: h",
                        b"Icy-MetaData:",
                        b"\r\n\r\n",
                    ]
                ),
            ),
            max_size=60,
        )
    )
    def test_arbitrary_bytes(self, chunks: list[bytes]) -> None:
        """
        Arbitrary bytes, in arbitrary pieces, only ever raise
        L{RequestError}.
        """
        parser = RequestParser()
        for chunk in chunks:
            try:
                parser.feed(chunk)
            except RequestError:
                return

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.text(alphabet="-aZ!~\xe9", min_size=1, max_size=6),
                st.binary(max_size=20),
            ),
            max_size=8,
        ),
        st.binary(max_size=40),
    )
    def test_arbitrary_headers(self, headers: list[tuple[str, bytes]], target: bytes) -> None:
        """
        Heads with arbitrary names, values and targets only ever raise
        L{RequestError}, and fed byte by byte give the same outcome as fed
        at once.
        """
        data = _head(
            b"GET /" + target + b" HTTP/1.1",
            *(name.encode("utf-8") + b": " + value for name, value in headers),
        )
        try:
            whole: Request | int | None = RequestParser().feed(data)
        except RequestError as error:
            whole = error.status
        parser = RequestParser()
        try:
            pieces: Request | int | None = None
            for index in range(len(data)):
                pieces = parser.feed(data[index : index + 1]) or pieces
        except RequestError as error:
            pieces = error.status
        self.assertEqual(whole, pieces)


class BuildResponseHeadTests(SynchronousTestCase):
    """
    Tests for L{build_response_head}.
    """

    def test_icecast_style(self) -> None:
        """
        The head is an HTTP/1.0 status line, then the headers in the given
        order and case, C{icy-} ones without a space after the colon, then a
        blank line.
        """
        head = build_response_head(
            200,
            [
                ("Content-Type", "audio/mpeg"),
                ("Cache-Control", "no-cache, no-store"),
                ("icy-br", "128"),
                ("ice-audio-info", "ice-samplerate=44100;ice-bitrate=128;ice-channels=2"),
                ("icy-name", "My Station"),
                ("Icy-MetaInt", "16000"),
            ],
        )
        self.assertEqual(
            head,
            b"HTTP/1.0 200 OK\r\n"
            b"Content-Type: audio/mpeg\r\n"
            b"Cache-Control: no-cache, no-store\r\n"
            b"icy-br:128\r\n"
            b"ice-audio-info: ice-samplerate=44100;ice-bitrate=128;ice-channels=2\r\n"
            b"icy-name:My Station\r\n"
            b"Icy-MetaInt:16000\r\n"
            b"\r\n",
        )

    def test_icy_status_line(self) -> None:
        """
        With C{icy}, the status line is C{ICY 200 OK}.
        """
        self.assertEqual(
            build_response_head(200, [("icy-metaint", "8192")], icy=True),
            b"ICY 200 OK\r\nicy-metaint:8192\r\n\r\n",
        )

    def test_no_headers(self) -> None:
        """
        With no headers, the head is the status line and a blank line.
        """
        self.assertEqual(build_response_head(404, []), b"HTTP/1.0 404 Not Found\r\n\r\n")

    def test_reason_override(self) -> None:
        """
        A given reason replaces the standard one, and allows other statuses.
        """
        self.assertEqual(
            build_response_head(401, [], reason="Authentication Required"),
            b"HTTP/1.0 401 Authentication Required\r\n\r\n",
        )
        self.assertEqual(
            build_response_head(418, [], reason="Teapot"), b"HTTP/1.0 418 Teapot\r\n\r\n"
        )

    def test_unknown_status(self) -> None:
        """
        A status with no known reason and none given is refused, as is a
        status outside 100-999.
        """
        self.assertRaises(ValueError, build_response_head, 418, [])
        self.assertRaises(ValueError, build_response_head, 42, [], reason="x")

    def test_utf8_values(self) -> None:
        """
        Non-ASCII values are written as UTF-8.
        """
        self.assertEqual(
            build_response_head(200, [("icy-name", "Café 東京")]),
            "HTTP/1.0 200 OK\r\nicy-name:Café 東京\r\n\r\n".encode(),
        )

    def test_injection_refused(self) -> None:
        """
        CR, LF or NUL in a value or reason, and a name that is not a token,
        raise L{ValueError}.
        """
        for value in ("a\r\nX-Evil: 1", "a\n", "a\r", "a\x00"):
            self.assertRaises(ValueError, build_response_head, 200, [("icy-name", value)])
            self.assertRaises(ValueError, build_response_head, 200, [], reason=value)
        for name in ("X-Evil\r\nA", "X A", "", "X:A", "icy-name\n"):
            self.assertRaises(ValueError, build_response_head, 200, [(name, "v")])

    def test_reasons(self) -> None:
        """
        Every status radiod uses has a reason phrase.
        """
        for status in (200, 204, 206, 400, 401, 403, 404, 405, 408, 415, 416, 431, 500, 503, 505):
            self.assertIn(status, REASONS)
            self.assertTrue(
                build_response_head(status, []).startswith(f"HTTP/1.0 {status} ".encode())
            )
        self.assertEqual(REASONS[431], "Request Header Fields Too Large")
