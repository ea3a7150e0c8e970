"""Frames from ws in batches: what videos, grids and figures render with (the Renderer draws one frame).

    RenderState --state_frame_settings (the Renderer's noise rule and precision plan)--> FrameSettings
    ws [N, num_ws, w_dim] + FrameSettings --render_frames, a batch per forward pass--> uint8 [B, H, W, 3]
"""
from __future__ import annotations

import dataclasses
from typing import Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..images import to_uint8
from ..nn.family import FamilyGenerator, LowPrecision
from .renderer import Renderer
from .state import RenderState


@dataclasses.dataclass
class FrameSettings:
    """How ws become pixels, besides the ws themselves (arguments of G.synthesis)."""

    noise_mode: str = "const"
    noise: Optional[dict[str, torch.Tensor]] = None      # layer -> [1 or N, 1, R, R]
    noise_scales: Optional[dict[str, float]] = None      # layer -> multiplier (0 = off)
    low_precision: Optional[LowPrecision] = None         # (dtype, first layer in it)
    channels_last: bool = True
    transform: Optional[torch.Tensor] = None             # input transform [3, 3], or [N, 3, 3] one per frame


def state_frame_settings(state: RenderState, renderer: Renderer) -> FrameSettings:
    """A state's noise (mode, seeded noise, per-layer scales, switched-off resolutions), precision plan and camera.

    The same rule as the Renderer's: scale 0 for layers at resolutions in noise_off_res, else the layer's
    scale; 'random' noise is G.make_noise(noise_seed), the same for every frame (no flicker); the state's
    translate / rotate hold for every frame.
    """
    model = renderer.model_for(state)
    noise, scales = renderer.noise_inputs(state, model.G)
    return FrameSettings(state.noise_mode, noise, scales, model.low_precision, model.channels_last,
                         renderer.camera_input(state, model.G)[1])


def default_batch_size(G: FamilyGenerator) -> int:
    """Frames per forward pass: 8 up to 128 px, 4 at 256 px, then 1 (about 0.25 MPix of output).

    Measured with benchmarks/video_fps.py on 2 CPU cores (one torch thread, CPU time per frame): at 64 px
    batch 8 needs half the time of batch 1 (20 vs 37 ms/frame) and larger batches gain nothing; at 256 px
    (config-f) batching saves under 5% and only costs memory. On a GPU pass --batch to go higher.
    """
    return int(max(1, min(8, 2 ** 18 // (G.img_resolution ** 2))))


@torch.no_grad()
def render_frames(G: FamilyGenerator, ws: torch.Tensor, settings: Optional[FrameSettings] = None,
                  batch_size: Optional[int] = None, uint8: bool = True, size: Optional[int] = None) -> Iterator[np.ndarray]:
    """Yield frames batch by batch: uint8 [B, H, W, 3], or with uint8=False the raw float [B, C, H, W].

    Noise tensors and transforms with one row per frame (N rows) are sliced per batch; single ones are shared.
    `size` shrinks each frame to size x size px (area average) before it leaves the device (thumbnails).
    """
    settings = settings or FrameSettings()
    batch_size = batch_size or default_batch_size(G)
    n = ws.shape[0]
    for i in range(0, n, batch_size):
        j = min(i + batch_size, n)
        noise = settings.noise
        if noise is not None:
            noise = {k: (v[i:j] if v.shape[0] == n else v) for k, v in noise.items()}
        transform = settings.transform
        if transform is not None and transform.ndim == 3 and transform.shape[0] == n:
            transform = transform[i:j]
        img = G.synthesis(ws[i:j].to(G.device), noise_mode=settings.noise_mode, noise=noise,
                          noise_scales=settings.noise_scales, transform=transform,
                          low_precision=settings.low_precision, channels_last=settings.channels_last)
        if size is not None and size < img.shape[-1]:   # clipped to what uint8 keeps first: the frame, averaged
            img = F.interpolate(img.float().clamp(-128 / 127.5, 127 / 127.5), size=(size, size), mode="area")
        yield to_uint8(img).cpu().numpy() if uint8 else img.float().cpu().numpy()
