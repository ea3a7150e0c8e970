"""Style mixing panel: one slider per w index (0 = A, 1 = B), labelled with its resolution and coloured by level.

Group sliders set a whole level (coarse 4-8 px, middle 16-32 px, fine 64 px and up) and the presets set the
whole mix at once.
"""
from __future__ import annotations

from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.model_info import ModelInfo
from explorer.nn.layer_table import span
from explorer.render.state import RenderState

from .help import add_model_tip
from .panel import Panel
from .style import DIM_COLOR, level_theme

PRESETS = {  # tag suffix -> (button label, levels taken from B)
    "a_only": ("A only", ()),
    "b_coarse": ("B coarse", ("coarse",)),
    "b_middle": ("B middle", ("middle",)),
    "b_fine": ("B fine", ("fine",)),
    "b_only": ("B only", ("coarse", "middle", "fine")),
}


class MixingPanel(Panel):
    title = "Style mixing"

    def build(self) -> None:
        with dpg.group(horizontal=True):
            for key, (label, _) in PRESETS.items():
                dpg.add_button(tag=f"mix.preset.{key}", label=label, user_data=key,
                               callback=lambda s, a, u: self.apply_preset(u))
        dpg.add_group(tag="mix.body")
        dpg.add_text("no model yet", parent="mix.body", color=DIM_COLOR)

    def apply_preset(self, key: str) -> None:
        if self.info is None:
            return
        from_b = PRESETS[key][1]
        self.app.update_state(mix=tuple(1.0 if s.level in from_b else 0.0 for s in self.info.ws))

    def _set_group(self, level: str, value: float) -> None:
        if self.info is not None:
            self.app.set_state(self.app.state.with_mix(self.info.level_indices(level), value, self.info.num_ws))

    def _set_one(self, index: int, value: float) -> None:
        if self.info is not None:
            self.app.set_state(self.app.state.with_mix([index], value, self.info.num_ws))

    def on_model(self, info: Optional[ModelInfo]) -> None:
        dpg.delete_item("mix.body", children_only=True)
        if info is None:
            return
        for level in info.levels:
            idx = info.level_indices(level)
            group = dpg.add_slider_float(tag=f"mix.group.{level}", label=f"{level} ({info.level_caption(level)})",
                                         parent="mix.body",
                                         min_value=0.0, max_value=1.0, width=260, user_data=level,
                                         callback=lambda s, a, u: self._set_group(u, float(a)))
            dpg.bind_item_theme(group, level_theme(level))
            add_model_tip(group, "mix.group", level=level, span=span(idx))
            for i in idx:
                item = dpg.add_slider_float(tag=f"mix.w{i}", label=f"w{i:<2} {info.ws[i].caption}",
                                            parent="mix.body", min_value=0.0, max_value=1.0, width=220,
                                            indent=16, user_data=i,
                                            callback=lambda s, a, u: self._set_one(u, float(a)))
                dpg.bind_item_theme(item, level_theme(level))
                add_model_tip(item, "mix.w", index=i, level=level, caption=info.ws[i].caption)

    def sync(self, state: RenderState) -> None:
        if self.info is None:
            return
        for level in self.info.levels:
            idx = self.info.level_indices(level)
            if not dpg.is_item_active(f"mix.group.{level}"):
                dpg.set_value(f"mix.group.{level}", sum(state.mix_weight(i) for i in idx) / len(idx))
            for i in idx:
                dpg.set_value(f"mix.w{i}", state.mix_weight(i))
