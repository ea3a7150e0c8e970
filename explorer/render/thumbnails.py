"""Thumbnails of many seeds under one look: what the seed browser shows.

    RenderState --thumbnail_look (all but A's seed: psi, cutoff, class, noise, camera, edits, blend)--> look
    look + seeds --one mapping pass, the look's truncation and edits--> ws
                 --synthesis a few frames at a time (render_frames), shrunk on the device--> uint8 thumbnails

A thumbnail is the frame the app draws once its seed is source A with t = 0 and no mixing from B (those need
B), so a click on it shows the same picture, larger. The work runs on the render worker between frames
(RenderWorker.submit_idle): `frame_waiting` is asked before each batch, and a waiting frame ends the work with
Preempted, so a frame never waits for more than one batch.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from ..latents import one_hot, zs_from_seeds
from .frames import default_batch_size, render_frames, state_frame_settings
from .renderer import Renderer
from .state import RenderState, Source
from .worker import Preempted

THUMB_MAX = 128      # px: larger models' thumbnails are shrunk to this (a 4x4 page fills ~500 px)
__all__ = ["Preempted", "THUMB_MAX", "render_thumbnails", "thumbnail_look", "thumbnail_size", "thumbnail_state"]


def thumbnail_state(state: RenderState, seed: int) -> RenderState:
    """The frame a thumbnail of `seed` shows: `state` with that seed as A (its class kept), t 0, no mixing."""
    return state.replace(a=Source(seed=int(seed), class_idx=state.a.class_idx), t=0.0, mix=())


def thumbnail_look(state: RenderState) -> RenderState:
    """What thumbnails share of `state`: everything but the seed (two states with one look differ only in A)."""
    look = thumbnail_state(state, 0)
    return look.replace(b=look.a)


def thumbnail_size(resolution: int) -> int:
    """A thumbnail's side for a model of `resolution` px: the model's own size up to THUMB_MAX."""
    return min(int(resolution), THUMB_MAX)


@torch.no_grad()
def render_thumbnails(renderer: Renderer, look: RenderState, seeds: Sequence[int], size: int,
                      frame_waiting: Callable[[], bool]) -> Iterator[tuple[list[int], np.ndarray]]:
    """Yield (seeds, uint8 [B, size, size, 3]) batch by batch; raises Preempted before a batch while a frame
    waits. Runs on the render worker's thread (it shares the worker's renderer and its loaded model)."""
    seeds = [int(s) for s in seeds]
    if frame_waiting():
        raise Preempted
    G = renderer.model_for(look).G
    z = zs_from_seeds(seeds, G.z_dim).to(G.device)
    w = G.mapping(z, one_hot(look.a.class_idx, G.c_dim, batch=len(seeds), device=G.device))
    ws = renderer.compute_ws(look, G, w_a=w)
    batch = min(default_batch_size(G), 4)     # 4 frames: ~80 ms at 64 px on one core, the longest a frame waits
    frames = render_frames(G, ws, state_frame_settings(look, renderer), batch_size=batch, size=size)
    for i in range(0, len(seeds), batch):
        if frame_waiting():
            raise Preempted
        yield seeds[i:i + batch], next(frames)
