"""How a photo becomes a projector target: read it, choose its square (centre, crop, eyes, detector), resample.

    framing = Framing(eyes=((120, 140), (180, 138), (150, 210)))   # or crop=(x, y, size), auto=True, nothing
    target = frame_photo("me.jpg", 256, framing)                    # FramedPhoto: pixels, square, notes
    target = frame_image(photo, "me.jpg", 256, framing)             # a photo already read (open_rgb)

Every failure is an ImageInputError naming the photo and saying what to change.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Optional

import numpy as np
from PIL import Image

from ..errors import ImageInputError
from ..image_input import open_rgb
from .align import AlignmentError, Square, check_square, crop_square, ffhq_square, resample

UPSCALE_NOTE = 2.0          # Squares enlarged more than this get a note: the target will look soft.


@dataclasses.dataclass(frozen=True)
class Framing:
    """Which square of the photo to project; nothing set = the largest centred square (NVlabs' projector)."""
    crop: Optional[tuple[float, float, float]] = None           # x, y (top-left) and side, photo pixels.
    angle: float = 0.0                                          # Rotation of the crop, degrees counter-clockwise.
    eyes: Optional[tuple[tuple[float, float], ...]] = None      # Left eye, right eye, mouth (FFHQ recipe).
    auto: bool = False                                          # Find eyes with OpenCV's Haar cascades.

    def __post_init__(self) -> None:
        if sum([self.crop is not None, self.eyes is not None, self.auto]) > 1:
            raise ValueError("choose one of crop, eyes and auto")

    def describe(self) -> str:
        if self.crop is not None:
            x, y, s = self.crop
            return f"crop {x:g},{y:g},{s:g}" + (f" rotated {self.angle:g} deg" if self.angle else "")
        if self.eyes is not None:
            return "aligned on eyes " + " ".join(f"{x:g},{y:g}" for x, y in self.eyes)
        return "aligned on detected eyes" if self.auto else "centre square"


@dataclasses.dataclass(frozen=True)
class FramedPhoto:
    pixels: np.ndarray              # [R, R, 3] uint8: the target.
    square: Square                  # The square of the photo it shows.
    framing: str                    # How the square was chosen (for model cards and logs).
    notes: tuple[str, ...] = ()     # Things the user should know (upscaling, estimated eyes).


def choose_square(photo: Image.Image, framing: Framing) -> tuple[Square, list[str]]:
    """The square a framing selects in this photo, checked against the photo's size (AlignmentError if unusable)."""
    w, h = photo.size
    notes: list[str] = []
    if framing.crop is not None:
        square = crop_square(*framing.crop, angle=framing.angle)
    elif framing.eyes is not None:
        square = ffhq_square(*framing.eyes)
    elif framing.auto:
        from .landmarks import find_face_points
        points = find_face_points(photo)
        if not points.eyes_found:
            notes.append("eyes not found by the detector, placed from the face box (check the result, or give "
                         "--align-eyes)")
        square = ffhq_square(*points)
    else:
        side = min(w, h)
        square = crop_square((w - side) // 2, (h - side) // 2, side)
    check_square(square, w, h, strict=framing.crop is not None)
    return square, notes


def frame_photo(path: "str | os.PathLike[str]", size: int, framing: Framing = Framing()) -> FramedPhoto:
    """Read the photo and resample its chosen square to size x size (see align.resample)."""
    return frame_image(open_rgb(path), path, size, framing)


def frame_image(photo: Image.Image, path: "str | os.PathLike[str]", size: int,
                framing: Framing = Framing()) -> FramedPhoto:
    """frame_photo of a photo already read (the app keeps it open while the user frames it); errors name path."""
    try:
        square, notes = choose_square(photo, framing)
    except AlignmentError as e:  # FaceNotFound and MissingOpenCV are AlignmentErrors too
        raise ImageInputError(path, f"{framing.describe()}: {e}") from None
    if square.side * UPSCALE_NOTE < size:
        notes.append(f"the square is {square.side:.0f} px across and is enlarged {size / square.side:.1f}x "
                     f"to {size} px: the target will be soft")
    return FramedPhoto(resample(photo, square, size), square, framing.describe(), tuple(notes))
