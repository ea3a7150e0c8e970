"""A StyleGAN3 pickle (NVlabs' format) in a real Dear PyGui window, under a private Xvfb: the panels adapt to a
family with 16 w indices, levels by cutoff, no noise inputs and an input transform; the camera moves by slider
and by real mouse drags on the image; the layer viewer lists the input and every layer; walks record with a
camera path of their own; SeFa and the projector work. One App serves the module (a child process when another
module's App already holds this process's Dear PyGui context).
"""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from PIL import Image

from explorer.latents import load_ws
from explorer.render.renderer import Renderer
from explorer.render.state import Edit, RenderState, Source
from tests.helpers.gui_display import click, drag, drive, frame, xdotool
from tests.helpers.nvlabs_writer import write_nvlabs_sg3_pickle
from tests.helpers.reference_data import load_model
from tests.test_video import read_video

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def sg3(tmp_path_factory) -> str:
    model = load_model("stylegan3", "t16_cond4")      # config-T, 16 px, 4 classes (a committed fixture)
    path = tmp_path_factory.mktemp("sg3") / "stylegan3-t16.pkl"
    write_nvlabs_sg3_pickle(model.weights, model.config, path)
    return str(path)


@pytest.fixture
def fresh(app, sg3, tmp_path):
    app.wait_tasks()
    app.set_state(RenderState(checkpoint=sg3, device="cpu", a=Source(seed=1, class_idx=0),
                              b=Source(seed=2, class_idx=1)))
    app.wait_for_render()
    app.capture.set_folder(str(tmp_path / "captures"))
    app.clear_error()
    app.run_frames(2)
    assert app.info.family == "StyleGAN3" and app.info.num_ws == 16
    return app


def diff(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.abs(x.astype(np.float32) - y.astype(np.float32)).mean())


def table(app):
    return app.info.layer_table


# --- the panels adapt to the family ------------------------------------------------------------------------

def test_panels_show_what_a_stylegan3_model_has(fresh):
    import dearpygui.dearpygui as dpg

    summary = dpg.get_value("model.summary")
    assert "StyleGAN3" in summary and "noise   none" in summary and "camera" in summary
    assert "coarse  w 0-7" in summary and "middle  w 8-15" in summary            # 16 px: cutoffs 2 ... 8
    assert all(dpg.does_item_exist(f"mix.w{i}") for i in range(16)) and not dpg.does_item_exist("mix.w16")
    assert dpg.get_item_label("mix.group.coarse").startswith("coarse (cutoff 2-")
    assert "cutoff" in dpg.get_item_label("mix.w3")
    assert not dpg.is_item_shown("noise.controls") and not dpg.is_item_shown("noise.reset")
    texts = [dpg.get_value(c) for c in dpg.get_item_children("noise.body", 1)]
    assert texts == ["this model has no noise inputs"]
    assert dpg.get_item_configuration("trunc.cutoff")["max_value"] == 16
    assert dpg.is_item_shown("camera.controls") and not dpg.is_item_shown("camera.none")
    assert dpg.is_item_shown("record.camera") and not dpg.is_item_shown("record.noise_figure")


def test_the_bundled_stylegan2_model_hides_the_camera_and_shows_noise(fresh, models):
    import dearpygui.dearpygui as dpg

    fresh.load_checkpoint(models.g64)
    fresh.wait_for_render()
    fresh.run_frames(2)
    assert fresh.info.family == "StyleGAN2"
    assert not dpg.is_item_shown("camera.controls") and dpg.is_item_shown("camera.none")
    assert "no input transform" in dpg.get_value("camera.none")
    assert dpg.is_item_shown("noise.controls") and not dpg.is_item_shown("record.camera")


def test_per_w_index_and_level_sliders_mix_from_the_first_layer_they_reach(fresh):
    base = frame(fresh)
    middle = table(fresh).level_indices("middle")
    drive("mix.group.middle", 1.0)
    assert [fresh.state.mix_weight(i) for i in middle] == [1.0] * len(middle)
    mixed = frame(fresh)
    first = table(fresh).layers[table(fresh).ws[middle[0]].first_layer].name
    assert fresh.last_frame.stats.first_layer == first and diff(mixed, base) > 1
    drive("mix.w15", 0.0)                                      # the last w back to A
    frame(fresh)
    assert fresh.last_frame.stats.first_layer == table(fresh).layers[-1].name      # ToRGB alone
    click("mix.preset.a_only")
    np.testing.assert_array_equal(frame(fresh), base)


def test_truncation_with_a_cutoff_and_a_to_b_interpolation(fresh):
    base = frame(fresh)
    fresh.update_state(psi=0.0, cutoff=8)
    coarse_avg = frame(fresh)
    fresh.update_state(psi=0.0, cutoff=None)
    avg = frame(fresh)
    assert diff(coarse_avg, base) > 1 and diff(avg, coarse_avg) > 1
    fresh.update_state(psi=1.0)
    drive("latents.t", 1.0)
    b = Renderer().render(fresh.state.replace(a=fresh.state.b, t=0.0), fit=True)
    np.testing.assert_array_equal(frame(fresh), b)


# --- the camera --------------------------------------------------------------------------------------------

