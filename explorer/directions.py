"""Semantic directions in W: closed-form factorisation (SeFa, Shen & Zhou 2021) and user-supplied ones.

SeFa: a style affine A_l maps w to one scale per input channel of layer l, so the unit move in W that changes
the styles of the chosen layers the most is the top eigenvector of A^T A, with A the chosen layers' affine
weights stacked row-wise, each row (one style unit's weight vector) scaled to unit length so that every
channel counts once. No sampling, no training: about 0.1-0.2 s on one CPU core for a 512-d W, even for a
1024 px config-f model (6080 style units), in float64 so the eigenvectors are stable.

Which affines (read from the layer table, so every family alike): the conv layers the chosen w indices drive,
as in the paper's StyleGAN2 code. A w index that drives no conv contributes the affines of what it does drive
instead (StyleGAN2's last w: the final toRGB; StyleGAN3's w 0: the input's rotation and translation), so every
index in a range has a say. Other toRGB affines stay out: their w index already speaks through the next
block's conv0, and their styles only scale a 3-output 1x1 projection, a colour gain, which would otherwise
weigh as much as a conv channel.

The slider unit (`Edit.alpha`, the CLI's --alphas): one standard deviation of the model's own w along the
direction, measured once per model on STD_SAMPLES seeded latents (~0.2 s on one core for an 8-layer 512-d
mapping; the covariance is kept, so any direction's std is then free). So -3..+3 spans what the model
samples along every direction, for any checkpoint, whatever the scale of its W; past +-3 it extrapolates.
Directions are unit vectors (user files are scaled to unit length on load, so their lengths do not matter).

Signs are fixed so that each direction's largest-magnitude entry is positive (an eigenvector's sign is
arbitrary): the same checkpoint gives the same directions with the same signs, bit for bit on one machine
and up to float rounding on another.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import threading
import weakref
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .errors import ExplorerError
from .io.arrays import read_npz
from .latents import write_npz
from .lru import LRU
from .nn.family import FamilyGenerator, style_affine

STD_SAMPLES = 2000      # latents sampled to measure the spread of w (alpha unit); ~2% error on a std
STD_SEED = 0            # they come from np.random.RandomState(STD_SEED): deterministic per checkpoint
DIRECTION_SETS_KEPT = 32   # (model, source, layer range) sets cached; a user switches among a few
COVARIANCES_KEPT = 4       # one per model (w_dim^2 float64: 2 MB at 512)
RANK_TOL = 1e-9         # eigenvalues below RANK_TOL * the largest belong to the null space: no direction


@dataclasses.dataclass(frozen=True, eq=False)
class Directions:
    """A set of directions with what the renderer and the app need to use and label them."""

    source: str                      # 'sefa' or the .npz path they came from.
    layers: str                      # The layer range (SeFa: the one they were computed for).
    vectors: np.ndarray              # [k, w_dim] float32, unit rows.
    eigenvalues: Optional[np.ndarray]  # [k] float32, descending for SeFa; None when a file has none.
    std: np.ndarray                  # [k] float32: spread of w along each direction (alpha 1 = one std).

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @functools.cached_property
    def steps(self) -> np.ndarray:
        """[k, w_dim]: the move in W for alpha = 1 (made once: the renderer reads it every frame)."""
        return self.vectors * self.std[:, None]


# --- SeFa --------------------------------------------------------------------------------------------------

def sefa_layer_names(G: FamilyGenerator, layers: str = "all") -> list[str]:
    """The synthesis layers whose style affines SeFa factorises for the w indices in `layers`."""
    table = G.layer_table
    try:
        indices = table.parse_indices(layers)
    except ValueError as e:
        raise ExplorerError(f"layer range {layers!r}: {e}") from None
    kinds = {layer.name: layer.kind for layer in table.layers}
    names: list[str] = []
    for i in indices:
        drives = table.ws[i].layers
        names += [n for n in drives if kinds[n] == "conv"] or list(drives)
    if not names:
        raise ExplorerError(f"layer range {layers!r} selects no synthesis layer of this {G.img_resolution} px model")
    return names


def sefa_directions(G: FamilyGenerator, layers: str = "all", k: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """(directions [k, w_dim] orthonormal float32, eigenvalues [k] descending) for the w indices in `layers`.

    k is capped at the rank of the stacked weights: a direction beyond it changes no style of those layers.
    """
    rows = [style_affine(G, name).weight.detach().to("cpu", torch.float64) for name in sefa_layer_names(G, layers)]
    A = torch.cat(rows, dim=0)                                       # [sum C, w_dim]
    A = A / A.norm(dim=1, keepdim=True).clamp_min(1e-12)             # each style unit's weights: unit length
    evals, evecs = torch.linalg.eigh(A.t() @ A)                      # symmetric PSD: eigh, ascending
    evals, evecs = evals.flip(0), evecs.flip(1).t()                  # descending; rows are directions
    rank = int((evals > RANK_TOL * evals[0].clamp_min(1e-300)).sum())
    k = rank if k is None else max(min(int(k), rank), 0)
    evals, evecs = evals[:k], evecs[:k]
    pivot = evecs.abs().argmax(dim=1, keepdim=True)                  # sign: largest-magnitude entry positive
    evecs = evecs * torch.sign(evecs.gather(1, pivot))
    return evecs.float().numpy(), evals.float().numpy()


# --- the alpha unit: spread of w -----------------------------------------------------------------------------

@torch.no_grad()
def w_covariance(G: FamilyGenerator, samples: int = STD_SAMPLES, seed: int = STD_SEED, batch: int = 500) -> np.ndarray:
    """[w_dim, w_dim] float64 covariance of w (psi 1) over `samples` latents from RandomState(seed)."""
    rnd = np.random.RandomState(seed)
    z_all = rnd.randn(samples, G.z_dim) if G.z_dim else None
    c_all = np.eye(G.c_dim)[rnd.randint(G.c_dim, size=samples)] if G.c_dim else None
    ws = []
    for i in range(0, samples, batch):
        z = None if z_all is None else torch.from_numpy(z_all[i:i + batch]).float().to(G.device)
        c = None if c_all is None else torch.from_numpy(c_all[i:i + batch]).float().to(G.device)
        ws.append(G.mapping(z, c)[:, 0].to("cpu", torch.float64))
    w = torch.cat(ws)
    w = w - w.mean(dim=0, keepdim=True)
    return ((w.t() @ w) / max(samples - 1, 1)).numpy()


def spread(cov: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """[k] standard deviation of w along each (unit) direction."""
    v = vectors.astype(np.float64)
    var = np.einsum("kd,de,ke->k", v, cov, v)
    return np.sqrt(np.clip(var, 1e-24, None)).astype(np.float32)


# --- files ----------------------------------------------------------------------------------------------------

def load_directions(path: "str | os.PathLike[str]", w_dim: int) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Directions from an .npz: 'directions' [k, w_dim] (rows scaled to unit length), optional 'eigenvalues' [k].

    The format `explorer directions --out` writes; user-made directions (an InterFaceGAN boundary, say, as
    [1, w_dim] or [w_dim]) in the same format work the same way.
    """
    data = read_npz(path, ["directions", "eigenvalues"], required=["directions"])
    if any(a.dtype.kind not in "iuf" for a in data.values()):
        raise ExplorerError(f"{path}: directions and eigenvalues must be numbers")
    dirs = data["directions"].astype(np.float64)
    vals = data["eigenvalues"].astype(np.float32).reshape(-1) if "eigenvalues" in data else None
    if dirs.ndim == 1:
        dirs = dirs[None]
    if dirs.ndim != 2 or dirs.shape[1] != w_dim or dirs.shape[0] == 0:
        raise ExplorerError(f"{path}: directions have shape {list(dirs.shape)}, expected [k, {w_dim}]")
    if not np.isfinite(dirs).all():
        raise ExplorerError(f"{path}: directions contain NaN or infinite values")
    norms = np.linalg.norm(dirs, axis=1)
    if (norms < 1e-12).any():
        raise ExplorerError(f"{path}: direction {int(np.argmax(norms < 1e-12))} is all zeros")
    if vals is not None and vals.shape[0] != dirs.shape[0]:
        raise ExplorerError(f"{path}: {vals.shape[0]} eigenvalues for {dirs.shape[0]} directions")
    return (dirs / norms[:, None]).astype(np.float32), vals


