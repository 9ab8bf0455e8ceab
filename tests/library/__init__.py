"""
Tests for L{radiod.library}.
"""
