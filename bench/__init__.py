"""Benchmarks (`make bench`): run as `python -m bench.<name>`; results in docs/benchmarks.md."""
