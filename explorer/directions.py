"""Semantic directions in W: closed-form factorisation (SeFa, Shen & Zhou 2021) and user-supplied ones.

SeFa: the style affines A_l map w to per-channel styles; directions that change styles the most are the top
eigenvectors of A^T A for the stacked, column-normalised affine weights of the chosen layers. No sampling,
no training: a few hundred microseconds for a 512-d W.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np
import torch

from .errors import ExplorerError
from .nn.generator import Generator


def sefa_directions(G: Generator, layers: str = "all", k: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """(directions [k, w_dim] orthonormal, eigenvalues [k] descending) for the w indices in `layers`."""
    table = G.layer_table
    indices = table.parse_indices(layers)
    names = sorted({n for i in indices for n in table.ws[i].layers if ".conv" in n},
                   key=lambda n: [c.name for c in table.convs].index(n))
    if not names:
        raise ExplorerError(f"no synthesis layers in range {layers!r}")
    syn = G.synthesis
    weights = []
    for name in names:
        block, layer = name.split(".")
        weights.append(getattr(getattr(syn, block), layer).affine.weight.detach().double().cpu())  # [C, w_dim]
    A = torch.cat(weights, dim=0)                                   # [sum C, w_dim]
    A = A / A.norm(dim=1, keepdim=True).clamp_min(1e-12)            # normalise each style unit's row
    evals, evecs = torch.linalg.eigh(A.t() @ A)                     # symmetric: eigh, ascending
    order = torch.argsort(evals, descending=True)
    evals, evecs = evals[order], evecs[:, order].t()                # rows are directions
    # Fix each vector's sign deterministically (largest-magnitude entry positive).
    signs = torch.sign(evecs.gather(1, evecs.abs().argmax(dim=1, keepdim=True)))
    evecs = evecs * signs
    k = evecs.shape[0] if k is None else min(k, evecs.shape[0])
    return evecs[:k].float().numpy(), evals[:k].float().numpy()


def load_directions(path: "str | os.PathLike[str]", w_dim: int) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Directions from an .npz: 'directions' [k, w_dim] (optionally 'eigenvalues' [k])."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "directions" not in data:
                raise ExplorerError(f"{path}: no 'directions' array (keys: {', '.join(data.files) or 'none'})")
            dirs = np.asarray(data["directions"], dtype=np.float32)
            vals = np.asarray(data["eigenvalues"], dtype=np.float32) if "eigenvalues" in data else None
    except ExplorerError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise ExplorerError(f"{path}: not a readable .npz file ({str(e).splitlines()[0][:160]})") from None
    if dirs.ndim == 1:
        dirs = dirs[None]
    if dirs.ndim != 2 or dirs.shape[1] != w_dim:
        raise ExplorerError(f"{path}: directions have shape {list(dirs.shape)}, expected [k, {w_dim}]")
    if not np.isfinite(dirs).all():
        raise ExplorerError(f"{path}: directions contain NaN or infinite values")
    return dirs, vals


class DirectionCache:
    """Directions per (generator, source, layers), computed or loaded once."""

    def __init__(self) -> None:
        self._cache: dict[tuple, np.ndarray] = {}

    def get(self, G: Generator, source: str, layers: str) -> np.ndarray:
        key = (id(G), source, layers if source == "sefa" else "")
        if key not in self._cache:
            if source == "sefa":
                self._cache[key] = sefa_directions(G, layers)[0]
            else:
                self._cache[key] = load_directions(source, G.w_dim)[0]
        return self._cache[key]

    def clear(self) -> None:
        self._cache.clear()

