"""What a value on the command line may be: argparse types that refuse a bad value, at parse time, before any
file is opened or written. The parser (cli.py) turns the refusal into the usual one line and exit status 1.

    p.add_argument("--fps", type=number(0, MAX_FPS, low_open=True))    # finite, 0 < fps <= 50
    p.add_argument("--batch", type=count(1, 4096))                     # an integer in 1..4096
    p.add_argument("--seeds", type=seed_list)                          # [0, 1, 2, 3, 10] from '0-3,10'
    p.add_argument("--outdir", type=path)                              # not empty
"""
from __future__ import annotations

import argparse
import math
from typing import Callable

from ..errors import ExplorerError
from ..latents import SEED_RANGE, parse_seeds


def count(lo: int, hi: int) -> Callable[[str], int]:
    """An integer in lo..hi (both included)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text[:40]!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi}, got {text[:40]}")
        return value
    return parse


def number(lo: float = -math.inf, hi: float = math.inf, low_open: bool = False) -> Callable[[str], float]:
    """A finite number in [lo, hi] (or (lo, hi] with low_open): never NaN or infinite."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text[:40]}")
        if value < lo or value > hi or (low_open and value == lo):
            left = "(" if low_open else "["
            raise argparse.ArgumentTypeError(f"must be in {left}{lo:g}, {hi:g}], got {text[:40]}")
        return value
    return parse


def numbers(n: int, lo: float = -math.inf, hi: float = math.inf) -> Callable[[str], tuple[float, ...]]:
    """n comma-separated finite numbers, each in [lo, hi]: '0.1,-0.2' -> (0.1, -0.2)."""
    one = number(lo, hi)

    def parse(text: str) -> tuple[float, ...]:
        parts = text.split(",")
        if len(parts) != n:
            raise argparse.ArgumentTypeError(f"expected {n} comma-separated numbers, got {text[:40]!r}")
        return tuple(one(part) for part in parts)
    return parse


def seed(text: str) -> int:
    """One seed, 0..2^32-1 (what NVlabs' RandomState seeds are)."""
    return count(*SEED_RANGE)(text)


def seed_list(text: str) -> list[int]:
    """'0-7', '0,3,9' or a mix; ranges are checked before they are expanded (latents.parse_seeds)."""
    try:
        return parse_seeds(text)
    except ExplorerError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def path(text: str) -> str:
    """A file or folder name: not empty (an empty --outdir would quietly mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return text
