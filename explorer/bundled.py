"""Where the default generator lives: the bundled checkpoint, or a clearly labelled random demo model."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import torch

if TYPE_CHECKING:
    from .render.state import RenderState

BUNDLED_NAME = "avatars64.safetensors"
REPO_ROOT = Path(__file__).resolve().parents[1]


def bundled_path() -> Path:
    return REPO_ROOT / "checkpoints" / BUNDLED_NAME


def showcase_path() -> Path:
    """The seeds picked for the bundled generator by `explorer showcase` (scripts/make_model_card.sh writes it)."""
    return REPO_ROOT / "checkpoints" / "card" / "seeds.json"


def opening_state(checkpoint: "Optional[str | os.PathLike[str]]" = None) -> "RenderState":
    """What the app shows first: RenderState's defaults, with the bundled generator's picked seed pair when
    `checkpoint` is the bundled file (and the picks were made for exactly that file)."""
    from .render.state import RenderState, Source
    from .train.showcase import read_showcase

    state = RenderState(checkpoint=str(checkpoint) if checkpoint else None)
    path = Path(checkpoint) if checkpoint else default_checkpoint()
    if path.resolve() != bundled_path().resolve():
        return state
    picks = read_showcase(showcase_path(), path)
    if picks is None:
        return state
    a, b = picks["default_pair"]
    return state.replace(a=Source(seed=a), b=Source(seed=b))


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
