"""`explorer showcase`: pick the seeds a model is shown with (the app's default pair, the card's samples) by the
realism score of their images (explorer/train/showcase.py says why that measure and which rules)."""
from __future__ import annotations

import argparse

from . import add_checkpoint_arg, add_device_arg
from .values import count, path, seed_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("showcase", help="pick the default seed pair and the sample seeds by how real their images look")
    add_checkpoint_arg(p)
    p.add_argument("--data", type=path, required=True, help="the training set (zip or folder): what 'real' means")
    p.add_argument("--candidates", type=seed_list, default="0-255", help="seeds to score (default 0-255)")
    p.add_argument("--count", type=count(1, 100_000), default=32, help="how many sample seeds to pick (default 32)")
    p.add_argument("--real", type=count(2, 10_000_000), default=2000, help="training images to compare against (FID's, cached)")
    p.add_argument("--out", type=path, required=True, metavar="JSON", help="write the picks and every candidate's score here")
    p.add_argument("--print", dest="print_only", choices=("samples", "pair"), default=None,
                   help="print only these seeds, comma-separated (for scripts: SEEDS=$(explorer showcase ...))")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ExplorerError
    from ..io import load_generator
    from ..train.dataset import ImageDataset
    from ..train.metrics import InceptionFeatures, collect_features, real_features
    from ..train.showcase import K_NEAREST, realism_scores, seed_images, write_showcase

    seeds = args.candidates
    if len(set(seeds)) < 2:
        raise ExplorerError("--candidates needs at least 2 seeds")
    G = load_generator(args.checkpoint, device=args.device)
    if G.c_dim:
        raise ExplorerError(f"{G.source_path}: showcase picks seeds of unconditional models only")
    data = ImageDataset(args.data)
    if data.resolution != G.img_resolution:
        raise ExplorerError(f"{args.data}: images are {data.resolution} px but the generator makes {G.img_resolution} px")
    ext = InceptionFeatures(G.device)
    num_real = min(args.real, len(data))
    if num_real <= K_NEAREST:
        raise ExplorerError(f"{args.data}: the realism score needs more than {K_NEAREST} real images, found {num_real}")
    real, _ = real_features(data.images, num_real, ext, data_label=data.recipe())
    images = seed_images(G, seeds)
    fake = collect_features((images[i:i + 32] for i in range(0, len(seeds), 32)), len(seeds), ext, "candidate seeds")
    rec = write_showcase(args.out, G.source_path, seeds, realism_scores(real, fake), args.count, num_real, data.recipe())
    a, b = rec["default_pair"]
    if args.print_only:
        print(",".join(map(str, rec["samples"] if args.print_only == "samples" else rec["default_pair"])))
        return 0
    print(f"default pair: seeds {a} and {b} (realism {rec['scores'][str(a)]:.2f}, {rec['scores'][str(b)]:.2f}; "
          f"median {rec['median_score']:.2f}); samples: {','.join(map(str, rec['samples']))}")
    return 0