def save_directions(path: "str | os.PathLike[str]", directions: np.ndarray, eigenvalues: Optional[np.ndarray],
                    layers: str, std: Optional[np.ndarray] = None) -> Path:
    """Write 'directions' [k, w_dim], 'eigenvalues' [k], 'layers' (a string) and 'std' [k] atomically."""
    path = Path(path)
    arrays = {"directions": np.asarray(directions, np.float32), "layers": np.array(str(layers))}
    if eigenvalues is not None:
        arrays["eigenvalues"] = np.asarray(eigenvalues, np.float32)
    if std is not None:
        arrays["std"] = np.asarray(std, np.float32)
    return write_npz(path, arrays, "directions")


# --- cache -----------------------------------------------------------------------------------------------------

class DirectionCache:
    """Directions per (generator, source, layers) and the spread of w per generator, each computed once.

    Thread-safe: the render worker and the app's background tasks share one. Entries hold the generator
    weakly, so a new model that happens to reuse an old one's id() never sees the old model's directions.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._sets: LRU[tuple[weakref.ref, Directions]] = LRU(DIRECTION_SETS_KEPT)
        self._cov: LRU[tuple[weakref.ref, np.ndarray]] = LRU(COVARIANCES_KEPT)

    def get(self, G: FamilyGenerator, source: str, layers: str = "all") -> Directions:
        key = (id(G), source, layers if source == "sefa" else _file_stamp(source))
        with self._lock:
            hit = self._sets.get(key)
            if hit is not None and hit[0]() is G:
                return hit[1]
            if source == "sefa":
                vectors, values = sefa_directions(G, layers)
            else:
                vectors, values = load_directions(source, G.w_dim)
            entry = Directions(source, layers, vectors, values, spread(self.covariance(G), vectors))
            self._sets.put(key, (weakref.ref(G), entry))
            return entry

    def steps(self, G: FamilyGenerator, source: str, layers: str = "all") -> np.ndarray:
        """[k, w_dim] float32: the move in W that alpha = 1 makes along each direction."""
        return self.get(G, source, layers).steps

    def covariance(self, G: FamilyGenerator) -> np.ndarray:
        with self._lock:
            hit = self._cov.get(id(G))
            if hit is None or hit[0]() is not G:
                hit = (weakref.ref(G), w_covariance(G))
                self._cov.put(id(G), hit)
            return hit[1]

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()
            self._cov.clear()


def _file_stamp(path: str) -> tuple:
    """A user's file is re-read when it changes on disk."""
    try:
        st = os.stat(path)
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return (None, None)
