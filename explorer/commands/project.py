"""`explorer project`: find the w (or w+) that makes the generator draw a photo, NVlabs projector outputs.

Writes target.png (the preprocessed target), proj.png, projected_w.npz (key 'w', [N, num_ws, w_dim], plus
the optimised noise maps as 'noise.<layer>') and, with --save-video, proj.mp4 (target | projection, one
row per target). Several targets are optimised as one batch; their files are then numbered
(target00.png, proj00.png, ...) and projected_w.npz holds one row per target, in the order given.
Ctrl+C stops after the current step and still writes the best result found so far.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from . import add_checkpoint_arg, add_device_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("project", help="project photos into W / W+ (NVlabs projector, offline perceptual loss)")
    add_checkpoint_arg(p)
    p.add_argument("--target", dest="targets", nargs="+", required=True, metavar="IMAGE",
                   help="image file(s) to project; several are optimised together as one batch")
    p.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000, as NVlabs)")
    p.add_argument("--space", default="w", choices=["w", "w+"],
                   help="w: one w for all layers (edits well); w+: one per layer (fits better)")
    p.add_argument("--loss", default=None, metavar="SPEC",
                   help="weighted distance terms (perceptual, l2, l1, msssim), default 'perceptual=1,l2=1,msssim=0.1'")
    p.add_argument("--vgg16", default=None, metavar="PATH",
                   help="NVlabs' VGG16 LPIPS TorchScript (vgg16.pt) as the perceptual network instead of MobileNetV2")
    p.add_argument("--wplus-weight", type=float, default=None, metavar="X",
                   help="W+ only: penalty keeping the layers' ws near their mean (default 0.1; 0 = none)")
    p.add_argument("--fixed-noise", action="store_true",
                   help="keep the model's constant noise instead of optimising noise maps")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial noise maps and the w noise")
    p.add_argument("--class", dest="class_idx", type=int, default=None, help="class label for conditional models")
    p.add_argument("--save-video", action="store_true", help="also write proj.mp4 (target | projection)")
    p.add_argument("--video-every", type=int, default=None, metavar="K",
                   help="steps between video frames (default: about 100 frames in all)")
    p.add_argument("--outdir", required=True, help="where to write the results")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from ..errors import ExplorerError
    from ..files import ensure_outdir
    from ..image_input import load_square
    from ..io import load_generator
    from ..latents import one_hot
    from ..project.losses import ProjectionLoss, parse_loss_spec
    from ..project.projector import ProjectorConfig, project

    if args.steps < 1:
        raise ExplorerError(f"--steps must be >= 1, got {args.steps}")
    if args.video_every is not None and args.video_every < 1:
        raise ExplorerError(f"--video-every must be >= 1, got {args.video_every}")
    if args.wplus_weight is not None and not args.wplus_weight >= 0:
        raise ExplorerError(f"--wplus-weight must be >= 0, got {args.wplus_weight}")
    outdir = ensure_outdir(args.outdir)
    G = load_generator(args.checkpoint, device=args.device)
    res = G.img_resolution
    pixels = np.stack([load_square(t, res) for t in args.targets])           # [N, R, R, 3] uint8
    n = pixels.shape[0]
    c = one_hot(args.class_idx, G.c_dim, batch=n, device=G.device)
    targets = torch.from_numpy(pixels).to(G.device).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1

    weights = parse_loss_spec(args.loss)
    loss = ProjectionLoss(targets, weights, vgg16_path=args.vgg16, strict=args.loss is not None,
                          warn=False)
    if loss.warning:
        print(f"explorer project: warning: {loss.warning}", file=sys.stderr)
    cfg_kwargs = dict(num_steps=args.steps, space=args.space, seed=args.seed, optimize_noise=not args.fixed_noise)
    if args.wplus_weight is not None:
        cfg_kwargs["wplus_weight"] = args.wplus_weight
    cfg = ProjectorConfig(**cfg_kwargs)

    names = ["target.png"] if n == 1 else [f"target{i:02d}.png" for i in range(n)]
    for name, px in zip(names, pixels):
        _save(outdir / name, px)

    video = None
    every = args.video_every or max(1, args.steps // 100)
    if args.save_video:
        from ..video import VideoWriter
        video = VideoWriter(outdir / "proj.mp4", fps=15)

    cancel = threading.Event()
    bar = tqdm(total=args.steps, desc="project", unit="step", dynamic_ncols=True)

    def on_step(s) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{s.loss:.4f}")
        if video is not None and s.preview is not None:
            video.append(side_by_side(pixels, s.preview))

    try:
        with _sigint_sets(cancel):
            result = project(G, targets, loss, cfg, c=c, callback=on_step, cancel=cancel,
                             preview_every=every if video is not None else 0)
        bar.close()
        return _write_results(G, args, outdir, pixels, loss, result, video)
    except BaseException:
        if video is not None:
            video.abort()  # no half-written proj.mp4 after an error
        raise


def _write_results(G, args, outdir: Path, pixels, loss, result, video) -> int:
    import torch

    from ..images import to_numpy_images
    from ..project.losses import psnr
    from ..project.projector import save_projection, synthesize

    n = pixels.shape[0]
    images = synthesize(G, result.ws, result.noise)
    proj = to_numpy_images(images)
    names = ["proj.png"] if n == 1 else [f"proj{i:02d}.png" for i in range(n)]
    for name, px in zip(names, proj):
        _save(outdir / name, px)
    save_projection(outdir / "projected_w.npz", result.ws, result.noise)
    if video is not None:
        if result.steps_done > 0:
            video.append(side_by_side(pixels, proj))  # the final frame is the result itself
        video.close()
    with torch.no_grad():
        p = psnr(torch.from_numpy(proj), torch.from_numpy(pixels)).tolist()
        perceptual = loss.perceptual_distance(torch.from_numpy(proj).permute(0, 3, 1, 2).to(G.device).float() / 127.5 - 1)
    for i, target in enumerate(args.targets):
        extra = f", {loss.perceptual_name} distance {float(perceptual[i]):.4f}" if perceptual is not None else ""
        print(f"{target}: PSNR {p[i]:.2f} dB{extra}")
    status = "interrupted: best-so-far result" if result.cancelled else "done"
    print(f"{status} after {result.steps_done} step(s); wrote {outdir}")
    return 130 if result.cancelled else 0


def side_by_side(targets, images):
    """Video frame: one row per target, target | projection, scaled up to at least 256 px rows."""
    import numpy as np

    rows = np.concatenate([targets, images], axis=2)            # [N, R, 2R, 3]
    frame = rows.reshape(-1, *rows.shape[2:])                   # [N*R, 2R, 3]
    scale = max(1, 256 // targets.shape[1])
    return frame.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else frame


def _save(path: Path, px) -> None:
    from ..images import save_png
    save_png(path, px)


class _sigint_sets:
    """Within the block, the first Ctrl+C sets `event` (the projector stops after its step and the best
    result is written); a second one interrupts at once."""

    def __init__(self, event: threading.Event):
        self.event, self.previous = event, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                self.event.set()
                signal.signal(signal.SIGINT, self.previous)
            self.previous = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
