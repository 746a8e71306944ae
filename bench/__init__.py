"""Benchmarks: each ``bench_*.py`` compares the project against a named peer in the same run and prints ratios."""
