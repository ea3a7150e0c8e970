"""Training speed of `explorer train` (img/s), fp32 and bf16, on the CPU or a GPU, beside NVlabs' own loop.

    python benchmarks/train_speed.py                          # CPU (2 threads, 64 px) and GPU (64, 256 px) if any
    python benchmarks/train_speed.py --nvlabs ~/src/stylegan3 # + NVlabs' loop, same model, same run
    python benchmarks/train_speed.py --device cuda            # GPU rows only (fp32 with TF32 as `explorer train`)
    python benchmarks/train_speed.py --ceiling                # + the convolutions' share of a CPU step

--ceiling profiles one more round of each CPU loop of ours and sums the time spent in convolution kernels
(forward, backward, double backward): the img/s the loop would reach if everything else took no time. It is
the ceiling for any fusing of what surrounds the convolutions; above it only fewer or faster convolutions help.

What is timed is the trainer's own step (explorer.train.loop.training_step: G main, lazy path length every 4
steps, D main, lazy R1 every 16, G_ema), on in-memory images (random pixels), after warm-up steps, over a multiple of 16
steps so that every lazy regulariser runs its share. The model is issue 22's: 64 px, channel base 4096 / max
256, 8 mapping layers, batch 16, style mixing 0.9, no augmentation. At 256 px (GPUs) it is the configuration
of NVlabs' published stylegan2 256 px speed (channel base 16384 / max 512, 2 mapping layers, batch 16: 20.84 s/kimg
on a V100 and 12.53 on an A100, docs/configs.md of NVlabs/stylegan3, fp16 in the top 4 resolutions).

--nvlabs DIR runs NVlabs' training loop from a checkout of NVlabs/stylegan3 (or stylegan2-ada-pytorch) on the
same model and data, phase by phase as their training_loop.py does it (their networks, their loss, their
reference ops on a CPU, fp32, TF32 off as their loop sets it); nothing of theirs is copied here. Without it
the table repeats the anchor measured earlier on this project's 2-core CPU (NVLABS_CPU_IMG_S). Rounds alternate
the rows, and each row reports its best round: on a shared machine the best is the least disturbed.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.train.dataset import ImageDataset  # noqa: E402
from explorer.train.loop import TrainConfig, setup_networks, training_step  # noqa: E402

# NVlabs' loop on this project's 2-core AMD EPYC (Zen 4), fp32, reference ops, 2 threads (issue 22).
NVLABS_CPU_IMG_S = "5.6-5.8"
MODELS = {  # resolution -> (channel base, channel max, mapping layers)
    64: (4096, 256, 8),
    256: (16384, 512, 2),
}
BATCH, CYCLE = 16, 16  # the longest lazy interval: R1 every 16 steps


def make_data(folder: Path, resolution: int, count: int = 64) -> ImageDataset:
    rng = np.random.RandomState(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(rng.randint(0, 255, [resolution, resolution, 3], dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return ImageDataset(folder, progress=False)


class ExplorerLoop:
    tf32 = True    # on a GPU, as `explorer train` runs fp32 there

    def __init__(self, data: ImageDataset, device: torch.device, amp: bool):
        cbase, cmax, mapping = MODELS[data.resolution]
        self.cfg = TrainConfig(data=str(data.path), outdir="", batch=BATCH, channel_base=cbase, channel_max=cmax,
                               mapping_layers=mapping, amp=amp, device=device.type, progress=False)
        self.nets, _ = setup_networks(self.cfg, data, device)
        self.data, self.device, self.step, self.logs = data, device, 0, {}

    def run(self, steps: int) -> None:
        for _ in range(steps):
            training_step(self.nets, self.cfg, self.data, self.step, self.step * BATCH, BATCH, self.device, self.logs)
            self.step += 1


class NVlabsLoop:
    """NVlabs' training_loop.py inner loop, phase for phase, on their own networks and loss."""
    tf32 = False   # their loop turns TF32 off

    def __init__(self, checkout: str, data: ImageDataset, device: torch.device):
        sys.path.insert(0, checkout)
        _stand_in_for_unused_imports()
        from training.loss import StyleGAN2Loss  # their code, from the checkout given
        from training.networks_stylegan2 import Discriminator, Generator

        cbase, cmax, mapping = MODELS[data.resolution]
        common = dict(c_dim=0, img_resolution=data.resolution, img_channels=3)
        net = dict(channel_base=cbase, channel_max=cmax, num_fp16_res=0, conv_clamp=None)
        self.G = Generator(z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=mapping),
                           fused_modconv_default="inference_only", **net, **common).train().requires_grad_(False).to(device)
        self.D = Discriminator(epilogue_kwargs=dict(mbstd_group_size=4), **net, **common).train().requires_grad_(False).to(device)
        self.G_ema = Generator(z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=mapping),
                               **net, **common).eval().requires_grad_(False).to(device)
        self.G_ema.load_state_dict(self.G.state_dict())
        self.loss = StyleGAN2Loss(device=device, G=self.G, D=self.D, r1_gamma=0.0002 * data.resolution ** 2 / BATCH,
                                  style_mixing_prob=0.9, pl_weight=2, pl_no_weight_grad=True)
        self.phases = []
        for name, module, interval in (("G", self.G, 4), ("D", self.D, 16)):
            ratio = interval / (interval + 1)
            opt = torch.optim.Adam(module.parameters(), lr=0.0025 * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)
            self.phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]
        self.data, self.device, self.step = data, device, 0

    def run(self, steps: int) -> None:
        for _ in range(steps):
            idx = torch.randint(len(self.data), [BATCH])
            real = self.data.images[idx].to(self.device).to(torch.float32) / 127.5 - 1
            all_z = torch.randn([len(self.phases), BATCH, self.G.z_dim], device=self.device)
            c = torch.zeros([BATCH, 0], device=self.device)
            for (name, module, opt, interval), z in zip(self.phases, all_z):
                if self.step % interval:
                    continue
                opt.zero_grad(set_to_none=True)
                module.requires_grad_(True)
                self.loss.accumulate_gradients(phase=name, real_img=real, real_c=c, gen_z=z, gen_c=c,
                                               gain=interval, cur_nimg=self.step * BATCH)
                module.requires_grad_(False)
                params = [p for p in module.parameters() if p.grad is not None]
                if params:
                    flat = torch.cat([p.grad.flatten() for p in params])
                    torch.nan_to_num(flat, nan=0, posinf=1e5, neginf=-1e5, out=flat)
                    for p, g in zip(params, flat.split([p.numel() for p in params])):
                        p.grad = g.reshape(p.shape)
                opt.step()
            beta = 0.5 ** (BATCH / max(min(BATCH * 10 / 32 * 1000, (self.step + 1) * BATCH * 0.05), 1e-8))
            with torch.no_grad():
                for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                    p_ema.copy_(p.lerp(p_ema, beta))
                for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                    b_ema.copy_(b)
            self.step += 1


