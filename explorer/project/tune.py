"""Pivotal tuning (Roich et al. 2022, "PTI"): move the generator a little so that it draws the photo exactly.

The projector finds the w (or w+) whose image is closest to a photo, but a photo the generator never saw is
outside its range: the answer comes back smoothed, with the wrong details. Pivotal tuning keeps that w fixed
(the pivot) and optimises a copy of the synthesis weights until G(pivot) is the photo:

    loss = image distance(G'(pivot), photo)                           # ProjectionLoss: perceptual + pixel + SSIM
         + locality_weight * |G'(w_k) - G(w_k)|^2 over a few w_k       # the rest of the latent space stays put

The locality bank holds ws of random z (what seeds, walks and grids show) and ws on the way from the pivot
towards them (PTI's "latent ball": the neighbourhood that edits of the photo visit); the original images of the
bank are rendered once. The mapping network, w_avg and the noise buffers are never touched, so seeds,
truncation, mixing and directions mean what they meant. The input generator is not modified: tune() works on
a deep copy and returns it.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import threading
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..errors import CheckpointError
from ..io.native import read_metadata, save_generator
from ..nn.generator import Generator
from .losses import ProjectionLoss, psnr


@dataclasses.dataclass(frozen=True)
class TuningConfig:
    num_steps: int = 300                   # Optimisation steps.
    learning_rate: float = 3e-4            # Adam lr (PTI's), with a cosine ramp-down over the last 25%.
    lr_rampdown_length: float = 0.25       # Fraction of steps of cosine ramp-down.
    locality_weight: float = 1.0           # Weight of the locality term (0 = plain fine-tuning).
    locality_batch: int = 2                # Bank ws re-rendered per step.
    locality_bank: int = 64                # ws in the bank (half random, half between the pivot and random).
    locality_reach: float = 0.5            # Near-pivot ws: this fraction of the way from the pivot to a random w.
    locality_resolution: int = 256         # Bank images are compared at most this large (memory at 1024 px).
    seed: int = 0                          # Seeds the bank's z and the order it is visited in.

    def __post_init__(self) -> None:
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not self.locality_weight >= 0:
            raise ValueError(f"locality_weight must be >= 0, got {self.locality_weight}")
        if self.locality_batch < 1 or self.locality_bank < 1:
            raise ValueError("locality_batch and locality_bank must be >= 1")


@dataclasses.dataclass
class TuningStep:
    """What a progress callback receives after each step."""
    step: int                              # Steps done so far (1..num_steps).
    num_steps: int
    loss: float                            # Image loss of G'(pivot) against the photo.
    locality: float                        # Mean squared difference on this step's bank ws ([-1, 1] units).
    psnr: float                            # PSNR of G'(pivot) against the photo (8-bit), dB.
    preview: Optional[np.ndarray]          # [H, W, 3] uint8 of G'(pivot) this step, or None.


@dataclasses.dataclass
class TuningResult:
    generator: Generator                   # The tuned copy (eval mode, no gradients).
    steps_done: int
    cancelled: bool
    history: list[float]                   # Image loss per step.
    locality_history: list[float]          # Locality distance per step.
    psnr_before: float                     # PSNR of G(pivot) before tuning, dB.
    psnr_after: float                      # PSNR of G'(pivot) after tuning, dB.


def learning_rate(step: int, cfg: TuningConfig) -> float:
    t = step / cfg.num_steps
    ramp = min(1.0, (1.0 - t) / cfg.lr_rampdown_length) if cfg.lr_rampdown_length > 0 else 1.0
    return cfg.learning_rate * (0.5 - 0.5 * math.cos(ramp * math.pi))


@torch.no_grad()
def locality_bank(G: Generator, pivot: torch.Tensor, cfg: TuningConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(ws [K, num_ws, w_dim], G's images of them [K, C, r, r], r <= locality_resolution): half from random z,
    half part-way from the pivot."""
    rnd = np.random.RandomState(cfg.seed)
    k_far = (cfg.locality_bank + 1) // 2
    z = torch.from_numpy(rnd.randn(cfg.locality_bank, G.z_dim)).to(torch.float32).to(G.device)
    c = None
    if G.c_dim > 0:
        c = torch.nn.functional.one_hot(torch.from_numpy(rnd.randint(G.c_dim, size=cfg.locality_bank)),
                                        G.c_dim).to(torch.float32).to(G.device)
    w = G.mapping(z, c)
    near = pivot + cfg.locality_reach * (w[k_far:] - pivot)
    ws = torch.cat([w[:k_far], near])
    images = torch.cat([_shrink(G.synthesis(ws[i:i + 8], noise_mode="const"), cfg.locality_resolution)
                        for i in range(0, len(ws), 8)])
    return ws, images


