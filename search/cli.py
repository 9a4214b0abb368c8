"""Command line: ``python -m search COMMAND``.

Each command parses its arguments, calls one library function and prints.
A user mistake (any ``NasError``) becomes one line on stderr and exit code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from spaces import NasError

from . import __version__

__all__ = ["main", "build_parser"]

EXIT_USAGE = 2


def _cmd_spaces(args: argparse.Namespace) -> int:
    from .catalog import describe_spaces, format_count

    rows = describe_spaces()
    width = max(len(r.name) for r in rows)
    print(f"{'space':<{width}}  {'architectures':>13}  description")
    for r in rows:
        print(f"{r.name:<{width}}  {format_count(r.architectures):>13}  {r.description}")
    return 0


def _cmd_devices(args: argparse.Namespace) -> int:
    from hwprofiles.summary import describe_profiles

    rows = describe_profiles()
    header = ("device", "spaces", "measured", "runtime", "precision", "batch", "noise", "source")
    table = [header] + [
        (r.name, ",".join(r.spaces) or "-", str(r.measurements), r.runtime, ",".join(r.precisions), str(r.batch),
         "-" if r.noise_floor_pct is None else f"{r.noise_floor_pct:.1f}%", r.source)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "spaces": ("list the search spaces with the number of architectures each holds", lambda p: None, _cmd_spaces),
    "devices": ("list the device profiles (shipped and measured)", lambda p: None, _cmd_devices),
}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad flags already; make the message one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m search", description="Hardware-aware neural architecture search.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show info logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (help_text, add_args, _) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = COMMANDS[args.command][2]
    try:
        return handler(args)
    except NasError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
