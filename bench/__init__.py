"""Benchmarks: `python -m bench [NAME...]` prints one JSON object per line per metric."""


class BenchError(Exception):
    """A benchmark could not set up or run (the message says what to check)."""
