"""Blend panel: a second checkpoint of the same architecture, blended with the model on screen per level or
per layer (0 = this model, 1 = the second); the same w drives both. A file that does not load or does not
match is refused with the reason, and the state keeps its last good blend."""
from __future__ import annotations

from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.model_info import ModelInfo
from explorer.app.tasks import Task
from explorer.render.state import RenderState

from . import dialogs
from .panel import Panel
from .style import DIM_COLOR, level_theme


class BlendPanel(Panel):
    title = "Blend with a second model"

    def __init__(self, app):
        super().__init__(app)
        self.layers: tuple = ()
        self._checked: Optional[str] = None     # a second model checked by the background task, to apply

    def build(self) -> None:
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="blend.path", hint="second checkpoint (same architecture)", width=260)
            self.app.register_text_input("blend.path")
            dpg.add_button(tag="blend.browse", label="...", callback=lambda: dialogs.show("blend.dialog"))
            dpg.add_button(tag="blend.load", label="Blend", callback=self.load)
            dpg.add_button(tag="blend.off", label="Off", callback=lambda: self.app.update_state(blend_with=None))
        dpg.add_text("no second model", tag="blend.with", color=DIM_COLOR)
        dpg.add_group(tag="blend.body")

    def build_dialogs(self) -> None:
        dialogs.file_dialog("blend.dialog", [(".safetensors", "explorer"), (".pkl", "NVlabs"), (".pt", "rosinality")],
                            lambda p: dpg.set_value("blend.path", p), "Second model to blend with")

    def load(self) -> Optional[Task]:
        """Check the second model on a background task; tick() makes it the blend once it passed."""
        path = dpg.get_value("blend.path").strip()
        if not path or self.info is None:
            self.app.show_error("choose a second checkpoint (and wait for the model to load)")
            return None
        first = self.info.path

        def work(task: Task) -> None:
            self._checked = self.app.live.check_blend(first, path)

        return self.app.run_task(f"checking {path}", work)

    def _set(self, indices: list[int], value: float) -> None:
        self.app.set_state(self.app.state.with_blend(indices, value, len(self.layers)))

    def on_model(self, info: Optional[ModelInfo]) -> None:
        self.layers = () if info is None else info.layer_table.layers
        dpg.delete_item("blend.body", children_only=True)
        for level in ("coarse", "middle", "fine"):
            idx = [i for i, x in enumerate(self.layers) if x.level == level]
            if not idx:
                continue
            item = dpg.add_slider_float(tag=f"blend.level.{level}", label=level, parent="blend.body", width=260,
                                        min_value=0.0, max_value=1.0, user_data=idx,
                                        callback=lambda s, a, u: self._set(u, float(a)))
            dpg.bind_item_theme(item, level_theme(level))
        with dpg.tree_node(label="per layer", parent="blend.body", default_open=False):
            for i, layer in enumerate(self.layers):
                item = dpg.add_slider_float(tag=f"blend.l{i}", label=layer.name, width=220, min_value=0.0,
                                            max_value=1.0, user_data=[i], callback=lambda s, a, u: self._set(u, float(a)))
                dpg.bind_item_theme(item, level_theme(layer.level))

    def tick(self) -> None:
        if self._checked is not None:
            path, self._checked = self._checked, None
            self.app.update_state(blend_with=path)

    def sync(self, state: RenderState) -> None:
        dpg.set_value("blend.with", f"blending with {state.blend_with}" if state.blend_with else "no second model")
        for level in ("coarse", "middle", "fine"):
            tag = f"blend.level.{level}"
            if dpg.does_item_exist(tag) and not dpg.is_item_active(tag):
                idx = dpg.get_item_user_data(tag)
                dpg.set_value(tag, sum(state.blend_weight(i) for i in idx) / len(idx))
        for i in range(len(self.layers)):
            dpg.set_value(f"blend.l{i}", state.blend_weight(i))
