"""The Record panel in a real Dear PyGui window (under a private Xvfb): walks, "record what I do", figures.

Driven in-process as a user would (set an item's value, fire its callback). Videos are real MP4s (H.264
through imageio-ffmpeg) and GIFs, read back the way a player decodes them; figures are compared cell by cell
with direct renders. One App serves the whole module (run in a child process when another module's App
already holds this process's Dear PyGui context).
"""
from __future__ import annotations

import threading
import time

import imageio
import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from explorer.grid import mix_grid_from_state, noise_grid
from explorer.render.frames import default_batch_size, state_frame_settings
from explorer.render.renderer import Renderer
from explorer.render.state import RenderState, Source
from tests.helpers.gui_display import click, drive, frame

pytestmark = pytest.mark.gui


# --- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture
def fresh(app, models, tmp_path):
    """Seeds 1 and 2 on the 64 px model; the panel on A -> B, 8 frames a key, linear in W, 10 fps."""
    app.set_animating(False)
    app.record.set_live(False)
    app.wait_tasks()
    app.set_state(RenderState(checkpoint=models.g64, device="cpu", a=Source(seed=1), b=Source(seed=2)))
    app.wait_for_render()
    app.capture.set_folder(str(tmp_path))
    click("record.clear_keys")
    for tag, value in (("record.keys", "A -> B"), ("record.frames", 8), ("record.fps", 10), ("record.loop", False),
                       ("record.space", "W"), ("record.interp", "linear"), ("record.walk_path", ""),
                       ("record.live_path", "")):
        drive(tag, value)
    app.clear_error()
    app.run_frames(1)
    return app


def read_video(path) -> np.ndarray:
    """All frames [N, H, W, 3] as a player would decode them."""
    if str(path).endswith(".gif"):
        return iio.imread(path, index=None, plugin="pillow", mode="RGB")
    with imageio.get_reader(path, format="FFMPEG") as reader:
        return np.stack([f for f in reader])


def diff(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.abs(x.astype(np.float32) - y.astype(np.float32)).mean())


