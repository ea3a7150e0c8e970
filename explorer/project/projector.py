"""Find ws that make the generator draw given images: NVlabs' projector, batched, with W+.

The schedule is NVlabs' (stylegan2-ada-pytorch projector.py): start at w_avg (of 10,000 mapped z), Adam
whose lr ramps up over the first 5% of the steps and down (cosine) over the last 25%, Gaussian noise on w
(w_std * 0.05, decaying quadratically to zero at 75%), per-pixel noise inputs optimised too (with their
autocorrelation penalty, weight 1e5, and renormalised after every step). Additions:
- a batch of targets is solved at once (each image has its own ws and noise; losses are summed so
  the problems stay independent under Adam);
- W+ (one w per synthesis input) with a penalty on each w's distance from the image's mean w, which keeps
  the solution in the region the generator was trained on (an unconstrained W+ fits but does not edit);
- progress callback and cancel flag, so a GUI can run it on a thread and stop it.
"""
from __future__ import annotations

import dataclasses
import math
import os
import threading
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..io.arrays import read_npz
from ..latents import write_npz
from ..nn.family import FamilyGenerator
from .losses import ProjectionLoss

SPACES = ("w", "w+")


@dataclasses.dataclass(frozen=True)
class ProjectorConfig:
    num_steps: int = 1000                  # Optimisation steps (the schedule stretches to fit).
    space: str = "w"                       # 'w' (one w for all layers) or 'w+' (one per layer).
    initial_learning_rate: float = 0.1     # Adam lr at the top of the schedule.
    lr_rampup_length: float = 0.05         # Fraction of steps of cosine ramp-up.
    lr_rampdown_length: float = 0.25       # Fraction of steps of cosine ramp-down.
    initial_noise_factor: float = 0.05     # w noise std at step 0, in units of w_std.
    noise_ramp_length: float = 0.75        # w noise reaches zero at this fraction of the steps.
    regularize_noise_weight: float = 1e5   # Weight of the noise autocorrelation penalty.
    wplus_weight: float = 0.1              # W+ only: weight of sum_i |w_i - mean w|^2 / w_std^2.
    optimize_noise: bool = True            # Optimise the noise inputs (else: the model's const noise).
    w_avg_samples: int = 10_000            # z samples for w_avg and w_std.
    seed: int = 0                          # Seeds the initial noise inputs and the w noise.

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {self.space!r}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")


@dataclasses.dataclass
class ProjectionStep:
    """What a progress callback receives after each step."""
    step: int                              # Steps done so far (1..num_steps).
    num_steps: int
    loss: float                            # Mean image loss (the weighted distances) over the batch.
    losses: np.ndarray                     # [N] image loss per target.
    objective: float                       # Mean of what is minimised: image loss + regularisers.
    preview: Optional[np.ndarray]          # [N, H, W, 3] uint8 of the images this step scored, or None.


@dataclasses.dataclass
class ProjectionResult:
    ws: torch.Tensor                       # [N, num_ws, w_dim] on the CPU (W: the same w repeated).
    noise: dict[str, torch.Tensor]         # Noise layer name -> [N, 1, R, R] on the CPU.
    losses: np.ndarray                     # [N] image loss of the returned ws.
    steps_done: int
    cancelled: bool
    history: list[float]                   # Mean image loss per step.


def learning_rate(step: int, cfg: ProjectorConfig) -> float:
    """NVlabs' formula: linear ramp-up over lr_rampup_length, cosine ramp-down over lr_rampdown_length."""
    t = step / cfg.num_steps
    lr_ramp = min(1.0, (1.0 - t) / cfg.lr_rampdown_length)
    lr_ramp = 0.5 - 0.5 * math.cos(lr_ramp * math.pi)
    lr_ramp = lr_ramp * min(1.0, t / cfg.lr_rampup_length)
    return cfg.initial_learning_rate * lr_ramp


def w_noise_scale(step: int, cfg: ProjectorConfig, w_std: float) -> float:
    t = step / cfg.num_steps
    return w_std * cfg.initial_noise_factor * max(0.0, 1.0 - t / cfg.noise_ramp_length) ** 2


