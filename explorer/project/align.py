"""Bring a photo into the generator's frame: choose an oriented square of it, resample that square to R x R.

A generator only draws faces framed the way its training images were (NVlabs' FFHQ: eyes level, at a fixed
height and distance apart); a photo framed otherwise projects badly. Two ways to choose the square:

    square = crop_square(x, y, size, angle=0)          # the user's square: top-left corner, side, rotation
    square = ffhq_square(left_eye, right_eye, mouth)   # the recipe FFHQ was aligned with (below)
    pixels = resample(photo, square, 64)               # HxWx3 uint8, anti-aliased

FFHQ's recipe, from three points (eye centres and mouth centre, in photo pixels):
    eye_to_eye   = right_eye - left_eye;  eye_to_mouth = mouth - (left_eye + right_eye) / 2
    x axis       = eye_to_eye minus eye_to_mouth turned by 90 degrees (the mean of the two "horizontal" cues)
    side         = 2 * max(2.0 * |eye_to_eye|, 1.8 * |eye_to_mouth|)
    centre       = eye midpoint + 0.1 * eye_to_mouth
It needs only the eyes and the mouth, so it frames animal faces as well as human ones.

Resampling keeps detail without aliasing. An upright square is one Lanczos resize of its (sub-pixel) box. A
rotated one is mapped to 2-4x the output size (bilinear; a big photo is first reduced by an integer factor with
a box filter so that this mapping never shrinks) and then reduced to the output with Lanczos. Parts of the square outside the photo are filled by mirroring it (as FFHQ did).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from PIL import Image

from ..errors import ExplorerError

MIN_PHOTO_SIDE = 16            # Smaller photos hold too little to project (pixels on the short side).
MIN_EYE_DISTANCE = 2.0         # Eyes closer than this (photo pixels) are one click, not two eyes.
MIN_INSIDE_FRACTION = 0.6      # A rotated or aligned square may leave the photo by this much (mirrored in).
OVERSAMPLE = 4                 # A rotated square is first mapped to OVERSAMPLE x the output, then reduced,
MAX_OVERSAMPLED = 2048         # to at most this size (and at least 2x the output).

Point = Sequence[float]


class AlignmentError(ExplorerError):
    """The square or the points cannot frame a face in this photo (the message says why and what to do)."""


@dataclasses.dataclass(frozen=True)
class Square:
    """An oriented square in photo pixel coordinates (x right, y down)."""
    cx: float                  # Centre, x.
    cy: float                  # Centre, y.
    side: float                # Side length in photo pixels.
    angle: float = 0.0         # Rotation in degrees, counter-clockwise as seen on the screen.

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.cx, self.cy, self.side, self.angle)):
            raise AlignmentError(f"square {self} has a value that is not a finite number")
        if self.side < 1:
            raise AlignmentError(f"square side must be at least 1 pixel, got {self.side:g}")

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors of the square's x axis (its top edge, left to right) and y axis (down its left edge)."""
        a = math.radians(self.angle)
        u = np.array([math.cos(a), -math.sin(a)])
        return u, np.array([-u[1], u[0]])

    def corners(self) -> np.ndarray:
        """[4, 2]: top-left, bottom-left, bottom-right, top-right (the order Pillow's QUAD transform wants)."""
        u, v = self.axes()
        c, h = np.array([self.cx, self.cy]), self.side / 2
        return np.stack([c - h * u - h * v, c - h * u + h * v, c + h * u + h * v, c + h * u - h * v])

    def inside_fraction(self, width: int, height: int, samples: int = 32) -> float:
        """Share of the square's area that lies on the photo (a grid of sample points)."""
        u, v = self.axes()
        t = (np.arange(samples) + 0.5) / samples - 0.5
        pts = (np.array([self.cx, self.cy]) + self.side * (t[:, None, None] * u + t[None, :, None] * v)).reshape(-1, 2)
        inside = (pts[:, 0] >= 0) & (pts[:, 0] <= width) & (pts[:, 1] >= 0) & (pts[:, 1] <= height)
        return float(inside.mean())

    def describe(self) -> str:
        rot = f", rotated {self.angle:.1f} deg" if self.angle else ""
        return f"square of side {self.side:.0f} px centred at ({self.cx:.0f}, {self.cy:.0f}){rot}"


def crop_square(x: float, y: float, size: float, angle: float = 0.0) -> Square:
    """The square whose unrotated top-left corner is (x, y), turned by `angle` about its centre."""
    return Square(x + size / 2, y + size / 2, size, angle)


