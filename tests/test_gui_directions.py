"""The Directions panel and the layer viewer in a real Dear PyGui window (under a private Xvfb).

Driven in-process as a user would (set an item's value, fire its callback); frames and the viewer's texture
are checked for the change each control must make. One App serves the whole module.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from explorer.directions import sefa_directions
from explorer.render.state import Edit, RenderState, Source
from tests.helpers.gui_display import click, drag, drive, frame

pytestmark = pytest.mark.gui


@pytest.fixture
def fresh(app, models):
    """The 64 px model, seeds 1 and 2, no edits; the Directions panel on SeFa over all layers."""
    app.set_state(RenderState(checkpoint=models.g64, device="cpu", a=Source(seed=1), b=Source(seed=2)))
    app.wait_for_render()
    app.directions.select_source("sefa")
    app.directions.select_layers("all")
    app.directions.wait()
    app.clear_error()
    app.run_frames(1)
    assert app.info.resolution == 64 and app.directions.shown.source == "sefa"
    return app


def diff(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.abs(x - y).mean())


# --- directions panel ------------------------------------------------------------------------------------------
def test_sliders_are_labelled_with_rank_and_eigenvalue(fresh, models):
    import dearpygui.dearpygui as dpg

    _, evals = sefa_directions(models.G, "all", k=10)
    for i in range(10):
        assert dpg.get_item_label(f"dirs.d{i}") == f"#{i}  eig {evals[i]:.2f}"
    assert not dpg.does_item_exist("dirs.d10")
    assert "SeFa: 64 directions on w 0-9 (all)" in dpg.get_value("dirs.note")


def test_each_direction_slider_says_what_it_moves(fresh, models):
    import dearpygui.dearpygui as dpg

    _, evals = sefa_directions(models.G, "all", k=10)
    for i in range(10):
        (text,) = [dpg.get_value(t) for t in dpg.get_item_children(f"dirs.d{i}.tip", 1)]
        assert f"direction #{i} (SeFa eigenvalue {evals[i]:.2f}) on w indices 0-9 (all)" in text


def test_moving_a_direction_slider_changes_the_frame_and_the_state(fresh):
    import dearpygui.dearpygui as dpg

    base = frame(fresh)
    drive("dirs.d0", 2.0)
    assert fresh.state.edits == (Edit("sefa", 0, 2.0, "all"),)
    moved = frame(fresh)
    assert diff(moved, base) > 2
    drive("dirs.d3", -1.5)
    assert fresh.state.edits == (Edit("sefa", 0, 2.0, "all"), Edit("sefa", 3, -1.5, "all"))
    assert diff(frame(fresh), moved) > 1
    fresh.update_state(edits=(Edit("sefa", 3, 0.5, "all"),))     # from elsewhere (a session): the sliders follow
    fresh.run_frames(2)
    assert dpg.get_value("dirs.d0") == 0.0 and dpg.get_value("dirs.d3") == pytest.approx(0.5)
    drive("dirs.d3", 0.0)
    assert fresh.state.edits == ()
    np.testing.assert_array_equal(frame(fresh), base)


def test_a_fine_range_edit_recomputes_only_the_fine_blocks_and_combines_with_others(fresh):
    import dearpygui.dearpygui as dpg

    base = frame(fresh)
    drive("dirs.range", "coarse")
    fresh.directions.wait()
    assert fresh.directions.shown.layers == "coarse" and fresh.directions.shown.indices == (0, 1, 2, 3)
    drive("dirs.d0", 3.0)
    coarse = frame(fresh)
    drive("dirs.range", "fine")
    fresh.directions.wait()
    assert dpg.get_value("dirs.d0") == 0.0                       # the fine sliders start at 0...
    drive("dirs.d1", -3.0)
    both = frame(fresh)
    assert fresh.last_frame.stats.first_layer == "b64.conv1"     # from the first layer a fine w drives
    assert fresh.state.edits == (Edit("sefa", 0, 3.0, "coarse"), Edit("sefa", 1, -3.0, "fine"))
    assert "also applied: SeFa coarse #0 +3.00" in dpg.get_value("dirs.note")   # ...the coarse edit stays
    assert diff(both, coarse) > 0.5 and diff(coarse, base) > 2
    click("dirs.reset")
    assert fresh.state.edits == ()
    np.testing.assert_array_equal(frame(fresh), base)


def test_custom_range_and_a_range_the_model_lacks(fresh):
    drive("dirs.custom", "4-7")
    fresh.directions.wait()
    assert fresh.directions.shown.indices == (4, 5, 6, 7)
    drive("dirs.custom", "12")
    assert "12" in fresh.last_error and fresh.directions.layers == "4-7"


def test_load_directions_from_an_npz(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    base = frame(fresh)
    path = tmp_path / "mine.npz"
    np.savez(path, directions=np.random.RandomState(0).randn(3, 64).astype(np.float32),
             eigenvalues=np.array([3.0, 2.0, 1.0], np.float32))
    dpg.set_value("dirs.path", str(path))
    click("dirs.load")
    fresh.directions.wait()
    assert fresh.directions.source == str(path) and dpg.get_value("dirs.source") == "mine.npz"
    assert "mine.npz" in dpg.get_item_configuration("dirs.source")["items"]
    assert dpg.does_item_exist("dirs.d2") and not dpg.does_item_exist("dirs.d3")
    assert dpg.get_item_label("dirs.d0") == "#0  eig 3.00"
    drive("dirs.d1", 2.0)
    assert fresh.state.edits == (Edit(str(path), 1, 2.0, "all"),)
    assert diff(frame(fresh), base) > 2
    drive("dirs.source", "SeFa (closed form)")                  # back to SeFa; the file's edit stays on
    fresh.directions.wait()
    assert fresh.directions.source == "sefa" and dpg.does_item_exist("dirs.d9")
    assert "mine.npz all #1 +2.00" in dpg.get_value("dirs.note")


def test_a_bad_directions_file_is_refused_with_a_message(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    np.savez(tmp_path / "wrong.npz", directions=np.zeros((2, 512), np.float32) + 1)
    dpg.set_value("dirs.path", str(tmp_path / "wrong.npz"))
    click("dirs.load")
    fresh.directions.wait()
    assert "wrong.npz" in fresh.last_error and "64" in fresh.last_error
    assert fresh.directions.source == "sefa" and fresh.directions.shown.source == "sefa"
    drive("dirs.d0", 1.0)
    assert fresh.state.edits == (Edit("sefa", 0, 1.0, "all"),)


def test_edits_survive_a_session_and_a_model_without_their_range_drops_them(fresh, models, tmp_path):
    import dearpygui.dearpygui as dpg

    drive("dirs.range", "fine")
    fresh.directions.wait()
    drive("dirs.d2", 2.5)
    wanted = frame(fresh)
    fresh.capture.save_session(tmp_path / "s.json")
    click("dirs.reset")
    fresh.capture.load_session(tmp_path / "s.json")
    np.testing.assert_array_equal(frame(fresh), wanted)
    assert dpg.get_value("dirs.d2") == pytest.approx(2.5)
    fresh.load_checkpoint(models.g32)                             # 32 px: no fine level
    frame(fresh)
    fresh.directions.wait()
    assert fresh.info.resolution == 32 and fresh.state.edits == ()
    assert fresh.directions.layers == "all" and fresh.directions.shown.indices == tuple(range(8))


# --- layer viewer ------------------------------------------------------------------------------------------------
def _expected_view(G, ws, name, channel=None):
    seen = {}
    names = [layer.name for layer in G.layer_table.layers]
    G.synthesis(ws, on_layer=lambda i, y, carry: seen.setdefault(names[i], y[0].float()))
    y = seen[name]
    m = y.abs().mean(0) if channel is None else y[channel]
    m = ((m - m.min()) / (m.max() - m.min()) * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()
    up = 256 // m.shape[0]
    return np.repeat(np.repeat(m, up, 0), up, 1)


def test_layer_viewer_shows_the_chosen_layer_from_the_frames_own_activations(fresh, models, monkeypatch):
    import dearpygui.dearpygui as dpg

    frame(fresh)
    G = fresh.engine.current[0]
    calls = []
    real = G.synthesis.run
    monkeypatch.setattr(G.synthesis, "run", lambda *a, **k: calls.append(1) or real(*a, **k))
    label = next(l for l in dpg.get_item_configuration("layers.layer")["items"] if l.startswith("b16.conv0"))
    assert label == "b16.conv0  (16 px, 32 ch)"
    drive("layers.layer", label)
    fresh.run_frames(2)
    assert calls == []                                            # no forward pass to look at a layer
    view = fresh.layer_viewer.pixels
    assert view.shape == (256, 256) and view.std() > 20          # not blank
    ws = fresh.engine.renderer.compute_ws(fresh.state, G)
    assert np.abs(view.astype(int) - _expected_view(G, ws, "b16.conv0")).max() <= 1
    assert "b16.conv0: 32 ch, 16x16" in dpg.get_value("layers.info")

    drive("layers.mode", "one channel")
    drive("layers.channel", 5)
    fresh.run_frames(1)
    assert np.abs(fresh.layer_viewer.pixels.astype(int) - _expected_view(G, ws, "b16.conv0", 5)).max() <= 1

    drive("layers.mode", "mean |x|")
    before = fresh.layer_viewer.pixels.copy()
    fresh.set_seed("a", 9)                                        # the state changes: so does the view
    frame(fresh)
    assert diff(fresh.layer_viewer.pixels, before) > 5
    ws = fresh.engine.renderer.compute_ws(fresh.state, G)
    assert np.abs(fresh.layer_viewer.pixels.astype(int) - _expected_view(G, ws, "b16.conv0")).max() <= 1
    after_seed = fresh.layer_viewer.pixels.copy()
    drive("dirs.range", "fine")                                  # a fine edit leaves b16 as it was
    fresh.directions.wait()
    drive("dirs.d0", 3.0)
    frame(fresh)
    np.testing.assert_array_equal(fresh.layer_viewer.pixels, after_seed)


def test_layer_viewer_texture_is_on_screen(fresh):
    import dearpygui.dearpygui as dpg

    drive("layers.layer", "b4.conv1  (4 px, 64 ch)")
    frame(fresh)
    fresh.reveal(fresh.layer_viewer, "layers.image")            # Inspect > Layer viewer
    fresh.run_frames(4)
    shot = fresh.screenshot()
    x, y = dpg.get_item_rect_min("layers.image")
    assert 0 <= y and y + 256 <= shot.shape[0], "viewer must be scrolled into view"
    crop = shot[y:y + 256, x:x + 256].astype(int)
    expected = fresh.layer_viewer.pixels.astype(int)
    assert np.abs(crop - expected[:, :, None]).max() <= 2         # 4x4 activations as crisp 64 px squares


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_dragging_a_direction_slider_with_the_mouse(fresh):
    import dearpygui.dearpygui as dpg

    base = frame(fresh)
    fresh.reveal(fresh.directions, "dirs.d0")                   # Explore > Directions, scrolled to the slider
    fresh.run_frames(4)
    (x, y), (_, h) = dpg.get_item_rect_min("dirs.d0"), dpg.get_item_rect_size("dirs.d0")
    w = dpg.get_item_width("dirs.d0")                           # the slider's frame (the label is beside it)
    assert 0 < y < 800 - h, "slider must be on screen"
    cx = x + w // 2                                             # the grab sits in the middle at alpha 0
    drag(fresh, cx, cx + int(0.3 * w), y + h // 2)
    (edit,) = fresh.state.edits
    assert edit.directions == "sefa" and edit.index == 0 and edit.layers == "all" and 1.5 < edit.alpha < 4.5
    assert diff(frame(fresh), base) > 2
