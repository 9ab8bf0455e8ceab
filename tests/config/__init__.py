"""
Tests for L{radiod.config}.
"""
