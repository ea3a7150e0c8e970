"""Do a generator's style levels mean what the app's sliders promise? Measure it.

StyleGAN's promise is that coarse styles (4-8 px) set pose, face shape and hair, fine styles (64 px and up)
set colours and micro-detail, and noise only moves small detail. For many pairs of seeds (A, B) we copy one
level of B's w into A and measure how the image changes, on a grid of 8x8 cells:

- shape: 1 - the correlation of the two luminance images inside each cell (SSIM's structure term). It sees
  where edges and forms are and ignores how bright or contrasted a cell is, so recolouring (black hair turned
  blond) is not counted as a change of shape, and moving or reshaping an outline is;
- colour: mean |difference| of each cell's mean RGB: the hue and brightness of regions;
- detail: mean |difference| of what the cell means remove, in all channels (edges, texture, speckle).

Noise is measured the same way, between two noise seeds for the same w, and compared with the change
between two seeds. Colour and detail are in the generator's [-1, 1] pixel units; shape is 0 (same forms)
to 1 (unrelated) and up to 2 (inverted).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .latents import one_hot, zs_from_seeds
from .nn.layer_table import LEVELS

PARTS = ("shape", "colour", "detail")
_STRUCTURE_EPS = (0.03 * 2) ** 2 / 2   # SSIM's C3 for a dynamic range of 2: flat cells compare as equal.


def _shape_change(a: torch.Tensor, b: torch.Tensor, cell: int) -> torch.Tensor:
    """1 - per-cell correlation of the luminance of [N, 3, H, W] images a and b, averaged over cells."""
    la, lb = a.mean(dim=1, keepdim=True), b.mean(dim=1, keepdim=True)
    mean_a, mean_b = F.avg_pool2d(la, cell), F.avg_pool2d(lb, cell)
    var_a = (F.avg_pool2d(la * la, cell) - mean_a * mean_a).clamp(min=0)
    var_b = (F.avg_pool2d(lb * lb, cell) - mean_b * mean_b).clamp(min=0)
    cov = F.avg_pool2d(la * lb, cell) - mean_a * mean_b
    structure = (cov + _STRUCTURE_EPS) / ((var_a * var_b).sqrt() + _STRUCTURE_EPS)
    return (1 - structure).mean()


def image_change(a: torch.Tensor, b: torch.Tensor, cell: int) -> dict[str, float]:
    """Shape, colour and detail change between image batches a and b ([N, 3, H, W]), on cells of `cell` px."""
    low_a, low_b = F.avg_pool2d(a, cell), F.avg_pool2d(b, cell)
    detail_a = a - F.interpolate(low_a, scale_factor=cell, mode="nearest")
    detail_b = b - F.interpolate(low_b, scale_factor=cell, mode="nearest")
    values = (_shape_change(a, b, cell), (low_a - low_b).abs().mean(), (detail_a - detail_b).abs().mean())
    return {name: round(float(v), 4) for name, v in zip(PARTS, values)}


@torch.no_grad()
def level_effects(G: torch.nn.Module, pairs: int = 32, seed: int = 0, batch: int = 16) -> dict[str, Any]:
    """For `pairs` seed pairs: the change that copying each level of B into A causes, and noise's change."""
    cell = max(G.img_resolution // 8, 1)
    seeds_a = list(range(seed, seed + pairs))
    seeds_b = list(range(seed + pairs, seed + 2 * pairs))
    table = G.layer_table
    out: dict[str, Any] = {"pairs": pairs, "levels": {}}
    sums: dict[str, dict[str, float]] = {}

    def add(key: str, change: dict[str, float], weight: float) -> None:
        acc = sums.setdefault(key, {k: 0.0 for k in change})
        for k, v in change.items():
            acc[k] += v * weight

    for i in range(0, pairs, batch):
        za = zs_from_seeds(seeds_a[i:i + batch], G.z_dim).to(G.device)
        zb = zs_from_seeds(seeds_b[i:i + batch], G.z_dim).to(G.device)
        c = one_hot(0 if G.c_dim else None, G.c_dim, za.shape[0], G.device)  # class 0 for conditional models
        wa, wb = G.mapping(za, c), G.mapping(zb, c)
        img_a = G.synthesis(wa, noise_mode="const")
        img_b = G.synthesis(wb, noise_mode="const")
        weight = za.shape[0] / pairs
        add("other seed", image_change(img_a, img_b, cell), weight)
        for level in LEVELS:
            idx = table.level_indices(level)
            if not idx:
                continue
            mixed = wa.clone()
            mixed[:, idx] = wb[:, idx]
            add(level, image_change(img_a, G.synthesis(mixed, noise_mode="const"), cell), weight)
        if table.noise_layers:   # StyleGAN3 has none: no noise row
            noise1 = G.synthesis(wa, noise=G.make_noise(1))
            noise2 = G.synthesis(wa, noise=G.make_noise(2))
            add("noise", image_change(noise1, noise2, cell), weight)
    out["levels"] = {k: {m: round(v, 4) for m, v in d.items()} for k, d in sums.items()}
    return out


def describe(effects: dict[str, Any]) -> str:
    rows = [f"{'change':<12}" + "".join(f"{p:>8}" for p in PARTS)]
    for name, d in effects["levels"].items():
        rows.append(f"{name:<12}" + "".join(f"{d[p]:>8.3f}" for p in PARTS))
    return "\n".join(rows)
