"""`explorer project`: find the w (or w+) that makes the generator draw a photo, NVlabs projector outputs,
then optionally tune a copy of the generator to the photo (pivotal tuning).

Writes target.png (the framed target), proj.png, projected_w.npz (key 'w', [N, num_ws, w_dim], plus
the optimised noise maps as 'noise.<layer>') and, with --save-video, proj.mp4 (target | projection, one
row per target). Several targets are optimised as one batch; their files are then numbered
(target00.png, proj00.png, ...) and projected_w.npz holds one row per target, in the order given.
With --tune STEPS: tuned.safetensors (the tuned generator, its model card in the metadata; the original
file is never written) and proj_tuned.png. A folder as --target projects each image into its own folder,
resumably (see explorer/project/batch.py). Ctrl+C stops after the current step and still writes the best
result found so far (in a folder run: the finished images; the interrupted one is redone next time).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from ..render.state import MAX_CLASS
from . import add_checkpoint_arg, add_device_arg
from .values import count, number, path, seed

MAX_STEPS = 1_000_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("project", help="project photos into W / W+ (NVlabs projector, offline perceptual loss), "
                                       "optionally tune the generator to them")
    add_checkpoint_arg(p)
    p.add_argument("--target", dest="targets", type=path, nargs="+", required=True, metavar="IMAGE|DIR",
                   help="image file(s) to project (several are optimised together as one batch), or one folder: "
                        "each image in it is projected into its own result folder, resumably")
    p.add_argument("--steps", type=count(1, MAX_STEPS), default=1000, help="optimisation steps (default 1000, as NVlabs)")
    p.add_argument("--space", default="w", choices=["w", "w+"],
                   help="w: one w for all layers (edits well); w+: one per layer (fits better)")
    frame = p.add_mutually_exclusive_group()
    frame.add_argument("--crop", default=None, metavar="X,Y,SIZE",
                       help="project the square with top-left corner X,Y and side SIZE (photo pixels); "
                            "default: the largest centred square")
    frame.add_argument("--align-eyes", default=None, metavar="LX,LY,RX,RY,MX,MY",
                       help="frame the face as FFHQ was framed, from the eye on the left of the picture, the "
                            "other eye and the mouth centre (photo pixels); works for animal faces too")
    frame.add_argument("--auto-align", action="store_true",
                       help="find the eyes with OpenCV's Haar cascades (optional extra 'faces'; upright frontal "
                            "human and cat faces only), then frame as --align-eyes")
    p.add_argument("--rotate", type=number(-360, 360), default=0.0, metavar="DEG",
                   help="with --crop: turn the square counter-clockwise by DEG degrees about its centre")
    p.add_argument("--tune", type=count(0, MAX_STEPS), default=0, metavar="STEPS",
                   help="after the search, tune a copy of the generator to the photo for STEPS steps "
                        "(pivotal tuning) and write it as tuned.safetensors")
    p.add_argument("--locality", type=number(0, 1e6), default=None, metavar="X",
                   help="--tune: weight of the term keeping the tuned generator's other images unchanged "
                        "(default 0.3; higher: other seeds move less, the photo fits less; 0 = none)")
    p.add_argument("--loss", default=None, metavar="SPEC",
                   help="weighted distance terms (perceptual, l2, l1, msssim), default 'perceptual=1,l2=1,msssim=0.1' "
                        "for the search and 'l2=1' for --tune")
    p.add_argument("--vgg16", type=path, default=None, metavar="PATH",
                   help="NVlabs' VGG16 LPIPS TorchScript (vgg16.pt) as the perceptual network instead of MobileNetV2")
    p.add_argument("--wplus-weight", type=number(0, 1e6), default=None, metavar="X",
                   help="W+ only: penalty keeping the layers' ws near their mean (default 0.1; 0 = none)")
    p.add_argument("--fixed-noise", action="store_true",
                   help="keep the model's constant noise instead of optimising noise maps (always so with --tune)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the initial noise maps and the w noise")
    p.add_argument("--class", dest="class_idx", type=count(0, MAX_CLASS), default=None,
                   help="class label for conditional models")
    p.add_argument("--save-video", action="store_true", help="also write proj.mp4 (target | projection)")
    p.add_argument("--video-every", type=count(1, MAX_STEPS), default=None, metavar="K",
                   help="steps between video frames (default: about 100 frames in all)")
    p.add_argument("--outdir", type=path, required=True, help="where to write the results")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ExplorerError
    from ..files import ensure_outdir
    from ..io import load_generator

    framing = _framing(args)
    folder = len(args.targets) == 1 and Path(args.targets[0]).is_dir()
    if not folder and any(Path(t).is_dir() for t in args.targets):
        raise ExplorerError("give either image files or one folder as --target, not both")
    if (framing.crop is not None or framing.eyes is not None) and (folder or len(args.targets) > 1):
        raise ExplorerError("--crop and --align-eyes give positions in one photo: use them with a single image "
                            "(--auto-align works for many)")
    G = load_generator(args.checkpoint, device=args.device)
    outdir = ensure_outdir(args.outdir)   # only once the generator has been read
    if folder:
        return _run_folder(G, args, framing, outdir)
    return _run_files(G, args, framing, outdir)


# --- options -----------------------------------------------------------------------------------------

def _numbers(spec: str, count: int, option: str) -> list[float]:
    import math

    from ..errors import ExplorerError

    parts = [s for s in str(spec).replace(" ", "").split(",")]
    try:
        values = [float(s) for s in parts]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise ExplorerError(f"{option} {spec!r}: expected {count} numbers separated by commas")
    return values


def _framing(args: argparse.Namespace):
    from ..errors import ExplorerError
    from ..project.framing import Framing

    if args.rotate and args.crop is None:
        raise ExplorerError("--rotate turns a --crop square: give --crop too")
    if args.crop is not None:
        x, y, size = _numbers(args.crop, 3, "--crop")
        if size < 1:
            raise ExplorerError(f"--crop {args.crop!r}: the side must be at least 1 pixel")
        return Framing(crop=(x, y, size), angle=args.rotate)
    if args.align_eyes is not None:
        v = _numbers(args.align_eyes, 6, "--align-eyes")
        return Framing(eyes=((v[0], v[1]), (v[2], v[3]), (v[4], v[5])))
    return Framing(auto=args.auto_align)


def _projector_config(args: argparse.Namespace):
    from ..project.projector import ProjectorConfig

    kwargs = dict(num_steps=args.steps, space=args.space, seed=args.seed,
                  optimize_noise=not (args.fixed_noise or args.tune))
    if args.wplus_weight is not None:
        kwargs["wplus_weight"] = args.wplus_weight
    return ProjectorConfig(**kwargs)


def _tuning_config(args: argparse.Namespace):
    from ..project.tune import TuningConfig

    kwargs = dict(num_steps=max(args.tune, 1), seed=args.seed)
    if args.locality is not None:
        kwargs["locality_weight"] = args.locality
    return TuningConfig(**kwargs)


def _loss(args: argparse.Namespace, targets):
    from ..project.losses import ProjectionLoss, parse_loss_spec

    loss = ProjectionLoss(targets, parse_loss_spec(args.loss), vgg16_path=args.vgg16, strict=args.loss is not None,
                          warn=False)
    if loss.warning:
        print(f"explorer project: warning: {loss.warning}", file=sys.stderr)
    return loss


def _frame(paths, G, framing) -> "np.ndarray":
    import numpy as np

    from ..project.framing import frame_photo

    framed = [frame_photo(p, G.img_resolution, framing) for p in paths]
    for path, f in zip(paths, framed):
        for note in f.notes:
            print(f"explorer project: note: {path}: {note}", file=sys.stderr)
    return np.stack([f.pixels for f in framed])                           # [N, R, R, 3] uint8


# --- image files: one batch ----------------------------------------------------------------------------

def _run_files(G, args: argparse.Namespace, framing, outdir: Path) -> int:
    import torch
    from tqdm import tqdm

    from ..latents import one_hot
    from ..project.projector import project

    pixels = _frame(args.targets, G, framing)
    n = pixels.shape[0]
    c = one_hot(args.class_idx, G.c_dim, batch=n, device=G.device)
    targets = _as_targets(pixels, G)
    loss = _loss(args, targets)
    cfg = _projector_config(args)
    numbered = (lambda stem: [f"{stem}.png"]) if n == 1 else (lambda stem: [f"{stem}{i:02d}.png" for i in range(n)])
    for name, px in zip(numbered("target"), pixels):
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
        _write_projection(G, outdir, pixels, loss, result, video, args.targets, numbered("proj"))
    except BaseException:
        if video is not None:
            video.abort()  # no half-written proj.mp4 after an error
        raise
    cancelled = result.cancelled
    if args.tune and not cancelled:
        names = ["tuned.safetensors"] if n == 1 else [f"tuned{i:02d}.safetensors" for i in range(n)]
        for i, (path, name, proj_name) in enumerate(zip(args.targets, names, numbered("proj_tuned"))):
            card_base = _card_base(G, args, path, framing, result.losses[i])
            tuned = _tune_one(G, args, targets[i:i + 1], result.ws[i:i + 1], cancel, outdir / name,
                              outdir / proj_name, card_base, f"tune {Path(path).name}")
            cancelled = cancelled or tuned.cancelled
            if tuned.cancelled:
                break
    status = "interrupted: best-so-far result" if cancelled else "done"
    print(f"{status} after {result.steps_done} step(s); wrote {outdir}")
    return 130 if cancelled else 0


def _as_targets(pixels, G):
    import torch

    return torch.from_numpy(pixels).to(G.device).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1


def _write_projection(G, outdir: Path, pixels, loss, result, video, paths, proj_names, npz: bool = True) -> None:
    import torch

    from ..images import to_numpy_images
    from ..project.losses import psnr
    from ..project.projector import save_projection, synthesize

    proj = to_numpy_images(synthesize(G, result.ws, result.noise))
    for name, px in zip(proj_names, proj):
        _save(outdir / name, px)
    if npz:
        save_projection(outdir / "projected_w.npz", result.ws, result.noise)
    if video is not None:
        if result.steps_done > 0:
            video.append(side_by_side(pixels, proj))  # the final frame is the result itself
        video.close()
    with torch.no_grad():
        p = psnr(torch.from_numpy(proj), torch.from_numpy(pixels)).tolist()
        perceptual = loss.perceptual_distance(torch.from_numpy(proj).permute(0, 3, 1, 2).to(G.device).float() / 127.5 - 1)
    for i, target in enumerate(paths):
        extra = f", {loss.perceptual_name} distance {float(perceptual[i]):.4f}" if perceptual is not None else ""
        print(f"{target}: PSNR {p[i]:.2f} dB{extra}")


# --- pivotal tuning ------------------------------------------------------------------------------------

def _card_base(G, args: argparse.Namespace, photo, framing, search_loss: float) -> dict:
    """Where a tuned generator came from (tuning_card adds how it was tuned)."""
    from ..project.tune import origin_card
    return origin_card(G, photo, framing.describe(), {"space": args.space, "steps": args.steps,
                                                      "loss": float(search_loss)}, "explorer project --tune")


def _tune_one(G, args, target, pivot, cancel, path: Path, proj_path: Path, card: dict, desc: str,
              keep_partial: bool = True):
    """Tune a copy of G to one target, write it with its card and its image of the pivot; the TuningResult.
    Cancelled: the partly tuned generator is written only with keep_partial."""
    import torch
    from tqdm import tqdm

    from ..images import to_numpy_images
    from ..project.losses import ProjectionLoss
    from ..project.tune import TUNING_LOSS, save_tuned, tune, tuning_card

    cfg = _tuning_config(args)
    loss = _loss(args, target) if args.loss is not None else ProjectionLoss(target, TUNING_LOSS)
    bar = tqdm(total=cfg.num_steps, desc=desc, unit="step", dynamic_ncols=True)

    def on_step(s) -> None:
        bar.update(1)
        bar.set_postfix(psnr=f"{s.psnr:.2f}", locality=f"{s.locality:.4f}")

    with _sigint_sets(cancel):
        result = tune(G, target, pivot, loss, cfg, callback=on_step, cancel=cancel, preview_every=0)
    bar.close()
    if result.cancelled and not keep_partial:
        return result
    card = tuning_card(card, cfg, loss, result)
    save_tuned(result.generator, path, card)
    with torch.no_grad():
        image = result.generator.synthesis(pivot.to(G.device), noise_mode="const")
    _save(proj_path, to_numpy_images(image)[0])
    print(f"{card['photo']}: tuned {result.steps_done} step(s), PSNR {result.psnr_before:.2f} -> "
          f"{result.psnr_after:.2f} dB; wrote {path} (the original generator is unchanged)")
    return result


# --- a folder: one photo at a time, resumable ------------------------------------------------------------

def _run_folder(G, args: argparse.Namespace, framing, outdir: Path) -> int:
    from tqdm import tqdm

    from ..errors import ExplorerError, ImageInputError
    from ..files import ensure_outdir
    from ..latents import one_hot
    from ..project.batch import RESULT, FolderJob
    from ..project.projector import project, save_projection

    settings = dict(checkpoint=getattr(G, "source_path", None), space=args.space, steps=args.steps,
                    tune=args.tune, locality=args.locality, loss=args.loss, framing=framing.describe(),
                    seed=args.seed, wplus_weight=args.wplus_weight, fixed_noise=args.fixed_noise)
    job = FolderJob(args.targets[0], outdir, settings)
    pending = job.pending()
    done_before = len(job.photos) - len(pending)
    if done_before:
        print(f"{done_before} of {len(job.photos)} image(s) already done in {outdir}: skipping them")
    c = one_hot(args.class_idx, G.c_dim, batch=1, device=G.device)
    cfg = _projector_config(args)
    steps_each = args.steps + args.tune
    bar = tqdm(total=len(pending) * steps_each, desc="images", unit="step", dynamic_ncols=True)
    cancel = threading.Event()
    failed: list[str] = []
    finished = 0
    with _sigint_sets(cancel):
        for photo in pending:
            bar.set_description(f"{finished + done_before + 1}/{len(job.photos)} {photo.name}")
            try:
                pixels = _frame([photo], G, framing)
            except ImageInputError as e:
                print(f"explorer project: skipped: {e}", file=sys.stderr)
                failed.append(photo.name)
                bar.update(steps_each)
                continue
            folder = ensure_outdir(job.folder(photo))
            targets = _as_targets(pixels, G)
            loss = _loss(args, targets)
            _save(folder / "target.png", pixels[0])
            result = project(G, targets, loss, cfg, c=c, callback=lambda s: bar.update(1), cancel=cancel,
                             preview_every=0)
            if result.cancelled:
                break
            _write_projection(G, folder, pixels, loss, result, None, [photo], ["proj.png"], npz=False)
            if args.tune:
                tuned = _tune_one(G, args, targets, result.ws, cancel, folder / "tuned.safetensors",
                                  folder / "proj_tuned.png", _card_base(G, args, photo, framing, result.losses[0]),
                                  desc="tune", keep_partial=False)
                bar.update(args.tune)
                if tuned.cancelled:
                    break
            save_projection(folder / RESULT, result.ws, result.noise)   # the done mark, last
            job.write_combined()
            finished += 1
    bar.close()
    total_done = done_before + finished
    if cancel.is_set():
        print(f"interrupted: {total_done} of {len(job.photos)} image(s) done; run the same command again to "
              f"finish the rest; wrote {outdir}")
        return 130
    print(f"done: {total_done} of {len(job.photos)} image(s) in {outdir}"
          + (f"; skipped {len(failed)}: {', '.join(failed)}" if failed else ""))
    if failed and not total_done:
        raise ExplorerError(f"{args.targets[0]}: none of the images could be projected")
    return 1 if failed else 0


# --- small helpers ----------------------------------------------------------------------------------------

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
