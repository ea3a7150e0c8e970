"""TensorFlow pickles of NVlabs' StyleGAN and StyleGAN2 repositories, read as data.

A TF training snapshot is `pickle.dump((G, D, Gs), f)` of `dnnlib.tflib.network.Network` objects. Each one
pickles its state as a dict: version, name, static_kwargs (its build function's arguments), components
(sub-networks: Gs has `mapping` and `synthesis`), build_module_src (the Python source of its build
function's module, which their loader imports and runs), build_func_name and variables ([(name, ndarray)]).
The restricted unpickler (safe_pickle.py) turns every Network into a TFNetworkRecord that keeps that dict;
here it becomes a TFNetwork tree with checked types. The build source is dropped unread: nothing of it runs.

    file --restricted unpickler--> TFNetworkRecord tree --read_network--> TFNetwork (Gs) --family--> converter
"""
from __future__ import annotations

import dataclasses
import io
import os
import pickletools
from typing import Any

import numpy as np

from ..errors import CheckpointError
from .safe_pickle import TFNetworkRecord, safe_load_pickle

TF_NETWORK_GLOBAL = ("dnnlib.tflib.network", "Network")
MIN_VERSION = 3                 # tflib wrote version 3 (StyleGAN) and 4 (StyleGAN2, StyleGAN2-ADA).
MAX_DEPTH = 4                   # Gs -> mapping / synthesis; nothing real nests deeper.
MAX_VARIABLES = 10_000          # A 1024 px StyleGAN2 has ~400.
_SCAN_BYTES = 1 << 16


