"""`explorer train`: StyleGAN2 training from a zip or folder; resumable; torchrun for several processes."""
from __future__ import annotations

import argparse

from ..io.validate import LIMITS
from . import MAX_BATCH, add_device_arg
from .values import count, number, path, seed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a StyleGAN2 generator (torchrun --nproc_per_node N for several processes)")
    p.add_argument("--data", type=path, required=True, help="training set: zip (from `explorer dataset`) or folder of square images")
    p.add_argument("--outdir", type=path, required=True, help="run directory")
    p.add_argument("--resolution", type=count(*LIMITS["img_resolution"]), default=None,
                   help="check the data has this resolution")
    p.add_argument("--kimg", type=number(0, 1e9, low_open=True), default=1000, help="total thousands of real images to show")
    p.add_argument("--batch", type=count(1, MAX_BATCH), default=16)
    p.add_argument("--cbase", type=count(*LIMITS["channel_base"]), default=4096,
                   help="channel base (channels = min(cbase / R, cmax))")
    p.add_argument("--cmax", type=count(*LIMITS["channel_max"]), default=256, help="maximum channels")
    p.add_argument("--map", type=count(*LIMITS["mapping_layers"]), default=8, help="mapping network depth")
    p.add_argument("--lr", type=number(0, 10, low_open=True), default=0.0025)
    p.add_argument("--gamma", type=number(0, 1e6), default=None, help="R1 weight (default 0.0002 * R^2 / batch)")
    p.add_argument("--pl-weight", type=number(0, 1e6), default=2.0, help="path-length regularisation weight (0 = off)")
    p.add_argument("--mixing", type=number(0, 1), default=0.9, help="style-mixing probability")
    p.add_argument("--ema-kimg", type=number(0, 1e9, low_open=True), default=None,
                   help="G_ema half-life (default batch * 10 / 32)")
    p.add_argument("--mirror", action="store_true", help="random x-flips of real images")
    p.add_argument("--augment", action="store_true",
                   help="DiffAugment (colour, translation, cutout) on every image D sees; stops D from overfitting small sets")
    p.add_argument("--amp", action="store_true", help="bf16 autocast with NHWC activations (GPU, or a CPU with bf16 support)")
    p.add_argument("--snap", type=number(0, 1e9, low_open=True), default=10, help="snapshot every this many kimg")
    p.add_argument("--max-minutes", type=number(0, 1e9, low_open=True), default=None,
                   help="stop with a snapshot after this wall time")
    p.add_argument("--max-images", type=count(1, 1 << 40), default=None, help="use only the first N images")
    p.add_argument("--export-dir", type=path, default=None, help="also write each snapshot's G_ema as float16 here")
    p.add_argument("--seed", type=seed, default=0)
    add_device_arg(p)
    p.add_argument("--resume", action="store_true", help="continue the run in --outdir from its last snapshot")
    p.add_argument("--init-from", type=path, default=None, metavar="CKPT",
                   help="start G from this trained generator (same architecture; D starts fresh; its kimg counts on)")
    p.add_argument("--d-warmup", type=number(0, 1e9), default=0, metavar="KIMG",
                   help="with --init-from: train only D for this many kimg before G moves")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ExplorerError
    from ..train.loop import TrainConfig, train

    cfg = TrainConfig(
        data=args.data, outdir=args.outdir, kimg=args.kimg, batch=args.batch, seed=args.seed,
        channel_base=args.cbase, channel_max=args.cmax, mapping_layers=args.map, lr=args.lr, gamma=args.gamma,
        pl_weight=args.pl_weight, style_mixing=args.mixing, ema_kimg=args.ema_kimg, mirror=args.mirror, augment=args.augment,
        amp=args.amp, snap_kimg=args.snap, max_minutes=args.max_minutes, max_images=args.max_images,
        device=args.device, resume=args.resume, export_dir=args.export_dir,
        init_from=args.init_from, d_warmup_kimg=args.d_warmup,
    )
    if args.resolution is not None:
        from ..train.dataset import ImageDataset as _D
        res = _D(args.data, max_images=1, progress=False).resolution
        if res != args.resolution:
            raise ExplorerError(f"{args.data}: images are {res} px, but --resolution {args.resolution} was asked "
                                f"(rebuild the set with `explorer dataset ... --resolution {args.resolution}`)")
    train(cfg)
    return 0