def _shrink(images: torch.Tensor, size: int) -> torch.Tensor:
    return images if images.shape[-1] <= size else torch.nn.functional.interpolate(images, size=(size, size), mode="area")


def tune(
    G: Generator,                          # The generator (not modified; a copy is tuned).
    target: torch.Tensor,                  # [1, C, R, R] in [-1, 1]: the photo.
    pivot: torch.Tensor,                   # [1, num_ws, w_dim]: the projector's ws for it.
    loss: Optional[ProjectionLoss] = None,  # Distance to the photo; None = default terms.
    cfg: TuningConfig = TuningConfig(),
    callback: Optional[Callable[[TuningStep], None]] = None,
    cancel: Optional[threading.Event] = None,  # Set it to stop after the current step.
    preview_every: int = 1,                # Steps between previews handed to the callback (0 = never).
) -> TuningResult:
    """Fine-tune a copy of G's synthesis weights so that G'(pivot) is the photo, locally (see module doc)."""
    device = G.device
    target = target.to(device, torch.float32)
    pivot = pivot.to(device, torch.float32)
    if target.ndim != 4 or target.shape[0] != 1:
        raise ValueError(f"target must be [1, C, R, R], got {list(target.shape)}")
    if tuple(pivot.shape) != (1, G.num_ws, G.w_dim):
        raise ValueError(f"pivot must be [1, {G.num_ws}, {G.w_dim}], got {list(pivot.shape)}")
    if loss is None:
        loss = ProjectionLoss(target)
    bank_ws, bank_images = locality_bank(G, pivot, cfg)

    tuned = copy.deepcopy(G).eval().requires_grad_(False)
    params = [p for p in tuned.synthesis.parameters() if p.is_floating_point()]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, betas=(0.9, 0.999))
    channels_last = device.type == "cpu"
    order = torch.Generator().manual_seed(cfg.seed)

    with torch.no_grad():
        psnr_before = float(psnr(G.synthesis(pivot, noise_mode="const"), target)[0])
    history: list[float] = []
    locality_history: list[float] = []
    steps_done, cancelled, last_psnr = 0, False, psnr_before
    for step in range(cfg.num_steps):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        use_bank = cfg.locality_weight > 0
        idx = torch.randint(len(bank_ws), [cfg.locality_batch], generator=order) if use_bank else None
        ws = torch.cat([pivot, bank_ws[idx]]) if use_bank else pivot
        images = tuned.synthesis(ws, noise_mode="const", channels_last=channels_last)
        image_loss, _ = loss(images[:1])
        total = image_loss.sum()
        locality = torch.zeros([], device=device)
        if use_bank:
            locality = (_shrink(images[1:], cfg.locality_resolution) - bank_images[idx]).square().mean()
            total = total + cfg.locality_weight * locality
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

        steps_done = step + 1
        history.append(float(image_loss.detach()[0]))
        locality_history.append(float(locality.detach()))
        last_psnr = float(psnr(images[:1].detach(), target)[0])
        if callback is not None:
            want = preview_every > 0 and (steps_done % preview_every == 0 or steps_done == cfg.num_steps)
            preview = _to_uint8(images[0].detach()) if want else None
            callback(TuningStep(steps_done, cfg.num_steps, history[-1], locality_history[-1], last_psnr, preview))

    tuned.requires_grad_(False)
    with torch.no_grad():
        psnr_after = float(psnr(tuned.synthesis(pivot, noise_mode="const"), target)[0])
    return TuningResult(tuned, steps_done, cancelled, history, locality_history, psnr_before, psnr_after)


MODEL_CARD_KEY = "model_card"              # safetensors metadata key of the tuning record


def save_tuned(G: Generator, path: "str | os.PathLike[str]", card: dict) -> Path:
    """Write a tuned generator as our safetensors (float32), its card in the metadata and the essentials
    (tuned_from, tuned_photo, tuned_steps) in the config's provenance, where `explorer info` shows them."""
    provenance = dict(G.cfg.provenance)
    provenance.update(tuned_from=str(card.get("tuned_from", "")), tuned_photo=str(card.get("photo", "")),
                      tuned_steps=str(card.get("tuning", {}).get("steps_done", "")))
    G.cfg = G.cfg.replace(provenance=tuple(sorted(provenance.items())))
    return save_generator(G, path, extra_metadata={MODEL_CARD_KEY: card})


def read_model_card(path: "str | os.PathLike[str]") -> Optional[dict]:
    """The tuning record of a tuned generator file (None for a generator that was not tuned)."""
    text = read_metadata(path).get(MODEL_CARD_KEY)
    if text is None:
        return None
    try:
        card = json.loads(text)
    except ValueError:
        raise CheckpointError(path, "model card in the metadata is not valid JSON") from None
    return card if isinstance(card, dict) else None


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.permute(1, 2, 0) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()
