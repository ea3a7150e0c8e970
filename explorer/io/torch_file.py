"""torch.save files read as data: our own reader of both container formats, instead of torch.load.

torch.load(weights_only=True) runs no code, but it trusts every size a file declares: a 3.9 MB zip whose
storage entry is deflated inflates to 4 GB before anything is checked. Here the pickle inside goes through
RestrictedUnpickler, each storage it references is checked against the bytes that back it before it is read
(and only read when a tensor on it is materialized, so a rosinality checkpoint's discriminator and
optimiser state are never loaded at all):

  zip format (torch >= 1.6): `<dir>/data.pkl` references storages `<dir>/data/<key>`; an entry must hold
      exactly the bytes its storage declares and pass zips.entry_problem (no decompression bomb).
      A TorchScript archive (code/, constants.pkl) is refused.
  legacy format (before 1.6, and the storages inside NVlabs pickles): magic, protocol and system-info
      pickles, the object pickle, the storage keys, then each storage as an int64 count and its raw bytes.
"""
from __future__ import annotations

import contextlib
import io
import os
import struct
import zipfile
from typing import Any, BinaryIO, Iterator, Mapping, Sequence

import torch

from ..errors import CheckpointError
from .files import file_size, open_regular
from .safe_pickle import RestrictedUnpickler, Refused, Storage, StorageType, TensorRecord, checkpoint_errors, is_count
from .zips import entry_problem

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
ZIP_MAGIC = b"PK\x03\x04"


@contextlib.contextmanager
def open_torch_file(path: "str | os.PathLike[str]") -> Iterator[Any]:
    """The object a torch.save file holds, tensors as TensorRecords (materialize them inside the block).

    Any failure inside the block, reading or materializing, is a one-line CheckpointError naming `path`.
    """
    with open_regular(path) as f, checkpoint_errors(path):
        head = f.read(4)
        f.seek(0)
        yield _read_zip(f) if head == ZIP_MAGIC else _read_legacy(f, file_size(f))


def read_legacy_bytes(data: bytes) -> Any:
    """The object in a legacy-format torch.save held in memory (what NVlabs pickles embed per storage)."""
    return _read_legacy(io.BytesIO(data), len(data))


# --- zip format --------------------------------------------------------------------------------------------

def _read_zip(f: BinaryIO) -> Any:
    zf = zipfile.ZipFile(f)
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        raise Refused("refusing to load: this is a TorchScript archive (code), not a checkpoint of tensors")
    if len(pkl) != 1:
        raise Refused("a zip file, but not a torch.save archive (no single <dir>/data.pkl)")
    prefix = pkl[0][: -len("data.pkl")]
    storages: dict[str, Storage] = {}

    def persistent_load(pid: Any) -> Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise Refused("the archive references something other than a tensor storage")
        _, kind, key, _location, numel = pid
        if not isinstance(kind, StorageType) or not isinstance(key, str) or not is_count(numel):
            raise Refused("the archive references a storage it does not describe")
        if key not in storages:
            info = _entry(zf, f"{prefix}data/{key}")
            storage = Storage(kind.dtype, numel, lambda: zf.read(info), key)
            if info.file_size != storage.nbytes:
                raise Refused(f"storage {key[:40]} declares {storage.nbytes} bytes but its entry holds {info.file_size}")
            storages[key] = storage
        elif storages[key].dtype != kind.dtype or storages[key].numel != numel:
            raise Refused(f"storage {key[:40]} is declared twice with different sizes")
        return storages[key]

    with zf.open(_entry(zf, pkl[0])) as stream:
        return RestrictedUnpickler(stream, persistent_load).load()


def _entry(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise Refused(f"the archive lacks entry {name[:80]}") from None
    problem = entry_problem(info)
    if problem:
        raise Refused(problem)
    return info


# --- legacy format -----------------------------------------------------------------------------------------

def _read_legacy(f: BinaryIO, size: int) -> Any:
    if RestrictedUnpickler(f).load() != LEGACY_MAGIC:
        raise Refused("not a torch.save file (wrong magic number)")
    if RestrictedUnpickler(f).load() != LEGACY_PROTOCOL:
        raise Refused("unsupported torch.save protocol version")
    info = RestrictedUnpickler(f).load()
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise Refused("a big-endian or malformed torch.save file")
    storages: dict[str, Storage] = {}
    offsets: dict[str, int] = {}

    def persistent_load(pid: Any) -> Storage:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise Refused("the file references something other than a tensor storage")
        _, kind, key, _location, numel, view = pid
        if not isinstance(kind, StorageType) or not isinstance(key, str) or not is_count(numel) or view is not None:
            raise Refused("the file references a storage it does not describe")
        if key not in storages:
            storages[key] = Storage(kind.dtype, numel, lambda: _read_at(f, offsets[key], storages[key].nbytes), key[:40])
        return storages[key]

    obj = RestrictedUnpickler(f, persistent_load).load()
    keys = RestrictedUnpickler(f).load()
    if not isinstance(keys, list) or any(not isinstance(k, str) for k in keys):
        raise Refused("malformed storage key list")
    pos = f.tell()
    for key in keys:
        header = f.read(8)
        if len(header) < 8:
            raise EOFError
        count = struct.unpack("<q", header)[0]
        storage = storages.get(key)
        if storage is None or count != storage.numel:
            raise Refused(f"storage {key[:40]} has {count} elements on disk, {storage.numel if storage else 0} declared")
        offsets[key] = pos + 8
        pos += 8 + storage.nbytes
        if pos > size:
            raise EOFError
        f.seek(pos)
    if set(offsets) != set(storages):
        raise Refused("the file declares storages it does not hold")
    return obj


def _read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def read_state_dict(path: "str | os.PathLike[str]", expected: Mapping[str, Sequence[int]]) -> dict[str, torch.Tensor]:
    """A torch.save'd state dict whose names and shapes must be exactly `expected` (checked before reading data)."""
    from .validate import check_shapes

    with open_torch_file(path) as data:
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, TensorRecord) for k, v in data.items()):
            raise CheckpointError(path, "not a state dict (a mapping of names to tensors)")
        check_shapes(expected, {k: v.shape for k, v in data.items()}, path, optional=lambda name: False)
        return {k: v.materialize() for k, v in data.items()}
