"""A user's own photo in the real window (a private Xvfb): frame it (drag, scale and turn a square, or click the
eyes and mouth with the mouse through xdotool), project it, tune the generator to it, use the tuned generator
and go back to the original with one click.

What the user sees is checked: the projector's target thumbnail against the engine's framing of the same
photo, the notes and the status line, the frame on screen against the tuned generator's own image; and what
gets written: the tuned safetensors and its model card, the photo and the original generator left unchanged.
"""
from __future__ import annotations

import hashlib
import math
import shutil
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from explorer.render.renderer import Renderer
from explorer.render.state import RenderState, Source
from tests.helpers.gui_display import click, drive, projector_app, xdotool

pytestmark = pytest.mark.gui
needs_xdotool = pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
TILT = 25.0                    # degrees the face in the photo is turned (counter-clockwise on the screen)


# --- photos ------------------------------------------------------------------------------------------------
def turned(points, degrees, centre):
    a = math.radians(degrees)
    c = np.asarray(centre, dtype=float)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    return [tuple(c + rot @ (np.asarray(p, dtype=float) - c)) for p in points]


@pytest.fixture
def tilted_face(tmp_path):
    """A 480x360 'photo' of a face turned by TILT: red left eye, green right eye, blue mouth; (path, points)."""
    points = turned([(210, 160), (270, 160), (240, 226)], TILT, (240, 180))
    im = Image.new("RGB", (480, 360), (235, 225, 205))
    d = ImageDraw.Draw(im)
    for (x, y), colour in zip(points, (RED, GREEN, BLUE)):
        d.ellipse([x - 7, y - 7, x + 7, y + 7], fill=colour)
    path = tmp_path / "tilted.png"
    im.save(path)
    return path, points


def centre_of(pixels: np.ndarray, colour) -> np.ndarray:
    ch = colour.index(255)
    others = [i for i in range(3) if i != ch]
    mask = pixels[..., ch].astype(int) - pixels[..., others].max(axis=-1) > 80
    ys, xs = np.nonzero(mask)
    assert len(xs), f"no {colour} pixels"
    return np.array([xs.mean(), ys.mean()])


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# --- driving the window ------------------------------------------------------------------------------------
@pytest.fixture
def fresh(app, models, tmp_path):
    """The 64 px test model, seeds 0 and 1; the projector on W+, pixel loss, 30 steps, no auto-apply."""
    return projector_app(app, models.g64, str(tmp_path / "captures"), {
        "project.steps": 30, "project.space": "W+", "project.loss": "pixel (L2)", "project.auto": False,
        "tune.steps": 40})


def act(app, tag: str, value) -> None:
    """Change a control as the user would, then let the window draw what follows."""
    drive(tag, value)
    app.run_frames(2)


def choose(app, path) -> None:
    drive("project.path", str(path))
    app.wait_tasks()
    app.run_frames(3)


def reveal_canvas(app) -> tuple[float, float]:
    """Bring the crop view on screen; its top-left corner in screen pixels."""
    import dearpygui.dearpygui as dpg

    if hasattr(app, "reveal"):
        app.reveal(app.framing, "framing.canvas")
        app.run_frames(12)
    else:
        dpg.set_y_scroll("controls", 0)
        app.run_frames(2)
        top = dpg.get_item_rect_min("framing.canvas")[1] - dpg.get_item_pos("controls")[1]
        dpg.set_y_scroll("controls", max(top - 120, 0))
        app.run_frames(4)
    x, y = dpg.get_item_rect_min("framing.canvas")
    assert dpg.is_item_visible("framing.canvas") and 0 <= y and y + 300 <= dpg.get_viewport_client_height()
    return x, y


def mouse_to(app, x: float, y: float) -> None:
    xdotool("mousemove", str(int(round(x)) - 1), str(int(round(y))))
    app.run_frames(2)
    xdotool("mousemove_relative", "--", "1", "0")      # a first motion event inside the window
    app.run_frames(2)


def click_at(app, x: float, y: float) -> None:
    """A real left click through the X server."""
    mouse_to(app, x, y)
    xdotool("mousedown", "1")
    app.run_frames(3)
    xdotool("mouseup", "1")
    app.run_frames(3)


