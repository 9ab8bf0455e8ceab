# -*- test-case-name: tests.test_auth -*-
"""
Comparing secrets: every password radiod checks (admin, source, SHOUTcast
v1) goes through L{same_secret}.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["same_secret"]


def same_secret(given: str, expected: str) -> bool:
    """
    Whether two secrets are equal, compared in constant time: both are
    hashed to digests of the same length, which L{hmac.compare_digest}
    compares, so the time taken tells neither the expected value nor its
    length.

    @param given: what a client sent.
    @param expected: what it should be.
    """
    digest = hashlib.sha256
    return hmac.compare_digest(
        digest(given.encode("utf-8", "surrogateescape")).digest(),
        digest(expected.encode("utf-8", "surrogateescape")).digest(),
    )
