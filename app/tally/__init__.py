"""Tally: the pure counting engine (standard library only)."""
