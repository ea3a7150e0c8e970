"""Seed-browser thumbnails without a window: they are the frames the renderer draws for their seeds (under the
look: psi, cutoff, class, noise, camera), batches stop for a waiting frame, pages hold the seeds they say, and
the render worker runs background work only between frames."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch.nn.functional as F
import torch

from explorer.app.seed_browser import Page, SeedBrowser, page_at
from explorer.io.native import save_generator
from explorer.latents import SEED_RANGE
from explorer.render.renderer import Renderer
from explorer.render.state import Edit, RenderState, Source
from explorer.render.thumbnails import Preempted, render_thumbnails, thumbnail_look, thumbnail_state
from explorer.render.worker import RenderWorker
from tests.conftest import make_generator


@pytest.fixture(scope="module")
def cond_checkpoint(tmp_path_factory):
    return str(save_generator(make_generator(3, c_dim=3), tmp_path_factory.mktemp("thumbs") / "cond.safetensors"))


def look_of(checkpoint: str, **changes) -> RenderState:
    state = RenderState(checkpoint=checkpoint, device="cpu", a=Source(7, class_idx=1), b=Source(8, class_idx=2),
                        t=0.4, mix=(0.0, 0.0, 1.0, 1.0), psi=0.6, cutoff=4, noise_mode="random", noise_seed=3)
    return state.replace(**changes)


def test_thumbnails_are_the_frames_of_their_seeds_as_a_under_the_look(cond_checkpoint):
    state = look_of(cond_checkpoint, edits=(Edit("sefa", 1, 1.5, "coarse"),))
    renderer = Renderer()
    seeds = [5, 6, 7, 8, 9, 40]
    batches = list(render_thumbnails(renderer, thumbnail_look(state), seeds, 32, lambda: False))
    assert [s for done, _ in batches for s in done] == seeds
    thumbs = np.concatenate([images for _, images in batches])
    assert thumbs.shape == (6, 32, 32, 3) and thumbs.dtype == np.uint8
    for seed, thumb in zip(seeds, thumbs):
        frame = Renderer().render(thumbnail_state(state, seed), fit=True)
        assert np.abs(frame.astype(int) - thumb).max() <= 1, seed
    assert thumbnail_state(state, 9).a == Source(9, class_idx=1) and thumbnail_state(state, 9).b == state.b
    assert np.abs(thumbs[0].astype(float) - thumbs[1]).mean() > 5          # different seeds, different faces


def test_the_look_leaves_out_the_seed_b_t_and_mixing_but_keeps_psi_and_the_class(cond_checkpoint):
    state = look_of(cond_checkpoint)
    look = thumbnail_look(state)
    assert look == thumbnail_look(state.replace(a=Source(99, class_idx=1), b=Source(3), t=0.9, mix=(1.0,)))
    assert look != thumbnail_look(state.replace(psi=0.7))
    assert look != thumbnail_look(state.replace(a=Source(7, class_idx=2)))
    assert look != thumbnail_look(state.replace(noise_seed=4))


def test_a_smaller_size_is_the_frame_averaged_down(cond_checkpoint):
    state = look_of(cond_checkpoint)
    [(done, small)] = list(render_thumbnails(Renderer(), thumbnail_look(state), [11], 16, lambda: False))
    frame = Renderer().render(thumbnail_state(state, 11), fit=True).astype(np.float32)
    pooled = F.avg_pool2d(torch.from_numpy(frame).permute(2, 0, 1)[None], 2)[0].permute(1, 2, 0).numpy()
    assert small.shape == (1, 16, 16, 3) and np.abs(pooled - small[0]).max() <= 2


def test_a_waiting_frame_stops_the_batches_after_the_one_under_way(cond_checkpoint):
    waiting = []
    batches = render_thumbnails(Renderer(), thumbnail_look(look_of(cond_checkpoint)), range(12), 32,
                                lambda: bool(waiting))
    done, images = next(batches)
    assert len(done) == len(images) == 4
    waiting.append(1)
    with pytest.raises(Preempted):
        next(batches)


def test_pages_hold_consecutive_or_reproducible_random_seeds_within_the_seed_range():
    page = page_at(100, 16)
    assert page.seeds == tuple(range(100, 116))
    assert page.turned(1).seeds[0] == 116 and page.turned(1).turned(-1) == page
    assert page_at(0, 16).turned(-1).seeds[0] == 0
    top = page_at(SEED_RANGE[1], 9)
    assert top.seeds[-1] == SEED_RANGE[1] and len(top.seeds) == 9 and top.turned(1) == top
    rand = Page(12, 16, random=True)
    assert rand.seeds == Page(12, 16, random=True).seeds                    # a page number is its seeds
    assert len(set(rand.seeds)) == 16 and all(SEED_RANGE[0] <= s <= SEED_RANGE[1] for s in rand.seeds)
    assert set(rand.turned(1).seeds).isdisjoint(rand.seeds) and rand.turned(1).turned(-1) == rand


def test_the_worker_runs_background_work_between_frames_and_a_frame_goes_first(cond_checkpoint):
    renderer = Renderer()
    results = []
    worker = RenderWorker(renderer, on_result=results.append)
    try:
        state = look_of(cond_checkpoint)
        worker.submit(state)
        assert worker.wait_idle(60)
        browser = SeedBrowser(worker, renderer)
        look = thumbnail_look(state)
        browser.show(page_at(200, 9), look, 32)
        deadline = time.monotonic() + 60
        while browser.missing():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for seed in range(200, 209):
            pixels, stale = browser.thumbnail(seed)
            assert not stale
            frame = renderer.render(thumbnail_state(state, seed), fit=True)
            assert np.abs(frame.astype(int) - pixels).max() <= 1
        browser.show(page_at(200, 9), thumbnail_look(state.replace(psi=0.0)), 32)   # a new look...
        assert browser.thumbnail(200)[1]                                           # ...old ones are stale

        started, release, runs = threading.Event(), threading.Event(), []

        def held(frame_waiting):                                # background work that waits for a frame
            runs.append(1)
            started.set()
            while not frame_waiting():
                time.sleep(0.001)
            release.set()
            raise Preempted

        worker.submit_idle(held)
        assert started.wait(30)
        worker.submit(state.replace(psi=0.3))
        assert release.wait(30)
        deadline = time.monotonic() + 30
        while not results or results[-1].state.psi != 0.3:    # the frame rendered while the job was preempted
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert results[-1].error is None
        while len(runs) < 2:                                    # ...and the job runs again afterwards
            assert time.monotonic() < deadline
            time.sleep(0.01)
        worker.submit_idle(None)
        worker.submit(state)                                    # (ends the held job for good)
    finally:
        worker.close()