def test_camera_sliders_move_the_picture_and_reset(fresh):
    base = frame(fresh)
    drive("camera.tx", 0.25)
    assert fresh.state.translate == (0.25, 0.0)
    moved = frame(fresh)
    assert fresh.last_frame.stats.first_layer == "input"
    assert diff(moved[:, 4:], base[:, :-4]) < 0.3 * diff(moved, base)                # 4 px (a quarter) right
    drive("camera.rotate", 90.0)
    assert fresh.state.rotate == 90.0 and diff(frame(fresh), moved) > 2
    click("camera.reset")
    assert fresh.state.translate == (0.0, 0.0) and fresh.state.rotate == 0.0
    np.testing.assert_array_equal(frame(fresh), base)


def _image_rect(app):
    import dearpygui.dearpygui as dpg

    app.run_frames(3)
    (x, y), (w, h) = dpg.get_item_rect_min("view.image"), dpg.get_item_rect_size("view.image")
    assert w > 100 and h > 100, "the image must be on screen"
    return x, y, w, h


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_dragging_on_the_image_moves_and_turns_the_picture(fresh):
    base = frame(fresh)
    x, y, w, h = _image_rect(fresh)
    cx, cy = x + w // 2, y + h // 2
    drag(fresh, cx - w // 8, cx + w // 8, cy)                  # left button, a quarter of the width to the right
    tx, ty = fresh.state.translate
    assert 0.2 < tx < 0.3 and abs(ty) < 0.02
    assert diff(frame(fresh), base) > 2

    click("camera.reset")
    frame(fresh)
    r = w // 4                                                 # right button, a quarter turn counterclockwise
    xdotool("mousemove", str(cx + r), str(cy))
    fresh.run_frames(2)
    xdotool("mousedown", "3")
    fresh.run_frames(2)
    for k in range(1, 7):
        a = math.radians(90 * k / 6)
        xdotool("mousemove", str(int(cx + r * math.cos(a))), str(int(cy - r * math.sin(a))))
        fresh.run_frames(2)
    xdotool("mouseup", "3")
    fresh.run_frames(3)
    assert 80 < fresh.state.rotate < 100 and fresh.state.translate == (0.0, 0.0)
    turned = frame(fresh).mean(-1)
    grey = base.mean(-1)
    assert diff(turned, np.rot90(grey, 1)) < diff(turned, np.rot90(grey, -1))
    click("camera.reset")


# --- the layer viewer, directions, recording, the projector ----------------------------------------------

def test_layer_viewer_lists_the_input_and_every_layer(fresh):
    import dearpygui.dearpygui as dpg

    frame(fresh)
    items = dpg.get_item_configuration("layers.layer")["items"]
    names = [label.split()[0] for label in items]
    assert names == [layer.name for layer in table(fresh).layers] and names[0] == "input" and len(names) == 16
    for label in (items[0], items[-1]):
        drive("layers.layer", label)
        fresh.run_frames(2)
        assert fresh.layer_viewer.pixels.std() > 5, label      # the frame's own activations, not blank


def test_sefa_direction_slider_changes_the_frame(fresh):
    base = frame(fresh)
    fresh.directions.select_source("sefa")
    fresh.directions.select_layers("all")
    fresh.directions.wait()
    drive("dirs.d0", 2.5)
    assert fresh.state.edits == (Edit("sefa", 0, 2.5, "all"),)
    assert diff(frame(fresh), base) > 2
    drive("dirs.d0", 0.0)


def test_a_walk_records_with_a_camera_path_of_its_own(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    fresh.update_state(translate=(0.0, 0.0), rotate=0.0)
    click("record.add_camera")
    fresh.update_state(rotate=60.0)
    click("record.add_camera")
    assert dpg.get_value("record.camera_mode") == "camera keyframes" and len(fresh.record.camera_keys) == 2
    assert "(+0.00, +0.00, +60 deg)" in dpg.get_value("record.camera_list")
    drive("record.keys", "A -> B")
    drive("record.frames", 4)
    out = tmp_path / "walk.gif"
    dpg.set_value("record.walk_path", str(out))
    click("record.walk")
    fresh.wait_tasks()
    frames = read_video(out)
    assert frames.shape[0] == 5
    r = Renderer()
    start = r.render(fresh.state.replace(rotate=0.0, t=0.0), fit=True)
    end = r.render(fresh.state.replace(a=fresh.state.b, rotate=60.0, t=0.0), fit=True)
    assert diff(frames[0], start) < 0.3 * diff(frames[0], end)
    assert diff(frames[-1], end) < 0.3 * diff(frames[-1], start)
    click("record.clear_camera")
    drive("record.camera_mode", "camera still")


def test_the_projector_panel_finds_a_w_plus_without_noise_maps_and_uses_it_as_a(fresh, tmp_path):
    target = Renderer().render(fresh.state.replace(a=Source(seed=9, class_idx=0)), fit=True)
    photo = tmp_path / "photo.png"
    Image.fromarray(target).save(photo)
    for tag, value in (("project.steps", 25), ("project.space", "W+"), ("project.loss", "pixel (L2)"),
                       ("project.auto", False)):
        drive(tag, value)
    drive("project.path", str(photo))
    fresh.wait_tasks()
    click("project.run")
    fresh.wait_tasks()
    saved = sorted((tmp_path / "captures").glob("projected_w-photo-*.npz"))
    assert len(saved) == 1
    with np.load(saved[0]) as d:
        assert d.files == ["w"] and d["w"].shape == (1, 16, 128)
    click("project.use_a")
    shown = frame(fresh)
    assert fresh.state.a.w_path == str(saved[0].resolve())
    start = Renderer().render(fresh.state.replace(a=Source(seed=1, class_idx=0)), fit=True)
    assert diff(shown, target) < diff(start, target)
    assert load_ws(saved[0], 16, 128).shape == (1, 16, 128)