def drag_between(app, start, end, steps: int = 6) -> None:
    mouse_to(app, *start)
    xdotool("mousedown", "1")
    app.run_frames(3)
    for k in range(1, steps + 1):
        xdotool("mousemove", str(int(round(start[0] + (end[0] - start[0]) * k / steps))),
                str(int(round(start[1] + (end[1] - start[1]) * k / steps))))
        app.run_frames(2)
    xdotool("mouseup", "1")
    app.run_frames(4)


def on_screen(app, photo_point) -> tuple[float, float]:
    """Where a photo pixel is drawn in the crop view, in screen pixels."""
    x0, y0 = reveal_canvas(app)
    cx, cy = app.framing.edit.to_canvas(photo_point)
    return x0 + cx, y0 + cy


def expected_target(path, framing, resolution: int = 64) -> np.ndarray:
    from explorer.app.projecting import fit_square
    from explorer.project.framing import frame_photo
    return fit_square(frame_photo(path, resolution, framing).pixels, 128)


def note(tag: str = "framing.note") -> str:
    import dearpygui.dearpygui as dpg
    return dpg.get_value(tag)


def wait_for(app, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        app.run_frames(1)


# --- framing -----------------------------------------------------------------------------------------------
@needs_xdotool
def test_three_clicks_on_eyes_and_mouth_level_the_face_the_projector_sees(fresh, tilted_face):
    path, points = tilted_face
    before = sha256(path)
    choose(fresh, path)
    assert "centre square at 64x64" in note("project.target_note")
    act(fresh, "framing.mode", "eyes + mouth")
    assert "click the left eye" in note()
    for p in points:
        click_at(fresh, *on_screen(fresh, p))
    edit = fresh.framing.edit
    np.testing.assert_allclose(edit.points, points, atol=2.0)       # a canvas pixel is 1.6 photo pixels
    assert edit.framing.eyes is not None and edit.problem is None
    seen = fresh.projector.target_pixels
    np.testing.assert_array_equal(seen, expected_target(path, edit.framing))
    assert "aligned on eyes" in note("project.target_note")
    left, right = centre_of(seen, RED), centre_of(seen, GREEN)
    assert abs(left[1] - right[1]) < 2.0 and left[0] < right[0]       # the eyes are level in the target
    assert sha256(path) == before

    shot = fresh.screenshot()                                      # the square is drawn on the photo
    x0, y0 = reveal_canvas(fresh)
    x0, y0 = int(x0), int(y0)
    canvas = shot[y0:y0 + 300, x0:x0 + 300].astype(int)
    yellow = (canvas[..., 0] > 200) & (canvas[..., 1] > 180) & (canvas[..., 2] < 120)
    assert yellow.sum() > 200


@needs_xdotool
@pytest.mark.parametrize("order, reason", [((1, 0, 2), "wrong order"), ((0, 0, 2), "px apart")])
def test_eyes_clicked_in_the_wrong_order_or_on_one_spot_say_so_and_keep_the_framing(fresh, tilted_face, order,
                                                                                    reason):
    import dearpygui.dearpygui as dpg
    from widgets.style import ERROR_COLOR

    path, points = tilted_face
    choose(fresh, path)
    target = fresh.projector.target_pixels.copy()
    act(fresh, "framing.mode", "eyes + mouth")
    for i in order:
        click_at(fresh, *on_screen(fresh, points[i]))
    assert reason in note() and "click the three points again" in note()
    assert tuple(dpg.get_item_configuration("framing.note")["color"][:3]) == pytest.approx(
        tuple(c / 255 for c in ERROR_COLOR), abs=0.01)
    np.testing.assert_array_equal(fresh.projector.target_pixels, target)    # nothing lost
    for p in points:                                                        # and the user just clicks again
        click_at(fresh, *on_screen(fresh, p))
    assert fresh.framing.edit.framing.eyes is not None and "aligned on eyes" in note("project.target_note")


@needs_xdotool
def test_dragging_the_square_moves_the_crop_and_its_corner_scales_it(fresh, tilted_face):
    path, _ = tilted_face
    choose(fresh, path)
    edit = fresh.framing.edit
    start = on_screen(fresh, (240, 180))
    drag_between(fresh, start, (start[0] - 40, start[1]))             # to the left, until the photo's edge
    assert edit.mode == "crop" and edit.framing.crop == (0, 0, 360)
    np.testing.assert_array_equal(fresh.projector.target_pixels, expected_target(path, edit.framing))
    assert "crop 0,0,360" in note("project.target_note")

    handle = reveal_canvas(fresh) + edit.handle()
    drag_between(fresh, handle, on_screen(fresh, (250, 250)))          # the corner inwards: a smaller square
    x, y, side = edit.framing.crop
    assert 120 < side < 200 and (x + side / 2, y + side / 2) == pytest.approx((180, 180), abs=1)
    np.testing.assert_array_equal(fresh.projector.target_pixels, expected_target(path, edit.framing))


def test_the_angle_turns_the_crop_and_a_typed_crop_off_the_photo_is_refused(fresh, tilted_face):
    path, _ = tilted_face
    choose(fresh, path)
    act(fresh, "framing.angle", 30.0)
    edit = fresh.framing.edit
    assert edit.framing.angle == 30.0 and edit.framing.crop == (60, 0, 360)
    turned_target = fresh.projector.target_pixels.copy()
    np.testing.assert_array_equal(turned_target, expected_target(path, edit.framing))
    assert "rotated 30 deg" in note("project.target_note")

    act(fresh, "framing.angle", 0.0)
    act(fresh, "framing.x", 300)                                           # 300 + 360 > 480: off the photo
    assert "reaches outside the 480x360 photo" in note() and "last good square" in note()
    np.testing.assert_array_equal(fresh.projector.target_pixels, expected_target(path, edit.framing))
    assert edit.framing.crop == (60, 0, 360) and edit.framing.angle == 0.0


def test_a_tiny_photo_says_why_and_projecting_it_writes_nothing(fresh, tmp_path):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (12, 10), (90, 40, 40)).save(tiny)
    choose(fresh, tiny)
    assert "12x10 pixels; at least 16" in note() and "at least 16" in note("project.target_note")
    click("project.run")
    fresh.wait_tasks()
    assert "at least 16" in note("project.note") and "at least 16" in fresh.last_error
    assert not (tmp_path / "captures").exists() or not list((tmp_path / "captures").iterdir())


