"""The command line: ``python -m search COMMAND``."""

from search.cli.main import main

__all__ = ["main"]
