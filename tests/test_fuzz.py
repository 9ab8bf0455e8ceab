"""
Property-based tests of the parsers that read what strangers send or
write: the SHOUTcast v1 source handshake, playlist files and configuration
files.  Whatever the input, each gives a value or its own clear error,
never another exception, and never hangs.  (The HTTP/ICY request parser,
the MP3 frame splitter, the ICY metadata encoder and demultiplexer have
their properties next to their other tests.)
"""

from __future__ import annotations

import os
import string

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from radiod.config import ConfigError, load_config
from radiod.library.playlist import PlaylistEntry, parse_playlist
from radiod.wire.shoutcast import (
    MAX_HANDSHAKE,
    HandshakeError,
    HandshakeParser,
    IcyHeaders,
    Login,
    parse_login,
)

_LINE_ENDS = st.sampled_from([b"\r\n", b"\n", b"\r\r\n"])


def _chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    """
    C{data} cut into pieces of the given sizes (cycled).
    """
    pieces = []
    at = 0
    index = 0
    while at < len(data):
        size = sizes[index % len(sizes)] if sizes else len(data)
        pieces.append(data[at : at + max(1, size)])
        at += max(1, size)
        index += 1
    return pieces


def _blank(line: bytes) -> bool:
    """
    Whether a handshake line (without its C{\\n}) is empty or only
    whitespace, read as UTF-8 or else Latin-1, any C{\\r} at its end
    ignored: the line that ends the headers.
    """
    line = line.rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("latin-1")
    return not text.strip()


_LINE_TEXT = st.text(alphabet=st.characters(codec="utf-8", blacklist_characters="\n"), max_size=40)
_HEADER_NAMES = st.one_of(
    st.sampled_from(
        ["icy-name", "icy-genre", "icy-url", "icy-pub", "icy-br", "Content-Type", "ICY-NAME"]
    ),
    st.text(alphabet=string.ascii_letters + string.digits + "-_ ", max_size=15),
)


@st.composite
def _handshakes(draw: st.DrawFn) -> bytes:
    """
    A complete SHOUTcast v1 source handshake, from its grammar, then
    audio: a password line (any text, or any bytes, without a line feed),
    C{name:value} header lines and other lines that are not blank, each
    with any of the line ends encoders send, a blank line, and any bytes.
    """
    password = draw(
        st.one_of(
            _LINE_TEXT.map(str.encode),
            st.binary(max_size=40).map(lambda raw: raw.replace(b"\n", b"")),
        )
    )
    lines = [password]
    for is_field in draw(st.lists(st.booleans(), max_size=8)):
        if is_field:
            name = draw(_HEADER_NAMES)
            space = draw(st.sampled_from(["", " "]))
            lines.append(f"{name}:{space}{draw(_LINE_TEXT)}".encode())
        else:
            lines.append(draw(_LINE_TEXT.filter(str.strip)).encode())
    lines.append(b"")
    head = b"".join(line + draw(_LINE_ENDS) for line in lines)
    return head + draw(st.binary(max_size=2000))


_SOURCE_BYTES = st.one_of(_handshakes(), _handshakes(), _handshakes(), st.binary(max_size=3000))
"""
What a source might send: three times in four a well-formed handshake and
audio, else any bytes.
"""


