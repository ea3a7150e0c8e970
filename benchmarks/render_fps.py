"""Frames per second of the Renderer while a user drags one control, with and without its caches.

    python benchmarks/render_fps.py                       # CPU: bundled-size 64 px model and config-f 256 px
    python benchmarks/render_fps.py --device cuda --models f256,f1024 --precision auto

Each scenario renders --frames states that differ only in the dragged control, like a slider drag:
  fine-mix   the fine group's mix weight     noise-fine   one fine layer's noise scale
  psi        truncation psi                  t            interpolation A -> B
  seed       seed A (a new mapping every frame)
  last-w     the last w index's mix alone (the final torgb's style: resumes inside the last block)
Prints a table: ms per frame and fps, cached vs uncached, and the speed-up, and per model the share of
multiply-adds a fine-group change has to rerun (from the first layer a fine w reaches). Where
the convolutions dominate (config-f at 256 px on a CPU) no cache can beat 1 / share of a full render.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.io.native import save_generator  # noqa: E402
from explorer.nn.config import GeneratorConfig  # noqa: E402
from explorer.nn.generator import Generator  # noqa: E402
from explorer.render.renderer import Renderer  # noqa: E402
from explorer.render.state import RenderState, Source  # noqa: E402

MODELS = {
    "bundled64": dict(img_resolution=64, channel_base=2048, channel_max=256),   # the bundled model's size
    "small64": dict(img_resolution=64, channel_base=4096, channel_max=256),     # issue 2's "small" config
    "f256": dict(img_resolution=256, channel_base=32768, channel_max=512, conv_clamp=256),
    "f1024": dict(img_resolution=1024, channel_base=32768, channel_max=512, conv_clamp=256),
}


def scenarios(G: Generator, frames: int) -> dict[str, list[RenderState]]:
    table = G.layer_table
    fine = table.level_indices("fine") or [G.num_ws - 1]
    noise_fine = max(i for i, c in enumerate(table.noise_layers) if c.resolution == G.img_resolution)
    base = RenderState(a=Source(seed=1), b=Source(seed=2))
    vals = [(k % 20) / 19 for k in range(frames)]
    return {
        "fine-mix": [base.with_mix(fine, v, G.num_ws) for v in vals],
        "noise-fine": [base.with_noise_scale(noise_fine, 2 * v, len(table.noise_layers)) for v in vals],
        "psi": [base.replace(psi=0.2 + 0.8 * v) for v in vals],
        "t": [base.replace(t=v) for v in vals],
        "seed": [base.replace(a=Source(seed=100 + k)) for k in range(frames)],
        "last-w": [base.with_mix([G.num_ws - 1], v, G.num_ws) for v in vals],
    }


@torch.no_grad()
def fine_mac_share(G: Generator) -> tuple[float, float]:
    """(GMACs of one synthesis pass, share of them from the first layer a fine w reaches on): what a fine-group
    change has to rerun. Counted by torch's FlopCounterMode (every conv and matmul, FIR filters included) on a
    full pass and on a pass resumed at that layer, for any generator family."""
    from torch.utils.flop_counter import FlopCounterMode

    table = G.layer_table
    first = table.ws[min(table.level_indices("fine") or [G.num_ws - 1])].first_layer
    ws = G.mapping.w_avg.view(1, 1, -1).expand(1, G.num_ws, -1)
    carries: list = []
    with FlopCounterMode(display=False) as full:
        G.synthesis.run(ws, on_layer=lambda i, y, carry: carries.append(carry))
    with FlopCounterMode(display=False) as part:
        G.synthesis.run(ws, start=first, carry=carries[first - 1] if first else None)
    return full.get_total_flops() / 2e9, part.get_total_flops() / max(full.get_total_flops(), 1)


def time_states(renderer: Renderer, states: list[RenderState], ckpt: str, device: str, precision: str) -> float:
    states = [s.replace(checkpoint=ckpt, device=device, precision=precision) for s in states]
    for s in states[:2]:  # warm-up: model load, kernels, allocator
        renderer.render(s)
    t0 = time.perf_counter()
    for s in states[2:]:
        renderer.render(s)
    return (time.perf_counter() - t0) / max(len(states) - 2, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="bundled64,f256")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--frames", type=int, default=22)
    ap.add_argument("--checkpoint", default=None, help="also benchmark this checkpoint (e.g. the bundled one)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from explorer.perf import tune_allocator
    tune_allocator()
    print(f"torch {torch.__version__}, device {args.device}, precision {args.precision}, threads {torch.get_num_threads()}"
          + (f", {torch.cuda.get_device_name()}" if args.device == "cuda" else ""))
    tmp = tempfile.mkdtemp()
    ckpts = {}
    for name in args.models.split(","):
        torch.manual_seed(0)
        ckpts[name] = str(save_generator(Generator(GeneratorConfig(**MODELS[name])), os.path.join(tmp, f"{name}.safetensors")))
    if args.checkpoint:
        ckpts["checkpoint"] = args.checkpoint
    print(f"{'model':<11}{'change':<12}{'cached ms':>10}{'fps':>8}{'uncached ms':>13}{'fps':>8}{'speed-up':>10}")
    for name, ckpt in ckpts.items():
        cached, uncached = Renderer(), Renderer(use_cache=False)
        G = cached.model_for(RenderState(checkpoint=ckpt, device=args.device, precision=args.precision)).G
        gmacs, share = fine_mac_share(G)
        print(f"{name}: {gmacs:.2f} GMAC per synthesis; a fine-group change reruns {share:.1%} of them "
              f"(so where convolutions dominate it is at most {1 / share:.2f}x faster)", flush=True)
        for change, states in scenarios(G, args.frames).items():
            tc = time_states(cached, states, ckpt, args.device, args.precision)
            tu = time_states(uncached, states, ckpt, args.device, args.precision)
            print(f"{name:<11}{change:<12}{tc * 1000:>10.2f}{1 / tc:>8.1f}{tu * 1000:>13.2f}{1 / tu:>8.1f}{tu / tc:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
