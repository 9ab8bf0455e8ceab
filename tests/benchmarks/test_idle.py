"""
Tests for C{benchmarks/idle.py}: where an idle station's memory goes.
"""

from __future__ import annotations

import idle
from twisted.trial.unittest import SynchronousTestCase


class RssAfterTests(SynchronousTestCase):
    """
    L{idle.rss_after} reads a fresh process's resident memory after the
    code given.
    """

    def test_reactor_costs_memory(self) -> None:
        """
        A bare interpreter is a few MB; importing Twisted's reactor adds
        several more, which the reading sees.
        """
        bare = idle.rss_after("")
        with_reactor = idle.rss_after("from twisted.internet import reactor")
        self.assertGreater(bare, 1024)
        self.assertGreater(with_reactor, bare + 5 * 1024)

    def test_steps_import(self) -> None:
        """
        Every import step's code runs: a typo would fail the benchmark only
        when it is run.
        """
        for label, code in idle.STEPS:
            self.assertGreater(idle.rss_after(code), 0, label)
