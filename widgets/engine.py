"""The app's one door to torch: the renderer the worker drives, and the model-facing helpers panels need.

Panels never touch a Generator; they get a ModelInfo (plain data) and ask the app, which asks this module.
`Engine` stands in for a Renderer inside RenderWorker (it has `render(state)` and `stats`) and notes which
model drew each frame, so the app can rebuild the model-dependent panels when a new checkpoint arrives.
The renderer keeps every layer's output (to resume inside a block), so the layer viewer reads the frame's
activations with no second forward pass.
project_photo runs the projector for the Projector panel, on a background thread with a model of its own.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from explorer.errors import ExplorerError
from explorer.images import to_numpy_images
from explorer.latents import load_ws, one_hot, save_ws
from explorer.nn.generator import Generator
from explorer.project.losses import ProjectionLoss, parse_loss_spec, psnr
from explorer.project.projector import ProjectionStep, ProjectorConfig, project, save_projection, synthesize
from explorer.render.renderer import Renderer, RenderStats
from explorer.render.state import RenderState

from .model_info import DirectionSet, LayerImage, LayerInfo, ModelInfo, NoiseLayerInfo, WSlotInfo, conform

VIEW_MAX = 256      # layer images larger than this are average-pooled down to it before leaving the device


class Engine:
    """A Renderer plus the ModelInfo of the model it last used; runs on the render worker's thread."""

    def __init__(self, renderer: Optional[Renderer] = None):
        self.renderer = renderer or Renderer()
        self.info: Optional[ModelInfo] = None
        self.current: tuple[Optional[Generator], Optional[ModelInfo]] = (None, None)  # swapped as one value
        self._model = None
        self.watched: Optional[tuple[str, Optional[int]]] = None   # (layer, channel) the layer viewer shows
        self.layer_view: Optional[LayerImage] = None               # ...of the newest frame (set after each)

    @property
    def stats(self) -> RenderStats:
        return self.renderer.stats

    def render(self, state: RenderState) -> np.ndarray:
        model = self.renderer.model_for(state)      # loads on this (worker) thread; raises -> result.error
        if model is not self._model:
            self.info = describe(model.G, model.key, self.renderer.stats)
            self.current = (model.G, self.info)
            self._model = model
        image = self.renderer.render(conform(state, self.info))
        if self.watched is not None:
            self.layer_view = self.layer_image(*self.watched)
        return image

    def watch_layer(self, name: Optional[str], channel: Optional[int] = None) -> None:
        """Have every frame also leave `name`'s activations in layer_view (None: stop)."""
        self.watched = None if name is None else (name, channel)

    @torch.no_grad()
    def layer_image(self, name: str, channel: Optional[int] = None) -> Optional[LayerImage]:
        """Layer `name` of the last frame as a normalised uint8 image (None before the first frame).

        Mean |activation| over channels, or one channel; min..max stretched to 0..255; reduced on the device,
        so one small array crosses to the host.
        """
        y = self.renderer.layer_output(name)
        if y is None:
            return None
        y = y.float()
        channels, res = int(y.shape[0]), int(y.shape[-1])
        if channel is not None and not 0 <= channel < channels:
            channel = channels - 1
        m = y.abs().mean(dim=0) if channel is None else y[channel]
        if res > VIEW_MAX:
            m = F.avg_pool2d(m[None, None], res // VIEW_MAX)[0, 0]
        lo, hi = m.min(), m.max()
        u8 = ((m - lo) * (255 / max(float(hi - lo), 1e-12)) + 0.5).clamp(0, 255).to(torch.uint8)
        return LayerImage(name, channel, channels, res, np.ascontiguousarray(u8.cpu().numpy()), float(lo), float(hi))

    def directions(self, source: str, layers: str) -> DirectionSet:
        """The directions of the model on screen (SeFa for `layers`, or an .npz), computed once and shared with
        the renderer's cache; call from a background thread, not the UI thread (SeFa and the w spread take
        up to ~a second on a large model on the CPU)."""
        G, info = self.current
        if G is None or info is None:
            raise ExplorerError("no model loaded yet")
        try:
            indices = tuple(G.layer_table.parse_indices(layers))
        except ValueError as e:
            raise ExplorerError(f"layer range {layers!r}: {e}") from None
        found = self.renderer.directions.get(G, source, layers)
        values = None if found.eigenvalues is None else tuple(float(v) for v in found.eigenvalues)
        return DirectionSet(info.key, source, layers, indices, values, tuple(float(v) for v in found.std))


def describe(G: Generator, key: tuple, stats: RenderStats) -> ModelInfo:
    table = G.layer_table
    provenance = dict(G.cfg.provenance)
    return ModelInfo(
        key=key,
        path=str(getattr(G, "source_path", key[0])),
        kind=str(getattr(G, "source_kind", "native")),
        demo="demo" in provenance.get("source_format", ""),
        resolution=G.img_resolution, z_dim=G.z_dim, w_dim=G.w_dim, c_dim=G.c_dim, num_ws=G.num_ws,
        ws=tuple(WSlotInfo(s.index, s.resolution, s.level) for s in table.ws),
        noise_layers=tuple(NoiseLayerInfo(i, c.name, c.resolution) for i, c in enumerate(table.noise_layers)),
        device=stats.device, dtype=stats.dtype,
        layers=tuple(_layers(G)), layer_table=table,
    )


def _layers(G: Generator):
    for block in G.synthesis.blocks():
        for name in ("conv0", "conv1", "torgb"):
            if hasattr(block, name):
                yield LayerInfo(f"b{block.resolution}.{name}", block.resolution, getattr(block, name).out_channels)


def check_w_file(path: "str | os.PathLike[str]", info: ModelInfo) -> int:
    """Number of rows in a w / w+ .npz that fits the model; ExplorerError naming the file otherwise."""
    return int(load_ws(path, info.num_ws, info.w_dim).shape[0])


@torch.no_grad()
def save_current_w(G: Generator, state: RenderState, path: "str | os.PathLike[str]") -> Path:
    """Write the ws a state renders with (after interpolation, truncation, mixing, edits) as w+ .npz.

    Uses its own Renderer so the worker's caches are never touched from another thread. Loading the file
    as source A with psi 1 and no mixing gives the same frame back.
    """
    return save_ws(path, Renderer().compute_ws(state, G))


@dataclasses.dataclass(frozen=True, eq=False)
class Projected:
    """A finished (or cancelled) projection, as plain data for the Projector panel."""

    path: Optional[Path]        # The w+ .npz written (None: cancelled before the first step).
    image: np.ndarray           # HxWx3 uint8: the saved w drawn with the model's const noise (as the app draws A).
    psnr: float                 # dB of that image against the target.
    start_psnr: float           # dB of the w_avg image (where the projection starts), for comparison.
    steps_done: int
    num_steps: int
    cancelled: bool
    model_key: tuple            # The model it was made with (a w means nothing to another model).


def projection_threads() -> int:
    """Torch threads for a projection on the CPU: half the cores, so the interactive renderer keeps the rest
    (more threads than free cores make torch's workers spin-wait for each other: several times slower)."""
    return max(1, (os.cpu_count() or 2) // 2)


def project_photo(
    state: RenderState,                         # Its checkpoint, device and A's class pick the model.
    pixels: np.ndarray,                         # HxWx3 uint8 target, already at the model's resolution.
    out: Path,                                  # Where to write the best ws (.npz, key 'w').
    steps: int,
    space: str,                                 # 'w' or 'w+'.
    loss_spec: Optional[str],                   # parse_loss_spec text; None = the default terms (with fallback).
    on_step: Callable[[ProjectionStep], None],  # Called on this thread after every step (with a preview).
    cancel,                                     # .is_set() -> True stops after the current step.
    on_note: Callable[[str], None] = lambda note: None,   # A fallback the user should know about.
) -> Projected:
    """Project one photo with a generator of its own (the render worker's keeps drawing), on this thread.

    The noise inputs stay the model's const buffers (not optimised), so the saved w renders in the app,
    which draws with those buffers, exactly as the projector scored it; a projection with optimised noise
    fits a little better but its look would not survive into the app.
    """
    model = Renderer().model_for(state)          # a fresh instance: never the worker's
    G = model.G
    if G.device.type == "cpu":   # this thread's share of the cores (thread-local); the rest stay with the window
        torch.set_num_threads(projection_threads())
    targets = torch.tensor(pixels, dtype=torch.uint8, device=G.device).permute(2, 0, 1)[None].float() / 127.5 - 1
    loss = ProjectionLoss(targets, parse_loss_spec(loss_spec), strict=loss_spec is not None, warn=False)
    if loss.warning:
        on_note(loss.warning)
    c = one_hot(state.a.class_idx, G.c_dim, device=G.device)
    cfg = ProjectorConfig(num_steps=steps, space=space, optimize_noise=False)
    result = project(G, targets, loss, cfg, c=c, callback=on_step, cancel=cancel, preview_every=1)
    with torch.no_grad():
        image = synthesize(G, result.ws)
        start = synthesize(G, G.mapping.w_avg.view(1, 1, -1).expand(1, G.num_ws, -1))
        p, p0 = (float(psnr(x.cpu(), targets.cpu())[0]) for x in (image, start))
    path = save_projection(out, result.ws) if result.steps_done > 0 else None
    return Projected(path, to_numpy_images(image)[0], p, p0, result.steps_done, steps, result.cancelled, model.key)
