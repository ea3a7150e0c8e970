"""Seed browser panel: a grid of thumbnails of consecutive (or random) seeds under the current look, to find
faces worth exploring. A click sets A, Shift+click or a right click sets B, B over a thumbnail bookmarks its
seed; PgUp / PgDn (or the buttons) turn pages. Thumbnails render on the render worker between frames
(explorer/app/seed_browser.py), so the window never waits; a page fills in as they arrive.
"""
from __future__ import annotations

import random
from typing import Any, Optional

import dearpygui.dearpygui as dpg
import numpy as np

from explorer.app.seed_browser import GRIDS, Page, SeedBrowser, page_at
from explorer.latents import SEED_RANGE
from explorer.render.state import Source
from explorer.render.thumbnails import thumbnail_look, thumbnail_size, thumbnail_state

from .panel import Panel
from .style import DIM_COLOR, source_theme

DEFAULT_GRID = "4x4"
SLOTS = max(r * c for r, c in GRIDS.values())      # image buttons built once; a smaller grid hides the rest
GAP = 6                                            # px between thumbnails
EMPTY = 0.16                                       # grey of a slot whose thumbnail has not come yet
SHIFT_KEYS = (dpg.mvKey_ModShift, dpg.mvKey_LShift, dpg.mvKey_RShift)


