"""NVlabs stylegan2-ada-pytorch / StyleGAN3-repo pickles: their G_ema as our Generator.

Tensor names already match ours. For StyleGAN2 everything else is read from the tensors themselves
(mapping depth, channels, architecture) and from the constructor arguments the persistence record kept
(conv_clamp, lr multiplier); StyleGAN3 layers are described by their records (nvlabs_stylegan3.py). Never
from their embedded source code.
"""
from __future__ import annotations

import os
import re
from typing import Any, Optional

import numpy as np
import torch

from ..errors import CheckpointError
from ..nn.config import GeneratorConfig
from ..nn.stylegan3_config import StyleGAN3Config
from .nvlabs_stylegan3 import is_stylegan3, stylegan3_config
from .safe_pickle import PersistentRecord, TensorRecord, checkpoint_errors, safe_load_pickle
from .validate import MAX_PARAMETERS

NETWORK_KEYS = ("G_ema", "G")
MAX_MODULE_DEPTH = 16      # Generator > synthesis > b64 > conv0 > affine is 5 deep
MAX_MODULES = 10_000       # a 1024 px generator has ~150


def record_state_dict(rec: PersistentRecord, path: "str | os.PathLike[str]") -> dict[str, torch.Tensor]:
    """Flatten a persistence record's _parameters/_buffers/_modules into a state dict of materialized tensors.

    The module tree of a hostile file may loop back on itself, share subtrees (2^depth paths) or nest
    without end, so each record is visited once, depth and count are bounded, and no tensor is copied
    until the tree's declared total is known to be plausible.
    """
    found: dict[str, Any] = {}
    seen: set[int] = set()

    def walk(r: PersistentRecord, prefix: str, depth: int) -> None:
        if id(r) in seen:
            raise CheckpointError(path, f"module {prefix.rstrip('.') or 'G'} appears twice in the network tree "
                                        "(a network is a tree of distinct modules)")
        seen.add(id(r))
        if depth > MAX_MODULE_DEPTH or len(seen) > MAX_MODULES:
            raise CheckpointError(path, "network modules nested implausibly deep or many")
        st = r.state
        for group in ("_parameters", "_buffers"):
            for name, t in _mapping(st.get(group), f"{prefix}{group}", path).items():
                if t is not None:
                    found[prefix + _name(name, path)] = t
        for name, child in _mapping(st.get("_modules"), f"{prefix}_modules", path).items():
            if isinstance(child, PersistentRecord):
                walk(child, prefix + _name(name, path) + ".", depth + 1)
            elif child is not None:
                raise CheckpointError(path, f"unexpected module object {type(child).__name__} at {prefix}{_name(name, path)}")

    walk(rec, "", 0)
    total = sum(t.numel() if isinstance(t, TensorRecord) else 0 for t in found.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(path, f"network declares {total / 1e6:.0f} M values, more than any generator has")
    with checkpoint_errors(path):
        return {k: _tensor(k, t, path) for k, t in found.items()}


def _mapping(x: Any, what: str, path) -> dict:
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise CheckpointError(path, f"{what} is a {type(x).__name__}, not a dict")
    return x


def _name(name: Any, path) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
        raise CheckpointError(path, "a module or tensor has an invalid name")
    return name


def _tensor(name: str, t: Any, path) -> torch.Tensor:
    if isinstance(t, TensorRecord):
        return t.materialize()
    if isinstance(t, np.ndarray) and t.dtype.kind in "fiub":  # already in memory: its bytes were in the file
        return torch.from_numpy(np.array(t))
    raise CheckpointError(path, f"{name} is a {type(t).__name__}, not a tensor")


def _kwargs(rec: PersistentRecord) -> dict[str, Any]:
    kw = rec.state.get("_init_kwargs") or {}
    return dict(kw) if isinstance(kw, dict) else {}


def _arg(kw: dict, key: str, kind: type, default: Any, path) -> Any:
    """A recorded constructor argument of the expected type (ints may come as whole floats), else the default."""
    value = kw.get(key, default)
    if value is None or value is default:
        return value
    if kind is dict:
        if not isinstance(value, dict):
            raise CheckpointError(path, f"constructor argument {key} is a {type(value).__name__}, expected a dict")
        return dict(value)
    if kind is str:
        if not isinstance(value, str):
            raise CheckpointError(path, f"constructor argument {key} is a {type(value).__name__}, expected a string")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CheckpointError(path, f"constructor argument {key} is a {type(value).__name__}, expected a number")
    if kind is int:
        if not float(value).is_integer():
            raise CheckpointError(path, f"constructor argument {key} = {float(value):g} is not a whole number")
        return int(value)
    return float(value)


def config_from_state(state: dict[str, torch.Tensor], kwargs: dict[str, Any], path: str, source: str) -> GeneratorConfig:
    """Infer the GeneratorConfig from NVlabs-named tensors plus the recorded constructor arguments."""
    if "synthesis.b4.const" not in state:
        raise CheckpointError(path, "no synthesis.b4.const tensor: not a StyleGAN2 generator")
    res = sorted(int(m.group(1)) for k in state if (m := re.match(r"synthesis\.b(\d{1,6})\.conv1\.weight$", k)))
    if not res:
        raise CheckpointError(path, "no synthesis.b*.conv1.weight tensors: not a StyleGAN2 generator")
    channels = tuple((r, int(state[f"synthesis.b{r}.conv1.weight"].shape[0])) for r in res)
    img_res = res[-1]
    mapping_layers = len({k.split(".")[1] for k in state if re.match(r"mapping\.fc\d+\.weight$", k)})
    mk = _arg(kwargs, "mapping_kwargs", dict, {}, path) or {}
    sk = _arg(kwargs, "synthesis_kwargs", dict, {}, path) or {}
    z_dim = _arg(kwargs, "z_dim", int, int(state["mapping.fc0.weight"].shape[1]), path)
    c_dim = _arg(kwargs, "c_dim", int, int(state["mapping.embed.weight"].shape[1]) if "mapping.embed.weight" in state else 0, path)
    w_dim = int(state["mapping.w_avg"].shape[0]) if "mapping.w_avg" in state else _arg(kwargs, "w_dim", int, 512, path)
    if any(".skip.weight" in k for k in state):
        arch = "resnet"
    elif f"synthesis.b{res[0]}.torgb.weight" not in state and len(res) > 1:
        arch = "orig"
    else:
        arch = "skip"
    arch_kw = _arg(sk, "architecture", str, arch, path)
    if arch_kw != arch:
        raise CheckpointError(path, f"recorded architecture {arch_kw!r} disagrees with the tensors ({arch!r})")
    base, cmax = _arg(sk, "channel_base", int, 32768, path), _arg(sk, "channel_max", int, 512, path)
    derived = all(min(base // r, cmax) == c for r, c in channels)
    hidden = state["mapping.fc0.weight"].shape[0] if mapping_layers > 1 else None
    embed = state["mapping.embed.weight"].shape[0] if c_dim > 0 else None
    clamp = _arg(sk, "conv_clamp", float, None, path)
    return GeneratorConfig(
        img_resolution=img_res,
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        img_channels=int(state[f"synthesis.b{img_res}.torgb.weight"].shape[0]),
        mapping_layers=mapping_layers,
        mapping_lr_multiplier=_arg(mk, "lr_multiplier", float, 0.01, path),
        layer_features=int(hidden) if hidden is not None and hidden != w_dim else None,
        embed_features=int(embed) if embed is not None and embed != w_dim else None,
        w_avg_beta=_arg(mk, "w_avg_beta", float, 0.995, path) or 0.995,
        channel_base=base,
        channel_max=cmax,
        channels=None if derived else channels,
        architecture=arch,
        conv_clamp=clamp,
        use_noise=any(k.endswith("noise_strength") for k in state),
        num_fp16_res=_arg(sk, "num_fp16_res", int, 0, path) or 0,
        provenance=(("source_format", source), ("source_file", os.path.basename(str(path)))),
    )


def load_nvlabs(path: "str | os.PathLike[str]") -> tuple["GeneratorConfig | StyleGAN3Config", dict[str, torch.Tensor]]:
    data = safe_load_pickle(path)
    if isinstance(data, PersistentRecord):  # a bare network pickle
        data = {"G_ema": data}
    if not isinstance(data, dict):
        raise CheckpointError(path, f"pickle holds a {type(data).__name__}, not an NVlabs network snapshot")
    key = next((k for k in NETWORK_KEYS if isinstance(data.get(k), PersistentRecord)), None)
    if key is None:
        keys = ", ".join(k[:40] if isinstance(k, str) else f"<{type(k).__name__}>" for k in list(data)[:8])
        raise CheckpointError(path, f"pickle has no G_ema or G network (keys: {keys})")
    rec = data[key]
    if rec.class_name != "Generator":
        raise CheckpointError(path, f"{key} is a {rec.class_name[:60]!r}, not a Generator")
    state = record_state_dict(rec, path)
    if is_stylegan3(rec):
        return stylegan3_config(rec, path), state
    kwargs = _kwargs(rec)
    sk = _arg(kwargs, "synthesis_kwargs", dict, {}, path) or {}
    synthesis = _child(rec, "synthesis")
    if synthesis is not None:
        for k, v in _kwargs(synthesis).items():
            if k in ("channel_base", "channel_max", "conv_clamp", "architecture", "num_fp16_res"):
                sk.setdefault(k, v)
        layer = _child(_child(synthesis, "b4"), "conv1")
        if layer is not None and "conv_clamp" in layer.state:  # the layer's own attribute is the value used at run time
            sk["conv_clamp"] = layer.state["conv_clamp"]
    kwargs["synthesis_kwargs"] = sk
    try:
        cfg = config_from_state(state, kwargs, str(path), "nvlabs-pickle")
    except KeyError as e:
        raise CheckpointError(path, f"{key} lacks tensor {str(e)[:80]}") from None
    except (IndexError, ValueError, TypeError, ZeroDivisionError, OverflowError) as e:
        text = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise CheckpointError(path, f"{key} does not describe a StyleGAN2 generator ({text})") from None
    return cfg, state


def _child(rec: Optional[PersistentRecord], name: str) -> Optional[PersistentRecord]:
    modules = rec.state.get("_modules") if rec is not None else None
    child = modules.get(name) if isinstance(modules, dict) else None
    return child if isinstance(child, PersistentRecord) else None
