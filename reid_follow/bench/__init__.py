"""Benchmarks: each writes JSON (ratios against a baseline measured in the same process)."""
