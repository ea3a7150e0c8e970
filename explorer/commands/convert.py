"""`explorer convert IN OUT`: any supported checkpoint -> the native safetensors format."""
from __future__ import annotations

import argparse

from .values import path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert an NVlabs .pkl or rosinality .pt to explorer .safetensors")
    p.add_argument("src", type=path, help="input checkpoint")
    p.add_argument("dst", type=path, help="output .safetensors file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io import load_generator, save_generator

    G = load_generator(args.src)
    out = save_generator(G, args.dst)
    print(f"wrote {out} ({G.img_resolution} px, {G.num_ws} ws, from {G.source_kind})")
    return 0
