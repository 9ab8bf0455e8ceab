"""
Tests for L{radiod.hls.sessions}.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from radiod.broadcast.mount import Mount
from radiod.config import MountConfig
from radiod.hls.sessions import HlsSession, HlsSessions, new_token, valid_token
from radiod.testing import FakeFrameSource

AGENT = "AppleCoreMedia/1.0"


class SessionTests(SynchronousTestCase):
    """
    A session lives while its player reloads, and ends a while after.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.mount = Mount(MountConfig(name="/stream"), FakeFrameSource([]), self.clock)
        self.other = Mount(MountConfig(name="/other"), FakeFrameSource([]), self.clock)
        self.sessions = HlsSessions(self.clock)
        self.ended: list[HlsSession] = []
        self.sessions.on_end.append(self.ended.append)

    def reload(self, token: str, client: str = "192.0.2.1", mount: Mount | None = None) -> None:
        self.sessions.seen(mount or self.mount, "stream", token, client, AGENT, "", 18.0, 128_000)

    def test_tokens(self) -> None:
        """
        Tokens are 16 hexadecimal digits, different each time.
        """
        tokens = {new_token() for _ in range(100)}
        self.assertEqual(len(tokens), 100)
        self.assertTrue(all(valid_token(token) for token in tokens))
        self.assertFalse(valid_token("x" * 16))
        self.assertFalse(valid_token("abc"))

    def test_lives_while_reloading(self) -> None:
        """
        Reloads within the linger keep one session, counted once on the
        mount; it ends the linger after the last, told to C{on_end} with
        its duration and the audio its time amounts to.
        """
        token = new_token()
        for _ in range(10):
            self.reload(token)
            self.clock.advance(3)
        self.assertEqual((self.mount.hls_listeners, self.mount.audience), (1, 1))
        self.assertEqual(self.sessions.count(self.mount), 1)
        self.clock.advance(14.5)
        self.assertEqual(self.ended, [])
        self.clock.advance(0.5)
        self.assertEqual(len(self.ended), 1)
        session = self.ended[0]
        self.assertEqual((session.duration, session.reloads), (27.0, 10))
        self.assertEqual(session.sent, 27 * 128_000 // 8)
        self.assertEqual(self.mount.hls_listeners, 0)
        self.assertEqual(self.mount.peak_listeners, 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_players_apart(self) -> None:
        """
        Players with their own tokens are sessions of their own, even from
        one address; players without a token are told apart by address
        and user agent; the peak counts them all.
        """
        self.reload(new_token())
        self.reload(new_token())
        self.reload("")
        self.reload("", client="192.0.2.2")
        self.reload("", client="192.0.2.2")
        self.reload("not-a-token")
        self.assertEqual(self.mount.hls_listeners, 4)
        self.assertEqual(self.mount.peak_listeners, 4)

    def test_other_mount(self) -> None:
        """
        A session that moves to another mount ends there and begins anew.
        """
        token = new_token()
        self.reload(token)
        self.clock.advance(5)
        self.reload(token, mount=self.other)
        self.assertEqual([s.mount for s in self.ended], [self.mount])
        self.assertEqual((self.mount.hls_listeners, self.other.hls_listeners), (0, 1))

    def test_stop(self) -> None:
        """
        Stopping ends every session at once.
        """
        self.reload(new_token())
        self.reload(new_token(), mount=self.other)
        self.sessions.stop()
        self.assertEqual(len(self.ended), 2)
        self.assertEqual(self.sessions.sessions, {})
        self.assertEqual(self.clock.getDelayedCalls(), [])
