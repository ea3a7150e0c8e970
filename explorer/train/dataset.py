"""Training images held in memory as one uint8 tensor: a zip (NVlabs layout) or a folder of images.

Small generators train on small sets (30k x 64 x 64 x 3 = 370 MB), so decoding once up front is simpler and
faster than a loader pipeline; batches are then one index_select away.
"""
from __future__ import annotations

import io
import json
import math
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from ..errors import DatasetError
from ..io.files import open_regular
from ..io.validate import LIMITS
from ..io.zips import entry_problem

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MAX_SIDE = LIMITS["img_resolution"][1]       # a training image is at most what a generator can make
MAX_IMAGE_BYTES = 256 << 20                  # one encoded image (a 4096 px PNG is at most ~50 MB)
MAX_CLASS = LIMITS["c_dim"][1] - 1
MAX_LABEL_BYTES = 1 << 30                    # the labels of every image, as float32 vectors


class ImageDataset:
    def __init__(self, path: "str | os.PathLike[str]", max_images: Optional[int] = None, progress: bool = True):
        self.path = Path(path)
        names, read, has = _open(self.path)
        names = names[:max_images] if max_images else names
        if not names:
            raise DatasetError(path, "no images found")
        first = _decode(read(names[0]), names[0], self.path, None)
        h, w, _ = first.shape
        if h != w or h & (h - 1):
            raise DatasetError(path, f"images must be square with a power-of-two side, found {w}x{h} "
                                     f"(build the set with `explorer dataset folder`)")
        _check_fits_in_memory(self.path, len(names) * 3 * h * w)
        self.meta = _meta(self.path, read) if has("dataset.json") else {}
        self.labels = _labels(self.path, names, self.meta)   # checked before the long part
        self.images = torch.empty([len(names), 3, h, w], dtype=torch.uint8)
        bar = tqdm(names, desc="loading images", unit="img", disable=None if progress else True)  # a terminal only
        for i, name in enumerate(bar):
            a = first if i == 0 else _decode(read(name), name, self.path, (w, h))
            self.images[i] = torch.from_numpy(a).permute(2, 0, 1)
        self.resolution = h

    def __len__(self) -> int:
        return self.images.shape[0]

    def recipe(self) -> str:
        """How to get this set: the `explorer dataset ...` command that built it, else its file name (never a
        path of this machine, so it can go into model cards)."""
        from .make_dataset import build_command

        return build_command(self.meta) or self.path.name

    @property
    def c_dim(self) -> int:
        return 0 if self.labels is None else self.labels.shape[1]

    def pin_memory(self) -> None:
        """Page-locked host copies, so that a batch's copy to a GPU does not stop the host until it is done."""
        self.images = self.images.pin_memory()
        if self.labels is not None:
            self.labels = self.labels.pin_memory()

    def batch(self, idx: torch.Tensor, device: torch.device, mirror: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Images as float in [-1, 1] on device, optionally x-flipped where mirror is True."""
        x = self.images.index_select(0, idx).to(device, non_blocking=True).to(torch.float32) / 127.5 - 1
        if mirror is not None:
            m = mirror.to(device).reshape(-1, 1, 1, 1)
            x = torch.where(m, x.flip(3), x)
        c = None if self.labels is None else self.labels.index_select(0, idx).to(device)
        return x, c


def _open(path: Path) -> tuple[list[str], Callable[[str], bytes], Callable[[str], bool]]:
    """(image names, read(name) -> bytes, has(name)) of a folder or a zip."""
    if path.is_dir():
        files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
        return files, lambda name: _read_file(path / name, path), lambda name: (path / name).exists()
    f = open_regular(path, DatasetError, "a dataset zip or folder")
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        f.close()
        raise DatasetError(path, f"not a readable zip or folder ({_first_line(e)})") from None
    everything = set(zf.namelist())
    names = sorted(n for n in everything if n.lower().endswith(IMAGE_EXTS))

    def read(name: str) -> bytes:
        info = zf.getinfo(name)
        problem = entry_problem(info)
        if problem:
            raise DatasetError(path, problem)
        if info.file_size > MAX_IMAGE_BYTES:
            raise DatasetError(path, f"{name[:80]} is {info.file_size} bytes, larger than any training image")
        try:
            return zf.read(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise DatasetError(path, f"{name[:80]} cannot be read from the zip ({_first_line(e)})") from None
    return names, read, everything.__contains__


def _read_file(file: Path, root: Path) -> bytes:
    with open_regular(file, DatasetError, "an image file") as f:
        data = f.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise DatasetError(root, f"{file.name} is larger than any training image")
    return data


def _decode(data: bytes, name: str, path: Path, size: Optional[tuple[int, int]]) -> np.ndarray:
    """An image's RGB pixels [H, W, 3]; its header is checked (size, pixel count) before it is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if size is not None and im.size != size:
                    raise DatasetError(path, f"{name[:80]} is {im.size[0]}x{im.size[1]}, expected {size[0]}x{size[1]}")
                if max(im.size) > MAX_SIDE:
                    raise DatasetError(path, f"{name[:80]} is {im.size[0]}x{im.size[1]}, larger than {MAX_SIDE} px")
                return np.array(im.convert("RGB"))
    except DatasetError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DatasetError(path, f"{name[:80]} is a decompression bomb (too many pixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:   # UnidentifiedImageError is an OSError
        raise DatasetError(path, f"{name[:80]} is not a readable image ({_first_line(e)})") from None


def _check_fits_in_memory(path: Path, nbytes: int) -> None:
    """The set is decoded into one uint8 tensor: refuse one larger than this machine's memory up front."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if nbytes > 0.8 * ram:
        raise DatasetError(path, f"the images need {nbytes / 2**30:.1f} GB decoded, more than this machine's "
                                 f"{ram / 2**30:.1f} GB of memory allows (use --max-images)")


def _meta(path: Path, read: Callable[[str], bytes]) -> dict:
    """dataset.json (NVlabs' labels, our build record); {} where it holds no object."""
    try:
        meta = json.loads(read("dataset.json"))
    except RecursionError:
        raise DatasetError(path, "dataset.json is nested too deeply") from None
    except ValueError as e:
        raise DatasetError(path, f"dataset.json is not valid JSON ({_first_line(e)})") from None
    return meta if isinstance(meta, dict) else {}


def _labels(path: Path, names: list[str], meta: dict) -> Optional[torch.Tensor]:
    """NVlabs dataset.json labels ([[name, int or list], ...]) as float vectors, or None.

    Class indices must be integers 0..MAX_CLASS (one-hot vectors of that width are built); vectors must be
    finite numbers, all of one length."""
    labels = meta.get("labels")
    if not labels:
        return None
    if not isinstance(labels, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                                               for p in labels):
        raise DatasetError(path, "dataset.json labels must be a list of [file name, label] pairs")
    table = {n.replace("\\", "/"): v for n, v in labels}
    values = [table.get(n) for n in names]
    if any(v is None for v in values):
        raise DatasetError(path, "dataset.json lacks labels for some images")
    if all(_is_index(v) for v in values):   # class indices -> one-hot
        classes = max(values) + 1
        if len(values) * classes * 4 > MAX_LABEL_BYTES:
            raise DatasetError(path, f"dataset.json class index {classes - 1} implies {classes} classes: one-hot "
                                     f"labels for {len(values)} images would take {len(values) * classes * 4 / 2**30:.1f} GB")
        onehot = np.zeros([len(values), classes], dtype=np.float32)
        onehot[np.arange(len(values)), values] = 1
        return torch.from_numpy(onehot)
    width = len(values[0]) if isinstance(values[0], list) else -1
    if not 1 <= width <= MAX_CLASS or not all(_is_vector(v, width) for v in values):
        bad = next(v for v in values if not (_is_index(v) or _is_vector(v, width)))
        raise DatasetError(path, f"dataset.json label {_show(bad)} is neither a class index 0..{MAX_CLASS} "
                                 f"nor a list of {max(width, 1)} finite numbers")
    return torch.tensor(values, dtype=torch.float32)


def _is_index(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_CLASS


def _is_vector(v: Any, width: int) -> bool:
    return (isinstance(v, list) and len(v) == width
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v))


def _show(v: Any) -> str:
    text = json.dumps(v) if isinstance(v, (int, float, str)) else f"a {type(v).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
