"""Do a generator's style levels mean what the app's sliders promise? Measure it.

StyleGAN's promise is that coarse styles (4-8 px) set pose, face shape and hair, fine styles (64 px and up)
set colours and micro-detail, and noise only moves small detail. For many pairs of seeds (A, B) we copy one
level of B's w into A and measure how the image changes:

- layout: mean |difference| of the luminance of the image pooled to 8x8 cells (where things are, how big);
- colour: mean |difference| of the same cells' chroma (RGB minus luminance): the hues of regions;
- detail: mean |difference| of what the pooling removes, in all channels (edges, texture, speckle).

Noise is measured the same way, between two noise seeds for the same w, and compared with the change
between two seeds. All numbers are in the generator's [-1, 1] pixel units.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .latents import one_hot, zs_from_seeds
from .nn.layer_table import LEVELS


def _parts(img: torch.Tensor, pool: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split [N, 3, H, W] images into (luminance layout, regional colour, fine detail).

    Layout and colour come from the image average-pooled to 8x8 cells (its luminance, and each cell's RGB
    minus that luminance); detail is everything the pooling removes, in all three channels.
    """
    low = F.avg_pool2d(img, pool)
    lum = low.mean(dim=1, keepdim=True)
    detail = img - F.interpolate(low, scale_factor=pool, mode="nearest")
    return lum, low - lum, detail


def _change(a: torch.Tensor, b: torch.Tensor, pool: int) -> dict[str, float]:
    pa, pb = _parts(a, pool), _parts(b, pool)
    names = ("layout", "colour", "detail")
    return {n: round(float((x - y).abs().mean()), 4) for n, x, y in zip(names, pa, pb)}


@torch.no_grad()
def level_effects(G: torch.nn.Module, pairs: int = 32, seed: int = 0, batch: int = 16) -> dict[str, Any]:
    """For `pairs` seed pairs: the change that copying each level of B into A causes, and noise's change."""
    pool = max(G.img_resolution // 8, 1)
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
        add("other seed", _change(img_a, img_b, pool), weight)
        for level in LEVELS:
            idx = table.level_indices(level)
            if not idx:
                continue
            mixed = wa.clone()
            mixed[:, idx] = wb[:, idx]
            add(level, _change(img_a, G.synthesis(mixed, noise_mode="const"), pool), weight)
        noise1 = G.synthesis(wa, noise=G.make_noise(1))
        noise2 = G.synthesis(wa, noise=G.make_noise(2))
        add("noise", _change(noise1, noise2, pool), weight)
    out["levels"] = {k: {m: round(v, 4) for m, v in d.items()} for k, d in sums.items()}
    return out


def describe(effects: dict[str, Any]) -> str:
    rows = [f"{'change':<12}{'layout':>8}{'colour':>8}{'detail':>8}"]
    for name, d in effects["levels"].items():
        rows.append(f"{name:<12}{d['layout']:>8.3f}{d['colour']:>8.3f}{d['detail']:>8.3f}")
    return "\n".join(rows)