class SeedsPanel(Panel):
    title = "Seed browser"

    def __init__(self, app):
        super().__init__(app)
        self.grid = GRIDS[DEFAULT_GRID]
        self.page = Page(0, self.grid[0] * self.grid[1])
        self.browser = SeedBrowser(app.worker, app.engine.renderer)
        self._size = 0                                  # thumbnail side of the textures, px
        self._buffers: list[np.ndarray] = []            # per slot: the texture's pixels (float RGB, written in place)
        self._textures: list[Any] = []
        self._shown: list[Optional[tuple]] = [None] * SLOTS   # per slot: (seed, pixels object) in its texture
        self._cell = 0
        self._retired: list[Any] = []                   # textures replaced last frame (freed the next)
        self._marked: tuple = (None, -1, frozenset())   # (bookmark list, its version, bookmarked seeds)

    def build(self) -> None:
        with dpg.group(horizontal=True):
            dpg.add_combo(list(GRIDS), tag="seeds.grid", default_value=DEFAULT_GRID, width=55,
                          callback=lambda s, a: self.set_grid(a))
            dpg.add_button(tag="seeds.prev", label=" < ", callback=lambda: self.turn(-1))
            dpg.add_input_int(tag="seeds.start", step=0, width=95, on_enter=True,
                              min_value=SEED_RANGE[0], min_clamped=True, callback=lambda s, a: self.go_to(int(a)))
            self.app.register_text_input("seeds.start")
            dpg.add_button(tag="seeds.next", label=" > ", callback=lambda: self.turn(+1))
            dpg.add_button(tag="seeds.random", label="Random", callback=self.random_page)
            dpg.add_button(tag="seeds.from_a", label="From A", callback=lambda: self.go_to(self.app.state.a.seed))
        dpg.add_text("click: A   shift / right click: B   B: bookmark   PgUp PgDn", tag="seeds.hint",
                     color=DIM_COLOR, wrap=0)   # wraps at the column's edge when the column is narrow
        self._buffers = [np.full((1, 1, 3), EMPTY, np.float32) for _ in range(SLOTS)]
        self._textures = [dpg.add_raw_texture(1, 1, b, format=dpg.mvFormat_Float_rgb, parent="textures")
                          for b in self._buffers]
        with dpg.item_handler_registry(tag="seeds.handlers"):
            dpg.add_item_clicked_handler(button=dpg.mvMouseButton_Right, callback=self._right_clicked)
        cols = max(c for _, c in GRIDS.values())
        for row in range(SLOTS // cols):
            with dpg.group(horizontal=True, horizontal_spacing=GAP, tag=f"seeds.row{row}"):
                for i in range(row * cols, (row + 1) * cols):
                    with dpg.group(tag=f"seeds.cell{i}"):
                        dpg.add_image_button(self._textures[i], tag=f"seeds.t{i}", width=64, height=64, user_data=i,
                                             callback=lambda s, a, u: self._clicked(u))
                        dpg.bind_item_handler_registry(f"seeds.t{i}", "seeds.handlers")
                        dpg.add_text("", tag=f"seeds.l{i}")
        dpg.add_text("", tag="seeds.note", color=DIM_COLOR)
        self._arrange()

    # --- actions -----------------------------------------------------------------------------------------
    def go_to(self, start: int) -> None:
        """A page of consecutive seeds from `start`."""
        self.page = page_at(start, self.grid[0] * self.grid[1])

    def turn(self, pages: int) -> None:
        """The next (+1) or previous (-1) page, consecutive or random as the page on show."""
        self.page = self.page.turned(pages)

    def random_page(self) -> None:
        self.page = Page(random.randrange(2 ** 31), self.grid[0] * self.grid[1], random=True)

    def set_grid(self, name: str) -> None:
        self.grid = GRIDS[name]
        self.page = Page(self.page.start, self.grid[0] * self.grid[1], self.page.random)
        self._arrange()

    def seed_at(self, slot: int) -> Optional[int]:
        seeds = self.page.seeds
        return seeds[slot] if 0 <= slot < len(seeds) else None

    def hovered(self) -> Optional[int]:
        """The slot under the mouse (None: not over a thumbnail, or the browser is not on show)."""
        if self.app.layout.group != self.app.layout.group_of(self):
            return None
        n = len(self.page.seeds)
        return next((i for i in range(n) if dpg.is_item_hovered(f"seeds.t{i}")), None)

    def bookmark_hovered(self) -> bool:
        """Bookmark the seed under the mouse (the picture its thumbnail shows); False when not over one."""
        slot = self.hovered()
        seed = None if slot is None else self.seed_at(slot)
        if seed is None:
            return False
        pixels, _ = self.browser.thumbnail(seed)
        self.app.live.add_bookmark(thumbnail_state(self.app.state, seed), pixels)
        return True

    def _clicked(self, slot: int) -> None:
        shift = any(dpg.is_key_down(k) for k in SHIFT_KEYS)
        self._choose(slot, "b" if shift else "a")

    def _right_clicked(self, sender: Any, app_data: Any) -> None:
        alias = dpg.get_item_alias(app_data[1]) or ""
        if alias.startswith("seeds.t"):
            self._choose(int(alias.removeprefix("seeds.t")), "b")

    def _choose(self, slot: int, which: str) -> None:
        seed = self.seed_at(slot)
        if seed is not None:
            self.app.set_seed(which, seed)

    # --- drawing -----------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Ask for the page's thumbnails while the browser is on show; put arrived ones in their slots."""
        for tex in self._retired:
            dpg.delete_item(tex)
        self._retired = []
        info = self.info
        if info is None or self.app.layout.group != self.app.layout.group_of(self):
            return
        size = thumbnail_size(info.resolution)
        if size != self._size:
            self._make_textures(size)
        self.browser.show(self.page, thumbnail_look(self.app.state), size)
        if self._cell != self._cell_size():
            self._arrange()
        if not self.page.random and not dpg.is_item_active("seeds.start"):
            dpg.set_value("seeds.start", self.page.start)
        state, marked = self.app.state, self._bookmarked()
        for i, seed in enumerate(self.page.seeds):
            pixels, stale = self.browser.thumbnail(seed)
            if self._shown[i] != (seed, id(pixels)):
                self._shown[i] = (seed, id(pixels))
                self._upload(i, pixels)
            which = next((w for w in ("A", "B") if _is_seed(getattr(state, w.lower()), seed)), None)
            mark = " *" if seed in marked else ""
            dpg.set_value(f"seeds.l{i}", f"{seed}{' ' + which if which else ''}{mark}")
            dpg.bind_item_theme(f"seeds.t{i}", source_theme(which) if which else 0)
        missing = len(self.browser.missing())
        note = self.browser.error or (f"rendering {missing} of {len(self.page.seeds)}..." if missing else "")
        if self.page.random:
            note = f"random page {self.page.start}   {note}"
        dpg.set_value("seeds.note", note)

    def _bookmarked(self) -> frozenset:
        marks = self.app.live.bookmarks
        if self._marked[:2] != (marks, marks.version):
            seeds = frozenset(b.state.a.seed for b in marks.items if b.state.a.w_path is None)
            self._marked = (marks, marks.version, seeds)
        return self._marked[2]

    def _cell_size(self) -> int:
        """A thumbnail's side on screen: the column's width shared by the grid's columns."""
        cols = self.grid[1]
        return max((self.app.layout.width - 40) // cols - GAP - 8, 32)

    def _arrange(self) -> None:
        """Slot k (the page's k-th seed) into row k // columns, in order, at the cell size; hide the rest."""
        rows, cols = self.grid
        self._cell = self._cell_size()
        last = SLOTS // max(c for _, c in GRIDS.values()) - 1
        for k in range(SLOTS):                   # each move appends: the rows end up in slot order
            dpg.move_item(f"seeds.cell{k}", parent=f"seeds.row{min(k // cols, last)}")
            dpg.configure_item(f"seeds.cell{k}", show=k < rows * cols)
            dpg.configure_item(f"seeds.t{k}", width=self._cell, height=self._cell)
        for row in range(last + 1):
            dpg.configure_item(f"seeds.row{row}", show=row < rows)
        self._shown = [None] * SLOTS

    def _make_textures(self, size: int) -> None:
        """New slot textures `size` px a side (a new model); the old ones go once nothing draws them."""
        old = self._textures
        self._buffers = [np.full((size, size, 3), EMPTY, np.float32) for _ in range(SLOTS)]
        self._textures = [dpg.add_raw_texture(size, size, b, format=dpg.mvFormat_Float_rgb, parent="textures")
                          for b in self._buffers]
        for i, tex in enumerate(self._textures):
            dpg.configure_item(f"seeds.t{i}", texture_tag=tex)
        self._retired += old
        self._size = size
        self._shown = [None] * SLOTS

    def _upload(self, slot: int, pixels: Optional[np.ndarray]) -> None:
        buf = self._buffers[slot]
        if pixels is None or pixels.shape[:2] != buf.shape[:2]:
            buf[...] = EMPTY
        else:
            np.multiply(pixels, np.float32(1 / 255), out=buf)


def _is_seed(src: Source, seed: int) -> bool:
    return src.w_path is None and src.seed == seed
