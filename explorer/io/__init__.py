"""Checkpoint loading: `load_generator(path)` recognises the file by its content, not its name."""
from __future__ import annotations

import os
from typing import Any, Callable, Union

import torch

from ..errors import CheckpointError, ExplorerError
from ..nn.families import AnyConfig
from ..nn.generator import Generator
from .build import build_generator
from .files import open_regular
from .native import load_native, save_generator
from .safe_pickle import checkpoint_errors
from .validate import validate_generator

KINDS = {
    "native": "explorer safetensors",
    "nvlabs": "NVlabs pickle (stylegan2-ada / stylegan3 repo)",
    "torch": "torch.save file (rosinality stylegan2-pytorch)",
    "tf": "TensorFlow pickle (NVlabs stylegan / stylegan2 / stylegan2-ada, read without TensorFlow)",
}

_TORCH_LEGACY_MAGIC = bytes.fromhex("80028a0a6cfc9c46f9206aa85019")  # pickled torch.save magic number
W_AVG_SAMPLES = 10_000


def detect_kind(path: "str | os.PathLike[str]") -> str:
    with open_regular(path, what="a checkpoint file") as f:
        head = f.read(1 << 16)
    if not head:
        raise CheckpointError(path, "empty file")
    if head[:4] == b"PK\x03\x04" or head.startswith(_TORCH_LEGACY_MAGIC):
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000:
        return "native"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        from .tflib import is_tf_pickle
        return "tf" if is_tf_pickle(head) else "nvlabs"
    raise CheckpointError(path, "not a recognised checkpoint (expected explorer .safetensors, NVlabs .pkl "
                                "(PyTorch or TensorFlow) or rosinality .pt)")


def _reader(kind: str) -> Callable[[str], tuple[AnyConfig, dict[str, Any]]]:
    if kind == "native":
        return load_native
    if kind == "nvlabs":
        from .nvlabs import load_nvlabs
        return load_nvlabs
    if kind == "tf":
        from .tflib import load_tf
        return load_tf
    from .rosinality import load_rosinality
    return load_rosinality


def read_checkpoint(path: "str | os.PathLike[str]") -> tuple[str, AnyConfig, dict[str, torch.Tensor]]:
    """(kind, config, NVlabs-named state dict) of any supported checkpoint, through the one validation gate.

    A reader returns its config and its tensors, each a torch.Tensor or a not-yet-read entry with `.shape`
    and `.materialize()`; the gate (validate.validate_generator) checks the config and the declared shapes
    before any entry is read. Whatever a hostile file makes a reader trip over is still one CheckpointError.
    """
    kind = detect_kind(path)
    with checkpoint_errors(path):
        cfg, entries = _reader(kind)(path)
        validate_generator(cfg, {k: tuple(v.shape) for k, v in entries.items()}, path)
        state = {k: v if isinstance(v, torch.Tensor) else v.materialize() for k, v in entries.items()}
    return kind, cfg, state


@torch.no_grad()
def estimate_w_avg(G: Generator, samples: int = W_AVG_SAMPLES, seed: int = 0) -> torch.Tensor:
    """Mean w over seeded z samples, for checkpoints that do not store one."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn([samples, G.z_dim], generator=gen)
    c = torch.zeros([samples, G.c_dim]) if G.c_dim else None
    return G.mapping(z, c)[:, 0].mean(dim=0)


def load_generator(path: Union[str, os.PathLike, None] = None, device: Union[str, torch.device, None] = None) -> Generator:
    """Load any supported checkpoint as an eval-mode Generator (default: the bundled one)."""
    from ..perf import tune_allocator

    tune_allocator()
    if path is None:
        from ..bundled import default_checkpoint
        path = default_checkpoint()
    kind, cfg, state = read_checkpoint(path)
    needs_avg = "mapping.w_avg" not in state
    G = build_generator(cfg, state, path) if not needs_avg else _build_with_avg(cfg, state, path)
    if device is not None:
        G = G.to(resolve_device(device))
    G.source_path = str(path)
    G.source_kind = kind
    return G


def _build_with_avg(cfg: AnyConfig, state: dict, path) -> Generator:
    G = build_generator(cfg, {**state, "mapping.w_avg": torch.zeros([cfg.w_dim])}, path)
    G.mapping.w_avg.copy_(estimate_w_avg(G))
    return G


def resolve_device(device: Union[str, torch.device, None]) -> torch.device:
    """'auto' (CUDA when there is one), 'cpu' or 'cuda[:N]'; ExplorerError for a device this machine lacks."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ExplorerError(f"unknown device {str(device)[:40]!r} (use cpu, cuda or auto)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ExplorerError("device 'cuda' requested but CUDA is not available (use --device cpu or auto)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ExplorerError(f"device {dev} requested but this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type not in ("cpu", "cuda"):
        raise ExplorerError(f"device {dev.type!r} is not supported (use cpu, cuda or auto)")
    return dev


__all__ = ["load_generator", "read_checkpoint", "detect_kind", "save_generator", "estimate_w_avg",
           "resolve_device", "KINDS"]
