"""Training StyleGAN2, in the order it runs: settings, setup, one step (its phases), then the run that
resumes and repeats it.

One process or several (torchrun): every rank draws its own batch, gradients are averaged with one
all_reduce per phase, and only rank 0 writes files. Snapshots are atomic and carry every RNG state, so
`--resume` continues exactly where the snapshot left off.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from tqdm import tqdm

from ..errors import ExplorerError
from ..files import atomic_write, ensure_outdir
from ..images import image_grid, save_png, to_numpy_images
from ..io.native import LATEST_GENERATOR, save_generator
from ..nn.config import GeneratorConfig
from ..nn.discriminator import Discriminator
from ..nn.generator import Generator
from . import distributed as dist
from .dataset import ImageDataset
from .loss import StyleGAN2Loss
from .snapshot import load_training_state, read_training_info, save_training_state

STATE_FILE = "training-state.safetensors"


# --- settings -------------------------------------------------------------------------------------

@dataclasses.dataclass
class TrainConfig:
    data: str                             # Zip or folder of square images.
    outdir: str                           # Run directory (snapshots, samples, metrics.jsonl).
    kimg: float = 1000                    # Train until this many thousand real images were shown.
    batch: int = 16                       # Total batch over all processes.
    seed: int = 0
    channel_base: int = 4096              # G and D channels: min(channel_base // R, channel_max).
    channel_max: int = 256
    mapping_layers: int = 8
    z_dim: int = 512
    w_dim: int = 512
    lr: float = 0.0025                    # Adam learning rate of G and D (betas 0, 0.99).
    gamma: Optional[float] = None         # R1 weight; None = 0.0002 * R^2 / batch (NVlabs' heuristic).
    pl_weight: float = 2.0
    style_mixing: float = 0.9
    g_reg_interval: int = 4               # Lazy regularisation: every k-th step, with gain k.
    d_reg_interval: int = 16
    ema_kimg: Optional[float] = None      # Half-life of G_ema in kimg; None = batch * 10 / 32.
    ema_rampup: float = 0.05
    mirror: bool = False                  # Random x-flips of real images.
    augment: bool = False                 # DiffAugment (colour, translation, cutout) on all D inputs.
    amp: bool = False                     # bf16 autocast (GPU, or CPUs with AVX512-BF16/AMX: ~1.5x here).
    snap_kimg: float = 10                 # Snapshot and sample grid every this many kimg.
    max_minutes: Optional[float] = None   # Stop (with a snapshot) after this much wall time.
    max_images: Optional[int] = None      # Use only the first N images of the set.
    export_dir: Optional[str] = None      # Also write each snapshot's G_ema here as float16 (half the size).
    device: str = "auto"
    resume: bool = False
    init_from: Optional[str] = None       # Start G and G_ema from this generator (D starts fresh); its kimg counts on.
    d_warmup_kimg: float = 0              # With init_from: train only D for this many kimg before G moves.
    progress: bool = True

    def r1_gamma(self, resolution: int) -> float:
        return self.gamma if self.gamma is not None else 0.0002 * resolution ** 2 / self.batch

    def ema_half_life_kimg(self) -> float:
        return self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32


# --- setup ----------------------------------------------------------------------------------------

def make_networks(cfg: TrainConfig, resolution: int, c_dim: int, device: torch.device) -> tuple[Generator, Discriminator]:
    gcfg = GeneratorConfig(
        img_resolution=resolution, z_dim=cfg.z_dim, c_dim=c_dim, w_dim=cfg.w_dim,
        mapping_layers=cfg.mapping_layers, channel_base=cfg.channel_base, channel_max=cfg.channel_max,
        conv_clamp=256 if cfg.amp else None,
        provenance=(("source_format", "explorer-train"), ("data", os.path.basename(cfg.data))),
    )
    G = Generator(gcfg).to(device).train()
    D = Discriminator(resolution, c_dim=c_dim, channel_base=cfg.channel_base, channel_max=cfg.channel_max,
                      conv_clamp=256 if cfg.amp else None).to(device).train()
    return G, D


def _init_generator(G: Generator, path: str, data: ImageDataset) -> int:
    """Copy a trained generator's weights into G (same architecture); returns how many images it was trained on."""
    from ..io import load_generator

    trained = load_generator(path)
    mine, theirs = G.cfg.to_dict(), trained.cfg.to_dict()
    diff = [k for k in mine if k not in ("provenance", "conv_clamp", "num_fp16_res") and mine[k] != theirs.get(k)]
    if diff:
        raise ExplorerError(f"{path}: --init-from needs the generator this run would build; it differs in "
                            + ", ".join(f"{k} ({theirs.get(k)} there, {mine[k]} here)" for k in diff))
    G.load_state_dict({k: v.float() for k, v in trained.state_dict().items()})
    G.cfg = G.cfg.replace(provenance=tuple(sorted({**dict(G.cfg.provenance), "init_from": os.path.basename(path)}.items())))
    return int(float(dict(trained.cfg.provenance).get("kimg", 0)) * 1000)


