"""StyleGAN3 on the CPU: milliseconds per frame, ours against NVlabs' own code on the same pickle, in one run.

    python benchmarks/stylegan3_speed.py --nvlabs /path/to/NVlabs/stylegan3     # their repo checkout
    python benchmarks/stylegan3_speed.py                                          # ours only

NVlabs' code builds each generator (random weights, their constructor, the `--cfg` shapes of their train.py)
and pickles it with their persistence; we load that pickle with `load_generator` (restricted unpickler), they
keep the network they pickled (their classes come from the given path and need scipy beside torch). Both
render the same ws, batch 1, fp32; the table gives the best of `--repeats` frames (after one warm-up) for each, the speed-up,
the largest pixel difference, each model's multiply-adds (convolutions and affines, plus the filter work that
the definition needs: polyphase upsampling, downsampling of kept pixels only) and what fraction of this core's
peak (a large fp32 matrix product, measured in the same run) our time reaches. Without --nvlabs, or when their
code does not import, their columns say "not available". NVlabs' code is never part of this project.
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from explorer import load_generator  # noqa: E402
from explorer.nn.stylegan3 import StyleGAN3Generator  # noqa: E402
from explorer.nn.stylegan3_config import StyleGAN3Config  # noqa: E402
from explorer.perf import tune_allocator  # noqa: E402

# NVlabs' train.py: --cfg stylegan3-t / -r with --cbase / --cmax; config-R doubles both and uses 1x1 convs.
MODELS = {
    "T": dict(channel_base=4096, channel_max=256),
    "R": dict(channel_base=8192, channel_max=512, conv_kernel=1, use_radial_filters=True),
    "T-f": dict(channel_base=32768, channel_max=512),   # config-T with config-f channels
}
DEFAULT_CASES = "T@256,R@256,T-f@256,T@1024,R@1024"


def macs(cfg: StyleGAN3Config) -> float:
    """Multiply-adds per frame: convs and affines, and the filtering the definition needs (no zero products,
    only kept pixels), for one sample."""
    total = 0.0
    for s in cfg.layers:
        k = s.conv_kernel
        h, w = s.in_size[1] + k - 1, s.in_size[0] + k - 1
        total += h * w * s.in_channels * s.out_channels * k * k + cfg.w_dim * s.in_channels
        if s.up_taps > 1:
            px0, px1, py0, py1 = s.padding
            uh, uw = h * s.up_factor + py0 + py1 - s.up_taps + 1, w * s.up_factor + px0 + px1 - s.up_taps + 1
            per_phase = s.up_taps // s.up_factor
            total += s.out_channels * per_phase * (h * uw + uh * uw)
            oh, ow = s.out_size[1], s.out_size[0]
            if s.down_radial:
                total += s.out_channels * oh * ow * s.down_taps ** 2
            else:
                total += s.out_channels * s.down_taps * (uh * ow + oh * ow)
    total += cfg.input.size[0] * cfg.input.size[1] * cfg.input.channels ** 2
    return total


def peak_gmacs() -> float:
    """fp32 multiply-adds per second of a large matrix product on this many threads (the practical peak)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = min(_seconds(lambda: a @ b) for _ in range(5))
    return 2048 ** 3 / best / 1e9


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def best_ms(fn, repeats: int) -> tuple[float, torch.Tensor]:
    """Best of `repeats` timed calls after one warm-up (first-call allocation and planning), and the output:
    NVlabs' frames take up to minutes at 1024 px, so none is computed twice for the pixel comparison."""
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3, out


def nvlabs_modules(path: str):
    """NVlabs' network module from their checkout, or the reason it is not available."""
    if not path:
        return None, "no --nvlabs path given"
    sys.path.insert(0, os.path.abspath(path))
    try:
        from training import networks_stylegan3  # noqa: F401
        return networks_stylegan3, ""
    except Exception as e:  # their code, their dependencies (scipy, requests, ...)
        return None, f"{type(e).__name__}: {e}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nvlabs", default="", help="path of a checkout of github.com/NVlabs/stylegan3")
    ap.add_argument("--cases", default=DEFAULT_CASES, help="model@resolution list, models: " + ", ".join(MODELS))
    ap.add_argument("--repeats", type=int, default=3, help="timed frames for ours (after one warm-up)")
    ap.add_argument("--nvlabs-repeats", type=int, default=1, help="timed frames for NVlabs (theirs are slow)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    tune_allocator()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    nv, why = nvlabs_modules(args.nvlabs)
    peak = peak_gmacs()
    print(f"torch {torch.__version__}, CPU, fp32, batch 1, {torch.get_num_threads()} threads; "
          f"peak {peak:.0f} GMAC/s (2048^3 matmul); NVlabs: {'their reference ops' if nv else 'not available (' + why + ')'}", flush=True)
    head = f"{'model':<6}{'px':>5}{'GMAC':>8}{'ours ms':>10}{'NVlabs ms':>11}{'speed-up':>10}{'max diff':>10}{'of peak':>9}"
    print(head, flush=True)
    for case in args.cases.split(","):
        name, res = case.split("@")
        res = int(res)
        kwargs = dict(MODELS[name], z_dim=512, w_dim=512, c_dim=0, img_resolution=res, img_channels=3)
        torch.manual_seed(0)
        path = os.path.join(tempfile.mkdtemp(prefix="stylegan3_speed_"), "G.pkl")
        if nv is not None:
            theirs = nv.Generator(**kwargs).eval().requires_grad_(False)
            with open(path, "wb") as f:
                pickle.dump({"G_ema": theirs}, f)
        else:  # our own generator, written with our loader's counterpart: nothing to compare against
            theirs = None
            G0 = StyleGAN3Generator(StyleGAN3Config.design(res, **{k: v for k, v in kwargs.items()
                                                                   if k not in ("img_resolution",)}))
            from explorer.io.native import save_generator
            path = path.replace(".pkl", ".safetensors")
            save_generator(G0, path)
        ours = load_generator(path)
        os.remove(path)
        os.rmdir(os.path.dirname(path))
        ws = ours.mapping(torch.randn(1, ours.z_dim), None)
        ours_ms, ours_img = best_ms(lambda: ours.synthesis(ws), args.repeats)
        gmac = macs(ours.cfg) / 1e9
        cells = [f"{name:<6}{res:>5}{gmac:>8.1f}{ours_ms:>10.0f}"]
        if theirs is not None:
            nv_ms, nv_img = best_ms(lambda: theirs.synthesis(ws, force_fp32=True), args.nvlabs_repeats)
            diff = (ours_img - nv_img).abs().max().item()
            cells.append(f"{nv_ms:>11.0f}{nv_ms / ours_ms:>9.1f}x{diff:>10.1e}")
        else:
            cells.append(f"{'n/a':>11}{'n/a':>10}{'n/a':>10}")
        cells.append(f"{gmac / (ours_ms / 1e3) / peak:>8.0%}")
        print("".join(cells), flush=True)


if __name__ == "__main__":
    main()
