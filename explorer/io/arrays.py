"""Arrays from .npz files users hand us (w / w+ latents, directions, projected noise): numbers only.

np.load(allow_pickle=False) refuses pickled objects, but it allocates whatever shape a member's header
declares before reading a byte, and inflates deflated members in full. Here each member's header is read
first: object dtypes are refused, the element count is capped, and the member must hold exactly the bytes
its header declares (zips.entry_problem bounds what it may inflate to) before anything is allocated.
"""
from __future__ import annotations

import math
import os
import zipfile
from typing import Iterable, Optional

import numpy as np

from ..errors import FileError
from .files import open_regular
from .zips import entry_problem

MAX_ELEMENTS = 1 << 27   # 512 MB of float32 per array: far above any latent, direction set or noise map


class ArrayFileError(FileError):
    """An .npz file that cannot be read as plain numeric arrays."""


def read_npz(path: "str | os.PathLike[str]", keys: Optional[Iterable[str]] = None, required: Iterable[str] = (),
             max_elements: int = MAX_ELEMENTS) -> dict[str, np.ndarray]:
    """The numeric arrays of an .npz: all of them, or those of `keys` it has (each of `required` must be
    there); ArrayFileError otherwise."""
    with open_regular(path, ArrayFileError, "an .npz file") as f:
        try:
            zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise ArrayFileError(path, f"not an .npz archive ({_first_line(e)})") from None
        with zf:
            members = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
            missing = [k for k in required if k not in members]
            if missing:
                have = ", ".join(k[:40] for k in list(members)[:8]) or "none"
                raise ArrayFileError(path, f"no {missing[0]!r} array (keys: {have})")
            wanted = list(members) if keys is None else [k for k in keys if k in members]
            try:
                return {k: _read_member(zf, members[k], path, max_elements) for k in wanted}
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:  # corrupt stream, bad CRC, bad header
                raise ArrayFileError(path, f"corrupt .npz archive ({_first_line(e)})") from None


def _read_member(zf: zipfile.ZipFile, name: str, path, max_elements: int) -> np.ndarray:
    info = zf.getinfo(name)
    problem = entry_problem(info)
    if problem:
        raise ArrayFileError(path, problem)
    with zf.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ArrayFileError(path, f"array {name[:-4][:60]} uses .npy format {version}, not 1.0 or 2.0")
        label = name[:-4][:60]
        if dtype.hasobject or dtype.kind not in "biufcSU":
            raise ArrayFileError(path, f"array {label} holds Python objects (a pickle), refusing to load it")
        count = math.prod(shape)
        if count > max_elements:
            raise ArrayFileError(path, f"array {label} declares {count} elements, more than {max_elements}")
        nbytes = count * dtype.itemsize
        if info.file_size - stream.tell() != nbytes:
            raise ArrayFileError(path, f"array {label} declares {nbytes} bytes of data but holds "
                                       f"{info.file_size - stream.tell()}")
        data = stream.read(nbytes)
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
