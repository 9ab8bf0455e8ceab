"""
Tests for L{radiod.ingest}.
"""
