"""Walks through keyframes and their videos: paths, exact files read back, interruption, session walks."""
from __future__ import annotations

import signal
import subprocess
import threading
import time

import imageio
import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import main as cli_main
from explorer.errors import ExplorerError
from explorer.images import to_uint8
from explorer.io.native import save_generator
from explorer.latents import save_ws, z_from_seed
from explorer.render.frames import render_frames, state_frame_settings
from explorer.render.renderer import Renderer
from explorer.render.state import Edit, RenderState, Source
from explorer.video import (RecordingInterrupted, VideoWriter, Walk, interpolate, keyframes_from_seeds,
                            path_weights, render_walk, walk_length, walk_ws)
from tests.conftest import make_generator
from tests.helpers.interrupt import start_cli


@pytest.fixture
def checkpoint(tmp_path):
    return str(save_generator(make_generator(3), tmp_path / "g.safetensors"))


def read_video(path) -> np.ndarray:
    """All frames [N, H, W, 3] as a player would decode them."""
    if str(path).endswith(".gif"):
        return iio.imread(path, index=None, plugin="pillow", mode="RGB")
    with imageio.get_reader(path, format="FFMPEG") as reader:
        return np.stack([f for f in reader])


# --- paths ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("interp", ["linear", "cubic"])
@pytest.mark.parametrize("loop", [False, True])
def test_walk_passes_through_every_keyframe_exactly(interp, loop):
    keys = torch.randn(4, 6, 8)
    frames = interpolate(keys, *path_weights(4, 7, loop, interp))
    assert len(frames) == walk_length(4, 7, loop) == (28 if loop else 22)
    for k in range(4):
        assert torch.equal(frames[k * 7], keys[k])
    if not loop:
        assert torch.equal(frames[-1], keys[-1])


def test_looped_cubic_walk_closes_smoothly():
    keys = torch.randn(3, 1, 16, dtype=torch.float64)
    f = interpolate(keys, *path_weights(3, 30, True, "cubic"))
    closed = torch.cat([f, f[:2]])                      # play it twice: the seam is frames -1 -> 0 -> 1
    step = (closed[1:] - closed[:-1]).flatten(1)
    accel = (step[1:] - step[:-1]).norm(dim=1)
    seam_step = (f[0] - f[-1]).norm()
    assert seam_step <= 1.2 * step.norm(dim=1).max()    # first and last frames are one ordinary step apart
    assert accel[len(f) - 1] <= 1.5 * accel[:len(f) - 2].max()   # and the velocity does not jump (C1)
    open_end = interpolate(keys, *path_weights(3, 30, False, "cubic"))
    assert (open_end[0] - open_end[-1]).norm() > 5 * seam_step  # without --loop it ends elsewhere


def test_z_walk_is_slerp_through_seed_latents(checkpoint):
    state = RenderState(checkpoint=checkpoint, device="cpu")
    renderer = Renderer()
    G = renderer.model_for(state).G
    ws = walk_ws(Walk(keyframes_from_seeds([4, 8]), frames_per_key=6, interp="linear", space="z"), state, renderer)
    for frame, seed in ((0, 4), (6, 8)):
        z = torch.from_numpy(z_from_seed(seed, G.z_dim)).float()
        torch.testing.assert_close(ws[frame:frame + 1], G.mapping(z, None), rtol=0, atol=1e-5)
    mid = ws[3, 0]
    assert (mid - ws[0, 0]).norm() > 0.1 and (mid - ws[6, 0]).norm() > 0.1


def test_walk_rejects_what_it_cannot_do():
    with pytest.raises(ExplorerError, match="at least 2 keyframes"):
        Walk(keyframes_from_seeds([1]))
    with pytest.raises(ExplorerError, match="slerp"):
        Walk(keyframes_from_seeds([1, 2]), space="z", interp="cubic")
    with pytest.raises(ExplorerError, match="seed keyframes"):
        Walk((Source(w_path="a.npz"), Source(w_path="a.npz", w_row=1)), space="z", interp="linear")


# --- a session walk keeps the session's look ----------------------------------------------------------

