"""A pickle reader that can only rebuild tensors, plain containers and NVlabs' persistence records.

NVlabs' loader exec()s the Python source embedded in every network of their pickles, so opening one with
their code runs whatever the file says. We instead allow a short list of globals that only build data
(tensors, OrderedDicts, numpy arrays), map their persistence reconstructor to a function that records its
arguments, and refuse everything else before it is imported or called.
"""
from __future__ import annotations

import collections
import dataclasses
import io
import os
import pickle
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError


@dataclasses.dataclass
class PersistentRecord:
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


class TFNetworkRecord:
    """Stands in for dnnlib.tflib.network.Network: keeps the state dict it pickled, never builds a graph.

    Their __setstate__ would import the embedded build source and run it; ours only stores the dict
    (version, name, static_kwargs, components, build_module_src, build_func_name, variables).
    """

    state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _reconstruct_persistent_obj(meta: dict) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise pickle.UnpicklingError("unexpected persistence record")
    return PersistentRecord(str(meta.get("class_name")), str(meta.get("module_src", "")), meta.get("state") or {})


def _load_storage_from_bytes(data: bytes) -> Any:
    # torch.storage._load_from_bytes would torch.load(weights_only=False): use the safe loader instead.
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Protocol 0-2 pickles store bytes as codecs.encode(str, 'latin1'); allow exactly that.
    if encoding not in ("latin1", "latin-1"):
        raise _Refused(f"refusing to load: the pickle decodes bytes with codec {encoding!r}")
    return text.encode("latin1")


def _numpy_global(name: str) -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:
        from numpy.core import multiarray
    return getattr(multiarray, name)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    # numpy's own reconstructor for protocol-5 arrays, limited to data types without Python objects.
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise _Refused("refusing to load: an array of Python objects")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order="F" if order == "F" else "C")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("torch", "Size"): torch.Size,
    ("_codecs", "encode"): _latin1_encode,
    ("torch", "device"): torch.device,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDictRecord,
    ("dnnlib", "EasyDict"): EasyDictRecord,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("dnnlib.tflib.network", "Network"): TFNetworkRecord,
}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names used by protocols 0-2 (what the default find_class's fix_imports would map).
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            return _numpy_global(name)
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _frombuffer  # protocol 5 arrays
        if module.startswith("numpy") and name.endswith("DType"):  # numpy>=1.25 dtype classes
            obj = getattr(np.dtypes, name, None)
            if obj is not None:
                return obj
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise _Refused(f"refusing to load: the pickle calls {module}.{name}, which a checkpoint never needs "
                       f"(only tensors, arrays and NVlabs network records are allowed)")

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("refusing to load: the pickle uses persistent ids (is it a torch.save file? "
                       "those are read with torch.load(weights_only=True))")


class _Refused(pickle.UnpicklingError):
    pass


def safe_load_pickle(path: "str | os.PathLike[str]") -> Any:
    """Unpickle a file with RestrictedUnpickler; every failure becomes a one-line CheckpointError."""
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f).load()
    except _Refused as e:
        raise CheckpointError(path, str(e)) from None
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, RuntimeError, MemoryError, OverflowError, UnicodeDecodeError) as e:
        what = "truncated file" if isinstance(e, EOFError) else f"corrupt pickle ({type(e).__name__}: {str(e)[:160]})"
        raise CheckpointError(path, what) from None
    except OSError as e:
        raise CheckpointError(path, f"cannot read file ({e.strerror or e})") from None