def test_a_big_photo_is_shown_whole_and_framed_turned(fresh, tmp_path):
    big = tmp_path / "big.jpg"
    ramp = np.linspace(0, 255, 5200, dtype=np.uint8)
    Image.fromarray(np.dstack([np.tile(ramp, (3600, 1))] * 3)).save(big, quality=80)
    choose(fresh, big)
    edit = fresh.framing.edit
    assert (edit.width, edit.height) == (5200, 3600) and edit.framing is not None
    act(fresh, "framing.angle", -15.0)
    np.testing.assert_array_equal(fresh.projector.target_pixels, expected_target(big, edit.framing))


def test_find_eyes_frames_a_cartoon_face_and_says_when_there_is_none(fresh, tmp_path):
    pytest.importorskip("cv2", reason="the optional 'faces' extra (opencv-python-headless) is not installed")
    import io

    import dearpygui.dearpygui as dpg
    from explorer.train.make_dataset import render_avatar

    png, _ = render_avatar(0, 777, 256)
    face = tmp_path / "avatar.png"
    face.write_bytes(png)
    choose(fresh, face)
    assert dpg.get_item_configuration("framing.auto")["enabled"]
    click("framing.auto")
    fresh.wait_tasks()
    fresh.run_frames(3)
    edit = fresh.framing.edit
    assert edit.mode == "eyes" and edit.framing.eyes is not None
    (lx, ly), (rx, ry), (mx, my) = edit.points
    assert 0.3 * 256 < lx < rx < 0.7 * 256 and my > max(ly, ry)
    assert "aligned on eyes" in note("project.target_note")

    sky = tmp_path / "sky.png"
    ramp = np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (150, 1))
    Image.fromarray(np.dstack([ramp, ramp[::-1], ramp])).save(sky)
    choose(fresh, sky)
    click("framing.auto")
    fresh.wait_tasks()
    fresh.run_frames(3)
    assert "no upright frontal face found" in note() and str(sky) in note()
    assert "no upright frontal face found" in fresh.last_error
    assert fresh.framing.edit.framing is not None                   # the centre square is still there
    assert Image.open(io.BytesIO(png)).size == (256, 256)


def test_without_opencv_find_eyes_is_off_and_says_how_to_get_it(fresh, monkeypatch):
    import sys

    import dearpygui.dearpygui as dpg

    monkeypatch.setitem(sys.modules, "cv2", None)
    fresh.framing._offer_detector()
    try:
        assert not dpg.get_item_configuration("framing.auto")["enabled"]
        assert "stylegan-explorer[faces]" in dpg.get_value("framing.auto_tip")
    finally:
        monkeypatch.undo()
        fresh.framing._offer_detector()