def test_state_walk_frames_equal_renders_of_the_state_with_a_replaced(checkpoint):
    renderer = Renderer()
    base = RenderState(checkpoint=checkpoint, device="cpu", a=Source(seed=50), b=Source(seed=60), t=0.4,
                       psi=0.6, cutoff=5, noise_mode="random", noise_seed=3, noise_off_res=(16,),
                       edits=(Edit(directions="sefa", index=1, alpha=3.0, layers="coarse"),))
    G = renderer.model_for(base).G
    state = base.with_mix(G.layer_table.level_indices("middle"), 0.75, G.num_ws).with_noise_scale(0, 1.8, 7)
    walk = Walk(keyframes_from_seeds([7, 9, 11]), frames_per_key=3)
    ws = walk_ws(walk, state, renderer)
    frames = np.concatenate(list(render_frames(G, ws, state_frame_settings(state, renderer), batch_size=4)))
    reference = Renderer(use_cache=False)
    for k, seed in enumerate([7, 9, 11]):
        expected_state = state.replace(a=Source(seed=seed), t=0.0)   # the walk stands in for A (and its t)
        torch.testing.assert_close(ws[3 * k:3 * k + 1], reference.compute_ws(expected_state, G), rtol=0, atol=1e-5)
        expected = reference.render(expected_state)
        assert np.abs(frames[3 * k].astype(int) - expected).max() <= 1
    # B's mixed-in middle styles stay B's along the whole walk, with weight 0.75
    mid = G.layer_table.level_indices("middle")
    w_b = reference.compute_ws(state.replace(mix=(), a=state.b, t=0.0), G)
    raw = walk_ws(walk, state.replace(mix=()), renderer)
    torch.testing.assert_close(ws[:, mid], raw[:, mid].lerp(w_b[:, mid], 0.75), rtol=0, atol=1e-5)


# --- files ---------------------------------------------------------------------------------------

def test_mp4_has_exactly_the_frames_and_size_asked_and_plays_everywhere(checkpoint, tmp_path):
    state = RenderState(checkpoint=checkpoint, device="cpu")
    walk = Walk(keyframes_from_seeds([1, 5, 9]), frames_per_key=5, loop=True)
    out = tmp_path / "walk.mp4"
    result = render_walk(walk, state, out, fps=24, size=(48, 40), batch_size=4)
    frames = read_video(out)
    assert result.frames == len(walk) == 15 and frames.shape == (15, 40, 48, 3)
    with imageio.get_reader(out, format="FFMPEG") as reader:
        meta = reader.get_meta_data()
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["fps"] == 24
    assert not (tmp_path / "walk.mp4.tmp").exists()
    # the first frame is the first keyframe's image (through the codec: compare with another seed's)
    G = make_generator(3)
    from PIL import Image

    def image(seed):
        img = to_uint8(G(torch.from_numpy(z_from_seed(seed, G.z_dim)).float(), None))[0].numpy()
        return np.asarray(Image.fromarray(img).resize((48, 40), Image.Resampling.LANCZOS)).astype(int)
    assert np.abs(frames[0] - image(1)).mean() < 0.5 * np.abs(frames[0] - image(5)).mean()


def test_gif_has_exactly_the_frames_asked_and_the_right_running_time(checkpoint, tmp_path):
    state = RenderState(checkpoint=checkpoint, device="cpu")
    walk = Walk(keyframes_from_seeds([2, 3]), frames_per_key=6, interp="linear")
    out = tmp_path / "walk.gif"
    result = render_walk(walk, state, out, fps=30)
    frames = read_video(out)
    assert result.frames == 7 and frames.shape == (7, 32, 32, 3)
    from PIL import Image
    with Image.open(out) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    assert sum(durations) == round(7 / 30 * 100) * 10 and set(durations) <= {30, 40}


@pytest.mark.parametrize("ext", ["mp4", "gif"])
def test_ctrl_c_during_recording_leaves_a_valid_shorter_file(checkpoint, tmp_path, ext):
    state = RenderState(checkpoint=checkpoint, device="cpu")
    walk = Walk(keyframes_from_seeds([1, 2, 3]), frames_per_key=10)
    out = tmp_path / f"walk.{ext}"

    def progress(done, total):
        if done >= 6:
            raise KeyboardInterrupt

    with pytest.raises(RecordingInterrupted) as info:
        render_walk(walk, state, out, batch_size=3, progress=progress)
    result = info.value.result
    assert result.cancelled and result.frames == 6 and result.requested == 21 and result.path == out
    assert read_video(out).shape == (6, 32, 32, 3)
    assert not (tmp_path / f"walk.{ext}.tmp").exists()


def test_cancel_event_stops_at_the_next_batch_and_keeps_the_frames(checkpoint, tmp_path):
    state = RenderState(checkpoint=checkpoint, device="cpu")
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        cancel.set()

    result = render_walk(Walk(keyframes_from_seeds([1, 2]), frames_per_key=20), state, tmp_path / "w.mp4",
                         batch_size=4, progress=progress, cancel=cancel)
    assert seen == [(4, 21)] and result.cancelled and result.frames == 4
    assert read_video(tmp_path / "w.mp4").shape[0] == 4


