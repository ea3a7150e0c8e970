"""A pickle reader that can only rebuild tensors, plain containers and NVlabs' persistence records.

NVlabs' loader exec()s the Python source embedded in every network of their pickles, so opening one with
their code runs whatever the file says. We instead allow a short list of globals that only build data
(OrderedDicts, numpy arrays, dtypes), map their persistence reconstructor to a function that records its
arguments, and refuse everything else before it is imported or called.

Tensors are not rebuilt by torch's own helpers either: a pickle declares a tensor as (storage, offset,
size, stride), and a 690-byte file can declare a stride-0 view of 6 GB over a 4-byte storage. Here each
tensor becomes a TensorRecord whose view is checked against its storage (no element outside it, no more
elements than it holds) when it is declared, and whose data is copied out only on `materialize()`;
storages are sized and checked against the bytes that really back them before they are read (see
torch_file.py for torch.save's two container formats).
"""
from __future__ import annotations

import collections
import dataclasses
import math
import os
import pickle
import zipfile
from typing import Any, BinaryIO, Callable, Optional

import numpy as np
import torch

from ..errors import CheckpointError
from .files import open_regular


# --- what a pickle may build ------------------------------------------------------------------------------

class Sealed:
    """Objects we build for a pickle refuse its BUILD opcode: a file could otherwise overwrite the fields we
    checked (a TensorRecord's shape, say) after checking them."""

    def __setstate__(self, state: Any) -> None:
        raise Refused(f"the pickle tries to modify a {type(self).__name__} after building it")


@dataclasses.dataclass
class PersistentRecord(Sealed):
    """What NVlabs' `_reconstruct_persistent_obj(meta)` was asked to rebuild, without rebuilding it."""

    class_name: str
    module_src: str
    state: dict

    def child(self, name: str) -> "PersistentRecord":
        return self.state["_modules"][name]


class EasyDictRecord(dict):
    """Stands in for dnnlib.util.EasyDict: a dict whose items are also attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class NamespaceRecord(dict):
    """Stands in for argparse.Namespace (rosinality keeps its training flags in one): its attributes as items."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


class TFNetworkRecord:
    """Stands in for dnnlib.tflib.network.Network: keeps the state dict it pickled, never builds a graph.

    Their __setstate__ would import the embedded build source and run it; ours only stores the dict
    (version, name, static_kwargs, components, build_module_src, build_func_name, variables).
    """

    state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32, "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool, "UntypedStorage": torch.uint8,
}


@dataclasses.dataclass(frozen=True)
class StorageType(Sealed):
    """A torch storage class named in a pickle (`torch.FloatStorage`), kept as the dtype it stands for."""

    dtype: torch.dtype


class Storage(Sealed):
    """A flat run of `numel` elements of `dtype`, read by `read()` (at most once, and only when needed)."""

    def __init__(self, dtype: torch.dtype, numel: int, read: Callable[[], bytes], name: str):
        self.dtype, self.numel, self.name, self._read = dtype, numel, name, read
        self._flat: Optional[torch.Tensor] = None
        self.elements_viewed = 0   # summed over the distinct tensors materialized from it

    @property
    def nbytes(self) -> int:
        return self.numel * _itemsize(self.dtype)

    def flat(self) -> torch.Tensor:
        if self._flat is None:
            data = self._read()
            if len(data) != self.nbytes:
                raise Refused(f"storage {self.name} holds {len(data)} bytes, {self.nbytes} declared")
            self._flat = torch.frombuffer(bytearray(data), dtype=self.dtype) if self.numel else torch.empty(0, dtype=self.dtype)
        return self._flat


