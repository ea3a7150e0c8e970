"""Photo framing panel: the chosen photo whole, with the square the projector will take drawn on it.

Drag the square to move it, drag its corner handle to scale it, turn it with the angle slider or type its
numbers (as `explorer project --crop X,Y,SIZE --rotate DEG`); or choose "eyes + mouth" and click the left eye,
the right eye and the mouth: FFHQ's recipe frames the face (`--align-eyes`). "Find eyes" places the three
points with OpenCV's detector where it is installed. The logic is explorer/app/framing_edit.py; this file
draws it and forwards the mouse. A refused choice (eyes in the wrong order, a crop off the photo) is drawn
in red with the reason, and the projector keeps the last good square.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import dearpygui.dearpygui as dpg
import numpy as np

from explorer.app.framing_edit import MODES, POINT_NAMES, FramingEdit, canvas_image
from explorer.app.projecting import Photo
from explorer.errors import ExplorerError
from explorer.project.framing import Framing
from explorer.project.landmarks import MissingOpenCV, find_face_points, opencv

from .panel import Panel
from .style import DIM_COLOR, ERROR_COLOR, NOTE_COLOR

if TYPE_CHECKING:
    from .app import App

CANVAS = 300                                   # side of the view, px
MODE_LABELS = {"centre": "centre", "crop": "crop", "eyes": "eyes + mouth"}
SQUARE_COLOR = (255, 220, 60)
POINT_COLORS = ((90, 200, 255), (90, 255, 140), (255, 120, 200))   # left eye, right eye, mouth
POINT_LABELS = ("L", "R", "M")                 # drawn beside the left eye, right eye, mouth
HINTS = {
    "centre": "the largest centred square; drag it to make it your own crop",
    "crop": "drag the square to move it, its corner to scale it; turn it with the angle",
    "eyes": "click the {next}",
    "aligned": "framed on the eyes (L, R) and mouth (M); a click starts again with the left eye",
}


class FramingPanel(Panel):
    title = "Photo framing"

    def __init__(self, app: "App"):
        super().__init__(app)
        self.photo: Optional[Photo] = None
        self.edit: Optional[FramingEdit] = None
        self.version = 0                  # changes whenever the drawn square, points or framing change
        self._buf = np.full((CANVAS, CANVAS, 3), 0.15, np.float32)
        self._drawn = -1
        self._down = False                # left button held after a press that began on the canvas
        self._finding = False
        self._found: Optional[tuple] = None   # (edit, points or None, note) from the detector's task
        self._extra_note = ""             # shown under the view until the next change (e.g. estimated eyes)

    # --- building -----------------------------------------------------------------------------------------
    def build(self) -> None:
        self._texture = dpg.add_raw_texture(CANVAS, CANVAS, self._buf, format=dpg.mvFormat_Float_rgb,
                                            parent="textures")
        dpg.add_radio_button(tag="framing.mode", items=[MODE_LABELS[m] for m in MODES], horizontal=True,
                             default_value=MODE_LABELS["centre"], callback=lambda s, a: self.set_mode(a))
        with dpg.drawlist(CANVAS, CANVAS, tag="framing.canvas"):
            dpg.draw_image(self._texture, (0, 0), (CANVAS, CANVAS))
            dpg.add_draw_layer(tag="framing.overlay")
        with dpg.group(horizontal=True):
            for name in ("x", "y", "size"):
                dpg.add_input_int(tag=f"framing.{name}", label=name, width=60, step=0, on_enter=True,
                                  callback=self._typed)
                self.app.register_text_input(f"framing.{name}")
        dpg.add_slider_float(tag="framing.angle", label="angle", min_value=-180, max_value=180, width=200,
                             format="%.1f deg", callback=lambda s, a: self._turn(a))
        with dpg.group(horizontal=True):
            dpg.add_button(tag="framing.auto", label="Find eyes", callback=self.find_eyes)
            with dpg.tooltip("framing.auto"):
                dpg.add_text("", tag="framing.auto_tip")
        dpg.add_text("choose a photo in the Projector", tag="framing.note", color=DIM_COLOR, wrap=CANVAS + 100)
        self._offer_detector()

    def _offer_detector(self) -> None:
        """Find eyes works only with the optional OpenCV package: say so on the button when it is missing."""
        try:
            opencv()
            tip, ok = ("OpenCV's Haar cascades: upright frontal human and cat faces; they miss profiles, tilted\n"
                       "faces, drawings and most animals - click the three points then"), True
        except MissingOpenCV as e:
            tip, ok = str(e), False
        dpg.set_value("framing.auto_tip", tip)
        dpg.configure_item("framing.auto", enabled=ok)

    # --- what the projector asks --------------------------------------------------------------------------
    def show_photo(self, photo: Photo) -> None:
        """A newly read photo: show it whole, framed by its centre square."""
        self.photo = photo
        self.edit = FramingEdit(photo.size[0], photo.size[1], CANVAS)
        np.multiply(canvas_image(photo.image, CANVAS), np.float32(1 / 255), out=self._buf)
        self._changed()

    def clear(self) -> None:
        """The photo could not be read: nothing to frame."""
        self.photo, self.edit = None, None
        self._buf.fill(0.15)
        self._changed()

    def framing_for(self, path: str) -> Framing:
        """The framing to project `path` with: the user's, when this panel shows that photo."""
        edit = self.edit
        if edit is None or self.photo is None or self.photo.path != path.strip():
            return Framing()
        if edit.framing is None:
            raise ExplorerError(edit.problem or "this photo cannot be framed")
        return edit.framing

    # --- actions ------------------------------------------------------------------------------------------
    def set_mode(self, label: str) -> None:
        mode = next((m for m in MODES if MODE_LABELS[m] == label), label)
        if self.edit is not None and mode in MODES:
            self.edit.set_mode(mode)
            self._changed()

    def find_eyes(self) -> None:
        """Place the three points with OpenCV's detector (a background task: it takes a moment on big photos)."""
        photo, edit = self.photo, self.edit
        if photo is None or edit is None or self._finding:
            return
        self._finding = True

        def work(task) -> None:
            try:
                points = find_face_points(photo.image)
            except ExplorerError as e:
                self._found = (edit, None, f"{photo.path}: {e}")
                raise
            finally:
                self._finding = False
            note = "" if points.eyes_found else "eyes estimated from the face box: check them"
            self._found = (edit, points, note)

        self._found = None
        self.app.run_task("finding eyes", work)

    def _typed(self) -> None:
        if self.edit is None:
            return
        self.edit.mode = "crop"
        self.edit.choose_crop(dpg.get_value("framing.x"), dpg.get_value("framing.y"), dpg.get_value("framing.size"),
                              dpg.get_value("framing.angle"))
        self._changed()

    def _turn(self, angle: float) -> None:
        if self.edit is None:
            return
        if self.edit.mode != "crop":
            self.edit.set_mode("crop")
        self.edit.set_angle(angle)
        self._changed()

    def _changed(self) -> None:
        self.version += 1

    # --- once a frame -------------------------------------------------------------------------------------
    def tick(self) -> None:
        self._follow_mouse()
        found = self._found
        if found is not None and found[0] is self.edit:
            self._found = None
            edit, points, note = found
            if points is None:
                edit.problem = note
            elif edit.choose_eyes(list(points)) and note:
                edit.problem = None
                self._extra_note = note
            self._changed()
        if self.version != self._drawn:
            self._drawn = self.version
            self._draw()
            self.app.projector.reframe()

    def _follow_mouse(self) -> None:
        """Press, drag and release of the left button over the canvas, in canvas pixels."""
        edit = self.edit
        down = dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        if edit is None or not dpg.is_item_shown("framing.canvas"):
            self._down = False
            return
        x0, y0 = dpg.get_item_rect_min("framing.canvas")
        mx, my = dpg.get_mouse_pos(local=False)
        x, y = mx - x0, my - y0
        if down and not self._down:
            self._down = True
            if 0 <= x < CANVAS and 0 <= y < CANVAS and dpg.is_item_hovered("framing.canvas"):
                if edit.press(x, y):
                    self._changed()
        elif down and edit.dragging:
            before = edit.square
            edit.drag_to(x, y)
            if edit.square != before:
                self._changed()
        elif not down and self._down:
            self._down = False
            if edit.dragging:
                edit.release()
                self._changed()

    # --- drawing ------------------------------------------------------------------------------------------
    def _draw(self) -> None:
        dpg.delete_item("framing.overlay", children_only=True)
        edit = self.edit
        if edit is None:
            dpg.set_value("framing.note", "choose a photo in the Projector")
            dpg.configure_item("framing.note", color=DIM_COLOR)
            return
        colour = ERROR_COLOR if edit.problem and edit.mode != "eyes" else SQUARE_COLOR
        corners = [tuple(p) for p in edit.square_corners()]
        dpg.draw_polygon(corners + corners[:1], color=colour, thickness=2, parent="framing.overlay")
        top_mid = (np.asarray(corners[0]) + np.asarray(corners[3])) / 2           # marks the square's top
        dpg.draw_circle(tuple(top_mid), 3, color=colour, fill=colour, parent="framing.overlay")
        if edit.mode == "crop":
            dpg.draw_rectangle(tuple(edit.handle() - 5), tuple(edit.handle() + 5), color=colour, fill=colour,
                               parent="framing.overlay")
        for i, p in enumerate(edit.points):
            c = edit.to_canvas(p)
            dpg.draw_circle(tuple(c), 5, color=POINT_COLORS[i], thickness=2, parent="framing.overlay")
            dpg.draw_text(tuple(c + (6, -8)), POINT_LABELS[i], color=POINT_COLORS[i], size=14,
                          parent="framing.overlay")
        dpg.set_value("framing.mode", MODE_LABELS[edit.mode])
        x, y, side, angle = edit.crop_numbers()
        for name, value in (("x", x), ("y", y), ("size", side)):
            if not dpg.is_item_active(f"framing.{name}"):
                dpg.set_value(f"framing.{name}", int(round(value)))
        dpg.set_value("framing.angle", angle)
        w, h = edit.width, edit.height
        if edit.problem:
            text, color = edit.problem, ERROR_COLOR
        else:
            aligned = edit.mode == "eyes" and len(edit.points) == len(POINT_NAMES)
            hint = HINTS["aligned" if aligned else edit.mode].format(next=edit.next_point)
            extra = self._extra_note
            text = f"{self.photo.path if self.photo else ''} ({w}x{h}): {hint}" + (f"\n{extra}" if extra else "")
            color = NOTE_COLOR if extra else DIM_COLOR
            self._extra_note = ""
        dpg.set_value("framing.note", text)
        dpg.configure_item("framing.note", color=color)
