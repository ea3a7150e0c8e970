"""Output files: folders that can be written to, and numbered names that never overwrite."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Collection

from .errors import OutputError


def ensure_outdir(path: "str | os.PathLike[str]") -> Path:
    """The folder, created if missing; OutputError naming it when it cannot be created or written."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(path, f"cannot create output directory ({e.strerror or e})") from None
    if not os.access(path, os.W_OK):
        raise OutputError(path, "output directory is not writable")
    return path


def next_free_path(folder: "str | os.PathLike[str]", stem: str, suffix: str,
                   reserved: Collection[Path] = ()) -> Path:
    """folder/stem-NNNN.suffix, numbered past every stem-NNNN.* there and every path in `reserved` (names
    handed out for files still being written)."""
    folder = ensure_outdir(folder)
    pattern = re.compile(rf"^{re.escape(stem)}-(\d{{4,}})\.")
    names = [p.name for p in folder.iterdir()] + [Path(p).name for p in reserved if Path(p).parent == folder]
    taken = [int(m.group(1)) for name in names if (m := pattern.match(name))]
    return folder / f"{stem}-{max(taken, default=0) + 1:04d}{suffix}"
