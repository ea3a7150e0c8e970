"""The picture: the frame on screen in a texture of its own, as large as the window allows, aspect kept.

    app shows a frame --show(image)--> copy into the texture's buffer (uint8 -> float; zoomed in pixel-exact mode)
    every UI frame     --tick()------> fit the picture area: a new zoom re-uploads; a new size makes a new texture

Two ways to scale, as the user picks with "pixel exact" (by default: smooth when the picture is enlarged more
than SMOOTH_ABOVE times, where a small model's pixels would show as blocks, pixel exact up to that):
- smooth: the texture is the frame itself and Dear PyGui's bilinear sampling stretches it to fill the area;
- pixel exact: the largest integer zoom that fits, done here by pixel replication (bilinear sampling of a
  texture shown at its own size changes nothing), so every model pixel is a crisp square.
A frame larger than the area is shown smaller in both modes. A replaced texture is freed a few frames later,
once nothing draws it. Above the picture: the model's name and the view's own controls.
"""
from __future__ import annotations

from typing import Any, Optional

import dearpygui.dearpygui as dpg
import numpy as np

from . import dialogs
from .panel import Panel
from .status_panel import LINE_H
from .style import NOTE_COLOR

MARGIN = 8
MAX_TEXTURE = 2048    # largest zoomed texture side, px
FREE_AFTER = 3        # UI frames a replaced texture lives on (a frame in flight may still draw it)
SMOOTH_ABOVE = 2.0    # by default, enlargements beyond this are smooth, those up to it pixel exact


def fit(avail_w: int, avail_h: int, img_w: int, img_h: int, exact: bool) -> tuple[int, int, int]:
    """(texture zoom, shown width, shown height) of an img_w x img_h frame in an avail_w x avail_h area.

    exact: the largest integer zoom that fits; smooth: the frame stretched to fill the area (zoom 1, the
    texture sampled bilinearly). Either way, a frame too large for the area is shrunk to fit, aspect kept."""
    if min(img_w, img_h, avail_w, avail_h) <= 0:
        return 1, max(img_w, 1), max(img_h, 1)
    scale = min(avail_w / img_w, avail_h / img_h)
    if exact and scale >= 1:
        zoom = min(int(scale), max(MAX_TEXTURE // max(img_w, img_h), 1))
        return zoom, img_w * zoom, img_h * zoom
    return 1, max(int(img_w * scale), 1), max(int(img_h * scale), 1)


def enlargement(avail_w: int, avail_h: int, img_w: int, img_h: int) -> float:
    """How many times the frame would be enlarged to fill the area (below 1: shrunk)."""
    if min(img_w, img_h) <= 0:
        return 1.0
    return min(avail_w / img_w, avail_h / img_h)


class ImageView(Panel):
    title = "Image"

    def __init__(self, app):
        super().__init__(app)
        self.image: Optional[np.ndarray] = None     # the frame on screen, HxWx3 uint8 (never written to)
        self.pixel_exact: Optional[bool] = None     # the user's choice; None: SMOOTH_ABOVE decides
        self.exact = True                           # the mode in use now
        self.shown = (0, 0, 0, 0)                   # x, y, w, h last laid out, inside the view area
        self.zoom = 1
        self.texture_size = (1, 1)
        self._buf = np.full((1, 1, 3), 0.2, np.float32)
        self._texture: Any = None
        self._ticks = 0
        self._old: list[tuple[int, Any, np.ndarray]] = []   # (tick to free at, texture, its buffer)

    def build(self) -> None:
        self._texture = dpg.add_raw_texture(1, 1, self._buf, format=dpg.mvFormat_Float_rgb, parent="textures")
        with dpg.group(horizontal=True, tag="view.toolbar"):
            dpg.add_button(tag="view.open", label="Open model...", callback=lambda: dialogs.show("model.dialog"))
            dpg.add_checkbox(tag="view.exact", label="pixel exact", callback=lambda s, a: self.set_pixel_exact(bool(a)))
            dpg.add_button(tag="view.help", label="Help (F1)", callback=lambda: self.app.help.toggle())
            dpg.add_text("", tag="view.label", color=NOTE_COLOR)
        with dpg.child_window(tag="view.area", width=-1, height=-LINE_H, border=False, no_scrollbar=True):
            dpg.add_image(self._texture, tag="view.image", width=1, height=1)

    def show(self, image: np.ndarray) -> None:
        """Put a new frame on screen (UI thread)."""
        self.image = image
        self._upload()

    def set_pixel_exact(self, on: Optional[bool]) -> None:
        """Integer zoom (True), smooth (False), or as SMOOTH_ABOVE decides (None)."""
        self.pixel_exact = on

    def tick(self) -> None:
        """Re-fit the image when the window, the frame size or the mode changed (cheap: compares a few numbers)."""
        self._ticks += 1
        self._free_old_textures()
        info = self.app.info
        if info is not None:
            label = info.label
        else:
            label = "No model loaded: open a checkpoint (Inspect > Model)" if self.app.model_error else "loading the model..."
        dpg.set_value("view.label", label)
        aw, ah = dpg.get_item_rect_size("view.area")
        img_h, img_w = (0, 0) if self.image is None else self.image.shape[:2]
        avail_w, avail_h = aw - MARGIN, ah - MARGIN
        exact = self.pixel_exact if self.pixel_exact is not None else \
            enlargement(avail_w, avail_h, img_w, img_h) <= SMOOTH_ABOVE
        dpg.set_value("view.exact", exact)
        zoom, w, h = fit(avail_w, avail_h, img_w, img_h, exact)
        if (zoom, exact) != (self.zoom, self.exact):
            self.zoom, self.exact = zoom, exact
            self._upload()
        x, y = max((aw - w) // 2, 0), max((ah - h) // 2, 0)
        if (x, y, w, h) != self.shown:
            dpg.configure_item("view.image", texture_tag=self._texture, width=w, height=h)
            dpg.set_item_pos("view.image", [x, y])
            self.shown = (x, y, w, h)

    def _upload(self) -> None:
        """Copy the frame into the texture's buffer in place, zoomed; a new size or zoom makes a new texture."""
        if self.image is None:
            return
        h, w = self.image.shape[:2]
        z = self.zoom = min(self.zoom, max(MAX_TEXTURE // max(w, h), 1))
        if self.texture_size != (w * z, h * z):
            self._make_texture(w * z, h * z)
        np.multiply(self.image[:, None, :, None, :], np.float32(1 / 255), out=self._buf.reshape(h, z, w, z, 3))

    def _make_texture(self, w: int, h: int) -> None:
        self._old.append((self._ticks + FREE_AFTER, self._texture, self._buf))
        self._buf = np.zeros((h, w, 3), np.float32)
        self._texture = dpg.add_raw_texture(w, h, self._buf, format=dpg.mvFormat_Float_rgb, parent="textures")
        self.texture_size = (w, h)
        dpg.configure_item("view.image", texture_tag=self._texture)
        self.shown = (0, 0, 0, 0)

    def _free_old_textures(self) -> None:
        due = [item for item in self._old if self._ticks >= item[0]]
        for _, texture, _ in due:
            dpg.delete_item(texture)
        self._old = [item for item in self._old if self._ticks < item[0]]
