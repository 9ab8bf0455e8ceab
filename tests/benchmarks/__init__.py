"""
Tests for the benchmark programs in C{benchmarks/}.

The benchmarks are scripts that import their siblings by name (C{from
swarm import build}); their folder goes on the import path here, last, so
that their tests import them the same way.
"""

import os
import sys

_BENCHMARKS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmarks"
)
if _BENCHMARKS not in sys.path:
    sys.path.append(_BENCHMARKS)
