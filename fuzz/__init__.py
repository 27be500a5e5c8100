"""Fuzz harnesses (atheris) for the parsers that read what users upload; see README "Fuzzing" and `make fuzz`."""
