"""`explorer metrics`: FID and KID of a generator against a training set, what its style levels do, and FID
over training (a history file -> the model card's table and plot)."""
from __future__ import annotations

import argparse
import json

from . import MAX_BATCH, add_checkpoint_arg, add_device_arg
from .values import count, path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="FID / KID of a generator against a dataset; what its style levels change; "
                                       "FID over training")
    add_checkpoint_arg(p)
    p.add_argument("--data", type=path, default=None, help="dataset zip or folder (the training set) for FID / KID")
    p.add_argument("--fid", type=count(2, 10_000_000), default=2000, help="number of generated samples")
    p.add_argument("--real", type=count(2, 10_000_000), default=None, help="number of real images (default: same as --fid)")
    p.add_argument("--batch", type=count(1, MAX_BATCH), default=32)
    p.add_argument("--no-cache", action="store_true",
                   help="recompute the real images' Inception features instead of reading them from the user cache")
    p.add_argument("--levels", type=count(0, 1_000_000), default=0, metavar="PAIRS",
                   help="also measure what copying coarse / middle / fine styles and re-seeding noise change, "
                        "over this many seed pairs")
    p.add_argument("--json", dest="json_out", type=path, default=None, help="also write the result to this JSON file")
    p.add_argument("--record", type=path, default=None, metavar="HISTORY.jsonl",
                   help="append this FID (with the checkpoint's kimg) to a history file")
    p.add_argument("--history", type=path, nargs="+", default=None, metavar="HISTORY.jsonl",
                   help="instead of measuring: print FID per kimg from history files (see --table, --plot)")
    p.add_argument("--table", type=path, default=None, metavar="FID.md", help="with --history: write the Markdown table here")
    p.add_argument("--plot", type=path, default=None, metavar="FID.png", help="with --history: draw FID against kimg here")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ExplorerError
    from ..io import load_generator
    from ..train.dataset import ImageDataset
    from ..train.metrics import fid_kid

    if args.history:
        return history(args)
    if args.data is None and not args.levels:
        raise ExplorerError("nothing to measure: give --data (FID / KID) and/or --levels PAIRS")
    if args.record and args.data is None:
        raise ExplorerError("--record needs --data (it records an FID)")
    G = load_generator(args.checkpoint, device=args.device)
    res = {"checkpoint": getattr(G, "source_path", None)}
    if args.data is not None:
        data = ImageDataset(args.data, max_images=None)
        if data.resolution != G.img_resolution:
            raise ExplorerError(f"{args.data}: images are {data.resolution} px but the generator makes {G.img_resolution} px")
        fid = fid_kid(G, data.images, args.fid, args.real, batch=args.batch, cache=not args.no_cache,
                      data_label=data.recipe())
        cached = fid.pop("real_features_cached")
        res.update(fid, data=data.recipe())
        print(f"FID {res['fid']:.2f}  KID {res['kid'] * 1000:.2f} x1e-3  ({res['num_fake']} generated vs "
              f"{res['num_real']} real{', real features from the cache' if cached else ''})")
        if args.record:
            record(args.record, G, res)
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


def record(path: str, G, res: dict) -> None:
    from pathlib import Path

    from ..errors import ExplorerError
    from ..train.fid_history import append_record

    kimg = dict(G.cfg.provenance).get("kimg")
    if kimg is None:
        raise ExplorerError(f"{res['checkpoint']}: the checkpoint does not say how many kimg it was trained, "
                            "so its FID cannot go into a history (only files written by `explorer train` do)")
    append_record(path, {**res, "kimg": float(kimg), "checkpoint": Path(str(res["checkpoint"])).name})


def history(args: argparse.Namespace) -> int:
    from ..train.fid_history import markdown_table, plot_png, read_history

    rows = read_history(args.history)
    table = markdown_table(rows)
    print(table, end="")
    if args.table:
        from pathlib import Path

        from ..errors import OutputError

        try:
            Path(args.table).write_text(table)
        except OSError as e:
            raise OutputError(args.table, f"cannot write the FID table ({e.strerror or e})") from None
    if args.plot:
        plot_png(rows, args.plot)
    return 0
