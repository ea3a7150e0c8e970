"""Framing a photo: crops, rotation, FFHQ's three-point alignment, automatic landmarks, and refusing bad points."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explorer.errors import ImageInputError
from explorer.project.align import AlignmentError, Square, check_square, crop_square, ffhq_square, resample
from explorer.project.framing import Framing, frame_photo

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def dots(size, points, colours=(RED, GREEN, BLUE), radius=6, background=(255, 255, 255)) -> Image.Image:
    im = Image.new("RGB", size, background)
    d = ImageDraw.Draw(im)
    for (x, y), c in zip(points, colours):
        d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=c)
    return im


def centre_of(pixels: np.ndarray, colour) -> tuple[float, float]:
    """Centroid (x, y, pixel centres at +0.5) of the pixels clearly of one primary colour."""
    ch = colour.index(255)
    others = [i for i in range(3) if i != ch]
    mask = pixels[..., ch].astype(int) - pixels[..., others].max(axis=-1) > 100
    ys, xs = np.nonzero(mask)
    assert len(xs), f"no {colour} pixels"
    return xs.mean() + 0.5, ys.mean() + 0.5


def turned(points, degrees, centre):
    """Points rotated counter-clockwise on the screen (image y points down) about centre."""
    a = math.radians(degrees)
    c = np.asarray(centre, dtype=float)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    return [tuple(c + rot @ (np.asarray(p) - c)) for p in points]


# --- the FFHQ recipe ---------------------------------------------------------------------------------

def test_upright_face_square_follows_the_ffhq_recipe():
    # eyes 60 px apart, mouth 66 px below their midpoint: side = 2 * max(2 * 60, 1.8 * 66) = 240
    sq = ffhq_square((170, 130), (230, 130), (200, 196))
    assert sq.side == pytest.approx(240)
    assert sq.angle == pytest.approx(0, abs=1e-9)
    assert (sq.cx, sq.cy) == pytest.approx((200, 130 + 6.6))   # eye midpoint + 0.1 * eye-to-mouth


@pytest.mark.parametrize("degrees", [0, 30, -45, 170])
def test_aligned_face_lands_at_the_same_place_whatever_the_rotation(degrees):
    upright = [(170, 130), (230, 130), (200, 196)]
    points = turned(upright, degrees, (200, 150))
    photo = dots((400, 300), points)
    sq = ffhq_square(*points)
    assert sq.angle == pytest.approx(degrees if degrees <= 180 else degrees - 360, abs=1e-6)
    out = resample(photo, sq, 64)
    # where the recipe puts the features: eyes at 0.5 -+ 30/240 of the width, 6.6/240 above the centre
    s = 64 / 240
    want = [(32 - 30 * s, 32 - 6.6 * s), (32 + 30 * s, 32 - 6.6 * s), (32, 32 + 59.4 * s)]
    for colour, (x, y) in zip((RED, GREEN, BLUE), want):
        got = centre_of(out, colour)
        assert got == pytest.approx((x, y), abs=0.6), colour


def test_eyes_in_the_wrong_order_are_refused():
    with pytest.raises(AlignmentError, match="wrong order"):
        ffhq_square((230, 130), (170, 130), (200, 196))


def test_eyes_on_top_of_each_other_are_refused():
    with pytest.raises(AlignmentError, match="apart"):
        ffhq_square((200, 130), (200.5, 130.5), (200, 196))


def test_mouth_on_the_eye_line_is_refused():
    with pytest.raises(AlignmentError, match="line through the eyes"):
        ffhq_square((170, 130), (230, 130), (260, 131))


def test_points_that_are_not_numbers_are_refused():
    with pytest.raises(AlignmentError, match="finite"):
        ffhq_square((170, float("nan")), (230, 130), (200, 196))


# --- crops and resampling ------------------------------------------------------------------------------

def test_crop_takes_exactly_that_square():
    im = Image.new("RGB", (300, 100), (0, 0, 0))
    im.paste((255, 255, 255), (100, 0, 200, 100))
    out = resample(im, crop_square(100, 0, 100), 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8 and out.min() >= 250
    check_square(crop_square(100, 0, 100), 300, 100, strict=True)   # fits: no error


def test_rotated_crop_turns_the_content():
    # a red dot right of centre; the square turned 90 degrees counter-clockwise sees it at the bottom
    im = dots((200, 200), [(150, 100)], colours=(RED,))
    out = resample(im, crop_square(50, 50, 100, angle=90), 50)
    x, y = centre_of(out, RED)
    assert (x, y) == pytest.approx((25, 50), abs=1.5)


def test_downscaling_is_anti_aliased():
    # one-pixel black and white stripes: reduced 8x they must average to grey, not alias to a pattern
    stripes = np.zeros((512, 512, 3), np.uint8)
    stripes[:, ::2] = 255
    im = Image.fromarray(stripes)
    for sq in (crop_square(0, 0, 512), crop_square(64, 64, 384, angle=30)):
        out = resample(im, sq, 64).astype(float)
        assert abs(out.mean() - 127.5) < 4 and out.std() < 6, sq


def test_big_photo_is_reduced_before_mapping():
    im = Image.new("RGB", (6000, 4000), (10, 200, 30))
    out = resample(im, crop_square(500, 500, 3000, angle=15), 64)
    assert out.shape == (64, 64, 3) and np.abs(out.astype(int) - (10, 200, 30)).max() <= 1


def test_square_partly_outside_is_mirrored_in():
    im = Image.new("RGB", (100, 100), (0, 0, 0))
    im.paste((255, 0, 0), (0, 0, 10, 100))                     # a red stripe at the left edge
    sq = Square(20, 50, 60, angle=5)                            # reaches 10 px beyond the left edge
    check_square(sq, 100, 100, strict=False)
    out = resample(im, sq, 60)
    assert out[30, 3:8, 0].min() > 200 and out[30, 3:8, 1:].max() < 60   # the red stripe mirrored, not black


def test_crop_outside_the_photo_is_refused_with_the_numbers():
    with pytest.raises(AlignmentError, match=r"reaches outside the 300x200 photo"):
        check_square(crop_square(250, 10, 100), 300, 200, strict=True)


def test_square_mostly_off_the_photo_is_refused():
    with pytest.raises(AlignmentError, match="mostly outside"):
        check_square(Square(-40, 50, 100, angle=10), 100, 100, strict=False)


def test_tiny_photo_is_refused():
    with pytest.raises(AlignmentError, match="10x12 pixels"):
        check_square(crop_square(0, 0, 10), 10, 12, strict=True)


# --- framing a photo file -------------------------------------------------------------------------------

def test_frame_photo_aligns_a_rotated_face_file(tmp_path):
    points = turned([(170, 130), (230, 130), (200, 196)], 25, (200, 150))
    dots((400, 300), points).save(tmp_path / "face.png")
    framed = frame_photo(tmp_path / "face.png", 64, Framing(eyes=tuple(points)))
    assert framed.pixels.shape == (64, 64, 3)
    left, right = centre_of(framed.pixels, RED), centre_of(framed.pixels, GREEN)
    assert abs(left[1] - right[1]) < 0.6                      # the eyes are level after alignment
    assert framed.framing.startswith("aligned on eyes")


def test_frame_photo_errors_name_the_file_and_the_problem(tmp_path):
    dots((400, 300), [(170, 130), (230, 130), (200, 196)]).save(tmp_path / "face.png")
    with pytest.raises(ImageInputError) as e:
        frame_photo(tmp_path / "face.png", 64, Framing(eyes=((230, 130), (170, 130), (200, 196))))
    msg = str(e.value)
    assert str(tmp_path / "face.png") in msg and "wrong order" in msg and "\n" not in msg
    with pytest.raises(ImageInputError, match="reaches outside"):
        frame_photo(tmp_path / "face.png", 64, Framing(crop=(300, 0, 200)))


def test_small_square_gets_a_note(tmp_path):
    dots((400, 300), [(170, 130)]).save(tmp_path / "face.png")
    framed = frame_photo(tmp_path / "face.png", 64, Framing(crop=(0, 0, 20)))
    assert any("enlarged 3.2x" in n for n in framed.notes)


def test_default_framing_is_the_centre_square(tmp_path):
    im = Image.new("RGB", (300, 100), (0, 0, 0))
    im.paste((255, 255, 255), (100, 0, 200, 100))
    im.save(tmp_path / "wide.png")
    framed = frame_photo(tmp_path / "wide.png", 32)
    assert framed.pixels.min() >= 250 and framed.notes == ()


# --- automatic landmarks (optional OpenCV) -----------------------------------------------------------------

def avatar_photo(index: int, seed: int, resolution: int) -> Image.Image:
    import io

    from explorer.train.make_dataset import render_avatar
    png, _ = render_avatar(index, seed, resolution)
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_detector_finds_a_cartoon_face_and_its_eyes_in_the_upper_middle():
    pytest.importorskip("cv2", reason="the optional 'faces' extra (opencv-python-headless) is not installed")
    from explorer.project.landmarks import find_face_points
    photo = avatar_photo(0, 777, 256)     # python-avatars faces sit in the middle, eyes at ~40% height
    left, right, mouth = find_face_points(photo)
    assert 0.3 * 256 < left[0] < right[0] < 0.7 * 256
    assert 0.3 * 256 < left[1] < 0.5 * 256 and 0.3 * 256 < right[1] < 0.5 * 256
    assert max(left[1], right[1]) + 0.1 * 256 < mouth[1] < 0.8 * 256
    ffhq_square(left, right, mouth)       # a valid face for the recipe


def test_detector_says_when_there_is_no_face(tmp_path):
    pytest.importorskip("cv2", reason="the optional 'faces' extra (opencv-python-headless) is not installed")
    ramp = np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (150, 1))
    Image.fromarray(np.dstack([ramp, ramp[::-1], ramp])).save(tmp_path / "sky.png")
    with pytest.raises(ImageInputError, match="no upright frontal face found.*--align-eyes") as e:
        frame_photo(tmp_path / "sky.png", 64, Framing(auto=True))
    assert str(tmp_path / "sky.png") in str(e.value)


def test_without_opencv_auto_alignment_says_how_to_get_it(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "cv2", None)      # import cv2 now raises ImportError
    dots((100, 100), [(50, 50)]).save(tmp_path / "a.png")
    with pytest.raises(ImageInputError, match=r"stylegan-explorer\[faces\]"):
        frame_photo(tmp_path / "a.png", 64, Framing(auto=True))
