"""argparse pieces: types for the numbers (a bad value is argparse's own one-line error), lists, the
parser, and the exit code of an interrupted command."""

from __future__ import annotations

import argparse
import math

__all__ = ["positive_int", "positive_float", "open_fraction", "comma_list", "OneLineErrorParser",
           "EXIT_USAGE", "Terminated", "interrupted_exit"]

EXIT_USAGE = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, as Ctrl-C is (``search.cli.main``)."""


def interrupted_exit(exc: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal's number (SIGTERM 15, SIGINT 2)."""
    return 143 if isinstance(exc, Terminated) else 130


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse exits 2 on bad flags already; make the message one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def comma_list(text: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def open_fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1 (a coverage)."""
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value
