"""Benchmarks of edged against its targets; see bench/README.md."""
