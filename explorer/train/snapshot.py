"""Training snapshots without pickle: every tensor (networks, optimiser moments, RNG states) in one
safetensors file, every scalar and setting in its JSON metadata; written to a temp file and renamed, so a
run killed at any moment leaves the previous snapshot intact."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from ..errors import CheckpointError
from ..files import atomic_write
from ..io.native import TRAINING_STATE_FORMAT



def _opt_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{prefix}.state.{idx}.{k}"] = v
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _opt_restore(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if key.startswith(prefix + ".state."):
            idx, name = key[len(prefix) + 7:].split(".", 1)
            state.setdefault(int(idx), {})[name] = v
    for key, v in meta["scalars"].items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_training_state(path: "str | os.PathLike[str]", modules: dict[str, torch.nn.Module],
                        optimizers: dict[str, torch.optim.Optimizer], extra_tensors: dict[str, torch.Tensor],
                        info: dict[str, Any]) -> Path:
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for name, m in modules.items():
        for k, v in m.state_dict().items():
            tensors[f"{name}.{k}"] = v
    opt_meta = {}
    for name, opt in optimizers.items():
        t, meta = _opt_tensors(name, opt)
        tensors.update(t)
        opt_meta[name] = meta
    tensors.update({f"extra.{k}": v for k, v in extra_tensors.items()})
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    metadata = {"format": TRAINING_STATE_FORMAT, "info": json.dumps(info), "optimizers": json.dumps(opt_meta)}
    with atomic_write(path, "training snapshot") as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_training_info(path: "str | os.PathLike[str]") -> dict[str, Any]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"unreadable training snapshot ({str(e).splitlines()[0][:160]})") from None
    if meta.get("format") != TRAINING_STATE_FORMAT:
        raise CheckpointError(path, "not an explorer training snapshot")
    return json.loads(meta["info"])


def load_training_state(path: "str | os.PathLike[str]", modules: dict[str, torch.nn.Module],
                        optimizers: dict[str, torch.optim.Optimizer]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Restore modules and optimisers in place; returns (extra tensors, info)."""
    info = read_training_info(path)
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            opt_meta = json.loads((f.metadata() or {})["optimizers"])
    except (SafetensorError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(path, f"corrupt training snapshot ({str(e).splitlines()[0][:160]})") from None
    for name, m in modules.items():
        sd = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
        try:
            m.load_state_dict(sd)
        except RuntimeError as e:
            raise CheckpointError(path, f"{name} does not match this run's architecture "
                                        f"({str(e).splitlines()[0][:160]})") from None
    for name, opt in optimizers.items():
        _opt_restore(name, opt, tensors, opt_meta[name])
    extra = {k[6:]: v for k, v in tensors.items() if k.startswith("extra.")}
    return extra, info
