"""
Tests for L{radiod.outbound}.
"""
