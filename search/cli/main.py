"""Command line: ``python -m search COMMAND``.

Each command parses its arguments, calls one library function and prints.
A user mistake (any ``NasError``) becomes one line on stderr and exit code 2;
``--debug`` shows the traceback instead. SIGTERM (a scheduler, ``kill``) takes the
path Ctrl-C takes, so what a command started (worker processes, a study's last
trial) is wound down the same way; it exits 143.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence

from search import __version__
from search.cli.argtypes import EXIT_USAGE, OneLineErrorParser, Terminated, interrupted_exit
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


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:  # whoever started us chose to ignore it
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        if previous is not None:  # None: a handler set outside Python, which cannot be put back
            signal.signal(signal.SIGTERM, previous)


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
        with _sigterm_as_interrupt():
            return handler(args)
    except NasError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        print("terminated" if isinstance(exc, Terminated) else "interrupted", file=sys.stderr)
        return interrupted_exit(exc)
