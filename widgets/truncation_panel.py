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
            # The w indices are the model's: until one has loaded there is nothing to cut off.
            dpg.add_checkbox(tag="trunc.use_cutoff", label="cutoff", default_value=self.app.state.cutoff is not None,
                             enabled=self.info is not None, callback=self._toggle)
            dpg.add_slider_int(tag="trunc.cutoff", label="truncate w indices below", min_value=0,
                               max_value=self.info.num_ws if self.info is not None else 0,
                               width=160, default_value=self.app.state.cutoff or 0, enabled=False,
                               callback=lambda s, a: self.app.update_state(cutoff=int(a)))
        dpg.add_button(tag="trunc.model_default", label="as the model file says", show=False,
                       callback=self._model_default)

    def _model_default(self, *_) -> None:
        """The truncation the model's file carries (StyleGAN v1 pickles: psi 0.7 on w indices < 8)."""
        if self.info is not None:
            psi, cutoff = self.info.default_truncation
            self.app.update_state(psi=psi, cutoff=cutoff)

    def _toggle(self, sender, on) -> None:
        self.app.update_state(cutoff=int(dpg.get_value("trunc.cutoff")) if on else None)

    def on_model(self, info: Optional[ModelInfo]) -> None:
        if info is not None:
            dpg.configure_item("trunc.use_cutoff", enabled=True)
            dpg.configure_item("trunc.cutoff", max_value=info.num_ws)
            psi, cutoff = info.default_truncation
            dpg.configure_item("trunc.model_default", show=(psi, cutoff) != (1.0, None),
                               label=f"as the model file says: psi {psi:g}" + (f", w < {cutoff}" if cutoff else ""))

    def sync(self, state: RenderState) -> None:
        dpg.set_value("trunc.psi", state.psi)
        dpg.set_value("trunc.use_cutoff", state.cutoff is not None)
        dpg.configure_item("trunc.cutoff", enabled=state.cutoff is not None)
        if state.cutoff is not None:
            dpg.set_value("trunc.cutoff", state.cutoff)