def lazy_adam(params, lr: float, interval: int, device: torch.device) -> torch.optim.Adam:
    """Adam whose lr and betas are rescaled so that k-step lazy regularisation matches the eager one.

    fused: one kernel over all parameters (CPU and CUDA), not a Python loop of small ops per tensor."""
    ratio = interval / (interval + 1)
    return torch.optim.Adam(params, lr=lr * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8, fused=True)


class _StopFlag:
    """Turns SIGTERM/SIGINT into a polite request to snapshot and stop at the next step boundary."""

    def __init__(self) -> None:
        self.requested = False
        self._old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass

    def _handle(self, signum, frame) -> None:
        if self.requested:  # second Ctrl+C: stop now
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


# --- one step -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Networks:
    """What a training step updates."""
    G: Generator
    D: Discriminator
    G_ema: Generator
    G_opt: torch.optim.Optimizer
    D_opt: torch.optim.Optimizer
    loss: StyleGAN2Loss


def setup_networks(cfg: TrainConfig, data: ImageDataset, device: torch.device) -> tuple[Networks, int]:
    """Fresh networks, optimisers and loss for a run; returns them and the kimg (x1000) that --init-from
    brings along."""
    torch.manual_seed(cfg.seed)  # same initial weights on every rank and for every run with this seed
    G, D = make_networks(cfg, data.resolution, data.c_dim, device)
    init_nimg = _init_generator(G, cfg.init_from, data) if cfg.init_from else 0
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    G_opt = lazy_adam(G.parameters(), cfg.lr, cfg.g_reg_interval, device)
    D_opt = lazy_adam(D.parameters(), cfg.lr, cfg.d_reg_interval, device)
    loss = StyleGAN2Loss(G, D, r1_gamma=cfg.r1_gamma(data.resolution), style_mixing_prob=cfg.style_mixing,
                         pl_weight=cfg.pl_weight, autocast_dtype=torch.bfloat16 if cfg.amp else None,
                         augment=cfg.augment)
    return Networks(G, D, G_ema, G_opt, D_opt, loss), init_nimg


