"""Our own checkpoint format: a safetensors file of the generator's tensors with its config as JSON metadata.

safetensors holds only raw tensors, so loading one can never run code; the JSON config says how to
rebuild the module around them. Training state (D, optimisers) lives in a separate file so that a shared
generator stays small.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from ..errors import CheckpointError
from ..files import atomic_write
from ..nn.families import AnyConfig, config_from_dict
from ..nn.generator import Generator

FORMAT = "explorer.generator"
FORMAT_VERSION = "1"
TRAINING_STATE_FORMAT = "explorer.training_state"   # a run's resumable state: G, D, optimisers (train/snapshot.py)
LATEST_GENERATOR = "network-latest.safetensors"      # the newest generator a training run writes beside it


def save_generator(G: Generator, path: "str | os.PathLike[str]", extra_metadata: Optional[dict] = None,
                   dtype: torch.dtype = torch.float32) -> Path:
    """Write G atomically (temp file + rename), so a crash never leaves a half-written checkpoint.

    dtype=torch.float16 halves the file (the bundled generator ships so); loading always gives float32.
    """
    path = Path(path)
    tensors = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous().clone()
               for k, v in G.state_dict().items()}
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": G.cfg.to_json()}
    for k, v in (extra_metadata or {}).items():
        metadata[str(k)] = v if isinstance(v, str) else json.dumps(v)
    with atomic_write(path, "checkpoint") as tmp:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_metadata(path: "str | os.PathLike[str]") -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"not a readable safetensors file ({_short(e)})") from e


def load_native(path: "str | os.PathLike[str]") -> tuple[AnyConfig, dict[str, torch.Tensor]]:
    """Config and state dict of a native checkpoint; every failure is a one-line CheckpointError."""
    meta = read_metadata(path)
    if meta.get("format") == TRAINING_STATE_FORMAT:
        latest = Path(path).with_name(LATEST_GENERATOR)
        raise CheckpointError(path, "this is a training state (what `explorer train --resume` continues from), not "
                                    f"a generator: use {latest if latest.exists() else LATEST_GENERATOR} of the "
                                    "same run")
    if meta.get("format") != FORMAT or "config" not in meta:
        raise CheckpointError(path, "safetensors file without an explorer generator config in its metadata "
                                    "(was it written by another tool? convert it with `explorer convert`)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(path, f"format version {meta.get('format_version')!r} is not supported "
                                    f"(this explorer reads version {FORMAT_VERSION})")
    try:
        cfg = config_from_json(meta["config"])
    except (ValueError, TypeError) as e:
        raise CheckpointError(path, f"invalid generator config ({_short(e)})") from e
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"corrupt tensor data ({_short(e)})") from e
    return cfg, tensors


def config_from_json(text: str) -> AnyConfig:
    d = json.loads(text)
    if not isinstance(d, dict):
        raise ValueError("config is not a JSON object")
    return config_from_dict(d)


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
