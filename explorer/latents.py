"""Seeds and latents as users of NVlabs' scripts know them."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .errors import ExplorerError
from .files import atomic_write
from .io.arrays import read_npz


SEED_RANGE = (0, 2 ** 32 - 1)   # what np.random.RandomState accepts: NVlabs' seeds
MAX_SEEDS = 1_000_000           # in one list (a million images is days of rendering)


def parse_seeds(spec: str) -> list[int]:
    """'0-3,10' -> [0, 1, 2, 3, 10] (order kept, duplicates dropped).

    Every number is range-checked and the list's length counted before a range is expanded, so
    '0-1000000000000' is one line of error, not a MemoryError.
    """
    parts: list[tuple[int, int]] = []
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            continue
        try:
            a, b = part.split("-", 1) if "-" in part[1:] else (part, part)
            lo, hi = int(a), int(b)
        except ValueError:
            raise ExplorerError(f"bad seed list {spec!r}: use forms like 0-7 or 0,3,9") from None
        for s in (lo, hi):
            if not SEED_RANGE[0] <= s <= SEED_RANGE[1]:
                raise ExplorerError(f"seed {s} out of range {SEED_RANGE[0]}..2^32-1")
        if hi < lo:
            raise ExplorerError(f"bad seed range {part!r}: the end is below the start")
        parts.append((lo, hi))
    if not parts:
        raise ExplorerError(f"no seeds in {spec!r}: use forms like 0-7 or 0,3,9")
    total = sum(hi - lo + 1 for lo, hi in parts)
    if total > MAX_SEEDS:
        raise ExplorerError(f"seed list {spec!r} names {total} seeds, more than {MAX_SEEDS}")
    return list(dict.fromkeys(s for lo, hi in parts for s in range(lo, hi + 1)))


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """NVlabs' convention: np.random.RandomState(seed).randn(1, z_dim)."""
    return np.random.RandomState(int(seed)).randn(1, z_dim)


def zs_from_seeds(seeds: list[int], z_dim: int, device: Optional[torch.device] = None) -> torch.Tensor:
    z = np.concatenate([z_from_seed(s, z_dim) for s in seeds]) if seeds else np.zeros([0, z_dim])
    return torch.from_numpy(z).to(torch.float32 if device is None else torch.float32).to(device or "cpu")


def one_hot(class_idx: Optional[int], c_dim: int, batch: int = 1, device: Optional[torch.device] = None) -> Optional[torch.Tensor]:
    """Label for a conditional model; None for unconditional ones (a class is then an error)."""
    if c_dim == 0:
        if class_idx is not None:
            raise ExplorerError("--class given, but this generator is unconditional")
        return None
    if class_idx is None:
        raise ExplorerError(f"this generator is conditional ({c_dim} classes): pass --class 0..{c_dim - 1}")
    if not 0 <= class_idx < c_dim:
        raise ExplorerError(f"class {class_idx} out of range 0..{c_dim - 1}")
    c = torch.zeros([batch, c_dim], device=device or "cpu")
    c[:, class_idx] = 1
    return c


def load_ws(path: "str | os.PathLike[str]", num_ws: int, w_dim: int) -> torch.Tensor:
    """ws [N, num_ws, w_dim] from an .npz with key 'w' ([N, num_ws, w_dim], [N, w_dim] or [w_dim])."""
    w = read_npz(path, ["w"], required=["w"])["w"]
    if w.dtype.kind not in "iuf":
        raise ExplorerError(f"{path}: w holds {w.dtype} values, not numbers")
    w = w.astype(np.float32)
    if w.ndim == 1:
        w = w[None]
    if w.ndim == 2:
        if w.shape[-1] != w_dim:
            raise ExplorerError(f"{path}: w has {w.shape[-1]} features, the generator expects {w_dim}")
        w = np.repeat(w[:, None], num_ws, axis=1)
    if w.ndim != 3 or w.shape[1:] != (num_ws, w_dim):
        raise ExplorerError(f"{path}: w has shape {list(w.shape)}, expected [N, {num_ws}, {w_dim}] or [N, {w_dim}]")
    if not np.isfinite(w).all():
        raise ExplorerError(f"{path}: w contains NaN or infinite values")
    return torch.from_numpy(w)


def write_npz(path: "str | os.PathLike[str]", arrays: dict[str, np.ndarray], what: str) -> Path:
    """Write an .npz atomically: a failed write never leaves a half file behind; an unwritable path raises
    OutputError naming the file and `what` was being written."""
    with atomic_write(path, what) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def save_ws(path: "str | os.PathLike[str]", ws: torch.Tensor) -> Path:
    """ws as w / w+ .npz (key 'w', float32), the format every command reads."""
    return write_npz(path, {"w": ws.detach().cpu().numpy().astype(np.float32)}, "w")