def training_step(nets: Networks, cfg: TrainConfig, data: ImageDataset, step: int, cur_nimg: int, batch_gpu: int,
                  device: torch.device, logs: dict[str, torch.Tensor], train_g: bool = True) -> None:
    """G main, lazy path length, D main, lazy R1, then G_ema: one batch of cfg.batch images (all ranks).

    Nothing here waits for the device: the logged scalars stay tensors until the caller reads them."""
    G, D, G_ema, G_opt, D_opt, loss = nets.G, nets.D, nets.G_ema, nets.G_opt, nets.D_opt, nets.loss
    idx = torch.randint(len(data), [batch_gpu])
    mirror = torch.rand([batch_gpu]) < 0.5 if cfg.mirror else None
    real, c_real = data.batch(idx, device, mirror)
    c_gen = _random_labels(data, batch_gpu, device)

    # G: main loss, then (lazily) path length.
    if train_g:
        _phase(G, D, train_g=True)
        G_opt.zero_grad(set_to_none=True)
        logs["loss_G"] = loss.generator_main(torch.randn([batch_gpu, G.z_dim], device=device), c_gen)
        _step(G, G_opt)
    if train_g and cfg.pl_weight > 0 and step % cfg.g_reg_interval == 0:
        G_opt.zero_grad(set_to_none=True)
        logs["pl_penalty"] = loss.generator_path_length(torch.randn([batch_gpu, G.z_dim], device=device),
                                                       c_gen, gain=cfg.g_reg_interval)
        _step(G, G_opt)
    dist.average_buffer(G.mapping.w_avg)

    # D: main loss, then (lazily) R1.
    _phase(G, D, train_g=False)
    D_opt.zero_grad(set_to_none=True)
    ld, d_real, d_fake = loss.discriminator_main(real, c_real, torch.randn([batch_gpu, G.z_dim], device=device), c_gen)
    logs.update(loss_D=ld, D_real=d_real, D_fake=d_fake)
    _step(D, D_opt)
    if step % cfg.d_reg_interval == 0:
        D_opt.zero_grad(set_to_none=True)
        logs["r1_penalty"] = loss.discriminator_r1(real, c_real, gain=cfg.d_reg_interval)
        _step(D, D_opt)

    # G_ema: exponential moving average with a ramped-up half-life.
    if train_g:
        ema_nimg = cfg.ema_half_life_kimg() * 1000
        if cfg.ema_rampup:
            ema_nimg = min(ema_nimg, (cur_nimg + cfg.batch) * cfg.ema_rampup)
        _update_ema(G_ema, G, beta=0.5 ** (cfg.batch / max(ema_nimg, 1e-8)))


# --- the run --------------------------------------------------------------------------------------

