"""Build a generator of any family from a config and a state dict that passed the validation gate (validate.py)."""
from __future__ import annotations

import os

import torch

from ..errors import CheckpointError
from ..nn.families import AnyConfig, new_generator
from ..nn.generator import Generator
from .validate import check_shapes


def build_generator(cfg: AnyConfig, state: dict[str, torch.Tensor], path: "str | os.PathLike[str]") -> Generator:
    """An eval-mode generator holding `state`; non-finite weights are refused (they render black frames)."""
    for k, v in state.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise CheckpointError(path, f"tensor {k} contains NaN or infinite values")
    G = new_generator(cfg)
    own = G.state_dict()
    check_shapes({k: tuple(v.shape) for k, v in own.items()}, {k: tuple(v.shape) for k, v in state.items()}, path)
    G.load_state_dict({**own, **{k: v.to(own[k].dtype) for k, v in state.items()}})
    return G.eval().requires_grad_(False)
