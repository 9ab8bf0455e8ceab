"""
Tests for L{radiod.web}.
"""
