"""`explorer metrics`: FID and KID of a generator against a training set, and what its style levels do."""
from __future__ import annotations

import argparse
import json

from . import MAX_BATCH, add_checkpoint_arg, add_device_arg
from .values import count, path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="FID / KID of a generator against a dataset; what its style levels change")
    add_checkpoint_arg(p)
    p.add_argument("--data", type=path, default=None, help="dataset zip or folder (the training set) for FID / KID")
    p.add_argument("--fid", type=count(2, 10_000_000), default=2000, help="number of generated samples")
    p.add_argument("--real", type=count(2, 10_000_000), default=None, help="number of real images (default: same as --fid)")
    p.add_argument("--batch", type=count(1, MAX_BATCH), default=32)
    p.add_argument("--levels", type=count(0, 1_000_000), default=0, metavar="PAIRS",
                   help="also measure what copying coarse / middle / fine styles and re-seeding noise change, "
                        "over this many seed pairs")
    p.add_argument("--json", dest="json_out", type=path, default=None, help="also write the result to this JSON file")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ExplorerError
    from ..io import load_generator
    from ..train.dataset import ImageDataset
    from ..train.metrics import fid_kid

    if args.data is None and not args.levels:
        raise ExplorerError("nothing to measure: give --data (FID / KID) and/or --levels PAIRS")
    G = load_generator(args.checkpoint, device=args.device)
    res = {"checkpoint": getattr(G, "source_path", None)}
    if args.data is not None:
        data = ImageDataset(args.data, max_images=None)
        if data.resolution != G.img_resolution:
            raise ExplorerError(f"{args.data}: images are {data.resolution} px but the generator makes {G.img_resolution} px")
        res.update(fid_kid(G, data.images, args.fid, args.real, batch=args.batch), data=args.data)
        print(f"FID {res['fid']:.2f}  KID {res['kid'] * 1000:.2f} x1e-3  ({res['num_fake']} generated vs {res['num_real']} real)")
    if args.levels:
        from ..level_effects import describe, level_effects

        res["level_effects"] = level_effects(G, pairs=args.levels)
        print("change when copying B's styles into A (shape: 1 - correlation of forms in each cell of an "
              "8x8 grid; colour, detail: mean |difference| in pixel units, [-1, 1]):")
        print(describe(res["level_effects"]))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=2)
    return 0
