"""
radiod's tests.  Property-based tests explore new examples on every local
run, and a fixed, reproducible set under CI (where C{CI} is set).
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
