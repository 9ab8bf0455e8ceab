"""
Tests for L{radiod.wire}.
"""
