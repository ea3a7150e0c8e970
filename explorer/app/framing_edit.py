"""The crop view's logic (widgets/framing_panel.py only draws it and forwards the mouse): which square of a photo
the projector gets, chosen by hand.

The photo is shown whole in a square canvas (scaled to fit, centred). Three ways to choose its square:

    centre   the largest centred square (what the projector takes when nobody chooses)
    crop     a square the user moves (drag inside it), scales (drag its corner handle) and turns (the angle)
    eyes     three clicks, left eye, right eye, mouth: FFHQ's recipe turns them into an oriented square
             (explorer/project/align.py); a fourth click starts again

    edit = FramingEdit(width=640, height=480, canvas=320)
    edit.press(x, y); edit.drag_to(x, y); edit.release()       # canvas pixels
    edit.set_mode("eyes"); edit.click(x, y)                   # three times
    edit.framing      # the last Framing that passed the checks: what the projector uses
    edit.problem      # why the newest choice was refused (None: it was taken), one line

Every choice is checked against the photo as the command line checks it (align.check_square): a refused one
(eyes in the wrong order or on one spot, a crop off the photo) leaves `framing` as it was and says why in
`problem`, so nothing the user had is lost. Upright squares dragged with the mouse stop at the photo's edges.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
from PIL import Image

from ..project.align import MIN_PHOTO_SIDE, AlignmentError, Square, check_square, crop_square, ffhq_square
from ..project.framing import Framing

MODES = ("centre", "crop", "eyes")
POINT_NAMES = ("left eye", "right eye", "mouth")    # the order of the three clicks (left = left in the picture)
HANDLE = 9.0                                         # canvas pixels around the corner handle that grab it
MIN_CROP = MIN_PHOTO_SIDE                            # smallest square side a drag makes, photo pixels
BACKGROUND = 38                                      # grey of the canvas around the photo


@dataclasses.dataclass
class _Drag:
    kind: str                          # 'move' or 'scale'
    start: np.ndarray                  # photo point where the button went down
    square: Square                     # the square then


class FramingEdit:
    """A photo's framing as the user edits it on a canvas; see the module doc."""

    def __init__(self, width: int, height: int, canvas: int):
        self.width, self.height, self.canvas = int(width), int(height), int(canvas)
        self.scale = canvas / max(self.width, self.height)                    # canvas px per photo px
        self.offset = np.array([(canvas - self.width * self.scale) / 2, (canvas - self.height * self.scale) / 2])
        self.mode = "centre"
        side = min(self.width, self.height)
        self.square = crop_square((self.width - side) // 2, (self.height - side) // 2, side)   # the one drawn
        self.points: list[tuple[float, float]] = []                           # eye / mouth clicks so far
        self.framing: Optional[Framing] = None                                # the last good one
        self.problem: Optional[str] = None
        self.version = 0                                                      # changes with `framing`
        self._drag: Optional[_Drag] = None
        self._accept(Framing(), self.square)

    # --- coordinates ----------------------------------------------------------------------------------
    def to_photo(self, x: float, y: float) -> np.ndarray:
        return (np.array([x, y], dtype=np.float64) - self.offset) / self.scale

    def to_canvas(self, point) -> np.ndarray:
        return np.asarray(point, dtype=np.float64) * self.scale + self.offset

    def on_photo(self, point) -> bool:
        x, y = point
        return 0 <= x <= self.width and 0 <= y <= self.height

    def square_corners(self) -> np.ndarray:
        """[4, 2] canvas points of the square drawn (top-left, bottom-left, bottom-right, top-right)."""
        return self.to_canvas(self.square.corners())

    def handle(self) -> np.ndarray:
        """Canvas point of the scaling handle: the square's bottom-right corner."""
        return self.square_corners()[2]

    @property
    def next_point(self) -> str:
        """What the next click in eyes mode marks."""
        return POINT_NAMES[len(self.points) % len(POINT_NAMES)]

    # --- choosing -------------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode, self.points, self._drag = mode, [], None
        if mode == "centre":
            side = min(self.width, self.height)
            self.choose_crop((self.width - side) // 2, (self.height - side) // 2, side, 0.0)
        elif mode == "crop":   # start from what is on screen, as an upright square on the photo
            s = self.square
            side = min(s.side, self.width, self.height)
            x = min(max(s.cx - side / 2, 0), self.width - side)
            y = min(max(s.cy - side / 2, 0), self.height - side)
            self.choose_crop(x, y, side, s.angle)
        else:
            self.problem = None

    def choose_crop(self, x: float, y: float, size: float, angle: float) -> bool:
        """A crop typed or dragged: top-left corner x, y and side in photo pixels, angle in degrees."""
        try:
            square = crop_square(x, y, size, angle)
        except AlignmentError as e:
            return self._refuse(str(e))
        framing = Framing() if self.mode == "centre" else Framing(crop=(x, y, size), angle=angle)
        return self._accept(framing, square)

    def set_angle(self, angle: float) -> bool:
        """Turn the crop about its centre (degrees counter-clockwise)."""
        s = self.square
        return self.choose_crop(s.cx - s.side / 2, s.cy - s.side / 2, s.side, float(angle))

    def crop_numbers(self) -> tuple[float, float, float, float]:
        """(x, y, size, angle) of the square drawn, as --crop X,Y,SIZE --rotate DEG would give it."""
        s = self.square
        return s.cx - s.side / 2, s.cy - s.side / 2, s.side, s.angle

    def click(self, x: float, y: float) -> bool:
        """Eyes mode: mark the next of left eye, right eye, mouth at canvas point (x, y); after the mouth the
        three points frame the face (True when that framing was taken)."""
        if self.mode != "eyes":
            return False
        p = self.to_photo(x, y)
        if not self.on_photo(p):
            self.problem = f"click on the photo: the {self.next_point} is outside it"
            return False
        if len(self.points) == len(POINT_NAMES):
            self.points = []
        self.points.append((round(float(p[0]), 1), round(float(p[1]), 1)))
        self.problem = None
        if len(self.points) < len(POINT_NAMES):
            return False
        return self.choose_eyes(self.points)

    def choose_eyes(self, points) -> bool:
        """Frame by FFHQ's recipe from (left eye, right eye, mouth) in photo pixels (clicked or detected)."""
        self.mode = "eyes"
        self.points = [(round(float(x), 1), round(float(y), 1)) for x, y in points]   # tenths: a click's precision
        try:
            square = ffhq_square(*self.points)
        except AlignmentError as e:
            self.points = []
            return self._refuse(f"{e}; click the three points again")
        return self._accept(Framing(eyes=tuple(self.points)), square)

    # --- the mouse (canvas pixels) ----------------------------------------------------------------------
    def press(self, x: float, y: float) -> bool:
        """Left button down in the canvas: grab the square's corner handle, or the square itself (crop
        mode); a click (eyes mode). True when the press was taken."""
        if self.mode == "eyes":
            self.click(x, y)
            return True
        p = self.to_photo(x, y)
        on_handle = bool(np.hypot(*(np.array([x, y]) - self.handle())) <= HANDLE)
        if self.mode == "centre" and (on_handle or self._inside(p)):   # grabbing it makes it the user's crop
            self.set_mode("crop")
        if self.mode != "crop":
            return False
        if on_handle:
            self._drag = _Drag("scale", p, self.square)
        elif self._inside(p):
            self._drag = _Drag("move", p, self.square)
        return self._drag is not None

    def drag_to(self, x: float, y: float) -> None:
        """The mouse moved with the button down: move or scale the grabbed square."""
        d = self._drag
        if d is None:
            return
        p, s = self.to_photo(x, y), d.square
        if d.kind == "move":
            cx, cy = np.array([s.cx, s.cy]) + (p - d.start)
            side = s.side
        else:   # the centre stays; the corner follows the mouse along the square's own axes
            u, v = s.axes()
            rel = p - np.array([s.cx, s.cy])
            side = max(2 * max(abs(float(rel @ u)), abs(float(rel @ v))), MIN_CROP)
            cx, cy = s.cx, s.cy
        if not s.angle:   # an upright square stops at the photo's edges
            side = min(side, self.width, self.height)
            if d.kind == "scale":
                side = min(side, 2 * cx, 2 * (self.width - cx), 2 * cy, 2 * (self.height - cy))
            cx = min(max(cx, side / 2), self.width - side / 2)
            cy = min(max(cy, side / 2), self.height - side / 2)
        self.choose_crop(cx - side / 2, cy - side / 2, side, s.angle)

    def release(self) -> None:
        self._drag = None

    @property
    def dragging(self) -> bool:
        return self._drag is not None

    def _inside(self, p: np.ndarray) -> bool:
        u, v = self.square.axes()
        rel = p - np.array([self.square.cx, self.square.cy])
        h = self.square.side / 2
        return abs(float(rel @ u)) <= h and abs(float(rel @ v)) <= h

    # --- checks -----------------------------------------------------------------------------------------
    def _accept(self, framing: Framing, square: Square) -> bool:
        try:
            check_square(square, self.width, self.height, strict=framing.crop is not None)
        except AlignmentError as e:
            self.square = square            # drawn where the user put it (in the error colour)
            return self._refuse(str(e))
        self.square, self.framing, self.problem = square, framing, None
        self.version += 1
        return True

    def _refuse(self, message: str) -> bool:
        kept = "" if self.framing is None else f" (projecting keeps the last good square: {self.framing.describe()})"
        self.problem = message + kept
        return False


def canvas_image(photo: Image.Image, canvas: int) -> np.ndarray:
    """[canvas, canvas, 3] uint8: the photo scaled to fit (box-filtered when it shrinks) and centred on dark grey,
    where FramingEdit(photo.width, photo.height, canvas) maps it."""
    w, h = photo.size
    scale = canvas / max(w, h)
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    small = photo.convert("RGB").resize((tw, th), Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR)
    out = np.full((canvas, canvas, 3), BACKGROUND, np.uint8)
    x, y = (canvas - tw) // 2, (canvas - th) // 2
    out[y:y + th, x:x + tw] = np.asarray(small, dtype=np.uint8)
    return out
