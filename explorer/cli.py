"""The `explorer` command: one subcommand per module in explorer/commands/.

Each command module defines `register(subparsers)`, which adds its parser and sets `func`. Errors a user
can act on print as one line on stderr and exit with status 1: a bad value or option (refused by the parser,
with types from commands/values.py) and any ExplorerError the command raises. Ctrl+C exits 130.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from .errors import ExplorerError, one_line

COMMANDS = ("gui", "generate", "mix", "noise_grid", "video", "project", "train", "dataset", "metrics",
            "showcase", "directions", "convert", "blend", "info")


class UsageError(ExplorerError):
    """A command line the parser refuses (unknown option, bad value); `prog` is the command it was given to."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class OneLineParser(argparse.ArgumentParser):
    """argparse, except that a refusal is one line and exit status 1 (like every other error), not usage + 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self.prog, f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="explorer", description="Explore, render and train StyleGAN2 generators.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"explorer.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"explorer.commands.{name}":
                continue  # command not built into this version
            raise
        module.register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:   # said by the command they were given to, like every other refusal of its options
            raise UsageError(f"explorer {args.command}", f"unrecognized arguments: {' '.join(extra)} "
                                                         f"(see explorer {args.command} --help)")
    except UsageError as e:
        print(f"{e.prog}: error: {e}", file=sys.stderr)
        return 1
    try:
        return int(args.func(args) or 0)
    except ExplorerError as e:
        print(f"explorer {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"explorer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
