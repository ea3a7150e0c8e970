"""Model panel: open a checkpoint (path box, file dialog, recent list), pick device and precision, see its layers.

Loading happens on the render worker; a file that fails to load shows its error here and the previous model
stays on screen.
"""
from __future__ import annotations

from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.model_info import ModelInfo
from explorer.render.state import DEVICES, PRECISIONS, RenderState

from . import dialogs
from .panel import Panel
from .style import DIM_COLOR, ERROR_COLOR


class ModelPanel(Panel):
    title = "Model"

    def build(self) -> None:
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="model.path", hint="checkpoint: .safetensors, NVlabs .pkl, rosinality .pt",
                               default_value=self.app.state.checkpoint or "", width=-110, on_enter=True, callback=lambda s, a: self.app.load_checkpoint(a))
            self.app.register_text_input("model.path")
            dpg.add_button(tag="model.load", label="Load", callback=self._load)
            dpg.add_button(tag="model.browse", label="Open...", callback=lambda: dialogs.show("model.dialog"))
        dpg.add_combo(tag="model.recent", label="recent", items=self.app.recent.items, width=-60,
                      callback=lambda s, a: a and self.app.load_checkpoint(a))
        with dpg.group(horizontal=True):
            dpg.add_combo(tag="model.device", label="device", items=list(DEVICES), width=80,
                          default_value=self.app.state.device,
                          callback=lambda s, a: self.app.update_state(device=a))
            dpg.add_combo(tag="model.precision", label="precision", items=list(PRECISIONS), width=80,
                          default_value=self.app.state.precision,
                          callback=lambda s, a: self.app.update_state(precision=a))
        with dpg.tooltip("model.precision"):
            dpg.add_text("auto: fp16 for the top resolutions on CUDA, fp32 on CPUs (pixels as NVlabs').\n"
                         "bf16: ~1.9x faster at 256 px on CPUs with AVX512-BF16, within ~0.3 grey levels.")
        dpg.add_text("loading...", tag="model.summary", color=DIM_COLOR)
        dpg.add_text("", tag="model.error", color=ERROR_COLOR, wrap=420, show=False)

    def build_dialogs(self) -> None:
        dialogs.file_dialog("model.dialog", [(".safetensors", "explorer"), (".pkl", "NVlabs pickle"),
                                             (".pt", "rosinality")], self.app.load_checkpoint, "Open a checkpoint")

    def _load(self) -> None:
        self.app.load_checkpoint(dpg.get_value("model.path"))

    def on_model(self, info: Optional[ModelInfo]) -> None:
        if info is None:
            return
        dpg.set_value("model.summary", "\n".join(info.summary_lines()))
        dpg.set_value("model.path", info.path)
        dpg.configure_item("model.recent", items=self.app.recent.items)

    def sync(self, state: RenderState) -> None:
        dpg.set_value("model.device", state.device)
        dpg.set_value("model.precision", state.precision)
        error = self.app.model_error
        if self.app.info is None:
            dpg.set_value("model.summary", "no model loaded" if error else "loading...")
        dpg.set_value("model.error", f"Could not load: {error}" if error else "")
        dpg.configure_item("model.error", show=bool(error))
