"""Small StyleGAN3 networks with random but non-trivial weights, for tests that need no reference data."""
from __future__ import annotations

import torch

from explorer.nn.stylegan3 import StyleGAN3Generator
from explorer.nn.stylegan3_config import StyleGAN3Config


def random_stylegan3(flavour: str, resolution: int, c_dim: int = 0, conv_clamp=256, seed: int = 0,
                     channel_max: int = 0) -> StyleGAN3Generator:
    """A small StyleGAN3 whose every parameter and buffer is non-trivial (channel_max: wider early layers)."""
    radial = flavour == "R"
    wide = dict(channel_base=64 * channel_max, channel_max=channel_max) if channel_max else {}
    cfg = StyleGAN3Config.design(resolution, **{**dict(channel_base=256 if radial else 128,
                                                       channel_max=16 if radial else 8), **wide},
                                 conv_kernel=1 if radial else 3, use_radial_filters=radial, conv_clamp=conv_clamp,
                                 z_dim=24, w_dim=16, c_dim=c_dim, mapping_layers=2)
    torch.manual_seed(seed)
    G = StyleGAN3Generator(cfg).eval().requires_grad_(False)
    for name, t in G.state_dict().items():
        if name.endswith(".bias"):
            t.normal_(0, 0.3)
        elif name.endswith("magnitude_ema"):
            t.uniform_(0.3, 3)
        elif name in ("mapping.w_avg", "synthesis.input.affine.weight"):
            t.normal_(0, 1)
    return G
