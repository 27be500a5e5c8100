"""Benchmark scripts (run them as files: python bench/<name>.py)."""
