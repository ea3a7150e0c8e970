"""Our own checkpoint format: a safetensors file of the generator's tensors with its config as JSON metadata.

safetensors holds only raw tensors, so loading one can never run code; the JSON config says how to
rebuild the module around them. Training state (D, optimisers) lives in a separate file so that a shared
generator stays small.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open, save_file

from ..errors import CheckpointError
from ..files import atomic_write
from ..nn.families import AnyConfig, config_from_dict
from ..nn.generator import Generator
from .files import open_regular

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
    with open_regular(path):  # refuses FIFOs, devices, loops before safetensors opens the path
        pass
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"not a readable safetensors file ({_short(e)})") from e


class NativeTensor:
    """One tensor of a safetensors file, known by its header's shape, read only on `materialize()`."""

    def __init__(self, handle: Any, name: str, shape: tuple[int, ...], path: str):
        self.handle, self.name, self.shape, self.path = handle, name, shape, path

    def materialize(self) -> torch.Tensor:
        try:
            return self.handle.get_tensor(self.name)
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise CheckpointError(self.path, f"corrupt tensor data in {self.name} ({_short(e)})") from None


def load_native(path: "str | os.PathLike[str]") -> tuple[AnyConfig, dict[str, NativeTensor]]:
    """Config and (not yet read) tensors of a native checkpoint; every failure is a one-line CheckpointError.

    Only the header is parsed here: read_checkpoint compares its shapes with the config before any tensor's
    data is read (safetensors itself checks that the header's offsets cover the file exactly).
    """
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
        raise CheckpointError(path, f"format version {str(meta.get('format_version'))[:20]!r} is not supported "
                                    f"(this explorer reads version {FORMAT_VERSION})")
    cfg = parse_config(meta["config"], path)
    try:
        handle = safe_open(str(path), framework="pt")
        tensors = {k: NativeTensor(handle, k, tuple(handle.get_slice(k).get_shape()), str(path)) for k in handle.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(path, f"corrupt tensor data ({_short(e)})") from e
    return cfg, tensors


def parse_config(text: str, path: "str | os.PathLike[str]") -> AnyConfig:
    """The JSON config of a checkpoint as its family's config; malformed JSON, wrong types or keys are one line."""
    try:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise TypeError(f"the config is a JSON {type(d).__name__}, not an object")
        return config_from_dict(d)
    except RecursionError:
        raise CheckpointError(path, "invalid generator config (nested too deeply)") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
        raise CheckpointError(path, f"invalid generator config ({_short(e)})") from None


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
