"""Shared fixtures: small generators with random weights, written in every supported format."""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # subprocesses (CLI, torchrun) inherit it

import pytest
import torch

from explorer.io.native import save_generator
from explorer.nn.config import GeneratorConfig
from explorer.nn.generator import Generator

torch.set_num_threads(1)  # tiny models: one thread is faster, and oversubscribed threads spin


def make_generator(seed: int = 0, **overrides) -> Generator:
    """A small generator whose every parameter is non-trivial (noise strengths, biases, w_avg set)."""
    kw = dict(img_resolution=32, z_dim=64, w_dim=64, mapping_layers=3, channel_base=512, channel_max=64, conv_clamp=256)
    kw.update(overrides)
    torch.manual_seed(seed)
    G = Generator(GeneratorConfig(**kw)).eval()
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.2)
            elif name.endswith(".bias") and "affine" not in name:
                p.normal_(0, 0.1)
        G.mapping.w_avg.normal_(0, 0.3)
    return G.requires_grad_(False)


@pytest.fixture(scope="module")
def display():
    """A virtual X display (Xvfb) for a module of GUI tests; DISPLAY points at it while they run."""
    from tests.helpers.gui_display import xvfb

    with xvfb() as name:
        old = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = name
        yield name
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old


@pytest.fixture
def small_generator() -> Generator:
    return make_generator()


@pytest.fixture
def native_checkpoint(tmp_path, small_generator):
    return save_generator(small_generator, tmp_path / "small.safetensors")


@pytest.fixture(autouse=True)
def _marker_dir(tmp_path, monkeypatch):
    """Where code embedded in a fixture pickle would leave its mark if anything ever executed it."""
    monkeypatch.setenv("EXPLORER_TEST_MARKER_DIR", str(tmp_path))
    yield
    assert not (tmp_path / "MODULE_SRC_WAS_EXECUTED").exists(), "code embedded in a checkpoint was executed"