@torch.no_grad()
def w_statistics(G: FamilyGenerator, samples: int = 10_000, c: Optional[torch.Tensor] = None, seed: int = 123) -> tuple[torch.Tensor, float]:
    """(w_avg [w_dim], w_std) from `samples` mapped z, as NVlabs: w_std = sqrt(E |w - w_avg|^2)."""
    rnd = np.random.RandomState(seed)
    z = torch.from_numpy(rnd.randn(samples, G.z_dim)).to(torch.float32).to(G.device)
    if G.c_dim > 0 and c is None:  # conditional model without a class: average over random classes
        c = F.one_hot(torch.from_numpy(rnd.randint(G.c_dim, size=samples)), G.c_dim).to(torch.float32).to(G.device)
    elif c is not None:
        c = c[:1].expand(samples, -1)
    w = torch.cat([G.mapping(z[i:i + 2500], None if c is None else c[i:i + 2500])[:, 0]
                   for i in range(0, samples, 2500)])
    w_avg = w.mean(dim=0)
    w_std = float((w - w_avg).square().sum() / samples) ** 0.5
    return w_avg, w_std


def noise_regularizer(noise: torch.Tensor) -> torch.Tensor:
    """NVlabs' penalty on spatial autocorrelation of a noise map, at every octave down to 8 px: [N]."""
    reg = torch.zeros(noise.shape[0], device=noise.device)
    while True:
        reg = reg + (noise * torch.roll(noise, shifts=1, dims=3)).mean(dim=[1, 2, 3]).square()
        reg = reg + (noise * torch.roll(noise, shifts=1, dims=2)).mean(dim=[1, 2, 3]).square()
        if noise.shape[2] <= 8:
            return reg
        noise = F.avg_pool2d(noise, kernel_size=2)


def project(
    G: FamilyGenerator,                    # The generator (its parameters are not changed).
    targets: torch.Tensor,                 # [N, 3, R, R] in [-1, 1] (or uint8 [N, R, R, 3]).
    loss: Optional[ProjectionLoss] = None,  # Distance to the targets; None = default terms.
    cfg: ProjectorConfig = ProjectorConfig(),
    c: Optional[torch.Tensor] = None,      # [N, c_dim] labels for conditional models.
    callback: Optional[Callable[[ProjectionStep], None]] = None,
    cancel: Optional[threading.Event] = None,  # Set it to stop after the current step.
    preview_every: int = 1,                # Steps between previews handed to the callback (0 = never).
) -> ProjectionResult:
    """Optimise ws (and noise inputs) so G's images match the targets; returns the best ws seen.

    "Best" is per target: the ws (and noise) whose image scored the lowest image loss at any step. After
    the w noise has decayed this is the final iterate or close to it; if cancelled it is a usable result.
    Runs on G's device; safe to call from a worker thread (G is only read).
    """
    device = G.device
    targets = _as_images(targets, G).to(device)
    n = targets.shape[0]
    if loss is None:
        loss = ProjectionLoss(targets)
    w_avg, w_std = w_statistics(G, cfg.w_avg_samples, c)
    gen = torch.Generator().manual_seed(cfg.seed)

    channels_last = device.type == "cpu"  # NHWC convolutions are faster there, forward and backward
    num_opt = 1 if cfg.space == "w" else G.num_ws
    w_opt = w_avg.detach().clone().view(1, 1, -1).repeat(n, num_opt, 1).requires_grad_(True)
    noise_bufs: dict[str, torch.Tensor] = {}   # none for a family without noise inputs (StyleGAN3)
    for layer in G.layer_table.noise_layers:
        if cfg.optimize_noise:
            buf = torch.randn([n, 1, layer.size, layer.size], generator=gen).to(device)
        else:  # the noise every other command renders with
            buf = G.synthesis.get_submodule(layer.name).noise_const.detach().to(device).expand(n, 1, -1, -1).clone()
        noise_bufs[layer.name] = buf.requires_grad_(cfg.optimize_noise)
    params = [w_opt] + (list(noise_bufs.values()) if cfg.optimize_noise else [])
    optimizer = torch.optim.Adam(params, betas=(0.9, 0.999), lr=cfg.initial_learning_rate)

    best_loss = torch.full([n], float("inf"), device=device)
    best_ws = w_avg.view(1, 1, -1).repeat(n, G.num_ws, 1)
    best_noise = {k: v.detach().clone() for k, v in noise_bufs.items()}
    history: list[float] = []
    steps_done, cancelled = 0, False
    for step in range(cfg.num_steps):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        sigma = w_noise_scale(step, cfg, w_std)
        w_noise = torch.randn([n, 1, G.w_dim], generator=gen).to(device) * sigma
        ws = (w_opt + w_noise).expand(n, G.num_ws, G.w_dim)
        images = G.synthesis(ws, noise_mode="const", noise=noise_bufs, channels_last=channels_last)
        image_loss, _ = loss(images)
        total = image_loss
        if cfg.optimize_noise:
            total = total + cfg.regularize_noise_weight * sum(noise_regularizer(b) for b in noise_bufs.values())
        if num_opt > 1 and cfg.wplus_weight > 0:
            spread = (w_opt - w_opt.mean(dim=1, keepdim=True)).square().sum(dim=[1, 2]) / w_std ** 2
            total = total + cfg.wplus_weight * spread

        with torch.no_grad():  # remember the best ws so far (before this step moves them)
            better = image_loss.detach() < best_loss
            if bool(better.any()):
                best_loss = torch.where(better, image_loss.detach(), best_loss)
                best_ws[better] = ws.detach()[better]
                for k, v in noise_bufs.items():
                    best_noise[k][better] = v.detach()[better]

        optimizer.zero_grad(set_to_none=True)
        total.sum().backward()
        optimizer.step()
        if cfg.optimize_noise:
            with torch.no_grad():
                for buf in noise_bufs.values():
                    buf -= buf.mean(dim=[1, 2, 3], keepdim=True)
                    buf *= buf.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        steps_done = step + 1
        per_target = image_loss.detach().cpu().numpy()
        history.append(float(per_target.mean()))
        if callback is not None:
            want_preview = preview_every > 0 and (steps_done % preview_every == 0 or steps_done == cfg.num_steps)
            preview = _to_uint8(images.detach()) if want_preview else None
            callback(ProjectionStep(steps_done, cfg.num_steps, history[-1], per_target,
                                    float(total.detach().mean()), preview))

    return ProjectionResult(
        ws=best_ws.cpu(),
        noise={k: v.cpu() for k, v in best_noise.items()},
        losses=best_loss.cpu().numpy(),
        steps_done=steps_done,
        cancelled=cancelled,
        history=history,
    )


