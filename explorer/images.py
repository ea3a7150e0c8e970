"""Generator output <-> pixels, and writing images without losing anything on failure."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from .files import atomic_write

if TYPE_CHECKING:
    from .render.state import RenderState

PNG_STATE_KEY = "explorer.render_state"   # text chunk: the RenderState an image was rendered from (JSON)
PNG_FIGURE_KEY = "explorer.figure"        # text chunk: what a figure's tiles are (JSON)


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """NCHW in ~[-1, 1] -> NHWC uint8, exactly as NVlabs' scripts: (x * 127.5 + 128).clamp(0, 255)."""
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def to_numpy_images(img: torch.Tensor) -> np.ndarray:
    """NCHW float -> NHWC uint8 numpy with one host copy (conversion happens on the tensor's device)."""
    return to_uint8(img).cpu().numpy()


def save_png(path: "str | os.PathLike[str]", pixels: np.ndarray, text: Optional[dict[str, str]] = None,
             state: "Optional[RenderState]" = None, figure: Optional[dict] = None) -> Path:
    """Write HxWx3 (or HxWx1) uint8 as PNG atomically, with text chunks: `text`, the RenderState the image
    was made from (PNG_STATE_KEY) and a figure's layout (PNG_FIGURE_KEY), each as JSON."""
    path = Path(path)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    text = dict(text or {})
    if state is not None:
        text[PNG_STATE_KEY] = state.to_json()
    if figure is not None:
        text[PNG_FIGURE_KEY] = json.dumps(figure)
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for k, v in text.items():
            info.add_itxt(k, v)
    with atomic_write(path, "image") as tmp:
        Image.fromarray(np.ascontiguousarray(pixels)).save(tmp, format="PNG", pnginfo=info)
    return path


def image_grid(images: np.ndarray, rows: int, cols: int, pad: int = 0, fill: int = 255) -> np.ndarray:
    """[N, H, W, C] uint8 -> one [rows*H, cols*W, C] mosaic (missing cells filled)."""
    n, h, w, c = images.shape
    grid = np.full([rows * (h + pad) - pad, cols * (w + pad) - pad, c], fill, dtype=np.uint8)
    for i in range(min(n, rows * cols)):
        r, col = divmod(i, cols)
        grid[r * (h + pad): r * (h + pad) + h, col * (w + pad): col * (w + pad) + w] = images[i]
    return grid
