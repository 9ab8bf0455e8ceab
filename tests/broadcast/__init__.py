"""
Tests for L{radiod.broadcast}.
"""
