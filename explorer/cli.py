"""The `explorer` command: one subcommand per module in explorer/commands/.

Each command module defines `register(subparsers)`, which adds its parser and sets `func`. Errors a user
can act on (ExplorerError) print as one line on stderr and exit with status 1; Ctrl+C exits 130.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from .errors import ExplorerError

COMMANDS = ("gui", "generate", "mix", "noise_grid", "video", "project", "train", "dataset", "metrics",
            "directions", "convert", "blend", "info")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="explorer", description="Explore, render and train StyleGAN2 generators.")
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
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ExplorerError as e:
        print(f"explorer {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"explorer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
