"""The crop view's logic without a window: a photo on a canvas, a square dragged, scaled and turned on it, three
clicks that frame a face, and choices that are refused without losing the last good framing."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from explorer.app.framing_edit import BACKGROUND, FramingEdit, canvas_image
from explorer.project.align import crop_square, ffhq_square
from explorer.project.framing import Framing

W, H, CANVAS = 400, 300, 300          # the photo is shown at 0.75x, with 37.5 px of grey above and below


@pytest.fixture
def edit() -> FramingEdit:
    return FramingEdit(W, H, CANVAS)


def canvas_of(edit: FramingEdit, x: float, y: float) -> tuple[float, float]:
    cx, cy = edit.to_canvas((x, y))
    return float(cx), float(cy)


def drag(edit: FramingEdit, start, end, steps: int = 4) -> None:
    assert edit.press(*start)
    for k in range(1, steps + 1):
        edit.drag_to(start[0] + (end[0] - start[0]) * k / steps, start[1] + (end[1] - start[1]) * k / steps)
    edit.release()


def test_a_new_photo_is_framed_by_its_centre_square(edit):
    assert edit.framing == Framing() and edit.problem is None
    assert (edit.square.cx, edit.square.cy, edit.square.side) == (200, 150, 300)
    assert canvas_of(edit, 0, 0) == (0, 37.5) and canvas_of(edit, W, H) == (300, 262.5)
    np.testing.assert_allclose(edit.to_photo(*canvas_of(edit, 123.0, 45.0)), (123, 45))


def test_the_canvas_shows_the_photo_where_the_edit_maps_it():
    photo = Image.new("RGB", (W, H), (200, 30, 30))
    pixels = canvas_image(photo, CANVAS)
    assert pixels.shape == (CANVAS, CANVAS, 3)
    assert (pixels[36] == BACKGROUND).all() and (pixels[263] == BACKGROUND).all()     # letterbox above, below
    assert (pixels[38:262] == (200, 30, 30)).all()


def test_dragging_the_centre_square_makes_it_a_crop_that_stops_at_the_photo_edge(edit):
    start = canvas_of(edit, 200, 150)
    drag(edit, start, (start[0] - 30, start[1]))        # 30 canvas px = 40 photo px to the left
    assert edit.mode == "crop"
    assert edit.framing == Framing(crop=(10, 0, 300), angle=0.0)
    drag(edit, canvas_of(edit, 160, 150), canvas_of(edit, 600, 150))   # far past the right edge
    assert edit.framing.crop == (100, 0, 300) and edit.problem is None


def test_the_corner_handle_scales_the_square_about_its_centre(edit):
    edit.set_mode("crop")
    drag(edit, tuple(edit.handle()), canvas_of(edit, 250, 200))    # the corner to (250, 200): side 100
    assert edit.framing.crop == pytest.approx((150, 100, 100))
    drag(edit, tuple(edit.handle()), canvas_of(edit, 201, 151))    # never below the smallest side
    assert edit.framing.crop[2] == 16


def test_the_angle_turns_the_crop_about_its_centre(edit):
    edit.set_mode("crop")
    drag(edit, tuple(edit.handle()), canvas_of(edit, 250, 200))
    assert edit.set_angle(30)
    assert edit.framing == Framing(crop=(150, 100, 100), angle=30)
    assert edit.square == crop_square(150, 100, 100, 30)
    assert edit.crop_numbers() == pytest.approx((150, 100, 100, 30))


def test_three_clicks_frame_the_face_by_the_ffhq_recipe(edit):
    edit.set_mode("eyes")
    points = [(170, 130), (230, 126), (202, 196)]
    for i, p in enumerate(points):
        assert edit.next_point == ("left eye", "right eye", "mouth")[i]
        edit.press(*canvas_of(edit, *p))
    np.testing.assert_allclose(edit.points, points)
    np.testing.assert_allclose(edit.framing.eyes, points)
    expected = ffhq_square(*points)
    np.testing.assert_allclose(edit.square.corners(), expected.corners(), atol=1e-6)
    edit.press(*canvas_of(edit, 100, 100))              # a fourth click starts again
    assert len(edit.points) == 1
    np.testing.assert_allclose(edit.framing.eyes, points)


@pytest.mark.parametrize("points, reason", [
    ([(230, 130), (170, 130), (200, 196)], "wrong order"),
    ([(200, 130), (200.5, 130), (200, 196)], "px apart"),
    ([(170, 130), (230, 130), (260, 130)], "line through the eyes"),
])
def test_bad_eye_clicks_are_refused_and_the_last_good_framing_is_kept(edit, points, reason):
    edit.set_mode("eyes")
    for p in [(170, 130), (230, 126), (202, 196)]:
        edit.press(*canvas_of(edit, *p))
    good, version = edit.framing, edit.version
    for p in points:
        edit.press(*canvas_of(edit, *p))
    assert reason in edit.problem and "click the three points again" in edit.problem
    assert "last good square" in edit.problem
    assert edit.framing == good and edit.version == version and edit.points == []


def test_a_click_beside_the_photo_is_not_a_point(edit):
    edit.set_mode("eyes")
    edit.press(150, 10)                                   # in the grey above the photo
    assert edit.points == [] and "click on the photo" in edit.problem and "left eye" in edit.problem


def test_a_typed_crop_off_the_photo_is_refused_and_drawn_where_it_was_put(edit):
    edit.set_mode("crop")
    good = edit.framing
    assert not edit.choose_crop(250, 10, 200, 0)
    assert "reaches outside the 400x300 photo" in edit.problem and edit.framing == good
    assert edit.square == crop_square(250, 10, 200)      # shown (in red) where the user put it


def test_a_photo_too_small_to_frame_has_no_framing_and_says_why():
    edit = FramingEdit(10, 12, CANVAS)
    assert edit.framing is None and "at least 16" in edit.problem
