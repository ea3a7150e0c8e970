"""Shared fixtures: small generators with random weights, written in every supported format; the GUI tests'
virtual display, checkpoints and App."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from types import SimpleNamespace

os.environ.setdefault("OMP_NUM_THREADS", "1")  # subprocesses (CLI, torchrun) inherit it
# FID's real-feature cache goes to a throwaway folder, never into the user's ~/.cache (subprocesses inherit it)
os.environ["EXPLORER_CACHE_DIR"] = tempfile.mkdtemp(prefix="explorer-test-cache-")
atexit.register(shutil.rmtree, os.environ["EXPLORER_CACHE_DIR"], True)

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


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> SimpleNamespace:
    """Checkpoints the GUI tests open: g64 (the generator G, 64 px), g32, cond (3 classes), bad (not one)."""
    d = tmp_path_factory.mktemp("models").resolve()
    G = make_generator(0, img_resolution=64)
    bad = d / "broken.safetensors"
    bad.write_bytes(b"this is not a checkpoint" * 10)
    return SimpleNamespace(G=G, g64=str(save_generator(G, d / "g64.safetensors")),
                           g32=str(save_generator(make_generator(1), d / "g32.safetensors")),
                           cond=str(save_generator(make_generator(2, c_dim=3), d / "cond.safetensors")),
                           bad=str(bad))


@pytest.fixture(scope="module")
def app(display, models, request, tmp_path_factory):
    """A test module's App, in a 1280x800 window on models.g64 (a module may set APP_IDLE_FPS). Dear PyGui
    allows one per process: a module whose App would be the second runs in a child process (app_or_rerun)."""
    from tests.helpers.gui_display import app_or_rerun
    from widgets.app import App

    d = tmp_path_factory.mktemp("app")
    idle_fps = getattr(request.module, "APP_IDLE_FPS", 60)
    app = app_or_rerun(lambda: App(checkpoint=models.g64, device="cpu", width=1280, height=800, idle_fps=idle_fps,
                                   recent_file=str(d / "recent.json"), capture_dir=str(d / "captures")),
                       request, tmp_path_factory)
    result = app.wait_for_render()
    assert result is not None and result.error is None
    yield app
    app.close()


@pytest.fixture
def udp_client():
    """A UDP socket on 127.0.0.1 (replies come back to it), for OSC tests."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


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
