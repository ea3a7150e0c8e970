"""Output files: written whole or not at all, into folders that can be written to, under names that never
overwrite.

    with atomic_write(path, "checkpoint") as tmp:   # write tmp (path + '.tmp') however you like; on success
        save_file(tensors, tmp)                     # it replaces path in one step, on any failure it is removed
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Collection, Iterator

from safetensors import SafetensorError

from .errors import OutputError


def temp_path(path: "str | os.PathLike[str]") -> Path:
    """Where a file is written before it is complete: beside it, so the rename stays on one file system
    (and numbered names count it as taken)."""
    path = Path(path)
    return path.with_name(path.name + ".tmp")


def commit(tmp: Path, path: "str | os.PathLike[str]", what: str) -> Path:
    """Move a complete temporary file into place in one step; OutputError naming the file if that fails."""
    try:
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(path, f"cannot write {what} ({e.strerror or e})") from None
    return Path(path)


@contextlib.contextmanager
def atomic_write(path: "str | os.PathLike[str]", what: str) -> Iterator[Path]:
    """Yield the temporary path to write; `path` appears only when the block completes, so a crash, an error
    or Ctrl+C never leaves a half-written file. An OSError (a full disk included, however the writer reports it)
    becomes OutputError naming the file and `what`."""
    tmp = temp_path(path)
    try:
        yield tmp
    except (OSError, SafetensorError) as e:   # safetensors reports a full disk as its own error
        tmp.unlink(missing_ok=True)
        raise OutputError(path, f"cannot write {what} ({_os_reason(e)})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    commit(tmp, path, what)


def _os_reason(e: BaseException) -> str:
    """'No space left on device' from an OSError, or from safetensors' '...I/O error: No space left on device
    (os error 28)' (older versions: 'IoError(Os { ..., message: "..." })')."""
    if isinstance(e, OSError):
        return e.strerror or str(e)
    found = re.search(r'I/O error: (.{1,200}?) \(os error \d+\)|message: "([^"]{1,200})"', str(e))
    return next(g for g in found.groups() if g) if found else (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


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