def blur(x: np.ndarray, k: int = 4) -> np.ndarray:
    h, w, c = x.shape
    return x.astype(np.float32).reshape(h // k, k, w // k, k, c).mean(axis=(1, 3))


def assert_frames_match(video: np.ndarray, shown: list[np.ndarray]) -> None:
    """Each decoded frame is its displayed image up to the codec's loss, and much nearer to it than to any
    other. Compared at 1/4 resolution: H.264 in yuv420p halves the colour resolution, and the frames of a
    random-weight model are mostly fine colour detail."""
    assert len(video) == len(shown)
    for i, (got, want) in enumerate(zip(video, shown)):
        others = [diff(blur(got), blur(s)) for s in shown if diff(s, want) > 0]
        assert diff(blur(got), blur(want)) < 6, f"frame {i}"
        assert all(diff(blur(got), blur(want)) < 0.35 * d for d in others), f"frame {i} looks like another frame"


def wait_for(app, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        app.run_frames(1)


# --- walks -------------------------------------------------------------------------------------------------
def test_a_to_b_walk_records_the_interpolation_the_app_shows(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    fresh.update_state(psi=0.7)
    drive("mix.group.fine", 1.0)                               # the state's look applies to every frame
    shown = []
    for t in (0.0, 0.5, 1.0):
        drive("latents.t", t)
        shown.append(frame(fresh))
    drive("latents.t", 0.25)                                   # the walk replaces t
    assert "A -> B: seed 1 -> seed 2" in dpg.get_value("record.key_list")
    assert "9 frames, 0.9 s" in dpg.get_value("record.key_list")
    dpg.set_value("record.walk_path", str(tmp_path / "ab.mp4"))
    click("record.walk")
    fresh.wait_tasks()
    video = read_video(tmp_path / "ab.mp4")
    assert video.shape == (9, 64, 64, 3)
    assert_frames_match(video[[0, 4, 8]], shown)
    assert dpg.get_value("record.note") == f"recorded {tmp_path / 'ab.mp4'}: 9 frames, 64x64"
    assert not list(tmp_path.glob("*.tmp"))


def test_keyframe_list_walk_goes_through_each_added_a_and_writes_a_gif(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    fresh.update_state(psi=0.6)
    shown = []
    for seed in (3, 7, 11):
        drive("latents.a.seed", seed)
        shown.append(frame(fresh))
        click("record.add_key")
    assert dpg.get_value("record.keys") == "keyframe list"
    assert dpg.get_value("record.key_list").startswith("keys: 1. seed 3, 2. seed 7, 3. seed 11\n17 frames")
    drive("record.frames", 4)
    drive("record.interp", "cubic")
    dpg.set_value("record.walk_path", str(tmp_path / "keys.gif"))
    click("record.walk")
    fresh.wait_tasks()
    video = read_video(tmp_path / "keys.gif")
    assert video.shape == (9, 64, 64, 3)
    assert_frames_match(video[[0, 4, 8]], shown)

    click("record.remove_key")
    click("record.remove_key")
    assert dpg.get_value("record.key_list") == "keys: 1. seed 3"
    click("record.walk")                                       # one keyframe is no walk: said, nothing started
    assert "at least 2 keyframes" in fresh.last_error and not fresh.record.running
    click("record.clear_keys")
    assert dpg.get_value("record.key_list").startswith("no keyframes")


def test_z_space_walks_are_linear_and_empty_path_numbers_a_file_in_the_capture_folder(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    drive("record.interp", "cubic")
    drive("record.space", "Z (slerp)")
    assert dpg.get_value("record.interp") == "linear"
    assert not dpg.get_item_configuration("record.interp")["enabled"]
    drive("latents.space", "Z slerp")
    drive("latents.t", 0.5)
    middle = frame(fresh)
    drive("record.frames", 2)
    click("record.walk")
    fresh.wait_tasks()
    video = read_video(tmp_path / "walk-0001.mp4")
    assert len(video) == 3 and diff(blur(video[1]), blur(middle)) < 6   # slerp in Z, as the t slider does
    click("record.walk")
    fresh.wait_tasks()
    assert (tmp_path / "walk-0002.mp4").exists()               # never overwrites
    drive("record.space", "W")
    assert dpg.get_item_configuration("record.interp")["enabled"]


def test_cancel_mid_walk_leaves_a_valid_shorter_file_and_the_app_stays_live(fresh, models, tmp_path, monkeypatch):
    """The walk is held after its first batch: meanwhile the window draws, and the interactive renderer
    answers; Cancel then stops the walk, which keeps the frames written so far."""
    import dearpygui.dearpygui as dpg
    from explorer.app.tasks import Task

    reached, release = threading.Event(), threading.Event()
    real = Task.set_progress

    def held(task, fraction):
        real(task, fraction)
        reached.set()
        release.wait(60)

    monkeypatch.setattr(Task, "set_progress", held)
    drive("record.frames", 100)
    dpg.set_value("record.walk_path", str(tmp_path / "cut.mp4"))
    click("record.walk")
    try:
        wait_for(fresh, reached.is_set)
        start = fresh._frame_no
        fresh.run_frames(10)
        assert fresh._frame_no == start + 10 and fresh.record.running
        assert dpg.is_item_shown("status.task") and dpg.is_item_shown("record.cancel")
        assert not dpg.get_item_configuration("record.walk")["enabled"]
        assert "recording cut.mp4" in dpg.get_item_configuration("status.progress")["overlay"]
        before = fresh.current_image()
        drive("latents.a.seed", 9)                             # the interactive renderer is not held up
        assert diff(frame(fresh), before) > 5
        click("record.cancel")
        assert fresh.record.job.cancelled
    finally:
        release.set()
    fresh.wait_tasks()
    video = read_video(tmp_path / "cut.mp4")
    batch = default_batch_size(models.G)
    assert video.shape == (batch, 64, 64, 3) and batch < 101
    assert dpg.get_value("record.note").endswith(f"(cancelled: {batch} of 101)")
    assert not list(tmp_path.glob("*.tmp"))
    assert dpg.get_item_configuration("record.walk")["enabled"]


def test_ui_keeps_drawing_frames_while_a_walk_records(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    drive("record.frames", 400)
    dpg.set_value("record.walk_path", str(tmp_path / "long.mp4"))
    click("record.walk")
    start, t0, progress = fresh._frame_no, time.perf_counter(), set()
    while fresh.record.running:
        fresh.run_frames(1)
        progress.add(round(dpg.get_value("status.progress"), 3))
    frames, seconds = fresh._frame_no - start, time.perf_counter() - t0
    print(f"\nUI drew {frames} frames in {seconds:.2f} s while recording 401 frames ({frames / seconds:.1f} fps)")
    fresh.wait_tasks()
    assert len(read_video(tmp_path / "long.mp4")) == 401
    assert frames >= 10                                        # the window was never frozen for the walk (a
                                                               # walk on the UI thread would draw 1 or 2)
    assert any(0 < p < 1 for p in progress)                    # and its progress bar moved


# --- record what I do --------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".mp4", ".gif"])
def test_record_what_i_do_captures_every_frame_displayed_while_recording(fresh, tmp_path, ext):
    import dearpygui.dearpygui as dpg

    displayed = []
    listener = lambda result: displayed.append(result.image.copy())   # noqa: E731
    fresh.frame_listeners.append(listener)
    try:
        first = fresh.current_image()
        dpg.set_value("record.live_path", str(tmp_path / f"live{ext}"))
        drive("record.live", True)
        assert fresh.record.live is not None
        for t in (0.2, 0.4, 0.6, 0.8, 1.0):                   # a user dragging the t slider...
            drive("latents.t", t)
            frame(fresh)
        drive("trunc.psi", 0.5)                                # ...and then psi
        last = frame(fresh)
        assert dpg.get_value("record.live_note") == "REC  7 frames"
        drive("record.live", False)
        fresh.run_frames(1)
        assert fresh.record.live is None and dpg.get_value("record.live_note") == ""
        drive("latents.t", 0.0)                                # after stop: not recorded
        frame(fresh)
    finally:
        fresh.frame_listeners.remove(listener)
    fresh.wait_tasks()
    video = read_video(tmp_path / f"live{ext}")
    assert len(displayed) == 7 and len(video) == 1 + 6         # the frame on screen at start, then each new one
    assert video.shape[1:] == (64, 64, 3)
    assert_frames_match(video, [first] + displayed[:6])
    assert diff(blur(video[-1]), blur(last)) < 6
    assert dpg.get_value("record.note") == f"recorded {tmp_path / f'live{ext}'} (7 frames)"


def test_record_what_i_do_encodes_off_the_ui_thread_and_refuses_a_bad_path(fresh, tmp_path, monkeypatch):
    import dearpygui.dearpygui as dpg
    from explorer.video import VideoWriter

    threads = set()
    real = VideoWriter.append
    monkeypatch.setattr(VideoWriter, "append", lambda self, f: threads.add(threading.get_ident()) or real(self, f))
    drive("record.live", True)                                 # empty path: the capture folder
    drive("latents.a.seed", 4)
    frame(fresh)
    drive("record.live", False)
    fresh.wait_tasks()
    assert len(read_video(tmp_path / "live-0001.mp4")) == 2
    assert threads and threading.get_ident() not in threads

    dpg.set_value("record.live_path", str(tmp_path / "clip.avi"))
    drive("record.live", True)
    assert "clip.avi" in fresh.last_error and ".mp4 or .gif" in fresh.last_error
    assert fresh.record.live is None and dpg.get_value("record.live") is False


# --- figures -----------------------------------------------------------------------------------------------
def test_mix_grid_button_writes_the_current_a_and_b_mixed_per_level(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    fresh.update_state(psi=0.8, b=Source(seed=5), t=0.3, noise_mode="random", noise_seed=2)
    frame(fresh)
    state = fresh.state
    click("record.mix_grid")
    fresh.wait_tasks()
    path = tmp_path / "mixgrid-0001.png"
    assert dpg.get_value("record.note") == f"saved {path}"
    with Image.open(path) as im:
        png = np.asarray(im.convert("RGB"))
        assert RenderState.from_json(im.text["explorer.render_state"]) == state
    renderer = Renderer()
    fig = mix_grid_from_state(state, "all-levels", renderer)
    np.testing.assert_array_equal(png, fig.image)

    def direct(s: RenderState) -> np.ndarray:
        return renderer.render(s).astype(int)

    assert np.abs(fig.cell(0, 1) - direct(state.replace(a=state.b, t=0.0))).max() <= 1       # column: B
    for li, level in enumerate(fresh.info.levels):
        assert np.abs(fig.cell(1 + li, 0) - direct(state)).max() <= 1                         # row: A at t
        mixed = state.with_mix(fresh.info.level_indices(level), 1.0, fresh.info.num_ws)
        assert np.abs(fig.cell(1 + li, 1) - direct(mixed)).max() <= 1                         # A with B's level
    assert diff(fig.cell(1, 1), fig.cell(3, 1)) > 2                # the levels differ


def test_noise_figure_button_writes_the_frame_on_screen_with_noise_per_level(fresh, tmp_path):
    import dearpygui.dearpygui as dpg

    fresh.update_state(psi=0.8, t=0.4)
    shown = frame(fresh)
    state = fresh.state
    click("record.noise_figure")
    fresh.wait_tasks()
    path = tmp_path / "noise-0001.png"
    assert dpg.get_value("record.note") == f"saved {path}"
    png = np.asarray(Image.open(path).convert("RGB"))
    renderer = Renderer()
    G = renderer.model_for(state).G
    fig = noise_grid(G, renderer.compute_ws(state, G), state_frame_settings(state, renderer))
    np.testing.assert_array_equal(png, fig.image)
    columns = fig.description["columns"]
    assert columns == ["coarse", "middle", "fine", "all", "none", "std"]
    assert np.abs(fig.cell(0, columns.index("all")).astype(int) - shown).max() <= 1
    none = renderer.render(state.replace(noise_mode="none")).astype(int)
    assert np.abs(fig.cell(0, columns.index("none")) - none).max() <= 1
    assert fig.cell(0, columns.index("std")).max() == 255

    drive("noise.mode", "none")
    click("record.noise_figure")
    fresh.wait_tasks()
    assert "needs noise" in fresh.last_error and not (tmp_path / "noise-0002.png").exists()