def _stand_in_for_unused_imports() -> None:
    """NVlabs' modules import `requests` (downloads) and `pkg_resources` (a torch version check for their CUDA
    ops); neither is used on this path, and neither need be installed."""
    if importlib.util.find_spec("requests") is None:
        sys.modules["requests"] = types.ModuleType("requests")
    if importlib.util.find_spec("pkg_resources") is None:
        from packaging.version import parse

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)


def timed(loop, steps: int, device: torch.device) -> float:
    """img/s over `steps` steps."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = loop.tf32
        torch.cuda.synchronize()
    t = time.perf_counter()
    loop.run(steps)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * BATCH / (time.perf_counter() - t)


def measure(device: torch.device, resolutions: list[int], precisions: list[str], nvlabs: Optional[str],
            args: argparse.Namespace, tmp: Path, ceilings: list) -> list[tuple[str, int, str, float, Optional[float]]]:
    """(device, res, loop, img/s, NVlabs' img/s in the same run) for every row on one device."""
    rows = []
    for res in resolutions:
        data = make_data(tmp / f"r{res}", res)
        loops = {f"explorer {p}": ExplorerLoop(data, device, amp=p == "bf16") for p in precisions}
        if nvlabs:
            loops["NVlabs fp32"] = NVlabsLoop(nvlabs, data, device)
        for loop in loops.values():
            loop.run(args.warmup)
        best = {name: 0.0 for name in loops}
        for _ in range(args.rounds):       # rounds alternate the loops; each keeps its best (least disturbed)
            for name, loop in loops.items():
                best[name] = max(best[name], timed(loop, args.steps, device))
        rows += [(device.type, res, name, ips, best.get("NVlabs fp32")) for name, ips in best.items()]
        if args.ceiling and device.type == "cpu":
            for name, loop in loops.items():
                if isinstance(loop, ExplorerLoop):
                    share, ips = conv_ceiling(loop, args.steps)
                    ceilings.append((res, name, share, ips, best.get("NVlabs fp32")))
    return rows


def conv_ceiling(loop: "ExplorerLoop", steps: int) -> tuple[float, float]:
    """(share of a step's time inside convolution ops, img/s if nothing but them ran), from a profiled round."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        loop.run(steps)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events if "conv" in e.key)   # every aten:: conv op, fwd and bwd
    return conv / total, steps * BATCH / (conv / 1e6)


def ratio(device: str, res: int, ips: float, anchor: Optional[float]) -> str:
    if anchor:
        return f"{ips / anchor:.2f}"
    if device == "cpu" and res == 64:
        lo, hi = (float(v) for v in NVLABS_CPU_IMG_S.split("-"))
        return f"{ips / hi:.2f}-{ips / lo:.2f} (anchor {NVLABS_CPU_IMG_S} img/s, measured earlier)"
    return ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="all", choices=["all", "cpu", "cuda"],
                    help="all: the CPU, and a GPU where one is available")
    ap.add_argument("--cpu-res", default="64", help="resolutions on the CPU, comma-separated")
    ap.add_argument("--gpu-res", default="64,256", help="resolutions on a GPU, comma-separated")
    ap.add_argument("--precision", default="fp32,bf16")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--steps", type=int, default=CYCLE, help=f"timed steps per round (a multiple of {CYCLE})")
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--nvlabs", default=None, metavar="DIR", help="checkout of NVlabs/stylegan3: time their loop too")
    ap.add_argument("--ceiling", action="store_true", help="profile our CPU loops: the convolutions' share of a step")
    args = ap.parse_args()
    if args.steps % CYCLE:
        ap.error(f"--steps must be a multiple of {CYCLE} (the R1 interval)")
    torch.set_num_threads(args.threads)
    precisions = args.precision.split(",")
    gpu = torch.cuda.is_available()
    print(f"torch {torch.__version__}, CPU: {args.threads} threads; GPU: "
          f"{torch.cuda.get_device_name() if gpu else 'none'}; batch {BATCH}, {args.steps} timed steps x {args.rounds} rounds")

    rows, missing, ceilings = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        if args.device in ("all", "cpu"):
            rows += measure(torch.device("cpu"), [int(r) for r in args.cpu_res.split(",")], precisions, args.nvlabs,
                            args, Path(tmp), ceilings)
        if args.device in ("all", "cuda"):
            if gpu:
                rows += measure(torch.device("cuda"), [int(r) for r in args.gpu_res.split(",")], precisions,
                                args.nvlabs, args, Path(tmp), ceilings)
            else:
                missing = [int(r) for r in args.gpu_res.split(",")]

    print("\n| device | res | loop | img/s | s/kimg | x NVlabs' loop |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for device, res, name, ips, anchor in rows:
        print(f"| {device} | {res} | {name} | {ips:.2f} | {1000 / ips:.1f} | {ratio(device, res, ips, anchor)} |")
    for res in missing:
        for p in precisions:
            print(f"| cuda | {res} | explorer {p} | not available (no GPU on this machine) | | |")
    for res, name, share, ips, anchor in ceilings:
        print(f"cpu {res} px, {name}: convolutions take {share:.0%} of a step; with everything else free it would run "
              f"{ips:.2f} img/s" + (f" ({ips / anchor:.2f}x NVlabs' loop in this run)" if anchor else ""))
    if any(r[0] == "cuda" and r[1] == 256 for r in rows):
        print("NVlabs' published stylegan2 256 px, batch 16, 1 GPU: 20.84 s/kimg (V100), 12.53 s/kimg (A100)")


if __name__ == "__main__":
    main()
