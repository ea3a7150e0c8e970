"""Bookmarks (state + thumbnail), the session file that keeps them with the MIDI bindings, and the walk
video through them."""
from __future__ import annotations

import json

import imageio
import imageio.v3 as iio
import numpy as np
import pytest
import torch

from explorer.errors import ExplorerError
from explorer.io.native import save_generator
from explorer.live.bookmarks import THUMB_SIZE, Bookmark, BookmarkList, bookmarks_ws, render_bookmark_walk
from explorer.live.midi import MidiBinding
from explorer.live.session import LiveSession
from explorer.render.renderer import Renderer
from explorer.render.state import Edit, RenderState, Source
from tests.conftest import make_generator


@pytest.fixture
def checkpoint(tmp_path):
    return str(save_generator(make_generator(3), tmp_path / "g.safetensors"))


@pytest.fixture
def marks(checkpoint):
    """Three bookmarks that differ in seed, truncation, mixing and an edit."""
    base = RenderState(checkpoint=checkpoint, device="cpu")
    return [base.replace(a=Source(seed=1)),
            base.replace(a=Source(seed=5), psi=0.5),
            base.replace(a=Source(seed=9), b=Source(seed=2), mix=(0.0,) * 4 + (1.0,) * 4,
                         edits=(Edit(index=1, alpha=2.0),))]


def test_a_bookmark_keeps_the_full_state_and_a_small_thumbnail():
    image = np.random.default_rng(0).integers(0, 256, (256, 128, 3), dtype=np.uint8)
    state = RenderState(psi=0.6, a=Source(seed=12)).with_mix([2], 1.0, 8)
    b = Bookmark.capture(state, image, name="eyes")
    assert b.thumbnail_pixels().shape == (THUMB_SIZE, THUMB_SIZE // 2, 3)
    again = Bookmark.from_dict(json.loads(json.dumps(b.to_dict())))
    assert again == b


def test_the_list_adds_reorders_renames_and_removes():
    marks = BookmarkList()
    for seed in (1, 2, 3):
        marks.add(Bookmark(RenderState(a=Source(seed=seed))))
    assert [b.name for b in marks.items] == ["1", "2", "3"]
    marks.move(2, 0)
    assert [b.state.a.seed for b in marks.items] == [3, 1, 2]
    marks.rename(0, "start")
    marks.remove(1)
    assert [(b.name, b.state.a.seed) for b in marks.items] == [("start", 3), ("2", 2)]
    with pytest.raises(ExplorerError, match="no bookmark 5"):
        marks.remove(4)


def test_a_session_keeps_bookmarks_and_midi_and_stays_a_session(tmp_path):
    state = RenderState(psi=0.7, a=Source(seed=3))
    session = LiveSession(state, (Bookmark.capture(state.replace(t=0.5), np.zeros((8, 8, 3), np.uint8), "half"),),
                          (MidiBinding("cc", 0, 7, "/explorer/psi", -1.0, 2.0),))
    path = session.save(tmp_path / "live.json")
    assert LiveSession.load(path) == session
    assert RenderState.load(path) == state            # every command that reads sessions still reads it
    assert LiveSession.load(_write(tmp_path, state.to_dict())) == LiveSession(state)   # an older session


def _write(tmp_path, d, name="s.json"):
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return p


@pytest.mark.parametrize("extras, message", [
    ({"bookmarks": [{"state": {"psi": 7}}]}, "bookmark 1: psi must be in"),
    ({"bookmarks": [{"name": "x"}]}, "bookmark 1: missing 'state'"),
    ({"bookmarks": [{"state": {}, "thumbnail": "bm90IGEgcG5n"}]}, "bookmark 1: thumbnail is not a PNG"),
    ({"midi": [{"kind": "cc", "channel": 0, "number": 1, "address": "/explorer/psi", "low": 0, "high": 1},
               {"kind": "sysex", "channel": 0, "number": 1, "address": "/explorer/psi", "low": 0, "high": 1}]},
     "MIDI binding 2: MIDI binding kind must be one of"),
    ({"midi": [{"kind": "cc", "channel": 0, "number": 1, "address": "psi", "low": 0, "high": 1}]}, "MIDI binding 1: unknown address"),
])
def test_a_bad_session_names_the_file_and_the_entry(tmp_path, extras, message):
    path = _write(tmp_path, {"psi": 0.5, "extras": extras})
    with pytest.raises(ExplorerError, match=message) as e:
        LiveSession.load(path)
    assert str(path) in str(e.value)


def test_the_walk_passes_through_each_bookmark_exactly(marks):
    renderer = Renderer()
    keys_ws = bookmarks_ws([Bookmark(s) for s in marks], renderer)
    for k, s in enumerate(marks):    # each bookmark's ws are the ones its own picture uses
        assert torch.equal(keys_ws[k:k + 1], renderer.compute_ws(s, renderer.model_for(s).G))
    assert not torch.equal(keys_ws[0], keys_ws[1])


@pytest.mark.parametrize("suffix, tolerance", [(".gif", 8), (".mp4", 30)])   # H.264 blurs 32 px noise a lot
def test_bookmarks_become_a_walk_video(marks, tmp_path, suffix, tolerance):
    renderer = Renderer()
    images = [renderer.render(s).astype(np.float64) for s in marks]
    seen = []
    out = tmp_path / f"walk{suffix}"
    result = render_bookmark_walk([Bookmark(s) for s in marks], out, frames_per_key=4, interp="linear",
                                  progress=lambda done, total: seen.append((done, total)))
    assert result.frames == 9 and result.path == out and seen[-1] == (9, 9)
    if suffix == ".gif":
        frames = iio.imread(out, index=None, plugin="pillow", mode="RGB").astype(np.float64)
    else:
        with imageio.get_reader(out, format="FFMPEG") as reader:
            frames = np.stack([f for f in reader]).astype(np.float64)
    assert len(frames) == 9
    for k, frame in zip((0, 1, 2), (frames[0], frames[4], frames[8])):   # keyframes show their bookmark
        own = np.abs(frame - images[k]).mean()
        assert own < tolerance and all(own < 0.5 * np.abs(frame - images[j]).mean() for j in range(3) if j != k)


def test_a_walk_needs_two_bookmarks_of_one_model(marks, tmp_path):
    with pytest.raises(ExplorerError, match="at least 2 bookmarks"):
        render_bookmark_walk([Bookmark(marks[0])], tmp_path / "w.mp4")
    other = marks[1].replace(checkpoint=None)
    with pytest.raises(ExplorerError, match="bookmark 2 .* another model"):
        render_bookmark_walk([Bookmark(marks[0]), Bookmark(other)], tmp_path / "w.mp4")
    assert not (tmp_path / "w.mp4").exists()
