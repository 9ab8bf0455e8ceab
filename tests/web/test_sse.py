"""
Tests for L{radiod.web.sse}: the Server-Sent Events wire format.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from radiod.web.sse import CONTENT_TYPE, format_comment, format_event


class FormatEventTests(SynchronousTestCase):
    """
    L{format_event} frames one event.
    """

    def test_data_only(self) -> None:
        """
        An event with data only is a C{data:} line and the blank line that
        dispatches it.
        """
        self.assertEqual(format_event("hello"), b"data: hello\n\n")

    def test_all_fields(self) -> None:
        """
        C{retry}, C{event} and C{id} come before the data, in that order.
        """
        self.assertEqual(
            format_event("{}", event="snapshot", id="7", retry=5000),
            b"retry: 5000\nevent: snapshot\nid: 7\ndata: {}\n\n",
        )

    def test_multiline_data(self) -> None:
        """
        Every line of the data, whatever its line break, gets its own
        C{data:} field, so no line break can end the event early or start
        a field of its own.
        """
        self.assertEqual(
            format_event("one\ntwo\r\nthree\rfour"),
            b"data: one\ndata: two\ndata: three\ndata: four\n\n",
        )
        self.assertEqual(
            format_event("a\n\nevent: evil"), b"data: a\ndata: \ndata: event: evil\n\n"
        )

    def test_empty_data(self) -> None:
        """
        Empty data is one empty C{data:} field (a client dispatches it as
        an empty string).
        """
        self.assertEqual(format_event("", event="ping"), b"event: ping\ndata: \n\n")

    def test_utf8(self) -> None:
        """
        The stream is UTF-8.
        """
        text = "Caf\u00e9 \u2013 \u2615"
        self.assertEqual(format_event(text), f"data: {text}\n\n".encode())
        self.assertIn("charset=utf-8", CONTENT_TYPE)
        self.assertTrue(CONTENT_TYPE.startswith("text/event-stream"))

    def test_bad_single_line_fields(self) -> None:
        """
        An event type or id that spans lines or holds NUL, or a negative
        retry, is refused rather than framed.
        """
        for bad in ("a\nb", "a\rb", "a\r\nb", "a\0b"):
            self.assertRaises(ValueError, format_event, "x", event=bad)
            self.assertRaises(ValueError, format_event, "x", id=bad)
        self.assertRaises(ValueError, format_event, "x", retry=-1)


class FormatCommentTests(SynchronousTestCase):
    """
    L{format_comment} frames a comment, which clients ignore.
    """

    def test_empty(self) -> None:
        """
        The shortest keep-alive: a colon and a blank line.
        """
        self.assertEqual(format_comment(), b":\n\n")

    def test_text(self) -> None:
        """
        A comment's text follows the colon; each line is its own comment.
        """
        self.assertEqual(format_comment("keep-alive"), b": keep-alive\n\n")
        self.assertEqual(format_comment("a\nb"), b": a\n: b\n\n")