@dataclasses.dataclass(eq=False)
class TensorRecord(Sealed):
    """A tensor as a pickle declares it: a view (offset, size, stride) into a Storage, checked, not yet copied."""

    storage: Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    _value: Optional[torch.Tensor] = None

    def numel(self) -> int:
        return math.prod(self.shape)

    def materialize(self) -> torch.Tensor:
        """The tensor's own copy of its data. Distinct tensors may not view more elements of one storage than
        it holds, so materializing every tensor of a file never costs more than the file's own bytes."""
        if self._value is None:
            st = self.storage
            st.elements_viewed += self.numel()
            if st.elements_viewed > st.numel:
                raise Refused(f"tensors view storage {st.name} more than once over (overlapping views)")
            flat = st.flat()
            if self.offset == 0 and self.numel() == st.numel and self.stride == _contiguous(self.shape):
                self._value = flat.view(self.shape)  # the usual case: one tensor per storage, no copy needed
            else:
                self._value = flat.as_strided(self.shape, self.stride, self.offset).clone()
        return self._value


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *_ignored: Any) -> TensorRecord:
    """torch._utils._rebuild_tensor[_v2] with every number checked against the storage before any use."""
    if not isinstance(storage, Storage):
        raise Refused(f"a tensor is built on a {type(storage).__name__}, not on a storage")
    shape, strides = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if not is_count(offset):
        raise Refused("a tensor has an invalid storage offset")
    if len(shape) != len(strides) or len(shape) > MAX_DIMS:
        raise Refused(f"a tensor declares {len(shape)} sizes and {len(strides)} strides")
    numel = math.prod(shape)
    if numel:
        last = offset + sum((n - 1) * s for n, s in zip(shape, strides))
        if last >= storage.numel or numel > storage.numel:
            raise Refused(f"a tensor of shape {list(shape)} (stride {list(strides)}, offset {offset}) reaches "
                           f"beyond its storage of {storage.numel} elements")
    return TensorRecord(storage, offset, shape, strides)


def _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None) -> TensorRecord:
    if isinstance(storage, Storage) and dtype != storage.dtype:
        raise Refused(f"a {dtype} tensor is built on a {storage.dtype} storage")
    return _rebuild_tensor(storage, offset, size, stride)


def _rebuild_parameter(data: Any, *_ignored: Any) -> Any:
    if not isinstance(data, TensorRecord):
        raise Refused(f"a parameter wraps a {type(data).__name__}, not a tensor")
    return data


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise pickle.UnpicklingError("unexpected persistence record")
    state = meta.get("state") or {}
    if not isinstance(state, dict):
        raise Refused(f"a persistence record's state is a {type(state).__name__}, not a dict")
    name = meta.get("class_name")
    return PersistentRecord(name[:200] if isinstance(name, str) else "", "", state)


def _load_storage_from_bytes(data: Any) -> Storage:
    # torch.storage._load_from_bytes would torch.load(weights_only=False) the bytes: read them ourselves.
    from .torch_file import read_legacy_bytes
    if not isinstance(data, (bytes, bytearray)):
        raise Refused("torch.storage._load_from_bytes is given no bytes")
    out = read_legacy_bytes(bytes(data))
    if not isinstance(out, Storage):
        raise Refused("embedded torch data is not a storage")
    return out


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol 0-2 pickles store bytes as codecs.encode(str, 'latin1'); allow exactly that.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise Refused(f"refusing to load: the pickle decodes bytes with codec {str(encoding)[:40]!r}")
    return text.encode("latin1")


def _device_name(*args: Any) -> str:
    # torch.device('cuda', 0) names where a tensor lived; we only ever load onto the CPU.
    return ":".join(str(a)[:20] for a in args[:2])


def _multiarray() -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:
        from numpy.core import multiarray
    return multiarray


def _numpy_reconstruct(cls: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    # How an ndarray pickles: an empty array, then its BUILD state (shape, dtype, raw bytes: checked by numpy).
    if cls is not np.ndarray or shape != (0,):
        raise Refused("the pickle pre-sizes a numpy array (arrays are rebuilt from their own bytes only)")
    return _multiarray()._reconstruct(np.ndarray, (0,), b"b")


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise Refused("the pickle builds a numpy scalar from something other than bytes")
    return _multiarray().scalar(dtype, data)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    # numpy's own reconstructor for protocol-5 arrays, limited to data types without Python objects.
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise Refused("refusing to load: an array of Python objects")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order="F" if order == "F" else "C")


