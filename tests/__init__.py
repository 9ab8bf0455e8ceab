"""
radiod's tests.  Property-based tests explore new examples on every local
run, and a fixed, reproducible set under CI (where C{CI} is set).

Stations the tests start as child processes keep their state and cache in
a folder of the test run's own, never in the home folder of whoever runs
the tests.
"""

import atexit
import os
import shutil
import tempfile

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_HOME = tempfile.mkdtemp(prefix="radiod-tests-")
atexit.register(shutil.rmtree, _HOME, True)
for _name in ("STATE_DIRECTORY", "CACHE_DIRECTORY"):
    os.environ.pop(_name, None)
os.environ["XDG_STATE_HOME"] = os.path.join(_HOME, "state")
os.environ["XDG_CACHE_HOME"] = os.path.join(_HOME, "cache")
