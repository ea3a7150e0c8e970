"""Write pickles with the structure of NVlabs' TensorFlow snapshots, without TensorFlow or NVlabs' code.

dnnlib.tflib.network.Network pickles through __getstate__ as a dict (version, name, static_kwargs,
components, build_module_src, build_func_name, variables [(name, ndarray)]); a snapshot is the tuple
(G, D, Gs). We rebuild that from the numbers in a reference (weights as `<network>/<variable>` arrays plus
each network's name, build function and static kwargs), with a build source that would leave a marker file
if anything ever ran it (tests/conftest.py checks for the marker after every test).
"""
from __future__ import annotations

import json
import pickle
import sys
import types
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch

from tests.helpers.nvlabs_writer import MARKER_SOURCE

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "tf"


def _network_class() -> type:
    mod = sys.modules.get("dnnlib.tflib.network")
    if mod is None or not hasattr(mod, "Network"):
        for name in ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network"):
            sys.modules.setdefault(name, types.ModuleType(name))
        mod = sys.modules["dnnlib.tflib.network"]

        class Network:
            def __init__(self, state: dict):
                self._state = state

            def __getstate__(self) -> dict:
                return self._state

            def __setstate__(self, state: dict) -> None:  # never called by the code under test
                raise AssertionError("a TF network must not be rebuilt")
        Network.__module__, Network.__qualname__ = "dnnlib.tflib.network", "Network"
        mod.Network = Network
    return mod.Network


def tf_network(name: str, build_func_name: str, static_kwargs: dict, variables: Mapping[str, np.ndarray],
               components: Optional[dict] = None, version: int = 4) -> Any:
    """One tflib Network as it pickles."""
    state = {
        "version": version,
        "name": name,
        "static_kwargs": dict(static_kwargs),
        "components": dict(components or {}),
        "build_module_src": MARKER_SOURCE,
        "build_func_name": build_func_name,
        "variables": [(k, np.asarray(v)) for k, v in variables.items()],
    }
    return _network_class()(state)


def generator_from_reference(networks: dict, weights: Mapping[str, np.ndarray], version: int = 4) -> Any:
    """Gs with its mapping and synthesis components from `networks` (per network: name, build_func_name,
    static_kwargs, variables in order) and `weights` ('Gs/dlatent_avg', 'Gs/mapping/Dense0/weight', ...)."""
    def net(key: str, components: Optional[dict] = None) -> Any:
        d = networks[key]
        own = {v: weights[f"{key}/{v}"] for v in d["variables"]}
        return tf_network(d["name"], d["build_func_name"], d["static_kwargs"], own, components, version)
    return net("Gs", {"mapping": net("Gs/mapping"), "synthesis": net("Gs/synthesis")})


def write_snapshot(path: "str | Path", Gs: Any, protocol: int = 3) -> Path:
    """(G, D, Gs) as NVlabs' training loops pickled them (G shares Gs's numbers here; D is a token network)."""
    D = tf_network("D", "D_basic", {"resolution": 16}, {"Output/bias": np.zeros([1], np.float32)})
    G = _network_class()({**Gs.__getstate__(), "name": "G"})
    with open(path, "wb") as f:
        pickle.dump((G, D, Gs), f, protocol=protocol)
    return Path(path)


def load_fixture(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of a committed reference in tests/data/tf; weights keep their 'w/' prefix."""
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return json.loads(str(arrays.pop("meta"))), arrays


def write_fixture_pickle(name: str, path: "str | Path", protocol: int = 3) -> tuple[dict, dict[str, np.ndarray]]:
    meta, arrays = load_fixture(name)
    weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
    write_snapshot(path, generator_from_reference(meta["networks"], weights), protocol)
    return meta, arrays


def max_abs_diff(ours: torch.Tensor, ref: np.ndarray) -> float:
    """Largest absolute difference from a reference array of the same shape."""
    assert tuple(ours.shape) == ref.shape, (tuple(ours.shape), ref.shape)
    return float((ours - torch.from_numpy(ref)).abs().max())
