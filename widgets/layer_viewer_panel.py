"""Layer viewer: the activations of any synthesis layer of the frame on screen, as a grey image.

Mean |activation| over channels, or one channel; stretched min..max to black..white and enlarged with
crisp pixels to a fixed VIEW x VIEW texture of its own. The pixels come from the activations the renderer
kept while drawing the frame (engine.layer_view, computed on the worker right after each render): looking
at a layer never costs a forward pass. Picking another layer or channel reduces that one layer of the frame
on screen at once (engine.layer_image: one small reduction, the only torch work this panel asks for).
"""
from __future__ import annotations

from typing import Optional

import dearpygui.dearpygui as dpg
import numpy as np

from explorer.app.model_info import LayerImage, ModelInfo

from .panel import Panel
from .style import DIM_COLOR

VIEW = 256              # texture side, px (every layer is shown at this size)
MEAN, CHANNEL = "mean |x|", "one channel"


class LayerViewerPanel(Panel):
    title = "Layer viewer"

    def __init__(self, app):
        super().__init__(app)
        self.layer: Optional[str] = None
        self.channel: Optional[int] = None       # None: mean over channels
        self.pixels: Optional[np.ndarray] = None  # what the texture shows, uint8 [VIEW, VIEW]
        self._shown: Optional[LayerImage] = None
        self._buf = np.zeros((VIEW, VIEW, 3), np.float32)

    def build(self) -> None:
        self.texture = dpg.add_raw_texture(VIEW, VIEW, self._buf, format=dpg.mvFormat_Float_rgb, parent="textures")
        dpg.add_combo(tag="layers.layer", items=[], width=260, callback=lambda s, a: self.select(self._name_of(a)))
        with dpg.group(horizontal=True):
            dpg.add_radio_button(tag="layers.mode", items=[MEAN, CHANNEL], horizontal=True, default_value=MEAN,
                                 callback=lambda s, a: self.select(self.layer, None if a == MEAN else self._channel()))
            dpg.add_input_int(tag="layers.channel", label="channel", width=90, min_value=0, min_clamped=True,
                              callback=lambda s, a: self.select(self.layer, int(a)))
            self.app.register_text_input("layers.channel")
        dpg.add_image(self.texture, tag="layers.image", width=VIEW, height=VIEW)
        dpg.add_text("no model yet", tag="layers.info", color=DIM_COLOR)

    # --- actions ------------------------------------------------------------------------------------------
    def select(self, layer: Optional[str], channel: Optional[int] = None) -> None:
        """Show `layer` (mean over channels, or `channel`) from now on, starting with the frame on screen."""
        if self.info is None or layer is None:
            return
        channels = next((l.channels for l in self.info.layers if l.name == layer), 1)
        self.layer = layer
        self.channel = None if channel is None else min(max(int(channel), 0), channels - 1)
        self.app.engine.watch_layer(self.layer, self.channel)
        # The frame on screen already has this layer's activations: read them now (small and once).
        self._show(self.app.engine.layer_image(self.layer, self.channel))
        self._sync_controls()

    # --- panel --------------------------------------------------------------------------------------------
    def on_model(self, info: Optional[ModelInfo]) -> None:
        if info is None or not info.layers:
            return
        names = [l.name for l in info.layers]
        dpg.configure_item("layers.layer", items=[self._label(l.name) for l in info.layers])
        if self.layer not in names:
            convs = [l.name for l in info.layers if l.kind == "conv"] or names
            self.layer = convs[len(convs) // 2]
        self.select(self.layer, self.channel)

    def tick(self) -> None:
        """Once per UI frame: upload the watched layer of a newly rendered frame."""
        view = self.app.engine.layer_view
        if view is not None and view is not self._shown and (view.name, view.channel) == (self.layer, self.channel):
            self._show(view)

    def _show(self, view: Optional[LayerImage]) -> None:
        self._shown = view
        if view is None:
            dpg.set_value("layers.info", "not rendered yet")
            return
        h, w = view.pixels.shape
        up = max(VIEW // max(h, w), 1)
        big = np.repeat(np.repeat(view.pixels, up, axis=0), up, axis=1)[:VIEW, :VIEW]
        pixels = np.zeros((VIEW, VIEW), np.uint8)
        y, x = (VIEW - big.shape[0]) // 2, (VIEW - big.shape[1]) // 2
        pixels[y:y + big.shape[0], x:x + big.shape[1]] = big
        np.multiply(pixels[:, :, None], np.float32(1 / 255), out=self._buf)   # in place: the texture reads it
        self.pixels = pixels
        what = "mean |x|" if view.channel is None else f"channel {view.channel}"
        dpg.set_value("layers.info", f"{view.name}: {view.channels} ch, {view.resolution}x{view.resolution}; "
                                     f"{what}, black..white = {view.lo:.3g}..{view.hi:.3g}")

    def _sync_controls(self) -> None:
        dpg.set_value("layers.layer", self._label(self.layer))
        dpg.set_value("layers.mode", MEAN if self.channel is None else CHANNEL)
        channels = next((l.channels for l in self.info.layers if l.name == self.layer), 1)
        dpg.configure_item("layers.channel", max_value=channels - 1, max_clamped=True)
        if self.channel is not None and not dpg.is_item_active("layers.channel"):
            dpg.set_value("layers.channel", self.channel)

    def _channel(self) -> int:
        return int(dpg.get_value("layers.channel"))

    def _label(self, name: Optional[str]) -> str:
        layer = next((l for l in self.info.layers if l.name == name), None) if self.info else None
        return "" if layer is None else f"{layer.name}  ({layer.resolution} px, {layer.channels} ch)"

    def _name_of(self, label: str) -> Optional[str]:
        return label.split()[0] if label else None
