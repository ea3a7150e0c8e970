"""Training images held in memory as one uint8 tensor: a zip (NVlabs layout) or a folder of images.

Small generators train on small sets (30k x 64 x 64 x 3 = 370 MB), so decoding once up front is simpler and
faster than a loader pipeline; batches are then one index_select away.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..errors import ExplorerError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


class ImageDataset:
    def __init__(self, path: "str | os.PathLike[str]", max_images: Optional[int] = None, progress: bool = True):
        self.path = Path(path)
        names, read = _open(self.path)
        names = names[:max_images] if max_images else names
        if not names:
            raise ExplorerError(f"{path}: no images found")
        first = np.asarray(Image.open(io.BytesIO(read(names[0]))).convert("RGB"))
        h, w, _ = first.shape
        if h != w or h & (h - 1):
            raise ExplorerError(f"{path}: images must be square with a power-of-two side, found {w}x{h} "
                                f"(build the set with `explorer dataset folder`)")
        self.images = torch.empty([len(names), 3, h, w], dtype=torch.uint8)
        for i, name in enumerate(tqdm(names, desc="loading images", unit="img", disable=not progress)):
            try:
                a = np.array(Image.open(io.BytesIO(read(name))).convert("RGB"))
            except OSError as e:
                raise ExplorerError(f"{path}: {name} is not a readable image ({e})") from None
            if a.shape != (h, w, 3):
                raise ExplorerError(f"{path}: {name} is {a.shape[1]}x{a.shape[0]}, expected {w}x{h}")
            self.images[i] = torch.from_numpy(a).permute(2, 0, 1)
        self.labels = _labels(self.path, names, read)
        self.resolution = h

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def c_dim(self) -> int:
        return 0 if self.labels is None else self.labels.shape[1]

    def batch(self, idx: torch.Tensor, device: torch.device, mirror: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Images as float in [-1, 1] on device, optionally x-flipped where mirror is True."""
        x = self.images.index_select(0, idx).to(device, non_blocking=True).to(torch.float32) / 127.5 - 1
        if mirror is not None:
            m = mirror.to(device).reshape(-1, 1, 1, 1)
            x = torch.where(m, x.flip(3), x)
        c = None if self.labels is None else self.labels.index_select(0, idx).to(device)
        return x, c


def _open(path: Path):
    if path.is_dir():
        files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        return files, lambda name: (path / name).read_bytes()
    if not path.exists():
        raise ExplorerError(f"{path}: dataset not found")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ExplorerError(f"{path}: not a readable zip or folder ({e})") from None
    names = sorted(n for n in zf.namelist() if n.lower().endswith(IMAGE_EXTS))
    return names, zf.read


def _labels(path: Path, names: list[str], read) -> Optional[torch.Tensor]:
    """NVlabs dataset.json labels ([[name, int or list], ...]) as float vectors, or None."""
    try:
        meta = json.loads(read("dataset.json"))
    except (KeyError, FileNotFoundError, ValueError):
        return None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if not labels:
        return None
    table = {n.replace("\\", "/"): v for n, v in labels}
    values = [table.get(n) for n in names]
    if any(v is None for v in values):
        raise ExplorerError(f"{path}: dataset.json lacks labels for some images")
    arr = np.array(values)
    if arr.ndim == 1:  # class indices -> one-hot
        onehot = np.zeros([len(arr), int(arr.max()) + 1], dtype=np.float32)
        onehot[np.arange(len(arr)), arr.astype(int)] = 1
        arr = onehot
    return torch.from_numpy(arr.astype(np.float32))
