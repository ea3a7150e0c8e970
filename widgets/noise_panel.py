"""Noise panel: mode and seed, one strength slider per noise layer (1 = as trained), one switch per resolution."""
from __future__ import annotations

from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.model_info import ModelInfo
from explorer.nn.family import NOISE_MODES
from explorer.render.state import NOISE_SCALE_RANGE, RenderState

from .help import add_model_tip
from .panel import Panel
from .style import DIM_COLOR


class NoisePanel(Panel):
    title = "Noise"

    def build(self) -> None:
        with dpg.group(horizontal=True, tag="noise.controls"):
            dpg.add_radio_button(tag="noise.mode", items=list(NOISE_MODES), horizontal=True,
                                 default_value=self.app.state.noise_mode,
                                 callback=lambda s, a: self.app.update_state(noise_mode=a))
            dpg.add_input_int(tag="noise.seed", label="seed", width=90, default_value=self.app.state.noise_seed,
                              min_value=0, min_clamped=True, callback=lambda s, a: self.app.update_state(noise_seed=int(a)))
            self.app.register_text_input("noise.seed")
        dpg.add_button(tag="noise.reset", label="all layers as trained", callback=self._reset)
        dpg.add_group(tag="noise.body")
        dpg.add_text("no model yet", parent="noise.body", color=DIM_COLOR)

    def _reset(self) -> None:
        self.app.update_state(noise_scales=(), noise_off_res=())

    def _set_scale(self, index: int, value: float) -> None:
        if self.info is not None:
            self.app.set_state(self.app.state.with_noise_scale(index, value, len(self.info.noise_layers)))

    def _set_res(self, res: int, on: bool) -> None:
        off = set(self.app.state.noise_off_res)
        if on:
            off.discard(res)
        else:
            off.add(res)
        self.app.update_state(noise_off_res=tuple(sorted(off)))

    def on_model(self, info: Optional[ModelInfo]) -> None:
        dpg.delete_item("noise.body", children_only=True)
        if info is None:
            return
        for tag in ("noise.controls", "noise.reset"):   # no mode, seed or reset for a model without noise
            dpg.configure_item(tag, show=bool(info.noise_layers))
        if not info.noise_layers:
            dpg.add_text("this model has no noise inputs", parent="noise.body", color=DIM_COLOR)
            return
        for res in info.noise_resolutions:
            box = dpg.add_checkbox(tag=f"noise.res.{res}", label=f"{res} px", parent="noise.body", default_value=True,
                                   user_data=res, callback=lambda s, a, u: self._set_res(u, bool(a)))
            add_model_tip(box, "noise.res", res=res)
            for layer in info.noise_layers:
                if layer.resolution == res:
                    item = dpg.add_slider_float(tag=f"noise.scale.{layer.index}", label=layer.name, parent="noise.body",
                                                min_value=NOISE_SCALE_RANGE[0], max_value=NOISE_SCALE_RANGE[1],
                                                default_value=1.0, width=220, indent=16, user_data=layer.index,
                                                callback=lambda s, a, u: self._set_scale(u, float(a)))
                    add_model_tip(item, "noise.scale", name=layer.name, top=NOISE_SCALE_RANGE[1])

    def sync(self, state: RenderState) -> None:
        dpg.set_value("noise.mode", state.noise_mode)
        if not dpg.is_item_active("noise.seed"):
            dpg.set_value("noise.seed", state.noise_seed)
        if self.info is None:
            return
        for res in self.info.noise_resolutions:
            dpg.set_value(f"noise.res.{res}", res not in state.noise_off_res)
        for layer in self.info.noise_layers:
            dpg.set_value(f"noise.scale.{layer.index}", state.noise_scale(layer.index))
            dpg.configure_item(f"noise.scale.{layer.index}", enabled=layer.resolution not in state.noise_off_res)
