"""Differentiable augmentation of everything the discriminator sees (Zhao et al. 2020, "DiffAugment").

With small batches and few images, D learns to tell reals from fakes by details that G cannot match
yet, its logits run away (+5 on reals here), and G collapses onto one face. Showing D randomly shifted,
recoloured and cut-out versions of both reals and fakes makes that shortcut useless. The transforms are
differentiable, so G still gets gradients through them, and they are applied to reals and fakes alike,
so they do not leak into the generated images.
"""
from __future__ import annotations

import torch

POLICIES = ("color", "translation", "cutout")


def diff_augment(x: torch.Tensor, policy: tuple[str, ...] = POLICIES) -> torch.Tensor:
    """Apply each transform in policy with fresh random parameters per sample; x is [N, C, H, W]."""
    for name in policy:
        x = _TRANSFORMS[name](x)
    return x


def _color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    r = torch.rand([3, n, 1, 1, 1], device=x.device, dtype=x.dtype)
    x = x + (r[0] - 0.5)                                   # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (r[1] * 2) + mean                     # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (r[2] + 0.5) + mean                # contrast


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels in x and y, filling with zeros (mid grey)."""
    n, c, h, w = x.shape
    s = max(int(h * ratio + 0.5), 1)
    shift = torch.randint(-s, s + 1, [2, n, 1, 1], device=x.device)
    gy = torch.arange(h, device=x.device).view(1, h, 1) + shift[0] + s   # [N, H, 1] rows in padded image
    gx = torch.arange(w, device=x.device).view(1, 1, w) + shift[1] + s   # [N, 1, W]
    padded = torch.nn.functional.pad(x, [s, s, s, s])
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, gy, gx].permute(0, 3, 1, 2)  # [N, C, H, W]


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ratio * size at a random place in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + 1 - ch % 2, [n, 1, 1], device=x.device) - ch // 2
    left = torch.randint(0, w + 1 - cw % 2, [n, 1, 1], device=x.device) - cw // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)  # [N, H, W]
    return x * (~inside).unsqueeze(1).to(x.dtype)


_TRANSFORMS = {"color": _color, "translation": _translation, "cutout": _cutout}