class HandshakeProperties(SynchronousTestCase):
    """
    L{HandshakeParser} on any bytes, cut anywhere.
    """

    def test_any_bytes(self) -> None:
        """
        Any input gives, in order, at most one login, at most one set of
        headers after it, then audio; or L{HandshakeError}.  Nothing is
        lost: the audio is exactly the input after the blank line.  At
        least half the inputs are complete handshakes, so the audio is
        checked that often.
        """
        audio_checked: list[bool] = []

        @settings(max_examples=300, deadline=None)
        @given(_SOURCE_BYTES, st.lists(st.integers(1, 700), min_size=1, max_size=8))
        def check(data: bytes, sizes: list[int]) -> None:
            audio_checked.append(self.check_handshake(data, sizes))

        check()
        self.assertGreaterEqual(
            2 * sum(audio_checked),
            len(audio_checked),
            f"the audio was checked in {sum(audio_checked)} of {len(audio_checked)} examples",
        )

    def check_handshake(self, data: bytes, sizes: list[int]) -> bool:
        """
        Feed C{data} cut into pieces of C{sizes} and check what comes out.

        @return: whether the handshake was complete, so that the audio
            after it was checked.
        """
        parser = HandshakeParser()
        events: list[Login | IcyHeaders | bytes] = []
        try:
            for piece in _chunks(data, sizes):
                events.extend(parser.feed(piece))
        except HandshakeError:
            return False
        kinds = [type(event) for event in events]
        self.assertLessEqual(kinds.count(Login), 1)
        self.assertLessEqual(kinds.count(IcyHeaders), 1)
        if Login in kinds:
            self.assertEqual(kinds[0], Login)
        if IcyHeaders not in kinds:
            self.assertFalse(any(isinstance(e, bytes) for e in events))
            return False
        self.assertEqual(kinds[1], IcyHeaders)
        audio = b"".join(e for e in events if isinstance(e, bytes))
        # The handshake is the lines up to the first blank one after the
        # password line.
        lines = data.split(b"\n")
        header_end = next(i for i, line in enumerate(lines) if i > 0 and _blank(line))
        consumed = sum(len(line) + 1 for line in lines[: header_end + 1])
        self.assertEqual(audio, data[consumed:])
        return True

    @settings(max_examples=200, deadline=None)
    @given(
        st.text(alphabet=string.printable.replace("\n", "").replace("\r", ""), max_size=40),
        st.lists(
            st.tuples(
                st.sampled_from(["icy-name", "icy-genre", "icy-url", "icy-pub", "content-type"]),
                st.text(alphabet=string.ascii_letters + " -/:;", max_size=30),
            ),
            max_size=6,
        ),
        _LINE_ENDS,
        st.binary(max_size=200),
        st.lists(st.integers(1, 50), min_size=1, max_size=5),
    )
    def test_well_formed(
        self,
        password: str,
        headers: list[tuple[str, str]],
        end: bytes,
        audio: bytes,
        sizes: list[int],
    ) -> None:
        """
        A well-formed handshake, in one packet or byte by byte, with any
        line ends, gives the password, the headers and the audio intact.
        """
        head = password.encode() + end
        head += b"".join(f"{k}:{v}".encode() + end for k, v in headers) + end
        parser = HandshakeParser()
        events: list[Login | IcyHeaders | bytes] = []
        for piece in _chunks(head + audio, sizes):
            events.extend(parser.feed(piece))
        login = events[0]
        assert isinstance(login, Login)
        self.assertEqual(login, parse_login(password))
        # The parts put back together give the line again.
        rebuilt = (
            f"{login.dj}:{login.password}" if login.dj or ":" in login.text else login.password
        )
        self.assertEqual(rebuilt, login.text)
        self.assertTrue(password.strip().startswith(login.text))
        fields = events[1]
        assert isinstance(fields, IcyHeaders)
        self.assertEqual([(k, v.strip()) for k, v in headers], [(k, v) for k, v in fields.fields])
        self.assertEqual(b"".join(e for e in events[2:] if isinstance(e, bytes)), audio)

    @settings(max_examples=50, deadline=None)
    @given(st.integers(1, 4096))
    def test_endless_line(self, chunk: int) -> None:
        """
        A line that never ends is refused once it passes the limit,
        however it arrives.
        """
        parser = HandshakeParser()
        with self.assertRaises(HandshakeError):
            for _ in range(MAX_HANDSHAKE // chunk + 2):
                parser.feed(b"x" * chunk)


class PlaylistProperties(SynchronousTestCase):
    """
    L{parse_playlist} on any bytes.
    """

    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(["a.m3u", "a.m3u8", "a.pls", "A.PLS"]), st.binary(max_size=2000))
    def test_any_bytes(self, name: str, data: bytes) -> None:
        """
        Any file contents give a list of entries, each a network URL or
        an absolute path (relative ones resolved against the base), and
        one line of text each.
        """
        entries = parse_playlist(name, data, "/music")
        for entry in entries:
            self.assertIsInstance(entry, PlaylistEntry)
            self.assertTrue(entry.remote or os.path.isabs(entry.location), entry)
            self.assertNotIn("\n", entry.location)
            self.assertNotIn("\n", entry.title)

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="#"),
                min_size=1,
                max_size=30,
            ).filter(lambda line: line.strip() == line and line),
            max_size=10,
        )
    )
    def test_m3u_paths(self, paths: list[str]) -> None:
        """
        Every path line of an M3U file becomes one entry, in order.
        """
        text = "#EXTM3U\n" + "".join(f"#EXTINF:-1,t\n{path}\n" for path in paths)
        entries = parse_playlist("a.m3u8", text.encode(), "/music")
        self.assertEqual(len(entries), len(paths))

    def test_unknown_extension(self) -> None:
        """
        A name with no playlist extension is a clear ValueError.
        """
        self.assertRaises(ValueError, parse_playlist, "a.txt", b"x", "/music")


