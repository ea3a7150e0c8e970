"""The real side of FID, computed once: Inception features of a data set's images, kept in a user cache.

FID during training compares each snapshot against the same real images; on a CPU the Inception pass over
2,000 of them costs as much as the fake side (minutes). The features depend only on which pixels went in and
on the network, so the key is a hash of exactly those: the selected images' bytes (which fixes the data file's
content, the count and the sampling seed), the Inception file's SHA-256 and this protocol's version. A changed
data file therefore misses the cache instead of returning stale features; nothing is written into the repo.

    <cache>/fid-features/<key>.npz    features (float32, as the network returns them) + the key's description
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

PROTOCOL = "nvlabs-bilinear-299/tf-range/pool3 v1"   # bump when the feature extraction changes


def cache_dir() -> Path:
    """$EXPLORER_CACHE_DIR, else $XDG_CACHE_HOME/explorer, else ~/.cache/explorer (same home as bundled.py's)."""
    env = os.environ.get("EXPLORER_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "explorer"
    return base / "fid-features"


def feature_key(images: torch.Tensor, network: str) -> tuple[str, dict]:
    """(hex key, description) of the features of exactly these uint8 images under this network (its SHA-256)."""
    desc = {"protocol": PROTOCOL, "network": network, "count": int(images.shape[0]), "shape": list(images.shape[1:])}
    h = hashlib.sha256(json.dumps(desc, sort_keys=True).encode())
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()[:40], desc


def cached_features(images: torch.Tensor, network: str, compute: Callable[[], np.ndarray],
                    label: str = "") -> tuple[np.ndarray, bool]:
    """Features of `images` from the cache, or from compute() (then stored); returns (features, was_cached).

    A cache that cannot be read or written only costs time: it is recomputed, with a warning."""
    key, desc = feature_key(images, network)
    path = cache_dir() / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                feats = f["features"]
            if feats.shape[0] == images.shape[0]:
                return feats.astype(np.float64), True
        except (OSError, ValueError, KeyError) as e:
            warnings.warn(f"{path}: unreadable cached FID features, recomputing ({e})")
    feats = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, features=feats.astype(np.float32), description=json.dumps({**desc, "data": label}))
        os.replace(tmp, path)
    except OSError as e:
        warnings.warn(f"{path}: cannot cache FID features ({e.strerror or e})")
    return feats, False