class _Builder:
    """An allowed function as the unpickler sees it: callable, but with no attributes a pickle could set."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[..., Any]):
        object.__setattr__(self, "_fn", fn)

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        raise Refused("the pickle tries to modify a function")


_FUNCTIONS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("_codecs", "encode"): _latin1_encode,
    ("torch", "device"): _device_name,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,       # protocol 5 arrays
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}
_CLASSES: dict[tuple[str, str], type] = {   # classes (NEWOBJ needs a type); Python's own forbid BUILD on them
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("torch", "Size"): tuple,
    ("dnnlib.util", "EasyDict"): EasyDictRecord,
    ("dnnlib", "EasyDict"): EasyDictRecord,
    ("argparse", "Namespace"): NamespaceRecord,
    ("dnnlib.tflib.network", "Network"): TFNetworkRecord,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
MAX_DIMS = 8


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles data only. `persistent_load` (torch.save's storage references) is given by the container reader."""

    def __init__(self, file: BinaryIO, persistent_load: Optional[Callable[[Any], Any]] = None):
        super().__init__(file)
        self._persistent = persistent_load

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names used by protocols 0-2 (what the default find_class's fix_imports would map).
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        key = (module, name)
        if key in _FUNCTIONS:
            return _Builder(_FUNCTIONS[key])
        if key in _CLASSES:
            return _CLASSES[key]
        if module in ("torch", "torch.storage") and name in STORAGE_DTYPES:
            return StorageType(STORAGE_DTYPES[name])
        if module.startswith("numpy") and name.endswith("DType"):  # numpy>=1.25 dtype classes
            obj = getattr(np.dtypes, name, None)
            if obj is not None:
                return obj
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module.startswith("__torch__"):
            raise Refused("refusing to load: this is a TorchScript module (code), not a checkpoint of tensors")
        raise Refused(f"refusing to load: the pickle calls {module[:80]}.{name[:80]}, which a checkpoint never "
                      f"needs (only tensors, arrays and NVlabs network records are allowed)")

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise Refused("refusing to load: the pickle uses persistent ids (is it a torch.save file? "
                           "those are read by our torch file reader)")
        return self._persistent(pid)


class Refused(pickle.UnpicklingError):
    """A deliberate refusal with a message meant for the user (not a corrupt-data accident)."""


def unpickle(f: BinaryIO, path: "str | os.PathLike[str]", persistent_load: Optional[Callable[[Any], Any]] = None) -> Any:
    """RestrictedUnpickler(f).load(); every failure becomes a one-line CheckpointError naming `path`."""
    with checkpoint_errors(path):
        return RestrictedUnpickler(f, persistent_load).load()


class checkpoint_errors:
    """Within the block, any failure of parsing a file becomes a CheckpointError naming it: a refusal keeps its
    message, a truncated file says so, anything else is reported as corrupt data with the error's first line."""

    def __init__(self, path: "str | os.PathLike[str]"):
        self.path = path

    def __enter__(self) -> "checkpoint_errors":
        return self

    def __exit__(self, kind, e, tb) -> bool:
        if e is None or isinstance(e, (CheckpointError, KeyboardInterrupt, SystemExit)):
            return False
        if isinstance(e, Refused):
            raise CheckpointError(self.path, str(e)) from None
        if isinstance(e, EOFError) or "truncated" in str(e):
            raise CheckpointError(self.path, "truncated file") from None
        if isinstance(e, zipfile.BadZipFile):
            raise CheckpointError(self.path, f"corrupt or truncated zip archive ({_first_line(e)})") from None
        if isinstance(e, RecursionError):
            raise CheckpointError(self.path, "data nested too deeply") from None
        if isinstance(e, MemoryError):
            raise CheckpointError(self.path, "declares more data than fits in memory") from None
        if isinstance(e, OSError) and not isinstance(e, pickle.UnpicklingError):
            raise CheckpointError(self.path, f"cannot read file ({e.strerror or e})") from None
        if isinstance(e, Exception):
            raise CheckpointError(self.path, f"corrupt data ({type(e).__name__}: {_first_line(e)})") from None
        return False


def safe_load_pickle(path: "str | os.PathLike[str]") -> Any:
    """Unpickle a plain pickle file (NVlabs' format) with RestrictedUnpickler; failures are CheckpointErrors."""
    with open_regular(path) as f:
        return unpickle(f, path)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0][:160]


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def is_count(x: Any) -> bool:
    """A plain non-negative int a file may use as a size, offset or count."""
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 1 << 62


def _int_tuple(x: Any, what: str) -> tuple[int, ...]:
    if not isinstance(x, (tuple, list)) or len(x) > MAX_DIMS or not all(is_count(n) for n in x):
        raise Refused(f"a tensor has an invalid {what}")
    return tuple(x)
