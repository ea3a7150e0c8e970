"""Truncation panel: psi pulls w towards the average (0 = the average image, 1 = as sampled, <0 = the opposite),
optionally only on the first `cutoff` w indices (the coarse ones, typically)."""
from __future__ import annotations

from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.model_info import ModelInfo
from explorer.render.state import PSI_RANGE, RenderState

from .panel import Panel


class TruncationPanel(Panel):
    title = "Truncation"

    def build(self) -> None:
        dpg.add_slider_float(tag="trunc.psi", label="psi", min_value=PSI_RANGE[0], max_value=PSI_RANGE[1], width=300,
                             default_value=self.app.state.psi, callback=lambda s, a: self.app.update_state(psi=float(a)))
        with dpg.group(horizontal=True):
            dpg.add_checkbox(tag="trunc.use_cutoff", label="cutoff", default_value=self.app.state.cutoff is not None,
                             callback=self._toggle)
            dpg.add_slider_int(tag="trunc.cutoff", label="truncate w indices below", min_value=0, max_value=18,
                               width=160, default_value=self.app.state.cutoff or 0, enabled=False,
                               callback=lambda s, a: self.app.update_state(cutoff=int(a)))

    def _toggle(self, sender, on) -> None:
        self.app.update_state(cutoff=int(dpg.get_value("trunc.cutoff")) if on else None)

    def on_model(self, info: Optional[ModelInfo]) -> None:
        if info is not None:
            dpg.configure_item("trunc.cutoff", max_value=info.num_ws)

    def sync(self, state: RenderState) -> None:
        dpg.set_value("trunc.psi", state.psi)
        dpg.set_value("trunc.use_cutoff", state.cutoff is not None)
        dpg.configure_item("trunc.cutoff", enabled=state.cutoff is not None)
        if state.cutoff is not None:
            dpg.set_value("trunc.cutoff", state.cutoff)
