"""`explorer metrics`: FID and KID of a generator against a training set."""
from __future__ import annotations

import argparse
import json

from . import add_checkpoint_arg, add_device_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="FID / KID of a generator against a dataset")
    add_checkpoint_arg(p)
    p.add_argument("--data", required=True, help="dataset zip or folder (the training set)")
    p.add_argument("--fid", type=int, default=2000, help="number of generated samples")
    p.add_argument("--real", type=int, default=None, help="number of real images (default: same as --fid)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--json", dest="json_out", default=None, help="also write the result to this JSON file")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io import load_generator
    from ..train.dataset import ImageDataset
    from ..train.metrics import fid_kid

    G = load_generator(args.checkpoint, device=args.device)
    data = ImageDataset(args.data, max_images=None)
    if data.resolution != G.img_resolution:
        from ..errors import ExplorerError
        raise ExplorerError(f"{args.data}: images are {data.resolution} px but the generator makes {G.img_resolution} px")
    res = fid_kid(G, data.images, args.fid, args.real, batch=args.batch)
    res["checkpoint"] = getattr(G, "source_path", None)
    res["data"] = args.data
    print(f"FID {res['fid']:.2f}  KID {res['kid'] * 1000:.2f} x1e-3  ({res['num_fake']} generated vs {res['num_real']} real)")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=2)
    return 0
