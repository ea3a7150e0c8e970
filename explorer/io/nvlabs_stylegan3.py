"""NVlabs StyleGAN3 pickles (config-T / config-R): the shape of each layer as the pickle recorded it.

NVlabs' SynthesisLayer keeps every attribute its constructor derived (sizes, sampling rates, cutoffs,
up/down factors, paddings) in its persistence record, and its designed filters as buffers. We read those
rather than re-deriving them, so a model renders exactly as NVlabs' code would run it; then the config
must add up (StyleGAN3Config.check) and the tensors must fit it (build_generator). Every problem is a
one-line CheckpointError naming the file.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable

import numpy as np
import torch

from ..errors import CheckpointError
from ..nn.stylegan3_config import InputSpec, LayerSpec, StyleGAN3Config
from .safe_pickle import PersistentRecord

# What NVlabs' Generator (and the synthesis network and layers it passes **kwargs on to) accepts.
GENERATOR_KWARGS = frozenset({
    "z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs",
    "channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
    "last_stopband_rel", "margin_size", "output_scale", "num_fp16_res",
    "conv_kernel", "filter_size", "lrelu_upsampling", "use_radial_filters", "conv_clamp", "magnitude_ema_beta",
})
MAPPING_KWARGS = frozenset({"num_layers", "lr_multiplier", "w_avg_beta"})
LAYER_NAME = re.compile(r"L(\d+)_(\d+)_(\d+)$")


def is_stylegan3(rec: PersistentRecord) -> bool:
    """A Generator whose synthesis network starts with a Fourier-feature input (StyleGAN2 starts at b4)."""
    syn = (rec.state.get("_modules") or {}).get("synthesis")
    children = (syn.state.get("_modules") or {}) if isinstance(syn, PersistentRecord) else {}
    return "input" in children or any(LAYER_NAME.match(str(k)) for k in children)


def stylegan3_config(rec: PersistentRecord, path: "str | os.PathLike[str]") -> StyleGAN3Config:
    """The StyleGAN3Config of a Generator record, from its constructor arguments and its layers' attributes."""
    kwargs = _kwargs(rec, path)
    syn, mapping = _child(rec, "synthesis", path), _child(rec, "mapping", path)
    names = _attr(syn, "layer_names", list, path, "synthesis")
    if not names or not all(isinstance(n, str) and LAYER_NAME.match(n) for n in names):
        raise CheckpointError(path, f"StyleGAN3 synthesis.layer_names is not a list of layer names: {names!r:.80}")
    extra = sorted(k for k in syn.state.get("_modules") or {} if k != "input" and k not in names)
    if extra:
        raise CheckpointError(path, f"StyleGAN3 synthesis has layers missing from its layer_names: {', '.join(extra[:3])}")
    inp_rec = _child(syn, "input", path)
    inp = InputSpec(
        channels=_attr(inp_rec, "channels", int, path, "synthesis.input"),
        size=_attr(inp_rec, "size", _pair, path, "synthesis.input"),
        sampling_rate=_attr(inp_rec, "sampling_rate", float, path, "synthesis.input"),
        bandwidth=_attr(inp_rec, "bandwidth", float, path, "synthesis.input"),
    )
    layers = tuple(_layer_spec(_child(syn, n, path), n, path) for n in names)

    dims = {k: _attr(rec, k, int, path, "G") for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
    for part, rec_, keys in (("mapping", mapping, ("z_dim", "c_dim", "w_dim")),
                             ("synthesis", syn, ("w_dim", "img_resolution", "img_channels"))):
        for k in keys:
            got = _attr(rec_, k, int, path, part)
            if got != dims[k]:
                raise CheckpointError(path, f"StyleGAN3 {part} has {k} {got}, the generator {dims[k]}")
    num_ws = _attr(syn, "num_ws", int, path, "synthesis")
    if num_ws != len(layers) + 1:
        raise CheckpointError(path, f"StyleGAN3 synthesis has num_ws {num_ws} for {len(layers)} layers "
                                    f"(expected {len(layers) + 1})")
    try:
        return StyleGAN3Config(
            input=inp,
            layers=layers,
            mapping_layers=_attr(mapping, "num_layers", int, path, "mapping"),
            mapping_lr_multiplier=_attr(_child(mapping, "fc0", path), "bias_gain", float, path, "mapping.fc0"),
            w_avg_beta=_attr(mapping, "w_avg_beta", float, path, "mapping"),
            output_scale=_attr(syn, "output_scale", float, path, "synthesis"),
            provenance=tuple(sorted({"source_format": "nvlabs-pickle", "source_file": os.path.basename(str(path)),
                                     "nvlabs_kwargs": _summary(kwargs)}.items())),
            **dims,
        )
    except ValueError as e:
        raise CheckpointError(path, f"StyleGAN3 config does not add up: {e}") from None


def _layer_spec(rec: PersistentRecord, name: str, path) -> LayerSpec:
    where = f"layer {name}"
    if rec.class_name != "SynthesisLayer":
        raise CheckpointError(path, f"StyleGAN3 {where} is a {rec.class_name!r}, not a SynthesisLayer")

    def a(key: str, kind: Callable[[Any], Any]) -> Any:
        return _attr(rec, key, kind, path, where)
    clamp = rec.state.get("conv_clamp", "missing")
    if clamp == "missing":
        raise CheckpointError(path, f"StyleGAN3 {where} lacks attribute 'conv_clamp'")
    return LayerSpec(
        name=name,
        is_torgb=a("is_torgb", _bool), is_critically_sampled=a("is_critically_sampled", _bool), use_fp16=a("use_fp16", _bool),
        in_channels=a("in_channels", int), out_channels=a("out_channels", int),
        in_size=a("in_size", _pair), out_size=a("out_size", _pair),
        in_sampling_rate=a("in_sampling_rate", float), out_sampling_rate=a("out_sampling_rate", float),
        in_cutoff=a("in_cutoff", float), out_cutoff=a("out_cutoff", float),
        in_half_width=a("in_half_width", float), out_half_width=a("out_half_width", float),
        up_factor=a("up_factor", int), down_factor=a("down_factor", int),
        up_taps=a("up_taps", int), down_taps=a("down_taps", int), down_radial=a("down_radial", _bool),
        padding=a("padding", _padding), conv_kernel=a("conv_kernel", int),
        conv_clamp=None if clamp is None else _float(clamp),
    )


# --- reading records -------------------------------------------------------------------------------------

def _kwargs(rec: PersistentRecord, path) -> dict[str, Any]:
    kwargs = rec.state.get("_init_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise CheckpointError(path, f"StyleGAN3 constructor arguments are a {type(kwargs).__name__}, not a dict")
    unknown = sorted(set(map(str, kwargs)) - GENERATOR_KWARGS)
    mk = kwargs.get("mapping_kwargs") or {}
    if not isinstance(mk, dict):
        raise CheckpointError(path, f"StyleGAN3 mapping_kwargs is a {type(mk).__name__}, not a dict")
    unknown += [f"mapping_kwargs.{k}" for k in sorted(set(map(str, mk)) - MAPPING_KWARGS)]
    if unknown:
        raise CheckpointError(path, f"StyleGAN3 generator built with unknown constructor arguments: {', '.join(unknown[:4])} "
                                    "(a modified networks_stylegan3.py; its layers may compute something else)")
    return dict(kwargs)


def _child(rec: PersistentRecord, name: str, path) -> PersistentRecord:
    child = (rec.state.get("_modules") or {}).get(name)
    if not isinstance(child, PersistentRecord):
        raise CheckpointError(path, f"StyleGAN3 {rec.class_name} has no {name!r} module")
    return child


def _attr(rec: PersistentRecord, key: str, kind: Callable[[Any], Any], path, where: str) -> Any:
    if key not in rec.state:
        raise CheckpointError(path, f"StyleGAN3 {where} lacks attribute {key!r}")
    value = rec.state[key]
    try:
        if kind is int:
            return _int(value)
        if kind is float:
            return _float(value)
        if kind is list:
            if not isinstance(value, (list, tuple)):
                raise TypeError(type(value).__name__)
            return list(value)
        return kind(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(path, f"StyleGAN3 {where} has a bad {key!r}: {value!r:.60} ({e})") from None


def _int(v: Any) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, float, np.floating)) or v != int(v):
        raise TypeError("not an integer")
    return int(v)


def _float(v: Any) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
        raise TypeError("not a finite number")
    return float(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError("not a bool")
    return bool(v)


def _pair(v: Any) -> tuple[int, int]:
    arr = np.broadcast_to(np.asarray(v), [2])  # NVlabs stores sizes as np.broadcast_to(size, [2])
    return (_int(arr[0].item()), _int(arr[1].item()))


def _padding(v: Any) -> tuple[int, int, int, int]:
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        raise TypeError("not a list of 4 integers")
    return tuple(_int(p) for p in v)  # type: ignore[return-value]


def _summary(kwargs: dict[str, Any]) -> str:
    """The constructor arguments as a short string for provenance (what --cfg / --cbase made)."""
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return v.item() if isinstance(v, (np.generic, torch.Tensor)) and np.size(v) == 1 else v
    return repr({k: plain(kwargs[k]) for k in sorted(kwargs)})[:400]
