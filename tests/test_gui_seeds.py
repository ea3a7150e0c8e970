"""The seed browser in a real Dear PyGui window (under a private Xvfb): thumbnails clicked, shift-clicked and
right-clicked with the mouse and pages turned with the keys through xdotool; thumbnails checked against the
frames the app draws for their seeds. One App serves the whole module.
"""
from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from explorer.render.state import RenderState, Source
from explorer.render.thumbnails import Preempted, thumbnail_look
from tests.helpers.gui_display import click, drive, frame, xdotool

pytestmark = [pytest.mark.gui,
              pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")]


@pytest.fixture
def fresh(app, models):
    """The 64 px model, seeds 1 and 2; the Seeds group on show, a 4x4 page from seed 100, all rendered."""
    app.set_state(RenderState(checkpoint=models.g64, device="cpu", a=Source(seed=1), b=Source(seed=2)))
    app.wait_for_render()
    app.layout.select("Seeds")
    drive("seeds.grid", "4x4")
    app.seeds.go_to(100)
    settle(app)
    app.clear_error()
    return app


def settle(app, timeout: float = 60.0) -> None:
    """Draw frames until the page on show has every thumbnail under the current look."""
    deadline = time.monotonic() + timeout
    browser = app.seeds.browser
    while browser.look != thumbnail_look(app.state) or browser.page != app.seeds.page or browser.missing():
        assert time.monotonic() < deadline, "thumbnails did not arrive"
        app.run_frames(1)
    app.run_frames(2)


def over(app, slot: int) -> None:
    """Move the mouse onto thumbnail `slot` (with the small extra motion Dear PyGui needs)."""
    import dearpygui.dearpygui as dpg

    (x, y), (w, h) = dpg.get_item_rect_min(f"seeds.t{slot}"), dpg.get_item_rect_size(f"seeds.t{slot}")
    assert dpg.is_item_visible(f"seeds.t{slot}") and 0 < y and y + h < 800, "thumbnail must be on screen"
    xdotool("mousemove", str(x + w // 2), str(y + h // 2))
    app.run_frames(2)
    xdotool("mousemove_relative", "--", "1", "0")
    app.run_frames(2)


def click_slot(app, slot: int, button: str = "1", shift: bool = False) -> None:
    over(app, slot)
    if shift:
        xdotool("keydown", "shift")
        app.run_frames(2)
    xdotool("click", button)
    app.run_frames(4)
    if shift:
        xdotool("keyup", "shift")
        app.run_frames(2)


def test_clicking_a_thumbnail_with_the_mouse_sets_a_to_what_it_shows(fresh):
    import dearpygui.dearpygui as dpg
    from widgets.style import source_theme

    assert fresh.seeds.page.seeds == tuple(range(100, 116))
    shown, stale = fresh.seeds.browser.thumbnail(105)
    assert not stale
    click_slot(fresh, 5)
    assert fresh.state.a.seed == 105 and fresh.state.b.seed == 2
    assert np.abs(frame(fresh) - shown).max() <= 1               # the frame is the thumbnail (64 px: not shrunk)
    fresh.run_frames(2)
    assert dpg.get_value("seeds.l5") == "105 A" and dpg.get_item_theme("seeds.t5") == source_theme("A")


def test_shift_click_and_right_click_set_b(fresh):
    import dearpygui.dearpygui as dpg

    click_slot(fresh, 2, shift=True)
    assert fresh.state.b.seed == 102 and fresh.state.a.seed == 1
    click_slot(fresh, 3, button="3")
    assert fresh.state.b.seed == 103 and fresh.state.a.seed == 1
    fresh.run_frames(2)
    assert dpg.get_value("seeds.l3") == "103 B"


def test_page_keys_and_buttons_turn_pages_and_thumbnails_fill_them(fresh):
    import dearpygui.dearpygui as dpg

    xdotool("mousemove", "1000", "400")                          # over the picture: no text box has the keyboard
    fresh.run_frames(2)
    xdotool("key", "Next")                                       # PgDn
    fresh.run_frames(4)
    assert fresh.seeds.page.seeds[0] == 116
    settle(fresh)
    assert dpg.get_value("seeds.l0") == "116" and dpg.get_value("seeds.start") == 116
    assert not fresh.seeds.browser.thumbnail(131)[1]
    xdotool("key", "Prior")                                      # PgUp
    fresh.run_frames(4)
    assert fresh.seeds.page.seeds[0] == 100
    click("seeds.next")
    click("seeds.next")
    assert fresh.seeds.page.seeds[0] == 132
    drive("seeds.start", 5000)
    assert fresh.seeds.page.seeds == tuple(range(5000, 5016))
    click("seeds.random")
    settle(fresh)
    seeds = fresh.seeds.page.seeds
    assert fresh.seeds.page.random and len(set(seeds)) == 16 and seeds != tuple(range(5000, 5016))
    assert all(dpg.get_value(f"seeds.l{i}").split()[0] == str(s) for i, s in enumerate(seeds))


def test_thumbnails_follow_psi_and_the_class(fresh, models):
    before = np.stack([fresh.seeds.browser.thumbnail(s)[0] for s in range(100, 116)]).astype(float)
    drive("trunc.psi", 0.0)
    settle(fresh)
    avg = np.stack([fresh.seeds.browser.thumbnail(s)[0] for s in range(100, 116)]).astype(float)
    assert np.abs(avg - avg[0]).max() <= 1                       # psi 0: every seed is the average image
    assert np.abs(avg - before).mean() > 5
    fresh.set_state(RenderState(checkpoint=models.cond, device="cpu", a=Source(1, class_idx=0)))
    frame(fresh)
    settle(fresh)
    class0 = fresh.seeds.browser.thumbnail(104)[0].astype(float)
    assert class0.shape == (32, 32, 3)                           # a 32 px model: 32 px thumbnails
    drive("latents.a.class", 2)
    settle(fresh)
    assert np.abs(fresh.seeds.browser.thumbnail(104)[0] - class0).mean() > 1


def test_b_over_a_thumbnail_bookmarks_that_seed(fresh):
    import dearpygui.dearpygui as dpg

    marks = len(fresh.live.bookmarks)
    over(fresh, 7)
    xdotool("key", "b")
    fresh.run_frames(4)
    assert len(fresh.live.bookmarks) == marks + 1
    mark = fresh.live.bookmarks.items[-1]
    assert mark.state.a.seed == 107 and fresh.state.a.seed == 1  # the thumbnail's seed, not the frame's
    assert mark.thumbnail_pixels() is not None
    assert dpg.get_value("seeds.l7") == "107 *"


def test_a_frame_never_waits_for_a_thumbnail_batch(fresh, monkeypatch):
    import explorer.app.seed_browser as seed_browser

    held = []

    def endless(renderer, look, seeds, size, yield_to):          # a batch that only ends when a frame waits
        held.append(list(seeds))
        while not yield_to():
            time.sleep(0.002)
        raise Preempted

    monkeypatch.setattr(seed_browser, "render_thumbnails", endless)
    fresh.seeds.go_to(7000)
    fresh.run_frames(3)
    deadline = time.monotonic() + 30
    while not held:
        assert time.monotonic() < deadline
        fresh.run_frames(1)
    fresh.update_state(psi=0.5)
    assert frame(fresh) is not None and fresh.last_frame.state.psi == 0.5    # rendered while the page was due
    assert fresh.seeds.browser.missing()                          # ...and the page still is
    monkeypatch.undo()
    fresh.update_state(psi=1.0)                                   # (a frame ends the held batch)
    settle(fresh)


def test_the_hint_line_fits_the_narrowest_column(fresh):
    import dearpygui.dearpygui as dpg

    fresh.run_frames(2)
    (x, _), (w, _) = dpg.get_item_rect_min("seeds.hint"), dpg.get_item_rect_size("seeds.hint")
    assert fresh.layout.width == 420 and w > 100
    assert x + w <= fresh.layout.width - 12, f"the hint ends at {x + w}, the column at {fresh.layout.width}"


def test_at_1280x720_the_whole_4x4_page_is_on_screen(fresh):
    import dearpygui.dearpygui as dpg

    dpg.set_viewport_height(720)
    try:
        fresh.run_frames(4)
        for i in range(16):
            (x, y), (w, h) = dpg.get_item_rect_min(f"seeds.t{i}"), dpg.get_item_rect_size(f"seeds.t{i}")
            where = f"thumbnail {i} at {x},{y} {w}x{h}, column scrolled {dpg.get_y_scroll('controls.Seeds')}"
            assert dpg.is_item_visible(f"seeds.t{i}") and y + h < 720 and x + w < fresh.layout.width, where
            assert w >= 80                                         # large enough to judge a face
            x0, y0 = dpg.get_item_rect_min("seeds.t0")
            assert (x == x0) == (i % 4 == 0) and (y > y0 + h // 2) == (i >= 4)   # in page order, 4 a row
    finally:
        dpg.set_viewport_height(800)
        fresh.run_frames(4)
