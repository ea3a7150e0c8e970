"""Milliseconds per image for mapping + synthesis, fp32, against NVlabs' own code on the same machine kind.

    python benchmarks/generator_speed.py                 # CPU, all models, batch 1 and 8
    python benchmarks/generator_speed.py --device cuda --precision fp16

Models: config-f channels (base 32768, max 512) and the small config (base 4096, max 256) at 64, 256 and 1024 px,
random weights (speed does not depend on the values). 'NVlabs' is their measured time from FACTS.md (section 4,
2-core machines, batch 1, reference ops); 'restated' times our test re-statement of their formulation
(tests/reference/nvlabs_reference.py: fused grouped modulated conv, zero-insertion upsampling) on this machine.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from explorer.nn.config import GeneratorConfig  # noqa: E402
from explorer.nn.generator import Generator  # noqa: E402
from explorer.perf import tune_allocator  # noqa: E402
from explorer.render.renderer import precision_plan  # noqa: E402

NVLABS_MS = {("f", 64): "340-410", ("f", 256): "830-1080", ("f", 1024): "2900", ("small", 1024): "210"}
CONFIGS = {"f": dict(channel_base=32768, channel_max=512, conv_clamp=256), "small": dict(channel_base=4096, channel_max=256)}


def time_it(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    ap.add_argument("--resolutions", default="64,256,1024")
    ap.add_argument("--configs", default="f,small")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-reference", action="store_true", help="skip timing the restated NVlabs formulation")
    args = ap.parse_args()
    tune_allocator()
    dev = torch.device(args.device)
    print(f"torch {torch.__version__}, {dev}, {args.precision}, {torch.get_num_threads()} threads")
    print(f"{'config':<7}{'res':>5}{'batch':>6}{'ours ms/img':>13}{'restated ms/img':>17}{'NVlabs ms/img':>15}{'vs NVlabs':>11}")
    for cfg_name in args.configs.split(","):
        for res in map(int, args.resolutions.split(",")):
            torch.manual_seed(0)
            G = Generator(GeneratorConfig(img_resolution=res, **CONFIGS[cfg_name])).eval().requires_grad_(False).to(dev)
            low = precision_plan(G.layer_table, dev, args.precision)[0]   # fp16 / bf16: every layer from 8 px
            for batch in map(int, args.batches.split(",")):
                z = torch.randn(batch, G.z_dim, device=dev)
                with torch.no_grad():
                    ours = time_it(lambda: G(z, channels_last=True, low_precision=low), args.repeats) / batch * 1000
                restated = ""
                if not args.no_reference and batch == 1 and args.device == "cpu" and res <= 256:
                    from tests.reference import nvlabs_reference as ref
                    sd = G.state_dict()
                    with torch.no_grad():
                        def run_ref():
                            ws = ref.mapping(sd, z, None, G.num_ws, G.cfg.mapping_layers)
                            return ref.synthesis(sd, ws, res, conv_clamp=G.cfg.conv_clamp)
                        restated = f"{time_it(run_ref, args.repeats) * 1000:.0f}"
                nv = NVLABS_MS.get((cfg_name, res), "") if batch == 1 and args.device == "cpu" else ""
                speedup = f"{float(nv.split('-')[0]) / ours:.2f}x" if nv else ""
                print(f"{cfg_name:<7}{res:>5}{batch:>6}{ours:>13.1f}{restated:>17}{nv:>15}{speedup:>11}", flush=True)


if __name__ == "__main__":
    main()
