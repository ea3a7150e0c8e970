"""A folder of photos projected one by one, resumably: one result folder per photo, one combined projected_w.npz.

    job = FolderJob(photo_dir, outdir, settings)   # refuses an outdir made with other settings
    for photo in job.pending(): ...                 # photos whose folder has no projected_w.npz yet
        save_projection(job.folder(photo) / "projected_w.npz", ws)   # written last: the "done" mark
        job.write_combined()                        # outdir/projected_w.npz: 'w' of every finished photo

A photo counts as finished when its own projected_w.npz exists; that file is written atomically after
everything else, so an interrupted photo is simply redone by the next run. The combined file is rebuilt
from the finished folders (sorted by photo name) after each photo, so it always matches them; beside 'w' it
holds 'names' (the photo file names) and 'settings' (JSON), which a later run compares with its own.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ExplorerError
from ..io.arrays import read_npz
from ..latents import write_npz

RESULT = "projected_w.npz"


def photo_extensions() -> set[str]:
    """File name extensions Pillow can open (lower case, with the dot)."""
    return {ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def list_photos(folder: Path) -> list[Path]:
    """Image files directly in `folder`, sorted by name (hidden files and other files skipped)."""
    exts = photo_extensions()
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in exts)


class FolderJob:
    def __init__(self, photo_dir: "str | os.PathLike[str]", outdir: "str | os.PathLike[str]", settings: dict):
        self.photo_dir, self.outdir = Path(photo_dir), Path(outdir)
        self.settings = json.dumps(settings, sort_keys=True)
        self.photos = list_photos(self.photo_dir)
        if not self.photos:
            raise ExplorerError(f"{self.photo_dir}: no images in this folder")
        stems = [p.stem for p in self.photos]
        self._folders = {p: self.outdir / (p.stem if stems.count(p.stem) == 1 else p.name.replace(".", "_"))
                         for p in self.photos}
        self._check_settings()

    def folder(self, photo: Path) -> Path:
        return self._folders[photo]

    def is_done(self, photo: Path) -> bool:
        return (self.folder(photo) / RESULT).is_file()

    def pending(self) -> list[Path]:
        return [p for p in self.photos if not self.is_done(p)]

    def combined_path(self) -> Path:
        return self.outdir / RESULT

    def _check_settings(self) -> None:
        path = self.combined_path()
        if not path.is_file():
            return
        data = read_npz(path, ["settings"])   # a user's folder: read as data, sizes checked
        previous = str(data["settings"]) if "settings" in data else None
        if previous is not None and previous != self.settings:
            diff = _differences(_settings(previous), json.loads(self.settings))
            raise ExplorerError(f"{self.outdir}: holds results made with other settings ({diff}); "
                                "re-run with those settings to resume, or choose another --outdir")

    def write_combined(self) -> Path:
        """outdir/projected_w.npz from every finished photo, in name order."""
        done = [p for p in self.photos if self.is_done(p)]
        ws = []
        for p in done:
            ws.append(read_npz(self.folder(p) / RESULT, ["w"], required=["w"])["w"])
        arrays = {"w": np.concatenate(ws).astype(np.float32),
                  "names": np.array([p.name for p in done]),
                  "settings": np.array(self.settings)}
        return write_npz(self.combined_path(), arrays, "combined projection")


def _settings(text: str) -> dict:
    """The settings a previous run recorded (an unreadable record counts as settings nothing matches)."""
    try:
        old = json.loads(text)
    except (ValueError, RecursionError):
        return {"settings": "unreadable"}
    return old if isinstance(old, dict) else {"settings": "unreadable"}


def _differences(old: dict, new: dict) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return ", ".join(f"{k} was {old.get(k)!r}, now {new.get(k)!r}" for k in keys)
