"""The app's one door to torch: the renderer the worker drives, and the model-facing helpers panels need.

Panels never touch a generator; they get a ModelInfo (plain data) and ask the app, which asks this module.
`Engine` stands in for a Renderer inside RenderWorker (it has `render(state)` and `stats`) and notes which
model drew each frame, so the app can rebuild the model-dependent panels when a new checkpoint arrives.
The renderer keeps every layer's output (to resume inside a block), so the layer viewer reads the frame's
activations with no second forward pass.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ExplorerError
from ..latents import load_ws, save_ws
from ..nn.families import FAMILY_NAMES, family_of
from ..nn.family import FamilyGenerator
from ..project.tune import tuned_label
from ..render.renderer import Renderer, RenderStats
from ..render.state import RenderState
from .model_info import DirectionSet, LayerImage, LayerInfo, ModelInfo, NoiseLayerInfo, WSlotInfo

VIEW_MAX = 256      # layer images larger than this are average-pooled down to it before leaving the device


class Engine:
    """A Renderer plus the ModelInfo of the model it last used; runs on the render worker's thread."""

    def __init__(self, renderer: Optional[Renderer] = None):
        self.renderer = renderer or Renderer()
        self.current: tuple[Optional[FamilyGenerator], Optional[ModelInfo]] = (None, None)  # swapped as one value
        self._model = None
        self.watched: Optional[tuple[str, Optional[int]]] = None   # (layer, channel) the layer viewer shows
        self.layer_view: Optional[LayerImage] = None               # ...of the newest frame (set after each)

    @property
    def info(self) -> Optional[ModelInfo]:
        """What the panels know of the model that drew the newest frame (None before the first)."""
        return self.current[1]

    @property
    def stats(self) -> RenderStats:
        return self.renderer.stats

    def render(self, state: RenderState) -> np.ndarray:
        """The state, fitted to its model, as pixels; loads the model on this (worker) thread when it changed
        (a failure raises, and the worker reports it as the result's error)."""
        try:
            image = self.renderer.render(state, fit=True)
        finally:
            self._note_model()
        if self.watched is not None:
            self.layer_view = self.layer_image(*self.watched)
        return image

    def _note_model(self) -> None:
        model = self.renderer.model
        if model is not None and model is not self._model:
            self.current = (model.G, describe(model.G, model.key, self.renderer.stats))
            self._model = model

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


def describe(G: FamilyGenerator, key: tuple, stats: RenderStats) -> ModelInfo:
    table = G.layer_table
    provenance = dict(G.cfg.provenance)
    return ModelInfo(
        key=key,
        path=str(getattr(G, "source_path", key[0])),
        kind=str(getattr(G, "source_kind", "native")),
        demo="demo" in provenance.get("source_format", ""),
        resolution=G.img_resolution, z_dim=G.z_dim, w_dim=G.w_dim, c_dim=G.c_dim, num_ws=G.num_ws,
        ws=tuple(WSlotInfo(s.index, s.resolution, s.level, table.layers[s.first_layer].cutoff) for s in table.ws),
        noise_layers=tuple(NoiseLayerInfo(i, c.name, c.resolution) for i, c in enumerate(table.noise_layers)),
        device=stats.device, dtype=stats.dtype,
        layers=tuple(LayerInfo(layer.name, layer.size, layer.channels, layer.kind) for layer in table.layers),
        layer_table=table,
        family=FAMILY_NAMES[family_of(G.cfg)], default_truncation=G.default_truncation,
        tuned=tuned_label(provenance),
    )


def check_w_file(path: "str | os.PathLike[str]", info: ModelInfo) -> int:
    """Number of rows in a w / w+ .npz that fits the model; ExplorerError naming the file otherwise."""
    return int(load_ws(path, info.num_ws, info.w_dim).shape[0])


@torch.no_grad()
def save_current_w(G: FamilyGenerator, state: RenderState, path: "str | os.PathLike[str]") -> Path:
    """Write the ws a state renders with (after interpolation, truncation, mixing, edits) as w+ .npz.

    Uses its own Renderer so the worker's caches are never touched from another thread. Loading the file
    as source A with psi 1 and no mixing gives the same frame back.
    """
    return save_ws(path, Renderer().compute_ws(state, G))
