"""State -> pixels: RenderState (what is on screen), Renderer (incremental synthesis), RenderWorker (async).

    from explorer.render import Renderer, RenderState, Source
    frame = Renderer().render(RenderState(a=Source(seed=1), b=Source(seed=2), psi=0.7))   # HxWx3 uint8
"""
from __future__ import annotations

from .renderer import Renderer, RenderStats
from .state import Edit, RenderState, Source
from .worker import RenderResult, RenderWorker

__all__ = ["Renderer", "RenderStats", "RenderState", "Source", "Edit", "RenderWorker", "RenderResult"]
