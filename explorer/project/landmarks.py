"""Find eyes and mouth automatically with OpenCV's Haar cascades (an optional extra: `pip install
'stylegan-explorer[faces]'`, the cascades ship inside the opencv-python-headless wheel; nothing is downloaded).

    points = find_face_points(photo)      # FacePoints(left_eye, right_eye, mouth) or FaceNotFound
    square = ffhq_square(*points)

Haar cascades are old (Viola-Jones 2001) and small: they find upright, frontal, real faces and cat faces of
at least ~24 px, and miss profiles, faces turned more than ~20 degrees in the picture, cartoons and drawings,
most animals other than cats, and eyes behind sunglasses or in deep shadow. When the eye cascade finds no
clear pair, the eyes are placed where they sit in the face box; the mouth is always placed from the eyes
(the cascades have no reliable mouth detector). Clicking the three points by hand (--align-eyes, the app's
three-click alignment) is the fallback that always works.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
from PIL import Image

from .align import AlignmentError

EXTRA = "faces"                         # pyproject extra that installs OpenCV
FACE_CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalcatface.xml")
EYE_CASCADE = "haarcascade_eye.xml"
MIN_FACE = 24                           # Smallest face the detector looks for, in (working-size) pixels.
WORK_SIDE = 1024                        # Photos are searched at most this large (speed; faces stay visible).
# Where eyes sit in a Haar face box (fractions of its width / height), and the mouth below the eyes in
# units of the eye distance: averages over frontal faces, used when the eye cascade finds no pair.
EYES_IN_BOX = ((0.31, 0.40), (0.69, 0.40))
MOUTH_BELOW_EYES = 1.05


class FaceNotFound(AlignmentError):
    """No face the detector can see (the message says what to do instead)."""


class MissingOpenCV(AlignmentError):
    """The optional OpenCV package is not installed."""


@dataclasses.dataclass(frozen=True)
class FacePoints:
    left_eye: tuple[float, float]       # Eye centre on the left of the picture (x, y photo pixels).
    right_eye: tuple[float, float]
    mouth: tuple[float, float]
    eyes_found: bool                    # False: eyes estimated from the face box.

    def __iter__(self):
        return iter((self.left_eye, self.right_eye, self.mouth))


def opencv():
    try:
        import cv2
    except ImportError:
        raise MissingOpenCV("automatic face alignment needs OpenCV: pip install 'stylegan-explorer[faces]' "
                            "(opencv-python-headless < 5), or give the points with --align-eyes") from None
    if not hasattr(cv2, "CascadeClassifier"):
        raise MissingOpenCV(f"OpenCV {cv2.__version__} has no Haar cascades (they left the main package in 5.0): "
                            "install opencv-python-headless < 5, or give the points with --align-eyes")
    return cv2


def _cascade(cv2, name: str):
    c = cv2.CascadeClassifier(str(cv2.data.haarcascades) + name)
    if c.empty():
        raise MissingOpenCV(f"OpenCV's {name} could not be loaded from {cv2.data.haarcascades}")
    return c


def find_face_points(photo: Image.Image) -> FacePoints:
    """Eyes and mouth of the largest upright frontal face (human, else cat) in the photo."""
    cv2 = opencv()
    scale = min(1.0, WORK_SIDE / max(photo.size))
    small = photo.convert("L")
    if scale < 1:
        small = small.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))),
                             Image.Resampling.BOX)
    gray = cv2.equalizeHist(np.asarray(small, dtype=np.uint8))
    box = None
    for name in FACE_CASCADES:
        faces = _cascade(cv2, name).detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                                      minSize=(MIN_FACE, MIN_FACE))
        if len(faces):
            box = max(faces, key=lambda f: f[2] * f[3])
            break
    if box is None:
        raise FaceNotFound("no upright frontal face found (the automatic detector misses profiles, tilted "
                           "faces, cartoons and most animals): give --align-eyes or --crop")
    x, y, w, h = (float(v) for v in box)
    eyes = _eye_pair(cv2, gray, x, y, w, h)
    found = eyes is not None
    if eyes is None:
        eyes = [np.array([x + fx * w, y + fy * h]) for fx, fy in EYES_IN_BOX]
    left, right = eyes
    e2e = right - left
    mouth = (left + right) / 2 + MOUTH_BELOW_EYES * np.array([-e2e[1], e2e[0]])
    return FacePoints(*(tuple(float(v) for v in p / scale) for p in (left, right, mouth)), eyes_found=found)


def _eye_pair(cv2, gray: np.ndarray, x: float, y: float, w: float, h: float) -> Optional[list[np.ndarray]]:
    """The best pair of eye detections in the upper part of the face box: one each side, about level."""
    top = gray[int(y):int(y + 0.6 * h), int(x):int(x + w)]
    found = _cascade(cv2, EYE_CASCADE).detectMultiScale(top, scaleFactor=1.05, minNeighbors=4,
                                                        minSize=(max(4, int(w / 10)),) * 2,
                                                        maxSize=(int(w / 2.5),) * 2)
    centres = [np.array([x + ex + ew / 2, y + ey + eh / 2]) for ex, ey, ew, eh in found]
    left = [c for c in centres if c[0] < x + w / 2]
    right = [c for c in centres if c[0] >= x + w / 2]
    best, best_score = None, float("inf")
    for a in left:
        for b in right:
            d = b - a
            if d[0] < 0.25 * w or abs(d[1]) > 0.5 * d[0]:  # too close, or too steep to be a level pair
                continue
            score = abs(d[1]) / d[0] + abs(d[0] / w - 0.38)  # level, and as far apart as eyes usually are
            if score < best_score:
                best, best_score = [a, b], score
    return best
