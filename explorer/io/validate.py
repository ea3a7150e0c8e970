"""The one gate between a checkpoint's bytes and a generator in memory.

Every reader (native safetensors, NVlabs pickle, rosinality torch file, and any family added later)
produces a config and the *declared* shapes of its tensors; `validate_generator(cfg, shapes, path)` then
checks, before any module or tensor of the size the file claims is allocated:

  1. every config field has the right type and a plausible value (LIMITS below: what any published
     StyleGAN-family generator fits in, with room to spare), so a config asking for 10^7 mapping layers
     or 16384 px is refused in microseconds;
  2. the tensors the config implies, listed by building the module with meta tensors (shapes without
     memory or data), fit the parameter budget;
  3. the declared tensor names and shapes are exactly the implied ones.

So a file that lies about its size costs nothing but its own bytes. read_checkpoint calls it for every
reader; a family whose module nn/families.py builds gets it for free (its config's fields are checked by
name against LIMITS, so reuse the names: img_resolution, z_dim, w_dim, mapping_layers, channel_max, ...).
Elsewhere, pass `module=` (a function building a module from its config) and, if checkpoints may lack some
buffers the module computes itself, `optional=` (a predicate on tensor names):

    validate_generator(cfg, {name: tuple(shape) for name, shape in declared.items()}, path,
                       module=StyleGAN3Generator)
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from ..errors import CheckpointError

MAX_PARAMETERS = 500_000_000   # elements in one generator (2 GB in fp32); the largest published (StyleGAN-XL 1024) has ~170 M
MAX_TENSOR_DIMS = 8            # a generator tensor has at most 5 (rosinality's conv weights)

# field: (smallest, largest) allowed value. Integers unless the field is listed in FLOAT_FIELDS.
LIMITS: dict[str, tuple[float, float]] = {
    "img_resolution": (4, 4096),         # NVlabs' largest is 1024
    "img_channels": (1, 4),
    "z_dim": (0, 16384),
    "c_dim": (0, 100_000),
    "w_dim": (1, 16384),
    "mapping_layers": (1, 64),           # NVlabs: 8 (2 in StyleGAN3 configs)
    "layer_features": (1, 16384),
    "mapping_features": (1, 16384),      # StyleGAN (v1)'s name for it
    "embed_features": (1, 16384),
    "channel_base": (1, 1 << 24),
    "channel_max": (1, 4096),            # NVlabs: 512 (1024 in StyleGAN3-R)
    "num_fp16_res": (0, 12),
    "mapping_lr_multiplier": (1e-6, 1e3),
    "w_avg_beta": (0.0, 1.0),
    "conv_clamp": (1e-3, 1e9),
    "fused_from": (4, 4096),
    "lod": (0.0, 12.0),
    "truncation_psi": (-100.0, 100.0),
    "truncation_cutoff": (0, 64),
    # StyleGAN3's per-layer specs (NVlabs: 14 layers, 1024 channels in config-R, filters of 6-12 taps)
    "channels": (1, 4096),
    "in_channels": (1, 4096),
    "out_channels": (1, 4096),
    "size": (1, 8192),
    "in_size": (1, 8192),
    "out_size": (1, 8192),
    "up_factor": (1, 16),
    "down_factor": (1, 16),
    "up_taps": (1, 128),
    "down_taps": (1, 128),
    "conv_kernel": (1, 7),
    "padding": (-8192, 8192),
    "sampling_rate": (1e-3, 1e5),
    "in_sampling_rate": (1e-3, 1e5),
    "out_sampling_rate": (1e-3, 1e5),
    "bandwidth": (0.0, 1e5),
    "in_cutoff": (0.0, 1e5),
    "out_cutoff": (0.0, 1e5),
    "in_half_width": (0.0, 1e5),
    "out_half_width": (0.0, 1e5),
    "output_scale": (-1e3, 1e3),
}
FLOAT_FIELDS = frozenset({"mapping_lr_multiplier", "w_avg_beta", "conv_clamp", "lod", "truncation_psi",
                          "sampling_rate", "in_sampling_rate", "out_sampling_rate", "bandwidth", "in_cutoff",
                          "out_cutoff", "in_half_width", "out_half_width", "output_scale"})
MAX_ITEMS = 256    # entries of any list in a config (StyleGAN3's layers: 14 in NVlabs' configs)
MAX_CHANNELS = LIMITS["channel_max"][1]


def _default_optional(name: str) -> bool:
    # Buffers our modules compute themselves (FIR filters) or estimate at load time (the average w).
    return name.endswith("resample_filter") or name == "mapping.w_avg"


def check_config(cfg: Any, path: "str | os.PathLike[str]") -> None:
    """Types and plausible ranges of every field LIMITS knows, in the config dataclass and the specs nested in
    it (StyleGAN3's input and layers), with every list at most MAX_ITEMS long; CheckpointError if not."""
    _check_fields(cfg, path, depth=0)
    res = getattr(cfg, "img_resolution", None)
    if res is not None and res & (res - 1):
        raise CheckpointError(path, f"config img_resolution {res} is not a power of two")
    if hasattr(cfg, "channels_at") and hasattr(cfg, "block_resolutions"):
        for r in cfg.block_resolutions:
            try:
                c = cfg.channels_at(r)
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                raise CheckpointError(path, f"config gives no channel count for resolution {r}") from None
            if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= MAX_CHANNELS:
                raise CheckpointError(path, f"config asks for {_show(c)} channels at {r} px "
                                            f"(plausible: 1..{MAX_CHANNELS})")


def _check_fields(spec: Any, path, depth: int) -> None:
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        items = value if isinstance(value, (tuple, list)) else (value,)
        if len(items) > MAX_ITEMS:
            raise CheckpointError(path, f"config {field.name} has {len(items)} entries (plausible: {MAX_ITEMS})")
        for item in items:
            if dataclasses.is_dataclass(item) and depth < 2:
                _check_fields(item, path, depth + 1)
            elif field.name in LIMITS and item is not None and not isinstance(item, (tuple, list)):
                _check_number(field.name, item, path)   # (pairs, like StyleGAN2's channels, are checked by use)


def _check_number(name: str, value: Any, path) -> None:
    lo, hi = LIMITS[name]
    if name in FLOAT_FIELDS:
        ok_type = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        kind = "a finite number"
    else:
        ok_type = isinstance(value, int) and not isinstance(value, bool)
        kind = "an integer"
    if not ok_type:
        raise CheckpointError(path, f"config {name} is {_show(value)}, expected {kind}")
    if not lo <= value <= hi:
        raise CheckpointError(path, f"config {name} = {_show(value)} is implausible (expected {_show(lo)}..{_show(hi)})")


class _ShapesOnly(TorchFunctionMode):
    """Within the block, tensor factories (randn, zeros, ...) make meta tensors: a shape and no data, so a
    module of any size is built in milliseconds and costs no memory.

    Plain `torch.device("meta")` would do the same, but torch's meta kernels for arithmetic (the `/ lr_mul`
    of an equalised-lr weight) and random fills live in Python and import torch._dynamo and sympy on first
    use: seconds per process. So the few ops a module's constructor applies to fresh weights are answered
    here with a meta tensor of the right shape; any other op on a meta tensor still runs torch's own kernel.
    """

    _FACTORIES = {torch.randn, torch.rand, torch.zeros, torch.ones, torch.empty, torch.full, torch.eye}
    _SAME_SHAPE = {torch.Tensor.clone, torch.Tensor.detach, torch.Tensor.contiguous, torch.Tensor.float,
                   torch.Tensor.requires_grad_, torch.Tensor.__neg__, torch.Tensor.normal_, torch.Tensor.uniform_,
                   torch.Tensor.zero_, torch.Tensor.fill_}
    _ELEMENTWISE = {torch.Tensor.__mul__, torch.Tensor.__rmul__, torch.Tensor.__truediv__, torch.Tensor.__add__,
                    torch.Tensor.__radd__, torch.Tensor.__sub__, torch.Tensor.__rsub__, torch.Tensor.mul,
                    torch.Tensor.div, torch.Tensor.add, torch.Tensor.sub, torch.mul, torch.div, torch.add, torch.sub}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self._FACTORIES:
            return torch.empty(self._factory_shape(func, args, kwargs), device="meta", dtype=kwargs.get("dtype"))
        metas = [a for a in args if isinstance(a, torch.Tensor) and a.is_meta]
        if metas and func in self._SAME_SHAPE:
            return torch.empty(metas[0].shape, device="meta", dtype=metas[0].dtype)
        if metas and func in self._ELEMENTWISE:
            shape = np.broadcast_shapes(*[tuple(a.shape) for a in args if isinstance(a, torch.Tensor)])
            return torch.empty(shape, device="meta", dtype=metas[0].dtype)
        return func(*args, **kwargs)

    @staticmethod
    def _factory_shape(func, args, kwargs) -> tuple[int, ...]:
        if func is torch.eye:
            return (args[0], args[1] if len(args) > 1 else args[0])
        size = args[0] if func is torch.full or (len(args) == 1 and isinstance(args[0], (tuple, list))) else args
        size = kwargs.get("size", size)
        return tuple(int(n) for n in size)


def expected_shapes(cfg: Any, module: Callable[[Any], torch.nn.Module], path) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the tensors `module(cfg)` holds, found without allocating them (meta tensors)."""
    try:
        with _ShapesOnly():
            net = module(cfg)
        return {k: tuple(v.shape) for k, v in net.state_dict().items()}
    except (ValueError, KeyError, TypeError, ZeroDivisionError, RuntimeError) as e:
        raise CheckpointError(path, f"unsupported generator configuration ({_first_line(e)})") from None


def check_shapes(expected: Mapping[str, Sequence[int]], declared: Mapping[str, Sequence[int]], path,
                 optional: Callable[[str], bool] = _default_optional) -> None:
    """The declared tensors are exactly the expected ones (optional ones may be absent), shape for shape."""
    missing = [k for k in expected if k not in declared and not optional(k)]
    unexpected = [k for k in declared if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {_show(unexpected[0])})")
        raise CheckpointError(path, "tensors do not match the generator architecture: " + "; ".join(parts))
    for k, shape in declared.items():
        if tuple(shape) != tuple(expected[k]):
            raise CheckpointError(path, f"tensor {k} has shape {list(shape)}, expected {list(expected[k])}")


def validate_generator(cfg: Any, shapes: Mapping[str, Sequence[int]], path: "str | os.PathLike[str]", *,
                       module: Optional[Callable[[Any], torch.nn.Module]] = None,
                       optional: Callable[[str], bool] = _default_optional) -> None:
    """The gate: plausible config, implied size within MAX_PARAMETERS, declared shapes == implied shapes.

    `shapes` maps tensor names to their declared shapes (from a file header or a pickle's tensor records:
    nothing needs to be loaded yet). `module` builds the family's module from `cfg` (default: the family
    nn/families.py assigns to the config's type); it is only ever called with tensor factories making meta
    tensors. Raises CheckpointError naming `path`.
    """
    if module is None:
        from ..nn.families import new_generator
        module = new_generator
    check_config(cfg, path)
    expected = expected_shapes(cfg, module, path)
    total = sum(math.prod(s) for s in expected.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(path, f"config implies {total / 1e6:.0f} M parameters, more than the "
                                    f"{MAX_PARAMETERS / 1e6:.0f} M any supported generator has")
    check_shapes(expected, shapes, path, optional)


def _show(value: Any) -> str:
    """A short, safe rendering of a value from a hostile file (no deep repr, no huge number printed in full)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10 ** 15 else f"~{float(value):.3g}" if abs(value) < 10 ** 300 else "a huge integer"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    return f"a {type(value).__name__}"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__
