"""How well and how fast the projector recovers images the generator made itself (a perfect answer exists).

    python benchmarks/projector_quality.py                          # random64 (+ avatars64 if bundled), 100/250/500 steps
    python benchmarks/projector_quality.py --steps 100,250,500,1000 --models random64,random256
    python benchmarks/projector_quality.py --checkpoint my.safetensors --targets 4

Targets are G(w) for known ws (seeds 1000, 1001, ...), rendered with the model's constant noise and
quantised to 8 bits like a saved PNG. Each (model, space, steps) cell is a separate projection with
`--steps N` (NVlabs' schedule stretches to the step count), all targets in one batch. Reported per cell:
  PSNR      of the projection (with its optimised noise maps) against the 8-bit target, dB, mean over targets
  PSNR@c    the same ws rendered with the model's constant noise (what other commands show for the .npz)
  percep.   MobileNetV2 perceptual distance (the projector's own; 0 = identical)
  s/step    wall seconds per step for the whole batch; a batch-1 timing per model is printed too
The "W" rows are NVlabs' projector schedule with our offline loss; "W+" adds per-layer ws and the penalty.
The issue's targets are checked at the end: W+ >= 28 dB at 500 steps on 64 px targets, and W+ at 500 steps
at least as good as W at 1000 steps (needs 1000 in --steps).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.bundled import bundled_path  # noqa: E402
from explorer.io import load_generator  # noqa: E402
from explorer.nn.config import GeneratorConfig  # noqa: E402
from explorer.nn.generator import Generator  # noqa: E402
from explorer.project.losses import ProjectionLoss, psnr  # noqa: E402
from explorer.project.projector import ProjectorConfig, project, synthesize  # noqa: E402

RANDOM_MODELS = {
    "random64": dict(img_resolution=64, channel_base=4096, channel_max=256),     # the bundled model's shape
    "random256": dict(img_resolution=256, channel_base=4096, channel_max=256),
    "f256": dict(img_resolution=256, channel_base=32768, channel_max=512, conv_clamp=256),
}


def make_model(name: str, checkpoint: str | None, noise_strength: float = 0.0) -> Generator:
    if name in RANDOM_MODELS:
        torch.manual_seed(0)
        G = Generator(GeneratorConfig(**RANDOM_MODELS[name])).eval().requires_grad_(False)
        with torch.no_grad():  # fresh weights have noise strength 0: images depend on ws alone
            for key, p in G.named_parameters():
                if key.endswith("noise_strength"):
                    p.fill_(noise_strength)
        return G
    path = checkpoint if name == "checkpoint" else str(bundled_path())
    return load_generator(path, device="cpu").requires_grad_(False)


@torch.no_grad()
def make_targets(G: Generator, count: int) -> torch.Tensor:
    z = torch.from_numpy(np.stack([np.random.RandomState(1000 + i).randn(G.z_dim) for i in range(count)])).float()
    img = G.synthesis(G.mapping(z, None), noise_mode="const")
    return (img * 127.5 + 128).clamp(0, 255).floor() / 127.5 - 1


def quantise(img: torch.Tensor) -> torch.Tensor:
    return (img * 127.5 + 128).clamp(0, 255).floor() / 127.5 - 1


def run_cell(G: Generator, targets: torch.Tensor, loss: ProjectionLoss, space: str, steps: int, seed: int) -> dict:
    cfg = ProjectorConfig(num_steps=steps, space=space, seed=seed)
    stamps: list[float] = []
    r = project(G, targets, loss, cfg, callback=lambda s: stamps.append(time.perf_counter()), preview_every=0)
    seconds = (stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1)   # per step, without the set-up
    proj = quantise(synthesize(G, r.ws, r.noise))
    const = quantise(synthesize(G, r.ws))
    with torch.no_grad():
        perc = loss.perceptual_distance(proj)
    return dict(space=space, steps=steps, psnr=float(psnr(proj, targets).mean()),
                psnr_const=float(psnr(const, targets).mean()),
                psnr_each=[round(float(p), 2) for p in psnr(proj, targets)],
                perceptual=None if perc is None else float(perc.mean()), s_per_step=seconds)


def time_batch1(G: Generator, targets: torch.Tensor, steps: int = 12) -> float:
    """Seconds per W+ step for one photo (the first two steps are warm-up)."""
    stamps: list[float] = []
    project(G, targets[:1], ProjectionLoss(targets[:1]), ProjectorConfig(num_steps=steps, space="w+", w_avg_samples=100),
            callback=lambda s: stamps.append(time.perf_counter()), preview_every=0)
    return (stamps[-1] - stamps[2]) / (len(stamps) - 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=None,
                    help=f"comma list of {', '.join(RANDOM_MODELS)}, avatars64 (default: random64, plus avatars64 "
                         "when checkpoints/avatars64.safetensors exists)")
    ap.add_argument("--checkpoint", default=None, help="also benchmark this checkpoint")
    ap.add_argument("--steps", default="100,250,500", help="step counts, each a separate projection")
    ap.add_argument("--spaces", default="w,w+")
    ap.add_argument("--targets", type=int, default=2, help="generated targets per model (one batch)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise-strength", type=float, default=0.0,
                    help="random models: set every layer's noise strength (0 as initialised; with 0.05 a different "
                         "noise realisation alone costs about 20 dB, so the noise maps must be fitted too)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: on a shared 2-core machine 2 threads measured 4-9x slower)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from explorer.perf import tune_allocator
    tune_allocator()

    models = args.models.split(",") if args.models else ["random64"] + (["avatars64"] if bundled_path().exists() else [])
    if args.checkpoint:
        models.append("checkpoint")
    steps = [int(s) for s in args.steps.split(",")]
    spaces = args.spaces.split(",")
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} thread(s), {args.targets} target(s) per batch, "
          f"random models' noise strength {args.noise_strength:g}")
    results = []
    for name in models:
        G = make_model(name, args.checkpoint, args.noise_strength)
        targets = make_targets(G, args.targets)
        loss = ProjectionLoss(targets)
        b1 = time_batch1(G, targets)
        print(f"\n{name}: {G.img_resolution} px, {G.num_ws} ws, batch-1 W+ step {b1:.3f} s")
        print(f"{'space':<6}{'steps':>6}{'PSNR':>8}{'PSNR@c':>8}{'percep.':>9}{'s/step':>8}   per target")
        for space in spaces:
            for n in steps:
                cell = dict(model=name, resolution=G.img_resolution, batch1_s_per_step=b1,
                            **run_cell(G, targets, loss, space, n, args.seed))
                results.append(cell)
                perc = f"{cell['perceptual']:.4f}" if cell["perceptual"] is not None else "-"
                print(f"{space.upper():<6}{n:>6}{cell['psnr']:>8.2f}{cell['psnr_const']:>8.2f}{perc:>9}"
                      f"{cell['s_per_step']:>8.3f}   {cell['psnr_each']}", flush=True)

    print("\nIssue targets:")
    for name in models:
        cells = {(c["space"], c["steps"]): c for c in results if c["model"] == name}
        res = next(c["resolution"] for c in results if c["model"] == name)
        wp500, w1000 = cells.get(("w+", 500)), cells.get(("w", 1000))
        if wp500 and res == 64:
            ok = wp500["psnr"] >= 28
            print(f"  {name}: W+ at 500 steps {wp500['psnr']:.2f} dB (target >= 28): {'PASS' if ok else 'FAIL'}")
        if wp500 and w1000:
            ok = wp500["psnr"] >= w1000["psnr"] and (wp500["perceptual"] or 0) <= (w1000["perceptual"] or 0)
            print(f"  {name}: W+ at 500 steps {wp500['psnr']:.2f} dB / {wp500['perceptual']:.4f} vs W (NVlabs schedule) "
                  f"at 1000 steps {w1000['psnr']:.2f} dB / {w1000['perceptual']:.4f}: {'PASS' if ok else 'FAIL'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
