"""The image view: the frame scaled to the space it has, at an integer zoom whenever one fits (crisp pixels)."""
from __future__ import annotations

import dearpygui.dearpygui as dpg

from .panel import Panel
from .style import NOTE_COLOR

LABEL_H = 24          # the model label above the image
MARGIN = 16
MAX_TEXTURE = 2048    # largest zoomed texture side, px


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
        self.shown = (0, 0, 0, 0)   # x, y, w, h last laid out, inside the view area

    def build(self) -> None:
        dpg.add_text("", tag="view.label", color=NOTE_COLOR)
        dpg.add_image(self.app.texture_tag, tag="view.image", width=1, height=1)

    def tick(self) -> None:
        """Re-fit the image when the window or the frame size changed (cheap: compares four numbers)."""
        info = self.app.info
        if info is not None:
            label = info.label
        else:
            label = "No model loaded: open a checkpoint in the Model panel" if self.app.model_error else "loading the model..."
        dpg.set_value("view.label", label)
        aw, ah = dpg.get_item_rect_size("view.area")
        img_w, img_h = self.app.image_size
        zoom, w, h = fit(aw - MARGIN, ah - LABEL_H - MARGIN, img_w, img_h)
        self.app.set_zoom(zoom)   # the zoom itself is done in the texture, so pixels stay square and sharp
        x, y = max((aw - w) // 2, 0), LABEL_H + max((ah - LABEL_H - h) // 2, 0)
        if (x, y, w, h) != self.shown:
            dpg.configure_item("view.image", texture_tag=self.app.texture_tag, width=w, height=h)
            dpg.set_item_pos("view.image", [x, y])
            self.shown = (x, y, w, h)

    def retarget(self) -> None:
        """The texture was recreated: point the image at the new one."""
        dpg.configure_item("view.image", texture_tag=self.app.texture_tag)
        self.shown = (0, 0, 0, 0)
