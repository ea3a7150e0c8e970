"""The desktop app in a real Dear PyGui window (under a private Xvfb): every panel driven as a user would.

Panels are driven in-process (set an item's value, fire its callback); one test drags a slider and one
presses keys with real X events through xdotool. Frames are checked for the change each control must make.
One App serves the whole module: Dear PyGui cannot create a second context in a process.
"""
from __future__ import annotations

import json
import shutil
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.render.state import RenderState, Source
from tests.conftest import make_generator
from tests.helpers.gui_display import click, drag, drive, frame, xdotool

pytestmark = pytest.mark.gui


# --- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture
def fresh(app, models):
    """The app back on the 64 px model, seeds 1 and 2, everything else at its default."""
    app.set_animating(False)
    app.set_state(RenderState(checkpoint=models.g64, device="cpu", a=Source(seed=1), b=Source(seed=2)))
    app.wait_for_render()
    app.clear_error()
    app.run_frames(1)
    assert app.info.resolution == 64 and app.last_frame.state == app.state
    return app


def diff(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.abs(x - y).mean())


def blur(x: np.ndarray, k: int = 8) -> np.ndarray:
    h, w, c = x.shape
    return x.reshape(h // k, k, w // k, k, c).mean(axis=(1, 3))


# --- model panel ---------------------------------------------------------------------------------------------
def test_app_opens_the_model_and_summarises_its_layers(fresh):
    import dearpygui.dearpygui as dpg

    assert fresh.current_image().shape == (64, 64, 3)
    summary = dpg.get_value("model.summary")
    assert "64 px, num_ws 10" in summary
    assert "coarse  w 0-3" in summary and "middle  w 4-7" in summary and "fine    w 8-9" in summary
    fresh.run_frames(2)
    status = dpg.get_value("status.line")
    assert "render" in status and "ms" in status and "cpu" in status and "fps" in status
    assert "from b4.conv1 (layer 1/14)" in status   # the first frame runs every layer
    assert fresh.ui_fps > 0


def test_loading_another_resolution_rebuilds_panels_and_texture(fresh, models):
    import dearpygui.dearpygui as dpg

    dpg.set_value("model.path", models.g32)
    click("model.load")
    frame(fresh)
    assert fresh.info.resolution == 32 and fresh.current_image().shape == (32, 32, 3)
    assert fresh.view.texture_size == (32 * fresh.view.zoom, 32 * fresh.view.zoom)
    assert dpg.does_item_exist("mix.w7") and not dpg.does_item_exist("mix.w8")
    assert not dpg.does_item_exist("mix.group.fine")          # 32 px has no fine level
    assert models.g64 in fresh.recent.items and models.g32 in fresh.recent.items
    assert models.g64 in dpg.get_item_configuration("model.recent")["items"]
    drive("model.recent", models.g64)                          # back through the recent list
    frame(fresh)
    assert fresh.info.resolution == 64 and dpg.does_item_exist("mix.w9")


def _tip(tag: str) -> str:
    import dearpygui.dearpygui as dpg

    (text,) = [dpg.get_value(t) for t in dpg.get_item_children(f"{tag}.tip", 1)]
    return text


def test_controls_a_model_brings_have_tooltips_that_follow_the_model(fresh, models):
    import dearpygui.dearpygui as dpg

    for i, slot in enumerate(fresh.info.ws):
        assert _tip(f"mix.w{i}").startswith(f"w index {i}, {slot.level} ({slot.caption}): 0 takes it from A")
    assert _tip("mix.group.coarse").startswith("Every coarse w index (0-3) at once")
    for layer in fresh.info.noise_layers:
        assert _tip(f"noise.scale.{layer.index}").startswith(f"Strength of {layer.name}'s noise")
    assert "at 16 px" in _tip("noise.res.16")
    dpg.set_value("model.path", models.g32)          # another model: the tips are rebuilt with its controls
    click("model.load")
    frame(fresh)
    assert fresh.info.resolution == 32 and "w index 7" in _tip("mix.w7") and not dpg.does_item_exist("mix.w9.tip")
    dpg.set_value("model.path", models.g64)
    click("model.load")
    frame(fresh)
    assert "w index 9, fine" in _tip("mix.w9")


def test_model_panel_opens_nvlabs_pickles_and_rosinality_checkpoints(fresh, tmp_path):
    import dearpygui.dearpygui as dpg
    from tests.helpers.nvlabs_writer import write_nvlabs_pickle
    from tests.helpers.rosinality_reference import random_checkpoint

    write_nvlabs_pickle(make_generator(3), tmp_path / "network-snapshot.pkl")
    torch.save(random_checkpoint(size=16), tmp_path / "rosinality.pt")
    for name, kind in (("network-snapshot.pkl", "NVlabs pickle"), ("rosinality.pt", "rosinality")):
        dpg.set_value("model.path", str(tmp_path / name))
        click("model.load")
        frame(fresh)
        assert fresh.info.path == str(tmp_path / name)
        assert kind in dpg.get_value("model.summary")


def test_model_panel_opens_a_tensorflow_stylegan_v1_pickle_and_the_panels_drive_it(fresh, tmp_path):
    import dearpygui.dearpygui as dpg
    from tests.helpers.tf_writer import write_fixture_pickle

    write_fixture_pickle("sg1_r32_cond3_fused", tmp_path / "karras2019.pkl")   # NVlabs' G_style, 32 px, 3 classes
    assert not dpg.is_item_shown("trunc.model_default")          # the StyleGAN2 model carries no truncation
    dpg.set_value("model.path", str(tmp_path / "karras2019.pkl"))
    click("model.load")
    a = frame(fresh)
    summary = dpg.get_value("model.summary")
    assert "StyleGAN (v1), NVlabs TensorFlow pickle" in summary and "32 px, num_ws 8" in summary
    assert dpg.does_item_exist("mix.w7") and not dpg.does_item_exist("mix.w8")
    drive("mix.group.middle", 1.0)
    assert diff(frame(fresh), a) > 1
    label = next(l for l in dpg.get_item_configuration("layers.layer")["items"] if l.startswith("b4.input"))
    drive("layers.layer", label)
    fresh.run_frames(2)
    assert fresh.layer_viewer.pixels.std() > 5                   # the constant's styled output, not blank
    fresh.run_frames(1)
    assert dpg.is_item_shown("trunc.model_default") and "psi 0.6, w < 4" in dpg.get_item_label("trunc.model_default")
    click("trunc.model_default")                                 # what this pickle's G_style was built with
    assert (fresh.state.psi, fresh.state.cutoff) == (0.6, 4)


def test_bad_checkpoint_shows_its_error_and_keeps_the_previous_model(fresh, models):
    import dearpygui.dearpygui as dpg

    before = frame(fresh)
    dpg.set_value("model.path", models.bad)
    click("model.load")
    fresh.wait_for_render()
    fresh.run_frames(2)
    assert fresh.state.checkpoint == models.g64 and fresh.info.path == models.g64
    assert dpg.is_item_shown("model.error") and "broken.safetensors" in dpg.get_value("model.error")
    assert "broken.safetensors" in dpg.get_value("status.error")
    np.testing.assert_array_equal(fresh.current_image(), before)
    click("latents.a.plus")                                    # still alive and rendering
    assert diff(frame(fresh), before) > 1


@pytest.mark.parametrize("case", ["fifo", "symlink_loop", "native_config_nested_100k_deep", "stride0_tensor_690_bytes",
                                  "nvlabs_self_referencing_module", "pickle_runs_os_system"])
def test_a_hostile_checkpoint_shows_the_clis_line_and_the_app_keeps_working(fresh, tmp_path, case):
    """The status bar says what `explorer info` says; a FIFO no longer stops the render worker."""
    import dearpygui.dearpygui as dpg

    from tests.test_hostile_inputs import CANARY, CASES, run_cli

    path = CASES[case].build(tmp_path)
    status, stderr, _, _ = run_cli(["info", str(path)])
    assert status == 1
    line = stderr.strip().removeprefix("explorer info: error: ")
    before = frame(fresh)
    dpg.set_value("model.path", str(path))
    click("model.load")
    fresh.wait_for_render(timeout=30)
    fresh.run_frames(2)
    assert dpg.get_value("status.error") == line                            # in full, a click away
    assert line.startswith(dpg.get_item_label("status.error_button").removeprefix("error: ").removesuffix("... (click)"))
    assert fresh.state.checkpoint == fresh.info.path != str(path)          # the previous model stays
    np.testing.assert_array_equal(fresh.current_image(), before)
    assert not (tmp_path / CANARY).exists()
    click("latents.a.plus")                                                 # and the worker still renders
    assert diff(frame(fresh), before) > 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_choosing_a_missing_device_reports_it_and_keeps_rendering_on_the_cpu(fresh):
    drive("model.device", "cuda")
    fresh.wait_for_render()
    assert fresh.state.device == "cpu"
    assert "cuda" in fresh.last_error.lower()
    drive("model.precision", "fp32")
    frame(fresh)
    assert fresh.state.precision == "fp32"


def test_conditional_model_gets_a_class_per_source(fresh, models):
    import dearpygui.dearpygui as dpg

    fresh.load_checkpoint(models.cond)
    first = frame(fresh)
    assert fresh.info.c_dim == 3 and fresh.state.a.class_idx == 0 and dpg.is_item_shown("latents.a.class")
    drive("latents.a.class", 2)
    assert fresh.state.a.class_idx == 2
    assert diff(frame(fresh), first) > 1


# --- latents panel -------------------------------------------------------------------------------------------
def test_seed_buttons_step_and_randomise_the_seeds(fresh):
    seed1 = frame(fresh)
    click("latents.a.plus")
    assert fresh.state.a.seed == 2
    assert diff(frame(fresh), seed1) > 5
    click("latents.a.minus")
    np.testing.assert_array_equal(frame(fresh), seed1)
    click("latents.b.random")
    assert fresh.state.b.seed != 2
    drive("latents.b.seed", 7)
    assert fresh.state.b.seed == 7


def test_t_slider_goes_from_a_to_b_by_w_lerp_or_z_slerp(fresh):
    a = frame(fresh)
    click("mix.preset.b_only")
    b = frame(fresh)
    click("mix.preset.a_only")
    drive("latents.t", 1.0)
    np.testing.assert_array_equal(frame(fresh), b)
    drive("latents.t", 0.5)
    mid_w = frame(fresh)
    drive("latents.space", "Z slerp")
    assert fresh.state.interp_space == "z"
    mid_z = frame(fresh)
    assert diff(mid_w, a) > 5 and diff(mid_w, b) > 5 and diff(mid_w, mid_z) > 1


def test_animate_toggle_moves_t_and_renders_new_frames(fresh):
    drive("latents.animate", True)
    assert fresh.animating
    fresh.run_frames(20)
    assert 0 < fresh.state.t <= 1
    drive("latents.animate", False)
    t = fresh.state.t
    fresh.run_frames(5)
    assert fresh.state.t == t
    assert fresh.wait_for_render().state.t == t


def test_saved_w_loads_back_as_source_a_and_gives_the_same_frame(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    fresh.update_state(psi=0.7, b=Source(seed=5))
    click("mix.preset.b_coarse")
    wanted = frame(fresh)
    path = fresh.capture.save_w(tmp_path / "w.npz")
    fresh.wait_tasks()
    assert np.load(path)["w"].shape == (1, 10, 64)
    fresh.update_state(psi=1.0, mix=(), a=Source(seed=40))
    assert diff(frame(fresh), wanted) > 5
    dpg.set_value("latents.a.w_path", str(path))
    click("latents.a.load_w")
    assert fresh.state.a.w_path == str(path)
    assert np.abs(frame(fresh) - wanted).max() <= 1
    assert dpg.get_value("latents.a.source") == "w from w.npz[0]"
    click("latents.a.use_seed")
    assert fresh.state.a.w_path is None


def test_w_file_of_the_wrong_shape_is_refused_with_a_message(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    np.savez(tmp_path / "other.npz", w=np.zeros((1, 10, 512), np.float32))
    dpg.set_value("latents.b.w_path", str(tmp_path / "other.npz"))
    click("latents.b.load_w")
    assert fresh.state.b.w_path is None
    assert "other.npz" in fresh.last_error and "512" in fresh.last_error


# --- style mixing --------------------------------------------------------------------------------------------
def test_mixing_sliders_are_labelled_with_resolution_and_grouped(fresh):
    import dearpygui.dearpygui as dpg
    from widgets.style import level_theme

    assert "4 px" in dpg.get_item_label("mix.w0") and "64 px" in dpg.get_item_label("mix.w9")
    assert dpg.get_item_theme("mix.w0") == level_theme("coarse")
    assert dpg.get_item_theme("mix.w5") == level_theme("middle")
    assert dpg.get_item_theme("mix.w8") == level_theme("fine")
    drive("mix.group.middle", 1.0)
    assert [fresh.state.mix_weight(i) for i in range(10)] == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    drive("mix.w8", 0.5)
    assert fresh.state.mix_weight(8) == 0.5
    fresh.run_frames(1)
    assert dpg.get_value("mix.group.fine") == pytest.approx(0.25)


def test_b_fine_preset_takes_colours_from_b_but_keeps_the_layout_of_a(fresh):
    a = frame(fresh)
    click("mix.preset.b_only")
    b = frame(fresh)
    click("mix.preset.b_fine")
    assert [fresh.state.mix_weight(i) for i in range(10)] == [0] * 8 + [1, 1]
    fine = frame(fresh)
    assert diff(fine, a) > 5                                   # the colours changed...
    assert diff(blur(fine), blur(a)) < 0.5 * diff(blur(fine), blur(b))   # ...the coarse layout stayed A's
    click("mix.preset.b_coarse")
    coarse = frame(fresh)
    assert diff(blur(coarse), blur(a)) > diff(blur(fine), blur(a))


# --- noise ---------------------------------------------------------------------------------------------------
def test_switching_noise_off_at_every_resolution_equals_noise_mode_none(fresh):
    drive("noise.mode", "none")
    no_noise = frame(fresh)
    drive("noise.mode", "const")
    with_noise = frame(fresh)
    assert diff(with_noise, no_noise) > 0.1
    for res in fresh.info.noise_resolutions:
        drive(f"noise.res.{res}", False)
    assert fresh.state.noise_off_res == (4, 8, 16, 32, 64)
    np.testing.assert_array_equal(frame(fresh), no_noise)


def test_noise_scale_sliders_and_random_seed_change_the_frame(fresh):
    import dearpygui.dearpygui as dpg

    assert all(dpg.does_item_exist(f"noise.scale.{n.index}") for n in fresh.info.noise_layers)
    base = frame(fresh)
    last = fresh.info.noise_layers[-1]
    drive(f"noise.scale.{last.index}", 2.0)
    assert fresh.state.noise_scale(last.index) == 2.0
    assert diff(frame(fresh), base) > 0.1
    for layer in fresh.info.noise_layers:
        drive(f"noise.scale.{layer.index}", 0.0)
    drive("noise.mode", "none")
    no_noise = frame(fresh)
    drive("noise.mode", "const")
    np.testing.assert_array_equal(frame(fresh), no_noise)      # every scale 0 = no noise contribution
    click("noise.reset")
    drive("noise.mode", "random")
    drive("noise.seed", 3)
    r3 = frame(fresh)
    drive("noise.seed", 4)
    assert diff(frame(fresh), r3) > 0.1
    drive("noise.seed", 3)
    np.testing.assert_array_equal(frame(fresh), r3)


# --- truncation ----------------------------------------------------------------------------------------------
def test_psi_zero_gives_the_average_image_for_every_seed_and_cutoff_limits_it(fresh):
    drive("trunc.psi", 0.0)
    avg = frame(fresh)
    click("latents.a.plus")
    np.testing.assert_array_equal(frame(fresh), avg)
    drive("trunc.use_cutoff", True)
    drive("trunc.cutoff", 4)
    assert fresh.state.cutoff == 4
    assert diff(frame(fresh), avg) > 1                         # the fine layers are the seed's again
    drive("trunc.use_cutoff", False)
    assert fresh.state.cutoff is None


# --- capture -------------------------------------------------------------------------------------------------
def test_saved_png_carries_its_state_and_a_json_beside_it(fresh, tmp_path):
    drive("capture.dir", str(tmp_path))
    fresh.update_state(psi=0.6)
    shown = frame(fresh)
    click("capture.save_image")
    fresh.wait_tasks()
    pngs = list(tmp_path.glob("*.png"))
    assert len(pngs) == 1
    with Image.open(pngs[0]) as im:
        assert RenderState.from_json(im.text["explorer.render_state"]) == fresh.state
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), shown.astype(np.uint8))
    assert RenderState.load(pngs[0].with_suffix(".json")) == fresh.state
    click("capture.save_image")
    fresh.wait_tasks()
    assert len(list(tmp_path.glob("*.png"))) == 2              # never overwrites
    click("capture.save_image")
    click("capture.save_image")                                # the second before the first is written
    fresh.wait_tasks()
    assert len(list(tmp_path.glob("*.png"))) == 4


def test_session_saves_and_loads_the_whole_state(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    fresh.update_state(psi=0.4, t=0.3, noise_mode="random", noise_seed=9)
    click("mix.preset.b_middle")
    saved = fresh.state
    dpg.set_value("capture.session", str(tmp_path / "s.json"))
    click("capture.save_session")
    assert json.loads((tmp_path / "s.json").read_text())["psi"] == 0.4
    fresh.update_state(psi=1.0, t=0.0, mix=())
    click("capture.load_session")
    assert fresh.state == saved
    frame(fresh)
    fresh.run_frames(1)
    assert dpg.get_value("trunc.psi") == pytest.approx(0.4) and dpg.get_value("noise.mode") == "random"


# --- status, responsiveness, window ------------------------------------------------------------------------------
def test_progress_api_shows_a_bar_that_can_be_cancelled(fresh):
    import dearpygui.dearpygui as dpg

    task = fresh.begin_task("projecting", cancellable=True)
    fresh.set_progress(0.25)
    fresh.run_frames(2)
    assert dpg.is_item_shown("status.task") and dpg.get_value("status.progress") == pytest.approx(0.25)
    assert "projecting" in dpg.get_item_configuration("status.progress")["overlay"]
    click("status.cancel")
    assert task.cancelled
    fresh.end_task(task)
    fresh.run_frames(1)
    assert not dpg.is_item_shown("status.task")


def test_ui_keeps_drawing_while_a_frame_renders(fresh, monkeypatch):
    import dearpygui.dearpygui as dpg

    gate = threading.Event()
    real_render = fresh.engine.render
    monkeypatch.setattr(fresh.engine, "render", lambda state: gate.wait(30) and real_render(state))
    fresh.update_state(psi=0.5)
    try:
        start = fresh._frame_no
        fresh.run_frames(10)                                    # returns although the render is held
        assert fresh._frame_no == start + 10 and fresh.worker_busy
        assert "rendering" in dpg.get_value("status.line")
        drive("trunc.psi", 0.25)                               # and still takes input
        assert fresh.state.psi == 0.25
    finally:
        gate.set()
    frame(fresh)


def test_pixel_exact_shows_the_frame_at_integer_zoom(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    image = frame(fresh).astype(np.uint8)
    drive("view.exact", True)
    shot = fresh.screenshot(tmp_path / "window.png")
    assert shot.shape == (800, 1280, 3) and (tmp_path / "window.png").exists()
    assert shot.std() > 20                                     # not blank
    z = fresh.view.zoom
    assert z >= 2 and fresh.view.shown[2:] == (64 * z, 64 * z)
    x, y = dpg.get_item_rect_min("view.image")
    crop = shot[y:y + 64 * z, x:x + 64 * z].astype(int)
    expected = np.repeat(np.repeat(image, z, axis=0), z, axis=1).astype(int)
    assert np.abs(crop - expected).max() <= 2                  # crisp pixels, exactly the frame
    fresh.view.set_pixel_exact(None)


def test_a_small_model_fills_the_picture_area_smoothly_by_default(fresh):
    import dearpygui.dearpygui as dpg

    image = frame(fresh).astype(np.uint8)
    shot = fresh.screenshot()
    assert not dpg.get_value("view.exact") and not fresh.view.exact   # 64 px in ~800 px: smooth
    (aw, ah), (x, y, w, h) = dpg.get_item_rect_size("view.area"), fresh.view.shown
    assert w == h and min(aw, ah) - 16 <= w <= min(aw, ah)     # fills the area's short side, square kept
    assert fresh.view.texture_size == (64, 64)                  # the GPU scales the frame itself
    x, y = dpg.get_item_rect_min("view.image")
    crop = shot[y:y + h, x:x + w].astype(float)
    smooth = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR)).astype(float)
    blocky = np.asarray(Image.fromarray(image).resize((w, h), Image.NEAREST)).astype(float)
    assert np.abs(crop - smooth).mean() < 0.5 * np.abs(crop - blocky).mean()   # bilinear, not blocks
    assert np.abs(crop - smooth).mean() < 3


def test_the_picture_follows_the_window_size_and_keeps_its_aspect(fresh):
    import dearpygui.dearpygui as dpg
    from widgets.layout import column_width

    frame(fresh)
    try:
        for width, height in ((1000, 640), (1280, 720), (1500, 950)):
            dpg.set_viewport_width(width)
            dpg.set_viewport_height(height)
            fresh.run_frames(4)
            (aw, ah), (x, y, w, h) = dpg.get_item_rect_size("view.area"), fresh.view.shown
            assert w == h and min(aw, ah) - 16 <= w <= min(aw, ah), (width, height, aw, ah, w)
            ix, iy = dpg.get_item_rect_min("view.image")
            assert ix + w <= width and iy + h <= height                        # the whole picture is on screen
            sx, sy = dpg.get_item_rect_min("status.line")
            assert sy + dpg.get_item_rect_size("status.line")[1] <= height     # the status line stays on screen
            assert dpg.get_item_width("controls") == column_width(width) < width - w
    finally:
        dpg.set_viewport_width(1280)
        dpg.set_viewport_height(800)
        fresh.run_frames(4)


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_dragging_the_t_slider_with_the_mouse_moves_t_and_the_frame(fresh):
    import dearpygui.dearpygui as dpg

    before = frame(fresh)
    fresh.run_frames(2)
    (x, y), (_, h) = dpg.get_item_rect_min("latents.t"), dpg.get_item_rect_size("latents.t")
    width = dpg.get_item_width("latents.t")
    assert 0 < y < 800, "slider must be on screen"
    drag(fresh, x + 4, x + 4 + int(0.6 * width), y + h // 2)
    assert 0.45 < fresh.state.t < 0.75
    assert diff(frame(fresh), before) > 2


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_keyboard_arrows_space_and_ctrl_s_with_real_key_events(fresh, tmp_path):
    fresh.capture.set_folder(str(tmp_path))
    x, y = 900, 400                                             # over the image: no text box has the keyboard
    xdotool("mousemove", str(x), str(y))
    fresh.run_frames(2)
    xdotool("key", "Right")
    fresh.run_frames(4)
    assert fresh.state.a.seed == 2
    xdotool("key", "Left", "Left")
    fresh.run_frames(8)                                         # Dear PyGui takes one key event a frame
    assert fresh.state.a.seed == 0
    xdotool("key", "space")
    fresh.run_frames(4)
    assert fresh.animating
    xdotool("key", "space")
    fresh.run_frames(4)
    assert not fresh.animating
    frame(fresh)
    xdotool("key", "ctrl+s")
    fresh.run_frames(6)
    fresh.wait_tasks()
    assert len(list(tmp_path.glob("*.png"))) == 1


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_at_1280x720_each_group_is_one_real_click_away_and_every_panel_reachable(fresh):
    import dearpygui.dearpygui as dpg
    from widgets.layout import GROUPS, PANELS

    dpg.set_viewport_height(720)
    try:
        fresh.run_frames(4)
        for header in ("header.LatentsPanel", "header.TruncationPanel", "header.MixingPanel"):
            assert dpg.get_value(header)                            # what a user works with most starts open
        for group in GROUPS:
            (x, y), (w, h) = dpg.get_item_rect_min(f"group.{group}"), dpg.get_item_rect_size(f"group.{group}")
            xdotool("mousemove", str(x + w // 2), str(y + h // 2))
            fresh.run_frames(2)
            xdotool("mousemove_relative", "--", "1", "0")
            fresh.run_frames(2)
            xdotool("click", "1")
            fresh.run_frames(4)
            assert fresh.layout.group == group
            for slot in PANELS:
                panel = getattr(fresh, slot.name)
                assert dpg.is_item_shown(f"controls.{slot.group}") == (slot.group == group)
                if slot.group == group and slot is next(s for s in PANELS if s.group == group):
                    assert dpg.is_item_visible(panel.header)         # the group's first panel, at the top
        for slot in PANELS:                                          # every panel, however far down its column
            panel = getattr(fresh, slot.name)
            fresh.reveal(panel)
            fresh.run_frames(4)
            y = dpg.get_item_rect_min(panel.header)[1]
            assert dpg.is_item_visible(panel.header) and 0 < y < 720 - 20, slot.name
            assert dpg.get_value(panel.header)                       # open
    finally:
        fresh.layout.select("Explore")
        dpg.set_viewport_height(800)
        fresh.run_frames(4)


def test_the_status_is_one_line_and_the_full_error_is_a_click_away(fresh):
    import dearpygui.dearpygui as dpg

    fresh.run_frames(2)
    line_h = dpg.get_item_rect_size("status.line")[1]
    assert not dpg.is_item_shown("status.error_button")
    long = "weights.pkl: " + "the file ends before the tensor it declares; " * 8 + "END"
    fresh.show_error("first.pkl: not a checkpoint")
    fresh.show_error(long)
    fresh.run_frames(3)
    assert dpg.is_item_shown("status.error_button")
    label = dpg.get_item_label("status.error_button")
    assert label.startswith("error: weights.pkl") and "END" not in label       # cut to the room left...
    assert dpg.get_item_rect_size("status")[1] <= line_h + 8                   # ...on one line
    assert not dpg.is_item_shown("status.details")
    click("status.error_button")
    fresh.run_frames(2)
    assert dpg.is_item_shown("status.details") and dpg.get_value("status.error") == long   # in full
    assert "first.pkl: not a checkpoint" in dpg.get_value("status.earlier")    # and the one before it
    click("status.clear")
    fresh.run_frames(2)
    assert fresh.last_error is None and not dpg.is_item_shown("status.error_button")
    assert not dpg.is_item_shown("status.details")


def test_a_second_app_in_the_same_process_is_refused(app):
    from widgets.app import App

    with pytest.raises(RuntimeError, match="one App per process"):
        App()


def test_keyboard_shortcuts_pause_while_typing_in_a_text_box(fresh):
    import dearpygui.dearpygui as dpg
    from widgets import keyboard

    fresh.typing = lambda: True
    try:
        assert not keyboard.handle_key(fresh, dpg.mvKey_Right, ctrl=False)
    finally:
        del fresh.typing
    assert keyboard.handle_key(fresh, dpg.mvKey_Right, ctrl=False) and fresh.state.a.seed == 2


def _texts(item: str) -> list[str]:
    """Every text inside `item` (a window, a table), depth first."""
    import dearpygui.dearpygui as dpg

    out = [dpg.get_value(item)] if dpg.get_item_type(item).endswith("mvText") else []
    for slot in dpg.get_item_children(item).values():
        for child in slot:
            out += _texts(child)
    return out


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_f1_and_the_question_mark_open_the_help_with_every_shortcut_and_control(fresh):
    import dearpygui.dearpygui as dpg
    from widgets.help import TIPS
    from widgets.keyboard import SHORTCUTS

    xdotool("mousemove", "900", "400")                        # over the picture: no text box has the keyboard
    fresh.run_frames(2)
    assert not dpg.is_item_shown("help.window")
    xdotool("key", "F1")
    fresh.run_frames(4)
    assert dpg.is_item_shown("help.window")
    fresh.run_frames(2)
    assert dpg.is_item_visible("help.keys")
    keys = _texts("help.keys")
    assert all(s.label in keys and s.does in keys for s in SHORTCUTS)
    controls = _texts("help.window")
    assert all(text in controls for tips in TIPS.values() for text in tips.values())
    assert "pixel exact" in controls and "psi" in controls        # each control named by its label
    xdotool("key", "F1")                                          # the same key closes it
    fresh.run_frames(4)
    assert not dpg.is_item_shown("help.window")
    xdotool("key", "question")
    fresh.run_frames(4)
    assert dpg.is_item_shown("help.window")
    click("help.close")
    fresh.run_frames(2)
    assert not dpg.is_item_shown("help.window")
    click("view.help")                                            # and a button above the picture
    fresh.run_frames(2)
    assert dpg.is_item_shown("help.window")
    click("help.close")


def test_every_tip_is_a_tooltip_on_a_control_the_window_has(fresh):
    import dearpygui.dearpygui as dpg
    from widgets.help import TIPS

    for tips in TIPS.values():
        for tag, text in tips.items():
            assert dpg.does_item_exist(tag), f"a tip for {tag}, which the window does not have"
            tip = f"{tag}.tip"
            assert dpg.get_item_type(tip).endswith("mvTooltip") and dpg.get_item_parent(tip) is not None
            assert [dpg.get_value(t) for t in dpg.get_item_children(tip, 1)] == [text]
