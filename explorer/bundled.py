"""Where the default generator lives: the bundled checkpoint, or a clearly labelled random demo model."""
from __future__ import annotations

import os
from pathlib import Path

import torch

BUNDLED_NAME = "avatars64.safetensors"
REPO_ROOT = Path(__file__).resolve().parents[1]


def bundled_path() -> Path:
    return REPO_ROOT / "checkpoints" / BUNDLED_NAME


def default_checkpoint() -> Path:
    """$EXPLORER_CHECKPOINT, else the bundled generator, else a random-weight demo model (made once)."""
    env = os.environ.get("EXPLORER_CHECKPOINT")
    if env:
        return Path(env)
    if bundled_path().exists():
        return bundled_path()
    return demo_checkpoint()


def demo_checkpoint() -> Path:
    from .io.native import save_generator
    from .nn.config import GeneratorConfig
    from .nn.generator import Generator

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "explorer"
    path = cache / "demo-random-weights-64.safetensors"
    if not path.exists():
        torch.manual_seed(0)
        cfg = GeneratorConfig(img_resolution=64, channel_base=4096, channel_max=256, mapping_layers=4,
                              provenance=(("source_format", "random-weight demo model (untrained)"),))
        save_generator(Generator(cfg), path)
    return path
