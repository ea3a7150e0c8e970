"""The input transform of generators that have one (StyleGAN3): move and turn the picture the way NVlabs'
gen_images.py and gen_video.py do.

    camera: translate (tx, ty) in image widths (+x right, +y down) and rotate in degrees
      --> the picture's motion   M = [[cos a, sin a, tx], [-sin a, cos a, ty], [0, 0, 1]]
      --> the input transform    M^-1   (what NVlabs copy into G.synthesis.input.transform: the input samples
                                         its features where the moved picture's points came from)

The renderer, frames for videos and grids, and `explorer generate --translate --rotate` all build the matrix
here; a walk with camera keyframes gets one matrix per frame.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch



def motion(translate: Sequence[float], rotate: float) -> np.ndarray:
    """NVlabs' make_transform(translate, angle): [3, 3] float64."""
    a = math.radians(rotate)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, translate[0]], [-s, c, translate[1]], [0.0, 0.0, 1.0]])


def input_transform(translate: Sequence[float], rotate: float) -> np.ndarray:
    """The matrix for G.synthesis.input.transform (the inverse of the picture's motion): [3, 3] float64."""
    return np.linalg.inv(motion(translate, rotate))


def input_transforms(cameras: np.ndarray, device: "torch.device | str" = "cpu") -> torch.Tensor:
    """One input transform per row (tx, ty, degrees) of `cameras` [N, 3]: float32 [N, 3, 3]."""
    out = np.stack([input_transform(row[:2], float(row[2])) for row in np.asarray(cameras, np.float64)])
    return torch.from_numpy(out).to(device=device, dtype=torch.float32)