def test_failed_render_leaves_no_file(checkpoint, tmp_path):
    state = RenderState(checkpoint=checkpoint, device="cpu")
    walk = Walk((Source(seed=1), Source(w_path=str(tmp_path / "missing.npz"))), frames_per_key=3)
    with pytest.raises(ExplorerError):
        render_walk(walk, state, tmp_path / "w.mp4")
    assert list(tmp_path.glob("w.mp4*")) == []


def test_recorder_takes_frames_one_at_a_time_and_fits_them_to_one_size(tmp_path):
    rng = np.random.default_rng(0)
    with VideoWriter(tmp_path / "rec.mp4", fps=10) as rec:
        rec.append(rng.integers(0, 255, [41, 51, 3], dtype=np.uint8))     # odd: cropped to 50x40
        rec.append(rng.integers(0, 255, [80, 100, 3], dtype=np.uint8))    # other size: resized
        rec.append(rng.integers(0, 255, [2, 40, 50, 3], dtype=np.uint8))  # a batch
    assert rec.output == tmp_path / "rec.mp4" and rec.frames == 4
    assert read_video(tmp_path / "rec.mp4").shape == (4, 40, 50, 3)
    with pytest.raises(ExplorerError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", size=(51, 40))
    empty = VideoWriter(tmp_path / "empty.mp4")
    assert empty.close() is None and not (tmp_path / "empty.mp4").exists()


# --- command line --------------------------------------------------------------------------------

def test_cli_video_from_projected_ws(checkpoint, tmp_path):
    G = make_generator(3)
    ws = G.mapping(torch.randn(3, G.z_dim), None)
    save_ws(tmp_path / "a.npz", ws[:2])            # two rows -> two keyframes
    save_ws(tmp_path / "b.npz", ws[2:, 0])         # a single w -> one keyframe
    out = tmp_path / "proj.gif"
    rc = cli_main(["video", "--checkpoint", checkpoint, "--projected-w", str(tmp_path / "a.npz"),
                   str(tmp_path / "b.npz"), "--frames-per-seed", "4", "--interp", "linear", "--fps", "20",
                   "--out", str(out), "--device", "cpu"])
    assert rc == 0
    frames = read_video(out)
    assert frames.shape == (9, 32, 32, 3)
    last, first = (to_uint8(G.synthesis(w))[0].numpy().astype(int) for w in (ws[2:], ws[:1]))
    assert np.abs(frames[-1] - last).mean() < 0.5 * np.abs(frames[-1] - first).mean()  # ends on b.npz's w


def test_cli_video_from_a_session_walks_its_a_and_b(checkpoint, tmp_path):
    state = RenderState(checkpoint=checkpoint, device="cpu", a=Source(seed=3), b=Source(seed=4), psi=0.5)
    state.save(tmp_path / "s.json")
    rc = cli_main(["video", "--state", str(tmp_path / "s.json"), "--frames-per-seed", "3",
                   "--size", "64x64", "--out", str(tmp_path / "s.mp4")])
    frames = read_video(tmp_path / "s.mp4").astype(np.float64)
    assert rc == 0 and frames.shape == (4, 64, 64, 3)
    renderer = Renderer()

    def shown(s: RenderState) -> np.ndarray:   # the frame of `s` at the video's size
        return np.asarray(Image.fromarray(renderer.render(s)).resize((64, 64), Image.Resampling.LANCZOS), np.float64)

    def dist(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.abs(x - y).mean())

    a, b = shown(state), shown(state.replace(a=state.b))
    assert dist(frames[0], a) < 0.5 * dist(frames[0], shown(state.replace(psi=1.0)))   # A, truncated at psi 0.5
    assert dist(frames[-1], b) < 0.5 * dist(frames[-1], a)                             # ends on B
    assert dist(frames[-1], b) < 0.5 * dist(frames[-1], shown(state.replace(a=state.b, psi=1.0)))


def test_cli_ctrl_c_keeps_a_valid_video_and_exits_130(checkpoint, tmp_path):
    out = tmp_path / "long.mp4"
    proc = start_cli(["video", "--checkpoint", checkpoint, "--seeds", "1-4", "--frames-per-seed", "2000",
                      "--batch", "4", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / "long.mp4.tmp"
    deadline = time.monotonic() + 120      # a loaded machine takes a while to import torch
    while not partial.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None and partial.exists(), "the video never started, or ended before Ctrl+C"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    kept = int(err.split("kept ")[1].split(" of ")[0])
    assert 0 < kept < 6001
    assert read_video(out).shape == (kept, 32, 32, 3)
    assert not partial.exists()
