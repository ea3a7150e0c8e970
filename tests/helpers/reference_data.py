"""NVlabs reference numbers for the tests: the committed fixture, and the shared reference data when present.

Shared data (bigger models, per-layer activations) is looked up in $EXPLORER_REFERENCE_DIR, then in
<repo>/../shared/reference; tests that need it skip with a reason when it is absent (CI may not have it).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "data"


def shared_reference_dir() -> Optional[Path]:
    for root in (os.environ.get("EXPLORER_REFERENCE_DIR"), REPO.parent / "shared" / "reference"):
        if root and Path(root).is_dir():
            return Path(root)
    return None


@dataclasses.dataclass
class ReferenceModel:
    name: str
    config: dict                         # config.json: init_kwargs, input, layer_names, layers
    weights: dict[str, np.ndarray]       # NVlabs-named state dict
    outputs: dict[str, np.ndarray]       # inputs and NVlabs' outputs by key
    recipe: dict                         # how each output was made
    activations: Optional[dict[str, np.ndarray]]


def find_model(family: str, name: str) -> Optional[Path]:
    """The folder of a reference model: shared data first (it has activations), then the committed fixture."""
    shared = shared_reference_dir()
    for root in ([shared] if shared else []) + [FIXTURES]:
        if (root / family / name / "weights.npz").is_file():
            return root / family / name
    return None


def load_model(family: str, name: str) -> ReferenceModel:
    """Load a reference model, or skip the test saying where it was looked for."""
    folder = find_model(family, name)
    if folder is None:
        pytest.skip(f"reference data {family}/{name} not found (set EXPLORER_REFERENCE_DIR or provide "
                    f"{REPO.parent / 'shared' / 'reference'})")
    acts = folder / "activations.npz"
    return ReferenceModel(
        name=name,
        config=json.loads((folder / "config.json").read_text()),
        weights=dict(np.load(folder / "weights.npz")),
        outputs=dict(np.load(folder / "outputs.npz")),
        recipe=json.loads((folder / "recipe.json").read_text()),
        activations=dict(np.load(acts)) if acts.is_file() else None,
    )
