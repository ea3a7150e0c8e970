"""Camera panel: translate x / y and rotate, the input transform of models that have one (StyleGAN3).

Dragging on the image does the same: the left button moves the picture with the mouse, the right button turns
it around the image centre as the mouse goes round. A model without an input transform says so here instead
of offering sliders that would do nothing.
"""
from __future__ import annotations

import math
from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.model_info import ModelInfo
from explorer.render.state import ROTATE_RANGE, TRANSLATE_RANGE, RenderState

from .panel import Panel
from .style import DIM_COLOR

MOVE, TURN = dpg.mvMouseButton_Left, dpg.mvMouseButton_Right


class CameraPanel(Panel):
    title = "Camera"

    def __init__(self, app):
        super().__init__(app)
        self._drag: Optional[tuple] = None    # (button, mouse x, y, translate, rotate, image rect) at the press
        self._down: dict[int, bool] = {}

    def build(self) -> None:
        with dpg.group(tag="camera.controls", show=False):
            lo, hi = TRANSLATE_RANGE
            dpg.add_slider_float(tag="camera.tx", label="translate x", min_value=lo, max_value=hi, width=260,
                                 callback=lambda s, a: self._set(tx=float(a)))
            dpg.add_slider_float(tag="camera.ty", label="translate y", min_value=lo, max_value=hi, width=260,
                                 callback=lambda s, a: self._set(ty=float(a)))
            dpg.add_slider_float(tag="camera.rotate", label="rotate (deg)", min_value=ROTATE_RANGE[0],
                                 max_value=ROTATE_RANGE[1], width=260, callback=lambda s, a: self._set(rotate=float(a)))
            with dpg.group(horizontal=True):
                dpg.add_button(tag="camera.reset", label="Reset", callback=lambda: self.app.update_state(
                    translate=(0.0, 0.0), rotate=0.0))
                dpg.add_text("drag on the image: left moves, right turns", color=DIM_COLOR)
        dpg.add_text("no model yet", tag="camera.none", color=DIM_COLOR)

    def _set(self, tx: Optional[float] = None, ty: Optional[float] = None, rotate: Optional[float] = None) -> None:
        s = self.app.state
        translate = (s.translate[0] if tx is None else tx, s.translate[1] if ty is None else ty)
        self.app.update_state(translate=translate, rotate=s.rotate if rotate is None else rotate)

    # --- panel ----------------------------------------------------------------------------------------------
    def on_model(self, info: Optional[ModelInfo]) -> None:
        has = info is not None and info.has_transform
        dpg.configure_item("camera.controls", show=has)
        dpg.configure_item("camera.none", show=not has)
        if info is not None and not has:
            dpg.set_value("camera.none", "this model has no input transform (StyleGAN3 models have one)")

    def sync(self, state: RenderState) -> None:
        for tag, value in (("camera.tx", state.translate[0]), ("camera.ty", state.translate[1]),
                           ("camera.rotate", state.rotate)):
            if not dpg.is_item_active(tag):
                dpg.set_value(tag, value)

    def tick(self) -> None:
        """Once per UI frame: follow a drag that began with a press on the image."""
        info = self.info
        for button in (MOVE, TURN):
            down = dpg.is_mouse_button_down(button)
            pressed = down and not self._down.get(button, False)
            self._down[button] = down
            if pressed and self._drag is None and info is not None and info.has_transform \
                    and dpg.is_item_hovered("view.image"):
                x, y = dpg.get_mouse_pos(local=False)
                rect = (*dpg.get_item_rect_min("view.image"), *dpg.get_item_rect_size("view.image"))
                self._drag = (button, x, y, self.app.state.translate, self.app.state.rotate, rect)
        if self._drag is None:
            return
        button, x0, y0, translate, rotate, (left, top, w, h) = self._drag
        if not self._down[button]:
            self._drag = None
            return
        x, y = dpg.get_mouse_pos(local=False)
        if button == MOVE:   # the picture follows the mouse: +x right, +y down, in image widths
            lo, hi = TRANSLATE_RANGE
            tx = min(max(translate[0] + (x - x0) / max(w, 1), lo), hi)
            ty = min(max(translate[1] + (y - y0) / max(h, 1), lo), hi)
            self.app.update_state(translate=(round(tx, 4), round(ty, 4)))
        else:                # the picture turns with the mouse around the image centre (+ = counterclockwise)
            cx, cy = left + w / 2, top + h / 2
            turned = math.degrees(math.atan2(cy - y, x - cx) - math.atan2(cy - y0, x0 - cx))
            self.app.update_state(rotate=round((rotate + turned + 180) % 360 - 180, 3))