_TOML_KEYS = [
    "port",
    "interface",
    "max_listeners",
    "header_timeout",
    "send_buffer",
    "workers",
    "source_password",
    "name",
    "music",
    "metaint",
    "burst_size",
    "queue_size",
    "charset",
    "status_line",
    "fallback",
    "live_only",
    "relay",
    "push_to",
    "nonsense",
]
_TOML_VALUES = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: "nan" if f != f else ("inf" if f == float("inf") else repr(f))
    ),
    st.text(max_size=20).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(["true", "false", "[]", '["http://a:b@c/d"]', "{}", '"64KiB"', '"/x"']),
)


class ConfigProperties(SynchronousTestCase):
    """
    L{load_config} on any text.
    """

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=400))
    def test_any_text(self, text: str) -> None:
        """
        Any text gives a configuration or a one-line L{ConfigError}.
        """
        self.check(text)

    @settings(max_examples=400, deadline=None)
    @given(
        st.lists(st.tuples(st.sampled_from(_TOML_KEYS), _TOML_VALUES), max_size=6),
        st.lists(
            st.lists(st.tuples(st.sampled_from(_TOML_KEYS), _TOML_VALUES), max_size=6),
            max_size=3,
        ),
    )
    def test_any_keys(
        self, server: list[tuple[str, str]], mounts: list[list[tuple[str, str]]]
    ) -> None:
        """
        Tables of known and unknown keys with values of any type give a
        configuration or a one-line L{ConfigError} naming a key.
        """
        lines = ["[server]", *(f"{k} = {v}" for k, v in dict(server).items())]
        for mount in mounts:
            lines.append("[[mount]]")
            lines.extend(f"{k} = {v}" for k, v in dict(mount).items())
        self.check("\n".join(lines) + "\n")

    def check(self, text: str) -> None:
        try:
            load_config(text, path_exists=lambda path: True)
        except ConfigError as error:
            message = str(error)
            self.assertTrue(message)
            self.assertNotIn("\n", message)
            self.assertTrue(message.startswith("radiod.toml"), message)


class FoundByFuzzing(SynchronousTestCase):
    """
    Inputs the coverage-guided fuzzer found that once raised.
    """

    def test_unicode_digits_after_sid_marker(self) -> None:
        """
        A stream id made of non-ASCII digits (C{³}) is not a stream id: the
        line reads as C{dj:password}.
        """
        login = parse_login("pw:#\u00b3")
        self.assertEqual((login.dj, login.password, login.sid), ("pw", "#\u00b3", None))
        parser = HandshakeParser()
        self.assertIsInstance(parser.feed("pw:#\u00b3\n".encode())[0], Login)

    def test_unbalanced_bracket_url(self) -> None:
        """
        A playlist line that looks like a URL but has an unbalanced C{[}
        becomes a remote entry nothing plays, instead of failing the
        playlist.
        """
        entries = parse_playlist("a.m3u", b"http://[oops/x.mp3\n/music/b.mp3\n", "/m")
        self.assertEqual([e.remote for e in entries], [True, False])