def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train (or resume) a run; returns a summary. Only rank 0 writes to cfg.outdir."""
    rank, world, device = dist.setup(cfg.device)
    if cfg.batch % world:
        raise ExplorerError(f"--batch {cfg.batch} must be divisible by the number of processes ({world})")
    batch_gpu = cfg.batch // world
    outdir = Path(cfg.outdir)
    state_path = outdir / STATE_FILE
    if rank == 0 and state_path.exists() and not cfg.resume:
        raise ExplorerError(f"{outdir} already holds a run; pass --resume to continue it or choose another --outdir")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    data = ImageDataset(cfg.data, max_images=cfg.max_images, progress=cfg.progress and rank == 0)
    if rank == 0:
        ensure_outdir(outdir)   # only once the data has been read: a bad set leaves nothing behind
    if device.type == "cuda":
        data.pin_memory()  # batches then copy to the GPU without waiting for it
    nets, init_nimg = setup_networks(cfg, data, device)
    G, D, G_ema, G_opt, D_opt, loss = nets.G, nets.D, nets.G_ema, nets.G_opt, nets.D_opt, nets.loss

    # --- resume or start fresh ---------------------------------------------------------------------
    cur_nimg, step, elapsed_before = 0, 0, 0.0
    torch.manual_seed(cfg.seed * 1000 + rank)
    if cfg.resume and state_path.exists():
        extra, info = load_training_state(state_path, {"G": G, "D": D, "G_ema": G_ema}, {"G_opt": G_opt, "D_opt": D_opt})
        cur_nimg, step, elapsed_before = int(info["cur_nimg"]), int(info["step"]), float(info["elapsed_s"])
        loss.pl_mean.copy_(extra["pl_mean"].reshape([]).to(device))
        _set_rng(extra, rank, step, cfg.seed, device)
    else:
        dist.broadcast_module(G)
        dist.broadcast_module(D)
        G_ema.load_state_dict(G.state_dict())
        cur_nimg = init_nimg
    warmup_end = init_nimg + int(cfg.d_warmup_kimg * 1000)
    if rank == 0:
        _write_json(outdir / "train_config.json", {**dataclasses.asdict(cfg), "world_size": world,
                                                    "generator": G.cfg.to_dict(), "r1_gamma": loss.r1_gamma})
    grid_z = torch.from_numpy(np.random.RandomState(123).randn(32, G.z_dim)).float().to(device)
    grid_c = data.labels[torch.arange(32) % len(data)].to(device) if data.c_dim else None
    if rank == 0 and cur_nimg == 0:
        reals, _ = data.batch(torch.arange(min(32, len(data))), torch.device("cpu"))
        save_png(outdir / "reals.png", image_grid(to_numpy_images(reals), 4, 8))
        _save_grid(G_ema, grid_z, grid_c, outdir / "fakes_init.png")

    # --- the loop ----------------------------------------------------------------------------------
    total_nimg = int(cfg.kimg * 1000)
    snap_nimg = max(int(cfg.snap_kimg * 1000), cfg.batch)
    next_snap = (cur_nimg // snap_nimg + 1) * snap_nimg
    stop = _StopFlag()
    t_start = time.time()
    t_last, nimg_last = t_start, cur_nimg
    bar = tqdm(total=total_nimg / 1000, initial=min(cur_nimg, total_nimg) / 1000, unit="kimg", disable=not (cfg.progress and rank == 0),
               bar_format="{l_bar}{bar}| {n:.2f}/{total:.1f} kimg [{elapsed}<{remaining}{postfix}]")
    logs: dict[str, torch.Tensor] = {}  # kept on the device; read (a sync) only when logging
    reason = "done"
    try:
        while cur_nimg < total_nimg:
            train_g = cur_nimg >= warmup_end  # a fresh D beside a trained G learns alone first
            training_step(nets, cfg, data, step, cur_nimg, batch_gpu, device, logs, train_g=train_g)
            cur_nimg += cfg.batch
            step += 1

            now = time.time()
            if now - t_last > 10 or cur_nimg >= total_nimg:
                ips = (cur_nimg - nimg_last) / max(now - t_last, 1e-9)
                t_last, nimg_last = now, cur_nimg
                if rank == 0:
                    vals = {k: round(float(v), 5) for k, v in logs.items()}
                    rec = {"kimg": cur_nimg / 1000, "step": step, "time_s": round(elapsed_before + now - t_start, 2),
                           "img_per_s": round(ips, 2), "pl_mean": float(loss.pl_mean), **vals}
                    _append_jsonl(outdir / "metrics.jsonl", rec)
                    bar.set_postfix_str(f"{ips:.1f} img/s G {vals.get('loss_G', float('nan')):.3f} D {vals['loss_D']:.3f}")
            bar.update(min(cfg.batch, max(total_nimg - (cur_nimg - cfg.batch), 0)) / 1000)

            wall_out = cfg.max_minutes is not None and (now - t_start) / 60 >= cfg.max_minutes
            if cur_nimg >= next_snap or cur_nimg >= total_nimg or wall_out or dist.any_rank(stop.requested):
                next_snap = (cur_nimg // snap_nimg + 1) * snap_nimg
                if rank == 0:
                    _snapshot(outdir, G, D, G_ema, G_opt, D_opt, loss, cur_nimg, step,
                              elapsed_before + time.time() - t_start, cfg, grid_z, grid_c, device)
                if wall_out or stop.requested:
                    reason = "time limit" if wall_out else "interrupted"
                    break
    finally:
        bar.close()
        stop.restore()
    dist.barrier()
    summary = {"kimg": cur_nimg / 1000, "step": step, "stopped": reason, "outdir": str(outdir),
               "seconds": round(elapsed_before + time.time() - t_start, 1)}
    if rank == 0 and cfg.progress:
        print(json.dumps(summary))
    return summary


# --- pieces of the loop ---------------------------------------------------------------------------

def _phase(G: torch.nn.Module, D: torch.nn.Module, train_g: bool) -> None:
    G.requires_grad_(train_g)
    D.requires_grad_(not train_g)


def _step(module: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if dist.is_distributed() and grads:  # one all_reduce of one flat buffer
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce_mean(flat)
        torch._foreach_copy_(grads, [t.view_as(g) for t, g in zip(flat.split([g.numel() for g in grads]), grads)])
    for g in grads:
        torch.nan_to_num_(g, nan=0, posinf=1e5, neginf=-1e5)  # one bad batch must not poison the weights
    opt.step()


@torch.no_grad()
def _update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    """G_ema <- lerp(G, G_ema, beta), every tensor in one foreach call."""
    torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1 - beta)
    torch._foreach_copy_(list(G_ema.buffers()), list(G.buffers()))


def _random_labels(data: ImageDataset, n: int, device: torch.device) -> Optional[torch.Tensor]:
    if data.labels is None:
        return None
    return data.labels[torch.randint(len(data), [n])].to(device)


def _rng_tensors(device: torch.device) -> dict[str, torch.Tensor]:
    out = {"rng_cpu": torch.get_rng_state()}
    if device.type == "cuda":
        out["rng_cuda"] = torch.cuda.get_rng_state(device)
    return out


def _set_rng(extra: dict[str, torch.Tensor], rank: int, step: int, seed: int, device: torch.device) -> None:
    """Rank 0 continues its exact random stream; other ranks (whose states are not saved) reseed from
    (seed, rank, step), which keeps resumed multi-process runs reproducible too."""
    if rank == 0 and "rng_cpu" in extra:
        torch.set_rng_state(extra["rng_cpu"])
        if device.type == "cuda" and "rng_cuda" in extra:
            torch.cuda.set_rng_state(extra["rng_cuda"], device)
    else:
        torch.manual_seed((seed * 1000 + rank) * 1_000_003 + step)


@torch.no_grad()
def _save_grid(G_ema: Generator, z: torch.Tensor, c: Optional[torch.Tensor], path: Path) -> None:
    imgs = torch.cat([G_ema(z[i:i + 8], None if c is None else c[i:i + 8], noise_mode="const") for i in range(0, len(z), 8)])
    save_png(path, image_grid(to_numpy_images(imgs), 4, 8))


def _snapshot(outdir: Path, G, D, G_ema, G_opt, D_opt, loss: StyleGAN2Loss, cur_nimg: int, step: int,
              elapsed: float, cfg: TrainConfig, grid_z, grid_c, device) -> None:
    kimg = cur_nimg // 1000
    info = {"cur_nimg": cur_nimg, "step": step, "elapsed_s": elapsed, "train_config": dataclasses.asdict(cfg)}
    provenance = dict(G_ema.cfg.provenance)
    provenance.update(kimg=f"{cur_nimg / 1000:.1f}", train_seconds=f"{elapsed:.0f}")
    G_ema.cfg = G_ema.cfg.replace(provenance=tuple(sorted(provenance.items())))
    save_generator(G_ema, outdir / f"network-snapshot-{kimg:06d}.safetensors")
    save_generator(G_ema, outdir / LATEST_GENERATOR)
    if cfg.export_dir:
        Path(cfg.export_dir).mkdir(parents=True, exist_ok=True)
        save_generator(G_ema, Path(cfg.export_dir) / "network-latest-fp16.safetensors", dtype=torch.float16)
    extra = {"pl_mean": loss.pl_mean.detach().reshape(1), **_rng_tensors(device)}
    save_training_state(outdir / STATE_FILE, {"G": G, "D": D, "G_ema": G_ema}, {"G_opt": G_opt, "D_opt": D_opt}, extra, info)
    _save_grid(G_ema, grid_z, grid_c, outdir / f"fakes{kimg:06d}.png")


def _write_json(path: Path, obj: Any) -> None:
    with atomic_write(path, "run settings") as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str))


def _append_jsonl(path: Path, rec: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def describe_run(outdir: "str | os.PathLike[str]") -> Optional[dict]:
    p = Path(outdir) / STATE_FILE
    return read_training_info(p) if p.exists() else None

