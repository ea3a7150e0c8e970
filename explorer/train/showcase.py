"""Which seeds to show first: each candidate seed's image scored by how real it looks, then picked by rule.

The measure is the realism score of Kynkäänniemi et al. 2019 ("Improved precision and recall metric for
assessing generative models", section 5), computed in the FID Inception space against the same training images
FID uses (their features come from the cache): every real feature r_i gets a radius d_i, the distance to its
k-th nearest real neighbour; the half of the reals with the largest radii are dropped as outliers; a sample's
score is max_i d_i / |f - r_i|. Above 1 the sample lies inside the hull of real images; the lowest scores are
the broken faces. It judges images, unlike the distance of w to w_avg, which only says how far the latent is from
the average face (and would favour bland, average faces).

Rules: the app's default pair is the two best-scoring candidates (the first thing a user sees should be the
model at its best); the card's sample grid is the first `count` candidates, in seed order, that score at least
the median: typical samples with the worse half left out, not the model's best.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import OutputError
from ..latents import zs_from_seeds

K_NEAREST = 3


def realism_scores(real: np.ndarray, fake: np.ndarray, k: int = K_NEAREST) -> np.ndarray:
    """Realism score of each row of `fake` against the real features (rows of `real`)."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    d_rr = _distances(real, real)
    np.fill_diagonal(d_rr, np.inf)
    radii = np.sort(d_rr, axis=1)[:, k - 1]
    keep = radii <= np.median(radii)
    d_fr = _distances(fake, real[keep])
    return (radii[keep][None, :] / np.maximum(d_fr, 1e-12)).max(axis=1)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0))


@torch.no_grad()
def seed_images(G, seeds: list[int], batch: int = 32) -> torch.Tensor:
    """uint8 images of the seeds as the app first shows them: psi 1, constant noise."""
    out = []
    for i in range(0, len(seeds), batch):
        z = zs_from_seeds(seeds[i:i + batch], G.z_dim, G.device)
        img = G(z, None, noise_mode="const")
        out.append((img * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu())
    return torch.cat(out)


def pick(seeds: list[int], scores: np.ndarray, count: int) -> dict:
    order = np.argsort(-scores, kind="stable")
    median = float(np.median(scores))
    typical = [s for s, v in zip(seeds, scores) if v >= median][:count]
    return {"default_pair": [int(seeds[order[0]]), int(seeds[order[1]])], "samples": typical,
            "median_score": round(median, 4)}


def file_sha256(path: "str | os.PathLike[str]") -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_showcase(path: "str | os.PathLike[str]", checkpoint: "str | os.PathLike[str]", seeds: list[int],
                   scores: np.ndarray, count: int, num_real: int, data: str) -> dict:
    rec = {
        "checkpoint_sha256": file_sha256(checkpoint),
        "measure": f"realism score (Kynkaanniemi et al. 2019, k={K_NEAREST}) of each seed's image (psi 1, const "
                   f"noise) in FID Inception space against {num_real} training images ({data})",
        "rules": "default_pair: the two best-scoring candidates; samples: the first candidates in seed order "
                 "scoring at least the median",
        **pick(seeds, scores, count),
        "candidates": f"{min(seeds)}-{max(seeds)}" if seeds == list(range(min(seeds), max(seeds) + 1)) else seeds,
        "scores": {str(s): round(float(v), 4) for s, v in zip(seeds, scores)},
    }
    try:
        tmp = Path(path).with_name(Path(path).name + ".tmp")
        tmp.write_text(json.dumps(rec, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(path, f"cannot write the seed picks ({e.strerror or e})") from None
    return rec


def read_showcase(path: "str | os.PathLike[str]", checkpoint: "str | os.PathLike[str]") -> Optional[dict]:
    """The picks in `path` if they were made for exactly this checkpoint file, else None."""
    try:
        rec = json.loads(Path(path).read_text())
        if rec.get("checkpoint_sha256") != file_sha256(checkpoint):
            return None
        a, b = (int(s) for s in rec["default_pair"])
        return {**rec, "default_pair": [a, b], "samples": [int(s) for s in rec["samples"]]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
