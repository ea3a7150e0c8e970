"""`explorer gui` as a user starts it: a process of its own, on a private Xvfb (or with no display at all)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from explorer.io.native import save_generator
from tests.conftest import make_generator
from tests.helpers.gui_display import xvfb

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def display():
    with xvfb() as name:
        yield name


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return str(save_generator(make_generator(0, img_resolution=64), tmp_path_factory.mktemp("gui") / "g.safetensors"))


def explorer_gui(args: list[str], display: "str | None", tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    if display is not None:
        env["DISPLAY"] = display
    return subprocess.run([sys.executable, "-m", "explorer.cli", "gui", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


def test_without_a_display_it_says_so_in_one_line_instead_of_aborting(tmp_path):
    proc = explorer_gui([], None, tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISPLAY" in lines[0] and "xvfb-run" in lines[0]


def test_screenshot_renders_the_window_saves_it_and_exits_0(display, checkpoint, tmp_path):
    out = tmp_path / "app.png"
    proc = explorer_gui(["--checkpoint", checkpoint, "--device", "cpu", "--screenshot", str(out), "--frames", "10",
                         "--width", "1000", "--height", "640"], display, tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        shot = np.asarray(im.convert("RGB")).astype(np.float32)
    assert shot.shape == (640, 1000, 3)
    assert shot.std() > 20
    view = shot[40:560, 500:960]                                # where the generated image sits
    assert view.std() > 10 and np.abs(view - [37, 37, 38]).mean() > 20   # the frame, not the empty background


def test_bad_checkpoint_keeps_the_app_alive_and_shows_the_error(display, tmp_path):
    bad = tmp_path / "broken.pkl"
    bad.write_bytes(b"\x80\x04 not really a pickle")
    out = tmp_path / "error.png"
    proc = explorer_gui(["--checkpoint", str(bad), "--device", "cpu", "--screenshot", str(out), "--frames", "3",
                         "--width", "900", "--height", "600"], display, tmp_path)
    assert proc.returncode == 1                                 # nothing rendered: say so
    assert "broken.pkl" in proc.stderr and "Traceback" not in proc.stderr
    assert out.exists()                                         # the window was up, showing the error


def test_group_shows_that_group_of_controls_and_an_unknown_one_is_one_line(display, checkpoint, tmp_path):
    shots = {}
    for group in ("explore", "Make"):
        out = tmp_path / f"{group}.png"
        proc = explorer_gui(["--checkpoint", checkpoint, "--device", "cpu", "--screenshot", str(out), "--frames", "5",
                             "--width", "1000", "--height", "640", "--group", group], display, tmp_path)
        assert proc.returncode == 0, proc.stderr
        with Image.open(out) as im:
            shots[group] = np.asarray(im.convert("RGB")).astype(np.float32)
    column, picture = (slice(60, 600), slice(0, 400)), (slice(60, 560), slice(520, 960))
    assert np.abs(shots["explore"][column] - shots["Make"][column]).mean() > 5      # other controls...
    assert np.abs(shots["explore"][picture] - shots["Make"][picture]).max() <= 1    # ...beside the same picture
    proc = explorer_gui(["--checkpoint", checkpoint, "--screenshot", str(tmp_path / "x.png"), "--group", "Render"],
                        display, tmp_path)
    assert proc.returncode == 1 and not (tmp_path / "x.png").exists()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "'Render'" in lines[0] and "Explore, Seeds, Make, Inspect" in lines[0]
