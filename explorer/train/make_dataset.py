"""Building training sets offline: from an image folder, or procedural cartoon faces (python-avatars).

Output is an NVlabs-style zip: 00000/img00000000.png ... plus dataset.json, so NVlabs' own tools read it.
"""
from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
import random
import zipfile
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import ExplorerError, ImageInputError, OutputError
from ..files import commit, temp_path
from ..image_input import load_square

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def _png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _archive_name(i: int) -> str:
    return f"{i // 1000:05d}/img{i:08d}.png"


class _ZipWriter:
    """Writes to OUT.tmp and renames on success, so an interrupted build never leaves a broken zip."""

    def __init__(self, out: "str | os.PathLike[str]"):
        self.out = Path(out)
        self.tmp = temp_path(self.out)
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.zf = zipfile.ZipFile(self.tmp, "w", compression=zipfile.ZIP_STORED)
        except OSError as e:
            raise OutputError(self.out, f"cannot write dataset ({e.strerror or e})") from None

    def add(self, name: str, data: bytes) -> None:
        self.zf.writestr(name, data)

    def close(self, ok: bool) -> None:
        self.zf.close()
        if ok:
            commit(self.tmp, self.out, "dataset")
        else:
            self.tmp.unlink(missing_ok=True)


def build_from_folder(src: "str | os.PathLike[str]", resolution: int, out: "str | os.PathLike[str]") -> tuple[int, int]:
    """Centre-crop + resize every readable image under src; returns (written, skipped)."""
    files = sorted(p for p in Path(src).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise ExplorerError(f"{src}: no image files found")
    writer = _ZipWriter(out)
    written = skipped = 0
    ok = False
    try:
        for p in tqdm(files, desc="dataset", unit="img"):
            try:
                pixels = load_square(p, resolution)
            except ImageInputError as e:
                skipped += 1
                tqdm.write(f"skipped {e}")
                continue
            writer.add(_archive_name(written), _png_bytes(pixels))
            written += 1
        writer.add("dataset.json", json.dumps({"labels": None, "source": str(src), "resolution": resolution,
                                               "command": folder_command(src, resolution)}))
        ok = written > 0
    finally:
        writer.close(ok)
    if not ok:
        raise ExplorerError(f"{src}: none of {len(files)} files could be read")
    return written, skipped


# --- procedural avatars ---------------------------------------------------------------------------

AVATARS_SOURCE = "python-avatars (MIT), rendered with resvg"

AVATAR_ATTRIBUTES = ("background_color", "top", "hat_color", "eyebrows", "eyes", "nose", "mouth", "facial_hair",
                     "skin_color", "hair_color", "facial_hair_color", "accessory", "clothing", "clothing_color",
                     "shirt_graphic")


def render_avatar(index: int, seed: int, resolution: int) -> tuple[bytes, dict]:
    """One seeded random avatar on a full-frame background, as PNG bytes plus its attributes."""
    import python_avatars as pa
    import resvg_py

    random.seed(seed * 1_000_003 + index)
    avatar = pa.Avatar.random(style=pa.AvatarStyle.TRANSPARENT, shirt_text="")
    bg = _value(avatar.background_color)
    png = resvg_py.svg_to_bytes(svg_string=avatar.render(), height=resolution * 2, background=bg)
    im = Image.open(io.BytesIO(bytes(png))).convert("RGB")
    side = max(im.size)
    square = Image.new("RGB", (side, side), bg)
    square.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
    pixels = np.asarray(square.resize((resolution, resolution), Image.LANCZOS))
    attrs = {k: _value(getattr(avatar, k, None)) for k in AVATAR_ATTRIBUTES}
    return _png_bytes(pixels), attrs


def _value(v: object) -> Optional[str]:
    if v is None:
        return None
    return str(getattr(v, "value", v))


def _render_job(args: tuple[int, int, int]) -> tuple[int, bytes, dict]:
    i, seed, res = args
    png, attrs = render_avatar(i, seed, res)
    return i, png, attrs


def build_avatars(count: int, resolution: int, out: "str | os.PathLike[str]", seed: int = 0,
                  workers: Optional[int] = None) -> int:
    try:
        import python_avatars  # noqa: F401
        import resvg_py  # noqa: F401
    except ImportError:
        raise ExplorerError("building avatars needs python-avatars and resvg-py: pip install 'stylegan-explorer[data]'") from None
    if count < 1 or resolution < 4 or resolution & (resolution - 1):
        raise ExplorerError("--count must be >= 1 and --resolution a power of two >= 4")
    writer = _ZipWriter(out)
    attributes: list = [None] * count
    ok = False
    jobs: Iterable = ((i, seed, resolution) for i in range(count))
    workers = workers or max(1, min(os.cpu_count() or 1, 16))
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            for i, png, attrs in tqdm(pool.imap(_render_job, jobs, chunksize=64), total=count, desc="avatars", unit="img"):
                writer.add(_archive_name(i), png)
                attributes[i] = [_archive_name(i), attrs]
        meta = {"labels": None, "attributes": attributes, "source": AVATARS_SOURCE, "seed": seed,
                "resolution": resolution, "command": avatars_command(count, resolution, seed)}
        writer.add("dataset.json", json.dumps(meta))
        ok = True
    finally:
        writer.close(ok)
    return count


# --- naming a data set by the command that builds it --------------------------------------------------

def avatars_command(count: int, resolution: int, seed: int = 0) -> str:
    return f"explorer dataset avatars --count {count} --resolution {resolution}" + (f" --seed {seed}" if seed else "")


def folder_command(src: "str | os.PathLike[str]", resolution: int) -> str:
    """The folder by its name only: a card must not carry a path of the machine that built the set."""
    return f"explorer dataset folder {Path(src).name} --resolution {resolution}"


def build_command(meta: dict) -> Optional[str]:
    """The command that built a set, from its dataset.json (sets built before it was recorded included)."""
    if isinstance(meta.get("command"), str):
        return meta["command"]
    if meta.get("source") == AVATARS_SOURCE and isinstance(meta.get("attributes"), list):
        return avatars_command(len(meta["attributes"]), int(meta["resolution"]), int(meta.get("seed", 0)))
    return None
