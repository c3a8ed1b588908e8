"""Benchmarks against library peers, measured in the same run."""
