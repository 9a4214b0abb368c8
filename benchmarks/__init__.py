"""Benchmarks: one script per measured claim, ``python -m benchmarks.NAME``."""
