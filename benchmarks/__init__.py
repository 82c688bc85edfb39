"""Benchmarks of the dirisk engine and its plain-Mesa reference (``python -m benchmarks``)."""
