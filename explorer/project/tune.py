"""Pivotal tuning (Roich et al. 2022, "PTI"): move the generator a little so that it draws the photo exactly.

The projector finds the w (or w+) whose image is closest to a photo, but a photo the generator never saw is
outside its range: the answer comes back smoothed, with the wrong details. Pivotal tuning keeps that w fixed
(the pivot) and optimises a copy of the synthesis weights until G(pivot) is the photo:

    loss = image distance(G'(pivot), photo)                           # ProjectionLoss: pixel L2 by default
         + locality_weight * |G'(w_k) - G(w_k)|^2 over a few w_k       # the rest of the latent space stays put

Where the change goes matters more than how big it is: changes to the coarse layers move every face the
generator draws, changes near the output mostly redraw detail. So each layer's learning rate shrinks by
lr_per_octave per octave below the output resolution, and layers whose rate would fall under min_lr_factor
are not tuned at all (what they carry into the first tuned layer is computed once for the pivot and the bank,
which also makes each step cheaper; parameters outside the layer modules, like the constant input, stay). On the bundled generator, halving per octave kept other seeds at 38 dB instead of 31 dB for
the same fit of the photo.

The locality bank holds ws of random z (what seeds, walks and grids show) and ws on the way from the pivot
towards them (PTI's "latent ball": the neighbourhood that edits of the photo visit); the original images of the
bank are rendered once. The mapping network, w_avg and the noise buffers are never touched, so seeds,
truncation, mixing and directions mean what they meant. The input generator is not modified: tune() works on
a deep copy and returns it.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import threading
import time
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
    num_steps: int = 1200                  # Optimisation steps (held-out faces reach 30+ dB: see benchmarks/).
    learning_rate: float = 2e-3            # Adam lr of the output block, with a cosine ramp-down at the end.
    lr_per_octave: float = 0.5             # A layer one octave coarser gets this times the lr of the one above.
    min_lr_factor: float = 0.3             # Layers whose lr factor would be lower stay frozen.
    lr_rampdown_length: float = 0.25       # Fraction of steps of cosine ramp-down.
    locality_weight: float = 0.3           # Weight of the locality term (0 = plain fine-tuning).
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
        if not 0 < self.lr_per_octave <= 1 or not 0 <= self.min_lr_factor <= 1:
            raise ValueError("lr_per_octave must be in (0, 1] and min_lr_factor in [0, 1]")
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


class FrozenPrefix:
    """What synthesis carries into the first tuned layer (explorer/nn/family.py's carry), for the pivot (row 0)
    and the bank (rows 1..K).

    The frozen layers never change, so the carry is computed once when it fits in CACHE_BYTES, and otherwise
    again each step for the rows in use (without gradients)."""

    CACHE_BYTES = 512 * 2 ** 20

    def __init__(self, G: Generator, start: int, ws: torch.Tensor, channels_last: bool):
        self.G, self.start, self.ws, self.channels_last = G, start, ws, channels_last
        self.cache = None
        if start > 0:
            per_row = _nbytes(self._run(torch.arange(1)))
            if per_row * len(ws) <= self.CACHE_BYTES:
                self.cache = self._run(torch.arange(len(ws)))

    @torch.no_grad()
    def _run(self, rows: torch.Tensor):
        out = {}

        def keep(i: int, y: torch.Tensor, carry) -> None:
            if i == self.start - 1:
                out["carry"] = carry

        self.G.synthesis.run(self.ws[rows], noise_mode="const", channels_last=self.channels_last, on_layer=keep)
        return out["carry"]

    def __call__(self, rows: torch.Tensor):
        if self.start == 0:
            return None
        if self.cache is not None:
            return _take_rows(self.cache, rows)
        return self._run(rows)


def _take_rows(carry, rows: torch.Tensor):
    """The carry of the given batch rows (a carry is a tensor or a tuple of tensors / None)."""
    if isinstance(carry, torch.Tensor):
        return carry[rows]
    if isinstance(carry, (tuple, list)):
        return type(carry)(_take_rows(c, rows) for c in carry)
    return carry


def _nbytes(carry) -> int:
    if isinstance(carry, torch.Tensor):
        return carry.numel() * carry.element_size()
    if isinstance(carry, (tuple, list)):
        return sum(_nbytes(c) for c in carry)
    return 0


def tune(
    G: Generator,                          # The generator (not modified; a copy is tuned).
    target: torch.Tensor,                  # [1, C, R, R] in [-1, 1]: the photo.
    pivot: torch.Tensor,                   # [1, num_ws, w_dim]: the projector's ws for it.
    loss: Optional[ProjectionLoss] = None,  # Distance to the photo; None = TUNING_LOSS.
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
        loss = ProjectionLoss(target, TUNING_LOSS)
    bank_ws, bank_images = locality_bank(G, pivot, cfg)

    tuned = copy.deepcopy(G).eval().requires_grad_(False)
    layers = G.layer_table.layers
    factors = [cfg.lr_per_octave ** max(0.0, math.log2(G.img_resolution / layer.resolution)) for layer in layers]
    start = next(i for i, f in enumerate(factors) if f >= cfg.min_lr_factor or i == len(layers) - 1)
    groups = []
    for layer, factor in zip(layers[start:], factors[start:]):
        params = [p for p in tuned.synthesis.get_submodule(layer.name).parameters() if p.is_floating_point()]
        for p in params:
            p.requires_grad_(True)
        groups.append({"params": params, "lr": cfg.learning_rate * factor, "factor": factor})
    optimizer = torch.optim.Adam(groups, betas=(0.9, 0.999))
    channels_last = device.type == "cpu"
    order = torch.Generator().manual_seed(cfg.seed)
    prefix = FrozenPrefix(G, start, torch.cat([pivot, bank_ws]), channels_last)

    with torch.no_grad():
        psnr_before = float(psnr(G.synthesis(pivot, noise_mode="const"), target)[0])
    history: list[float] = []
    locality_history: list[float] = []
    steps_done, cancelled, last_psnr = 0, False, psnr_before
    use_bank = cfg.locality_weight > 0
    for step in range(cfg.num_steps):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        lr = learning_rate(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["factor"]
        idx = torch.randint(len(bank_ws), [cfg.locality_batch], generator=order) if use_bank else None
        rows = torch.cat([torch.zeros(1, dtype=torch.long), idx + 1]) if use_bank else torch.zeros(1, dtype=torch.long)
        images = tuned.synthesis.run(torch.cat([pivot, bank_ws[idx]]) if use_bank else pivot, start=start,
                                     carry=prefix(rows), noise_mode="const", channels_last=channels_last)
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


# The photo term of tuning: pixel L2 alone. With the projector's perceptual + SSIM terms the tuned generator
# moved other seeds' images far more for the same PSNR (bundled model: 27 dB instead of 38 dB on other seeds).
TUNING_LOSS = {"l2": 1.0}

MODEL_CARD_KEY = "model_card"              # safetensors metadata key of the tuning record
# What save_tuned puts in the config's provenance, where `explorer info` and the app's model panel show it.
PROVENANCE_FROM, PROVENANCE_PHOTO, PROVENANCE_STEPS = "tuned_from", "tuned_photo", "tuned_steps"


def origin_card(G: Generator, photo: "str | os.PathLike[str]", framing: str, search: dict, tool: str) -> dict:
    """The first half of a tuned generator's model card: which generator, which photo (names and SHA-256, so a
    reader can check them), how the photo was framed and searched, when and with what."""
    source = getattr(G, "source_path", None) or "bundled generator"
    return {
        "tuned_from": Path(source).name,
        "tuned_from_sha256": _sha256(source),
        "photo": Path(photo).name,
        "photo_sha256": _sha256(photo),
        "framing": framing,
        "search": search,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tool": tool,
    }


def tuning_card(origin: dict, cfg: TuningConfig, loss: ProjectionLoss, result: TuningResult) -> dict:
    """The whole model card: origin_card's record plus every tuning setting and what tuning reached."""
    return dict(origin, tuning={**dataclasses.asdict(cfg), "steps_done": result.steps_done,
                                "cancelled": result.cancelled, "loss_terms": dict(loss.weights),
                                "final_loss": result.history[-1] if result.history else None,
                                "final_locality": result.locality_history[-1] if result.locality_history else None,
                                "psnr_before": round(result.psnr_before, 3),
                                "psnr_after": round(result.psnr_after, 3)})


def tuned_label(provenance: dict) -> str:
    """One line naming what a tuned generator was tuned to and from ('' for a generator that was not tuned)."""
    photo = provenance.get(PROVENANCE_PHOTO)
    if not photo:
        return ""
    steps = provenance.get(PROVENANCE_STEPS)
    return (f"tuned to {photo}" + (f" ({steps} steps)" if steps else "")
            + (f" from {provenance[PROVENANCE_FROM]}" if provenance.get(PROVENANCE_FROM) else ""))


def _sha256(path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return ""
    return h.hexdigest()


def save_tuned(G: Generator, path: "str | os.PathLike[str]", card: dict) -> Path:
    """Write a tuned generator as our safetensors (float32), its card in the metadata and the essentials
    (PROVENANCE_*) in the config's provenance, where `explorer info` shows them."""
    provenance = dict(G.cfg.provenance)
    provenance.update({PROVENANCE_FROM: str(card.get("tuned_from", "")), PROVENANCE_PHOTO: str(card.get("photo", "")),
                       PROVENANCE_STEPS: str(card.get("tuning", {}).get("steps_done", ""))})
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
