"""The image view: the frame on screen in a texture of its own, at an integer zoom whenever one fits.

    app shows a frame --show(image)--> copy into the texture's buffer (zoom by pixel replication, uint8 -> float)
    every UI frame     --tick()------> fit the view area: a new zoom re-uploads; a new size makes a new texture

Dear PyGui samples textures bilinearly, so the zoom is done here, in the same pass as the conversion: the
image stays crisp at any zoom. A replaced texture is freed a few frames later, once nothing draws it.
"""
from __future__ import annotations

from typing import Any, Optional

import dearpygui.dearpygui as dpg
import numpy as np

from .panel import Panel
from .style import NOTE_COLOR

LABEL_H = 24          # the model label above the image
MARGIN = 16
MAX_TEXTURE = 2048    # largest zoomed texture side, px
FREE_AFTER = 3        # UI frames a replaced texture lives on (a frame in flight may still draw it)


def fit(avail_w: int, avail_h: int, img_w: int, img_h: int) -> tuple[int, int, int]:
    """(zoom, shown width, shown height): the largest integer zoom that fits, else a downscale that fits."""
    if min(img_w, img_h, avail_w, avail_h) <= 0:
        return 1, max(img_w, 1), max(img_h, 1)
    zoom = min(avail_w // img_w, avail_h // img_h, max(MAX_TEXTURE // max(img_w, img_h), 1))
    if zoom >= 1:
        return zoom, img_w * zoom, img_h * zoom
    scale = min(avail_w / img_w, avail_h / img_h)
    return 1, max(int(img_w * scale), 1), max(int(img_h * scale), 1)


class ImageView(Panel):
    title = "Image"

    def __init__(self, app):
        super().__init__(app)
        self.image: Optional[np.ndarray] = None     # the frame on screen, HxWx3 uint8 (never written to)
        self.shown = (0, 0, 0, 0)                   # x, y, w, h last laid out, inside the view area
        self.zoom = 1
        self.texture_size = (1, 1)
        self._buf = np.full((1, 1, 3), 0.2, np.float32)
        self._texture: Any = None
        self._ticks = 0
        self._old: list[tuple[int, Any, np.ndarray]] = []   # (tick to free at, texture, its buffer)

    def build(self) -> None:
        self._texture = dpg.add_raw_texture(1, 1, self._buf, format=dpg.mvFormat_Float_rgb, parent="textures")
        dpg.add_text("", tag="view.label", color=NOTE_COLOR)
        dpg.add_image(self._texture, tag="view.image", width=1, height=1)

    def show(self, image: np.ndarray) -> None:
        """Put a new frame on screen (UI thread)."""
        self.image = image
        self._upload()

    def tick(self) -> None:
        """Re-fit the image when the window or the frame size changed (cheap: compares four numbers)."""
        self._ticks += 1
        self._free_old_textures()
        info = self.app.info
        if info is not None:
            label = info.label
        else:
            label = "No model loaded: open a checkpoint in the Model panel" if self.app.model_error else "loading the model..."
        dpg.set_value("view.label", label)
        aw, ah = dpg.get_item_rect_size("view.area")
        img_h, img_w = (0, 0) if self.image is None else self.image.shape[:2]
        zoom, w, h = fit(aw - MARGIN, ah - LABEL_H - MARGIN, img_w, img_h)
        if zoom != self.zoom:
            self.zoom = zoom
            self._upload()
        x, y = max((aw - w) // 2, 0), LABEL_H + max((ah - LABEL_H - h) // 2, 0)
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