@torch.no_grad()
def synthesize(G: FamilyGenerator, ws: torch.Tensor, noise: Optional[dict[str, torch.Tensor]] = None) -> torch.Tensor:
    """Images of a projection result (with its optimised noise when given), NCHW in [-1, 1]."""
    dev = G.device
    noise = None if noise is None else {k: v.to(dev) for k, v in noise.items()}
    return G.synthesis(ws.to(dev), noise_mode="const", noise=noise)


def _as_images(targets: torch.Tensor, G: FamilyGenerator) -> torch.Tensor:
    if isinstance(targets, np.ndarray):
        targets = torch.from_numpy(targets)
    if targets.dtype == torch.uint8:
        if targets.ndim == 3:
            targets = targets[None]
        targets = targets.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1
    r = G.img_resolution
    if targets.ndim != 4 or tuple(targets.shape[1:]) != (G.img_channels, r, r):
        raise ValueError(f"targets have shape {list(targets.shape)}, expected [N, {G.img_channels}, {r}, {r}]")
    return targets.to(torch.float32)


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    return (images.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()


def save_projection(path: "str | os.PathLike[str]", ws: torch.Tensor, noise: Optional[dict[str, torch.Tensor]] = None) -> Path:
    """projected_w.npz, atomically: 'w' [N, num_ws, w_dim] (what every command reads) and 'noise.<layer>'."""
    path = Path(path)
    arrays = {"w": ws.detach().cpu().numpy().astype(np.float32)}
    for name, buf in (noise or {}).items():
        arrays[f"noise.{name}"] = buf.detach().cpu().numpy().astype(np.float32)
    return write_npz(path, arrays, "projection")


def load_projection_noise(path: "str | os.PathLike[str]") -> dict[str, torch.Tensor]:
    """The optimised noise maps saved beside 'w' (empty if the file has none): name -> [N, 1, R, R]."""
    data = read_npz(path)
    return {k[len("noise."):]: torch.from_numpy(v) for k, v in data.items()
            if k.startswith("noise.") and v.dtype.kind == "f"}