def ffhq_square(left_eye: Point, right_eye: Point, mouth: Point) -> Square:
    """FFHQ's oriented square from the eye centres (left = on the left of the picture when the face is upright)
    and the mouth centre. Refuses points that cannot be a face: eyes on one spot, eyes in the wrong order,
    a mouth on the line through the eyes."""
    le, re, m = (np.asarray(p, dtype=np.float64).reshape(2) for p in (left_eye, right_eye, mouth))
    if not np.isfinite(np.concatenate([le, re, m])).all():
        raise AlignmentError("an eye or mouth position is not a finite number")
    eye_to_eye = re - le
    eye_to_mouth = m - (le + re) / 2
    d_eyes, d_mouth = float(np.hypot(*eye_to_eye)), float(np.hypot(*eye_to_mouth))
    if d_eyes < MIN_EYE_DISTANCE:
        raise AlignmentError(f"the two eyes are {d_eyes:.1f} px apart: click the centre of each eye")
    # Image y points down: for an upright face (eyes left to right, mouth below) the cross product is positive.
    cross = float(eye_to_eye[0] * eye_to_mouth[1] - eye_to_eye[1] * eye_to_mouth[0])
    if d_mouth < MIN_EYE_DISTANCE or abs(cross) < 0.2 * d_eyes * d_mouth:
        raise AlignmentError("the mouth lies on the line through the eyes: give the eyes, then the mouth below them")
    if cross < 0:
        raise AlignmentError("the eyes are in the wrong order: first the eye on the left of the picture, "
                             "then the one on the right, then the mouth")
    turned = np.array([-eye_to_mouth[1], eye_to_mouth[0]])   # eye_to_mouth turned so that it points right
    x = eye_to_eye - turned
    x /= np.hypot(*x)
    side = 2 * max(2.0 * d_eyes, 1.8 * d_mouth)
    centre = (le + re) / 2 + 0.1 * eye_to_mouth
    return Square(float(centre[0]), float(centre[1]), side, math.degrees(math.atan2(-x[1], x[0])))


def check_square(square: Square, width: int, height: int, strict: bool) -> None:
    """strict (a typed crop): the square must lie on the photo; otherwise most of it must."""
    if min(width, height) < MIN_PHOTO_SIDE:
        raise AlignmentError(f"the photo is {width}x{height} pixels; at least {MIN_PHOTO_SIDE} on each side is needed")
    if strict and square.angle == 0:
        x0, y0 = square.cx - square.side / 2, square.cy - square.side / 2
        x1, y1 = x0 + square.side, y0 + square.side
        if x0 < -0.5 or y0 < -0.5 or x1 > width + 0.5 or y1 > height + 0.5:
            raise AlignmentError(f"the crop x {x0:.0f}..{x1:.0f}, y {y0:.0f}..{y1:.0f} reaches outside the "
                                 f"{width}x{height} photo")
        return
    inside = square.inside_fraction(width, height)
    if inside < MIN_INSIDE_FRACTION:
        raise AlignmentError(f"the {square.describe()} lies mostly outside the {width}x{height} photo "
                             f"({inside:.0%} on it): check the points")


def resample(photo: Image.Image, square: Square, size: int) -> np.ndarray:
    """size x size x 3 uint8 of the square's content, anti-aliased; parts outside the photo mirrored in."""
    photo = photo.convert("RGB")
    corners = square.corners()
    big = max(2 * size, min(OVERSAMPLE * size, MAX_OVERSAMPLED))
    shrink = int(math.ceil(square.side / big)) if square.angle else 1
    if shrink > 1:  # reduce big photos first (box filter) so that the mapping below never shrinks: no aliasing
        photo = photo.reduce(shrink)
        corners = corners / shrink
    # Cut out the square's bounding box (with a margin for the filters), mirroring where it leaves the photo.
    lo = np.floor(corners.min(axis=0)).astype(int) - 2
    hi = np.ceil(corners.max(axis=0)).astype(int) + 2
    box = _mirrored_box(photo, lo, hi)
    corners = corners - lo
    if not square.angle:  # upright: the square's pixels alone, one anti-aliased Lanczos resize
        (x0, y0), (x1, y1) = np.round(corners[0]).astype(int), np.round(corners[2]).astype(int)
        out = box.crop((x0, y0, x1, y1)).resize((size, size), Image.Resampling.LANCZOS)
    else:
        quad = tuple(float(v) for v in corners.reshape(-1))
        out = box.transform((big, big), Image.Transform.QUAD, quad, resample=Image.Resampling.BILINEAR)
        out = out.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(out, dtype=np.uint8)


def _mirrored_box(photo: Image.Image, lo: np.ndarray, hi: np.ndarray) -> Image.Image:
    """The photo's pixels in the box lo..hi (x, y), mirrored into the parts outside the photo."""
    w, h = photo.size
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), w), min(int(hi[1]), h)
    if x0 >= x1 or y0 >= y1:  # the box misses the photo altogether (check_square refuses this)
        raise AlignmentError("the square does not touch the photo")
    inner = photo.crop((x0, y0, x1, y1))
    pad = ((y0 - int(lo[1]), int(hi[1]) - y1), (x0 - int(lo[0]), int(hi[0]) - x1), (0, 0))
    if not any(a or b for a, b in pad):
        return inner
    pixels = np.asarray(inner)
    mode = "reflect" if min(pixels.shape[:2]) > 1 else "edge"
    return Image.fromarray(np.pad(pixels, pad, mode=mode))
