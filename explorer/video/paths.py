"""Paths through keyframes: which keyframes, with which weights, make each frame of a walk.

    keyframes [K, ...] --path_weights (linear, or Catmull-Rom; open or looped)--> weights [N, k]
                       --interpolate--> frames [N, ...]          (W, the class vector, the camera)
    seeds' z [K, z_dim] --slerp_path--> z per frame [N, z_dim]  (great circles in Z)
    camera keys [K, 3] --spread_path: the same curves, keys spread evenly over N frames--> [N, 3]
"""
from __future__ import annotations

import numpy as np
import torch

from ..render.renderer import slerp

INTERPS = ("linear", "cubic")
MAX_FRAMES_PER_KEY = 10_000    # 5.5 minutes from one keyframe to the next at 30 fps


def walk_length(num_keys: int, frames_per_key: int, loop: bool) -> int:
    """Frames in a walk: an open walk ends on its last keyframe, a loop stops one frame before its start."""
    return num_keys * frames_per_key if loop else (num_keys - 1) * frames_per_key + 1


def path_weights(num_keys: int, frames_per_key: int, loop: bool, interp: str) -> tuple[np.ndarray, np.ndarray]:
    """(keyframe indices [N, k], weights [N, k]): frame n is sum_j weights[n, j] * key[indices[n, j]].

    Frame i * frames_per_key is keyframe i exactly (weights one-hot). 'cubic' is a uniform Catmull-Rom
    spline: C1 everywhere and, with loop, across the seam (indices wrap), so a looped video has no jolt.
    Open ends repeat the end keyframes. Each row of weights sums to 1.
    """
    n = walk_length(num_keys, frames_per_key, loop)
    return weights_at(num_keys, np.arange(n, dtype=np.float64) / frames_per_key, loop, interp)


def weights_at(num_keys: int, pos: np.ndarray, loop: bool, interp: str) -> tuple[np.ndarray, np.ndarray]:
    """path_weights at positions `pos` [N] counted in keyframes (2.5: halfway from keyframe 2 to 3)."""
    if interp not in INTERPS:
        raise ValueError(f"interp must be one of {INTERPS}, got {interp!r}")
    seg = np.minimum(np.floor(pos).astype(np.int64), num_keys - 1 if loop else num_keys - 2)
    s = pos - seg

    def key(i: np.ndarray) -> np.ndarray:
        return i % num_keys if loop else np.clip(i, 0, num_keys - 1)

    if interp == "linear":
        return np.stack([key(seg), key(seg + 1)], 1), np.stack([1 - s, s], 1)
    s2, s3 = s * s, s * s * s
    weights = np.stack([(-s3 + 2 * s2 - s) / 2, (3 * s3 - 5 * s2 + 2) / 2, (-3 * s3 + 4 * s2 + s) / 2, (s3 - s2) / 2], 1)
    return np.stack([key(seg - 1), key(seg), key(seg + 1), key(seg + 2)], 1), weights


def interpolate(keys: torch.Tensor, indices: np.ndarray, weights: np.ndarray) -> torch.Tensor:
    """keys [K, ...] -> frames [N, ...] by path_weights' indices and weights.

    Sums run in float64, so a keyframe's own frame reproduces it bit for bit; 1024 frames at a time, so
    a long walk costs no more transient memory than its float32 result.
    """
    n, k = indices.shape
    mat = np.zeros([n, keys.shape[0]])
    np.add.at(mat, (np.repeat(np.arange(n), k), indices.reshape(-1)), weights.reshape(-1))
    mat = torch.from_numpy(mat).to(keys.device)
    flat_keys = keys.reshape(keys.shape[0], -1).double()
    out = torch.empty([n, *keys.shape[1:]], dtype=keys.dtype, device=keys.device)
    for i in range(0, n, 1024):
        out[i:i + 1024] = (mat[i:i + 1024] @ flat_keys).reshape(-1, *keys.shape[1:]).to(keys.dtype)
    return out


def slerp_path(zs: torch.Tensor, frames_per_key: int, loop: bool) -> torch.Tensor:
    """z [K, z_dim] -> z per frame [N, z_dim]: great-circle arcs between consecutive keyframes."""
    indices, weights = path_weights(len(zs), frames_per_key, loop, "linear")
    return torch.cat([slerp(zs[i:i + 1], zs[j:j + 1], float(t))
                      for (i, j), t in zip(indices, weights[:, 1])])


def spread_path(keys: torch.Tensor, num_frames: int, loop: bool, interp: str) -> torch.Tensor:
    """keys [K, ...] spread evenly over `num_frames` frames (open: the first and last frame are the end keys;
    loop: the path returns towards the first key), on the curves path_weights draws: [num_frames, ...]."""
    k = keys.shape[0]
    if k == 1 or num_frames == 1:
        return keys[:1].expand(num_frames, *keys.shape[1:]).clone()
    pos = (np.arange(num_frames, dtype=np.float64) * (k / num_frames if loop else (k - 1) / (num_frames - 1)))
    return interpolate(keys, *weights_at(k, pos, loop, interp))
