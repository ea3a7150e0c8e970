"""`explorer blend A B --levels coarse=0,middle=0.5,fine=1 --out C.safetensors`: blend two generators of one
architecture layer by layer (0 = A, 1 = B) into a new one; A's mapping network drives it."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("blend", help="blend two generators of one architecture per level or per layer",
                       epilog="Weights name levels (coarse, middle, fine), resolutions (16), layers (b16.conv0) "
                              "or all; later entries win; unnamed layers stay A's (0).")
    p.add_argument("first", metavar="A", help="first checkpoint (weight 0; its mapping network is kept)")
    p.add_argument("second", metavar="B", help="second checkpoint of the same architecture (weight 1)")
    p.add_argument("--levels", "--layers", dest="weights", required=True, metavar="SPEC",
                   help="e.g. coarse=0,middle=0.5,fine=1 or 64=1,b32.torgb=0.5")
    p.add_argument("--out", required=True, metavar="C.safetensors", help="the blended generator")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ExplorerError
    from ..io import load_generator, save_generator
    from ..nn.blend import blend_generators, check_same_architecture, parse_weights

    if not str(args.out).endswith(".safetensors"):
        raise ExplorerError(f"{args.out}: the blended generator is written as .safetensors")
    first, second = load_generator(args.first), load_generator(args.second)
    check_same_architecture(first, second, args.first, args.second)
    weights = parse_weights(args.weights, first.layer_table)
    G = blend_generators(first, second, weights, provenance={"blend": f"{args.first} + {args.second}: {args.weights}"})
    out = save_generator(G, args.out)
    summary = ", ".join(f"{layer.name}={w:g}" for layer, w in zip(G.layer_table.layers, weights) if w)
    print(f"wrote {out} ({G.img_resolution} px; from B: {summary or 'nothing'})")
    return 0