# --- tuning ------------------------------------------------------------------------------------------------
@pytest.fixture
def photo(models, tmp_path):
    """What the test model draws for seed 7, with a fine checker pattern it cannot draw: (path, pixels)."""
    image = Renderer().render(RenderState(checkpoint=models.g64, device="cpu", a=Source(seed=7))).astype(int)
    yy, xx = np.mgrid[:64, :64]
    image = np.clip(image + np.where((yy // 4 + xx // 4) % 2, 30, -30)[..., None], 0, 255).astype(np.uint8)
    path = tmp_path / "face.png"
    Image.fromarray(image).save(path)
    return path, image


def project_photo(app, path) -> None:
    choose(app, path)
    click("project.run")
    app.wait_tasks(timeout=300)
    assert app.projector.result is not None and app.projector.result.path is not None


def psnr(x, y) -> float:
    mse = np.mean((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def shown(app) -> np.ndarray:
    result = app.wait_for_render()
    assert result.error is None, result.error
    app.run_frames(1)
    return app.current_image()


def test_tune_the_generator_to_the_photo_then_use_it_and_go_back_with_one_click(fresh, models, photo, tmp_path):
    import dearpygui.dearpygui as dpg
    from explorer.io import load_generator
    from explorer.latents import load_ws
    from explorer.project.tune import read_model_card

    path, pixels = photo
    original_sha, photo_sha = sha256(models.g64), sha256(path)
    assert not dpg.get_item_configuration("tune.run")["enabled"]        # nothing projected yet
    project_photo(fresh, path)
    projected = fresh.projector.result
    fresh.run_frames(2)
    assert dpg.get_item_configuration("tune.run")["enabled"]

    seen_running, progress = False, set()
    click("tune.run")
    while fresh.tuning.running:
        fresh.run_frames(1)
        if fresh.tuning.live.steps_done > 2:
            seen_running = seen_running or (dpg.is_item_shown("tune.cancel") and "tuning to face.png" in
                                            dpg.get_item_configuration("status.progress")["overlay"])
            progress.add(round(dpg.get_value("status.progress"), 2))
    fresh.wait_tasks()
    assert seen_running and any(0 < p < 1 for p in progress)
    psnrs = dpg.get_value("tune.curve")[1]
    assert len(psnrs) == 40 and psnrs[-1] > psnrs[0] + 0.5               # the curve the user watched rose

    out = tmp_path / "captures" / "tuned-face-0001.safetensors"
    r = fresh.tuning.live.result
    assert r.path == out and r.steps_done == 40 and not r.cancelled and r.psnr_after > r.psnr_before + 0.5
    assert note("tune.note").startswith("done, 40 steps") and str(out) in note("tune.note")
    card = read_model_card(out)
    assert card["photo"] == "face.png" and card["photo_sha256"] == photo_sha
    assert card["tuned_from"] == "g64.safetensors" and card["tuned_from_sha256"] == original_sha
    assert card["framing"] == "centre square" and card["search"]["space"] == "w+"
    assert card["tuning"]["steps_done"] == 40 and card["tuning"]["psnr_after"] == pytest.approx(r.psnr_after, abs=1e-3)
    assert sha256(models.g64) == original_sha and sha256(path) == photo_sha     # never written

    # the session now renders with the tuned generator, the photo's w on A, and says so everywhere
    image = shown(fresh)
    assert fresh.state.checkpoint == str(out) and fresh.state.a.w_path == str(projected.path)
    assert fresh.info.tuned.startswith("tuned to face.png (40 steps) from g64.safetensors")
    assert "TUNED" in dpg.get_value("model.summary") and "TUNED" in dpg.get_value("view.label")
    assert "TUNED" in dpg.get_value("status.line")
    tuned = load_generator(out, device="cpu")
    pivot = load_ws(projected.path, tuned.num_ws, tuned.w_dim)
    expected = (tuned.synthesis(pivot, noise_mode="const")[0].permute(1, 2, 0) * 127.5 + 128).clamp(0, 255)
    assert np.abs(image.astype(int) - expected.to(torch.uint8).numpy().astype(int)).max() <= 2
    assert psnr(image, pixels) > projected.psnr + 0.5                 # closer to the photo than the w alone

    click("tune.original")                                            # one click back
    back = shown(fresh)
    assert fresh.state.checkpoint == models.g64 and not fresh.info.tuned
    assert "TUNED" not in dpg.get_value("status.line") and "TUNED" not in dpg.get_value("view.label")
    assert np.abs(back.astype(int) - projected.image).max() <= 2       # the projection as it was
    fresh.run_frames(2)
    assert dpg.get_item_configuration("tune.use_tuned")["enabled"]
    click("tune.use_tuned")
    shown(fresh)
    assert fresh.state.checkpoint == str(out) and fresh.info.tuned


@needs_xdotool
def test_a_photo_aligned_by_three_clicks_is_projected_tuned_and_its_card_says_how_it_was_framed(fresh, models,
                                                                                               tilted_face):
    """The whole path as a user takes it: choose, click eyes and mouth, project, tune, tuned model, back."""
    import dearpygui.dearpygui as dpg
    from explorer.app.projecting import fit_square
    from explorer.project.tune import read_model_card

    path, points = tilted_face
    choose(fresh, path)
    act(fresh, "framing.mode", "eyes + mouth")
    for p in points:
        click_at(fresh, *on_screen(fresh, p))
    framing = fresh.framing.edit.framing
    assert framing.eyes is not None
    seen = fresh.projector.target_pixels.copy()

    click("project.run")
    fresh.wait_tasks(timeout=300)
    fresh.run_frames(2)
    projected = fresh.projector.result
    assert projected.framing == framing.describe() and projected.framing.startswith("aligned on eyes")
    np.testing.assert_array_equal(fit_square(projected.target, 128), seen)    # the aligned square was projected
    left, right = centre_of(projected.target, RED), centre_of(projected.target, GREEN)
    assert abs(left[1] - right[1]) < 1.0 and left[0] < right[0]

    drive("tune.steps", 20)
    fresh.run_frames(2)
    click("tune.run")
    fresh.wait_tasks(timeout=300)
    fresh.run_frames(2)
    r = fresh.tuning.live.result
    assert r.steps_done == 20 and r.psnr_after > r.psnr_before
    card = read_model_card(r.path)
    assert card["photo"] == "tilted.png" and card["framing"] == framing.describe()
    shown(fresh)
    assert fresh.state.checkpoint == str(r.path) and "TUNED" in dpg.get_value("view.label")
    click("tune.original")
    shown(fresh)
    assert fresh.state.checkpoint == models.g64 and "TUNED" not in dpg.get_value("view.label")


def test_cancel_keeps_the_generator_tuned_so_far(fresh, photo, tmp_path, monkeypatch):
    import dearpygui.dearpygui as dpg
    from explorer.app.tuning import LiveTuning
    from explorer.project.tune import read_model_card

    path, _ = photo
    project_photo(fresh, path)
    drive("tune.steps", 10000)
    reached, release = threading.Event(), threading.Event()
    real = LiveTuning.on_step

    def on_step(live, s):
        real(live, s)
        if s.step == 5:
            reached.set()
            release.wait(60)

    monkeypatch.setattr(LiveTuning, "on_step", on_step)
    click("tune.run")
    try:
        wait_for(fresh, reached.is_set)
        fresh.run_frames(3)
        assert dpg.is_item_shown("tune.cancel") and not dpg.get_item_configuration("tune.run")["enabled"]
        click("status.cancel")
    finally:
        release.set()
    fresh.wait_tasks()
    fresh.run_frames(2)
    r = fresh.tuning.live.result
    assert r.cancelled and r.steps_done == 5 and note("tune.note").startswith("cancelled at step 5/10000")
    card = read_model_card(r.path)
    assert card["tuning"]["cancelled"] is True and card["tuning"]["steps_done"] == 5
    shown(fresh)
    assert fresh.state.checkpoint == str(r.path) and fresh.info.tuned


def test_tuning_needs_a_projection_of_the_model_on_screen(fresh, models, photo):
    path, _ = photo
    project_photo(fresh, path)
    before = fresh.tuning.live
    fresh.load_checkpoint(models.g32)
    shown(fresh)
    fresh.tuning.tune()                                                # as if the button were pressed
    assert "was projected with g64.safetensors: open that model" in fresh.last_error
    assert "open that model" in note("tune.note") and fresh.tuning.live is before
