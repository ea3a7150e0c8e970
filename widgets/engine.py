"""The app's one door to torch: the renderer the worker drives, and the model-facing helpers panels need.

Panels never touch a Generator; they get a ModelInfo (plain data) and ask the app, which asks this module.
`Engine` stands in for a Renderer inside RenderWorker (it has `render(state)` and `stats`) and notes which
model drew each frame, so the app can rebuild the model-dependent panels when a new checkpoint arrives.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from explorer.errors import OutputError
from explorer.latents import load_ws
from explorer.nn.generator import Generator
from explorer.render.renderer import Renderer, RenderStats
from explorer.render.state import RenderState

from .model_info import ModelInfo, NoiseLayerInfo, WSlotInfo, conform


class Engine:
    """A Renderer plus the ModelInfo of the model it last used; runs on the render worker's thread."""

    def __init__(self, renderer: Optional[Renderer] = None):
        self.renderer = renderer or Renderer()
        self.info: Optional[ModelInfo] = None
        self.current: tuple[Optional[Generator], Optional[ModelInfo]] = (None, None)  # swapped as one value
        self._model = None

    @property
    def stats(self) -> RenderStats:
        return self.renderer.stats

    def render(self, state: RenderState) -> np.ndarray:
        model = self.renderer.model_for(state)      # loads on this (worker) thread; raises -> result.error
        if model is not self._model:
            self.info = describe(model.G, model.key, self.renderer.stats)
            self.current = (model.G, self.info)
            self._model = model
        return self.renderer.render(conform(state, self.info))


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
    )


def check_w_file(path: "str | os.PathLike[str]", info: ModelInfo) -> int:
    """Number of rows in a w / w+ .npz that fits the model; ExplorerError naming the file otherwise."""
    return int(load_ws(path, info.num_ws, info.w_dim).shape[0])


@torch.no_grad()
def save_current_w(G: Generator, state: RenderState, path: "str | os.PathLike[str]") -> Path:
    """Write the ws a state renders with (after interpolation, truncation, mixing, edits) as w+ .npz.

    Uses its own Renderer so the worker's caches are never touched from another thread. Loading the file
    as source A with psi 1 and no mixing gives the same frame back.
    """
    ws = Renderer().compute_ws(state, G).cpu().numpy().astype(np.float32)
    path = Path(path)
    buf = io.BytesIO()
    np.savez(buf, w=ws)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(path, f"cannot write w ({e.strerror or e})") from None
    return path
