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

from search import __version__
from search.cli.argtypes import EXIT_USAGE, OneLineErrorParser
from search.cli.device_commands import DEVICE_COMMANDS
from search.cli.model_commands import MODEL_COMMANDS
from search.cli.run_commands import RUN_COMMANDS
from search.cli.study_commands import STUDY_COMMANDS
from spaces import NasError

__all__ = ["main", "build_parser", "COMMANDS"]

Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: dict[str, Command] = {**DEVICE_COMMANDS, **RUN_COMMANDS, **STUDY_COMMANDS, **MODEL_COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="python -m search",
                                description="Hardware-aware neural architecture search.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show info logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineErrorParser)
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
