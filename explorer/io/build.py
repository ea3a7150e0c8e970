"""Build a Generator from a config and a state dict, turning every mismatch into a readable error."""
from __future__ import annotations

import os

import torch

from ..errors import CheckpointError
from ..nn.families import AnyConfig, new_generator
from ..nn.generator import Generator


def build_generator(cfg: AnyConfig, state: dict[str, torch.Tensor], path: "str | os.PathLike[str]") -> Generator:
    try:
        G = new_generator(cfg)
    except (ValueError, KeyError) as e:
        raise CheckpointError(path, f"unsupported generator configuration ({e})") from e
    own = G.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("resample_filter")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        raise CheckpointError(path, "tensors do not match the generator architecture: " + "; ".join(parts))
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise CheckpointError(path, f"tensor {k} has shape {list(v.shape)}, expected {list(own[k].shape)}")
        if not torch.isfinite(v).all():
            raise CheckpointError(path, f"tensor {k} contains NaN or infinite values")
    G.load_state_dict({**own, **{k: v.to(own[k].dtype) for k, v in state.items()}})
    return G.eval().requires_grad_(False)
