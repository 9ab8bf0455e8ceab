# -*- test-case-name: tests.test_testing -*-
"""
An auth server's client that asks nobody: it keeps what it was asked and
told, and answers as the test says.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed

from radiod.outbound.urlauth import ALLOWED, CANCELLED, AuthRequest, AuthResult

__all__ = ["FakeUrlAuthenticator"]


class FakeUrlAuthenticator:
    """
    A L{radiod.outbound.urlauth.UrlAuth} for tests of what uses one, with
    the methods of L{radiod.outbound.urlauth.UrlAuthenticator}.

    While L{hold} is false, it answers listeners with L{result} and
    sources with L{source_result} at once.  While it is true, each
    question waits in L{pending} until the test answers it with
    L{answer}, as a question waits for a real auth server.  As with the
    real one, a question cancelled, or waiting when L{close} is called,
    fires with a refusal whose reason is C{"cancelled"}; so does any
    question after L{close}, which is then recorded no more.

    @ivar checks_listeners: whether listeners are to be asked about, as
        L{radiod.outbound.urlauth.UrlAuthenticator.checks_listeners} says
        (true unless the test says otherwise).
    @ivar checks_sources: whether sources are to be asked about (true
        unless the test says otherwise).
    @ivar result: the answer to listeners.
    @ivar source_result: the answer to sources.
    @ivar hold: whether questions wait for L{answer}.
    @ivar pending: the questions waiting, oldest first: each one's
        Deferred and its kind, C{"listener_add"} or C{"stream_auth"}.
    @ivar listeners_added: the listeners asked about, in order.
    @ivar listeners_removed: the listeners told of as gone, each with the
        duration given.
    @ivar mounts_added: the mounts told of as on air.
    @ivar mounts_removed: the mounts told of as off air.
    @ivar sources: the sources asked about: mount, address, user and
        password.
    @ivar closed: whether L{close} was called.
    """

    def __init__(
        self,
        result: AuthResult | None = None,
        source_result: AuthResult | None = None,
        hold: bool = False,
    ) -> None:
        """
        @param result: the answer to listeners; an admission with no
            message nor time limit by default.
        @param source_result: the answer to sources; an admission by
            default.
        @param hold: whether questions wait for L{answer}.
        """
        admitted = AuthResult(True, "", None, ALLOWED)
        self.result = result if result is not None else admitted
        self.source_result = source_result if source_result is not None else admitted
        self.hold = hold
        self.checks_listeners = True
        self.checks_sources = True
        self.pending: list[tuple[Deferred[AuthResult], str]] = []
        self.listeners_added: list[AuthRequest] = []
        self.listeners_removed: list[tuple[AuthRequest, float]] = []
        self.mounts_added: list[str] = []
        self.mounts_removed: list[str] = []
        self.sources: list[tuple[str, str, str, str]] = []
        self.closed = False

    def listener_add(self, request: AuthRequest) -> Deferred[AuthResult]:
        """
        Record a listener asked about; answer with L{result}, or later
        while L{hold}.
        """
        if self.closed:
            return succeed(AuthResult(False, "", None, CANCELLED))
        self.listeners_added.append(request)
        return self._asked(self.result, "listener_add")

    def listener_remove(self, request: AuthRequest, duration: float) -> None:
        """
        Record a listener told of as gone.
        """
        if not self.closed:
            self.listeners_removed.append((request, duration))

    def mount_add(self, mount: str) -> None:
        """
        Record a mount told of as on air.
        """
        if not self.closed:
            self.mounts_added.append(mount)

    def mount_remove(self, mount: str) -> None:
        """
        Record a mount told of as off air.
        """
        if not self.closed:
            self.mounts_removed.append(mount)

    def stream_auth(self, mount: str, ip: str, user: str, password: str) -> Deferred[AuthResult]:
        """
        Record a source asked about; answer with L{source_result}, or
        later while L{hold}.
        """
        if self.closed:
            return succeed(AuthResult(False, "", None, CANCELLED))
        self.sources.append((mount, ip, user, password))
        return self._asked(self.source_result, "stream_auth")

    def close(self) -> Deferred[None]:
        """
        Answer every question waiting with a refusal whose reason is
        C{"cancelled"}, and record nothing more.

        @return: fired already.
        """
        self.closed = True
        while self.pending:
            self.pending[0][0].cancel()
        return succeed(None)

    def answer(self, result: AuthResult | None = None, index: int = 0) -> None:
        """
        Answer a question waiting.

        @param result: the answer; by default L{result} or
            L{source_result}, as the question's kind says.
        @param index: which question in L{pending} (by default the
            oldest; -1 for the latest).
        @raise IndexError: if there is no such question.
        """
        waiting, kind = self.pending.pop(index)
        if result is None:
            result = self.result if kind == "listener_add" else self.source_result
        waiting.callback(result)

    def _asked(self, result: AuthResult, kind: str) -> Deferred[AuthResult]:
        """
        The answer to a question: C{result} now, or a Deferred kept in
        L{pending} while L{hold}.
        """
        if not self.hold:
            return succeed(result)

        def cancel(waiting: Deferred[AuthResult]) -> None:
            self.pending[:] = [each for each in self.pending if each[0] is not waiting]
            waiting.callback(AuthResult(False, "", None, CANCELLED))

        waiting: Deferred[AuthResult] = Deferred(cancel)
        self.pending.append((waiting, kind))
        return waiting
