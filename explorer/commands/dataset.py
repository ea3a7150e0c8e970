"""`explorer dataset folder|avatars`: build a training zip offline."""
from __future__ import annotations

import argparse

from ..io.validate import LIMITS
from .values import count, path, seed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dataset", help="build a training set (zip) from a folder or procedural avatars")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    f = kinds.add_parser("folder", help="centre-crop and resize every image in a folder")
    f.add_argument("src", type=path, help="folder of images (searched recursively)")
    f.add_argument("--resolution", type=count(*LIMITS["img_resolution"]), required=True)
    f.add_argument("--out", type=path, required=True, help="output .zip")
    f.set_defaults(func=run_folder)
    a = kinds.add_parser("avatars", help="procedural cartoon faces from python-avatars")
    a.add_argument("--count", type=count(1, 10_000_000), required=True)
    a.add_argument("--resolution", type=count(*LIMITS["img_resolution"]), default=64)
    a.add_argument("--seed", type=seed, default=0)
    a.add_argument("--workers", type=count(1, 1024), default=None)
    a.add_argument("--out", type=path, required=True, help="output .zip")
    a.set_defaults(func=run_avatars)


def run_folder(args: argparse.Namespace) -> int:
    from ..train.make_dataset import build_from_folder

    written, skipped = build_from_folder(args.src, args.resolution, args.out)
    print(f"wrote {written} images to {args.out}; skipped {skipped} unreadable file(s)")
    return 0


def run_avatars(args: argparse.Namespace) -> int:
    from ..train.make_dataset import build_avatars

    n = build_avatars(args.count, args.resolution, args.out, seed=args.seed, workers=args.workers)
    print(f"wrote {n} avatars at {args.resolution} px to {args.out}")
    return 0