@dataclasses.dataclass
class TFNetwork:
    """One tflib Network as data: what its build function was called with, and its variables."""

    name: str
    version: int
    build_func_name: str
    static_kwargs: dict[str, Any]
    components: dict[str, "TFNetwork"]
    variables: dict[str, np.ndarray]     # Local names: 'dlatent_avg', '4x4/Conv/weight', ...

    def all_variables(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Variables of this network and its components, named as legacy.py names them ('mapping/Dense0/weight')."""
        out = {prefix + k: v for k, v in self.variables.items()}
        for name, comp in self.components.items():
            out.update(comp.all_variables(prefix + name + "/"))
        return out


def is_tf_pickle(head: bytes) -> bool:
    """Does a pickle's first global (read from its first bytes) name tflib's Network class?

    A TF snapshot pickles G first, and G's class is the first global the stream names; an NVlabs PyTorch
    pickle names torch or persistence functions instead. Only opcodes are read, nothing is built.
    """
    strings: list[str] = []
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(head[:_SCAN_BYTES])):
            if op.name == "GLOBAL":
                return tuple(str(arg).split(" ", 1)) == TF_NETWORK_GLOBAL
            if op.name == "STACK_GLOBAL":
                return tuple(strings[-2:]) == TF_NETWORK_GLOBAL
            if isinstance(arg, str) and "UNICODE" in op.name:
                strings.append(arg)
    except (ValueError, EOFError, UnicodeDecodeError):
        pass
    return False


def read_network(path: "str | os.PathLike[str]") -> TFNetwork:
    """The generator a user renders with (Gs) from a TF pickle, as a checked TFNetwork tree."""
    data = safe_load_pickle(path)
    if isinstance(data, TFNetworkRecord):
        nets = [data]
    elif isinstance(data, (tuple, list)) and data and all(isinstance(n, TFNetworkRecord) for n in data):
        nets = list(data)
    else:
        raise CheckpointError(path, f"pickle holds a {type(data).__name__}, not TensorFlow networks (G, D, Gs)")
    networks = [_network(n, path, depth=0, seen=set()) for n in nets]
    by_name = {n.name: n for n in networks}
    generators = [n for n in networks if {"mapping", "synthesis"} <= set(n.components)]
    if "Gs" in by_name:
        generators = [by_name["Gs"]]
    if not generators:
        names = ", ".join(repr(n.name) for n in networks)
        raise CheckpointError(path, f"no generator among the TensorFlow networks ({names}): expected Gs with "
                                    f"mapping and synthesis components")
    _check_no_shared_data(generators[-1], path)
    return generators[-1]


def _check_no_shared_data(net: TFNetwork, path: "str | os.PathLike[str]") -> None:
    """Every variable's data comes from the file once. A pickle can name one array (or one buffer) under many
    variables, and converting them would then copy it many times: a small file, a huge allocation."""
    total = sum(int(a.nbytes) for a in net.all_variables().values())
    size = os.path.getsize(path)
    if total > size:
        raise CheckpointError(path, f"the variables hold {total} bytes but the file has only {size}: "
                                    f"arrays are shared between variables (a crafted file?)")


def _network(rec: TFNetworkRecord, path: "str | os.PathLike[str]", depth: int, seen: set[int]) -> TFNetwork:
    if depth > MAX_DEPTH or id(rec) in seen:
        raise CheckpointError(path, "TensorFlow network components nest too deeply or refer to themselves")
    seen = seen | {id(rec)}
    st = rec.state
    if not isinstance(st, dict):
        raise CheckpointError(path, f"TensorFlow network state is a {type(st).__name__}, expected a dict")
    name = st.get("name")
    where = f"TensorFlow network {name!r}" if isinstance(name, str) else "a TensorFlow network"
    version = st.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(path, f"{where} has no version number")
    if version < MIN_VERSION:
        raise CheckpointError(path, f"{where} has pickle version {version}; versions >= {MIN_VERSION} are supported")
    if not isinstance(name, str):
        raise CheckpointError(path, "a TensorFlow network has no name")
    func = st.get("build_func_name")
    if not isinstance(func, str):
        raise CheckpointError(path, f"{where} has no build function name")
    kwargs = st.get("static_kwargs") or {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise CheckpointError(path, f"{where}: static_kwargs is not a dict of named arguments")
    comps = st.get("components") or {}
    if not isinstance(comps, dict) or not all(isinstance(k, str) and isinstance(v, TFNetworkRecord) for k, v in comps.items()):
        raise CheckpointError(path, f"{where}: components are not TensorFlow networks")
    return TFNetwork(
        name=name,
        version=version,
        build_func_name=func,
        static_kwargs=dict(kwargs),
        components={k: _network(v, path, depth + 1, seen) for k, v in comps.items()},
        variables=_variables(st.get("variables"), path, where),
    )


def _variables(raw: Any, path: "str | os.PathLike[str]", where: str) -> dict[str, np.ndarray]:
    if not isinstance(raw, (list, tuple)):
        raise CheckpointError(path, f"{where}: variables are not a list of (name, array) pairs")
    if len(raw) > MAX_VARIABLES:
        raise CheckpointError(path, f"{where} has {len(raw)} variables (at most {MAX_VARIABLES} are plausible)")
    out: dict[str, np.ndarray] = {}
    for item in raw:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
            raise CheckpointError(path, f"{where}: a variable is not a (name, array) pair")
        name, value = item
        if isinstance(value, (np.generic, float, int)) and not isinstance(value, bool):
            value = np.asarray(value)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            raise CheckpointError(path, f"{where}: variable {name!r} is a {type(value).__name__}, not a numeric array")
        if name in out:
            raise CheckpointError(path, f"{where}: variable {name!r} appears twice")
        out[name] = value
    return out


def check_static_kwargs(kwargs: dict[str, Any], allowed: dict[str, tuple], harmless: set[str], what: str,
                        path: "str | os.PathLike[str]") -> None:
    """Refuse, by name, every build argument that would make NVlabs' network compute something we do not:
    `allowed` kwargs must take one of their listed values (lists compare by value), `harmless` ones only set
    sizes we read from the variables or do not change inference; any other kwarg is unknown to us."""
    for k, v in kwargs.items():
        if k in allowed:
            if not any(_same(v, option) for option in allowed[k]):
                options = " or ".join(repr(o) for o in allowed[k])
                raise CheckpointError(path, f"{what} with {k}={v!r}: only {options} is supported")
        elif k not in harmless:
            raise CheckpointError(path, f"{what} has an argument we do not know: {k}={v!r} "
                                        f"(cannot promise NVlabs' output)")


def shaped(a: np.ndarray, name: str, ndim: int) -> np.ndarray:
    """a, if it has the number of dimensions its variable must have (ValueError naming it otherwise)."""
    if a.ndim != ndim:
        raise ValueError(f"{name} has shape {list(a.shape)}, expected {ndim} dimensions")
    return a


def _same(value: Any, option: Any) -> bool:
    if isinstance(option, list):
        try:
            return isinstance(value, (list, tuple, np.ndarray)) and [float(t) for t in np.ravel(value)] == option
        except (TypeError, ValueError):
            return False
    return type(value) is type(option) and value == option


def load_tf(path: "str | os.PathLike[str]") -> tuple[Any, dict]:
    """(config, state dict) of the generator in a TF pickle, StyleGAN (v1) or StyleGAN2 by its variables."""
    net = read_network(path)
    if not {"mapping", "synthesis"} <= set(net.components):
        raise CheckpointError(path, f"TensorFlow network {net.name!r} ({net.build_func_name}) has no mapping and "
                                    f"synthesis components: not a StyleGAN generator")
    synthesis = net.components["synthesis"].variables
    if "4x4/Conv/mod_weight" in synthesis:
        from .tf_stylegan2 import convert_stylegan2
        return convert_stylegan2(net, path)
    if "4x4/Conv/StyleMod/weight" in synthesis:
        from .tf_stylegan1 import convert_stylegan1
        return convert_stylegan1(net, path)
    raise CheckpointError(path, f"TensorFlow generator {net.build_func_name}/{net.components['synthesis'].build_func_name} "
                                f"is neither StyleGAN (G_style) nor StyleGAN2 (G_main): not supported")
