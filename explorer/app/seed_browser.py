"""The seed browser without drawing it: which seeds a page holds, which thumbnails are done under the current
look, and the job that renders the missing ones on the render worker between frames.

    panel, each UI frame: browser.show(page, look, size) --(page, look or size changed)--> worker.submit_idle(job)
    job (worker thread):  render_thumbnails(the page's missing seeds) batch by batch --> kept thumbnails
    panel: browser.thumbnail(seed) -> (pixels, stale) for each slot; a stale one shows until its new one arrives

Pages of consecutive seeds start anywhere in SEED_RANGE; random pages are numbered, each number the same
seeds every time (so Prev after Next comes back to the same faces).
"""
from __future__ import annotations

import dataclasses
import functools
import threading
from typing import Callable, Optional

import numpy as np

from ..errors import ExplorerError, one_line
from ..latents import SEED_RANGE
from ..lru import LRU
from ..render.renderer import Renderer
from ..render.state import RenderState
from ..render.thumbnails import render_thumbnails
from ..render.worker import RenderWorker

GRIDS = {"3x3": (3, 3), "4x4": (4, 4), "5x5": (5, 5)}    # page shapes a user picks from: rows, columns
KEPT = 512                 # thumbnails kept across pages (~25 MB at 128 px)
RANDOM_SALT = 0x5EED       # random page k holds the seeds numpy's default_rng([RANDOM_SALT, k]) draws


@dataclasses.dataclass(frozen=True)
class Page:
    start: int                  # the first seed, or a random page's number
    count: int                  # thumbnails on the page
    random: bool = False

    @functools.cached_property
    def seeds(self) -> tuple[int, ...]:
        lo, hi = SEED_RANGE
        if not self.random:
            return tuple(range(self.start, min(self.start + self.count, hi + 1)))
        rng = np.random.default_rng([RANDOM_SALT, self.start])
        seeds: list[int] = []
        while len(seeds) < self.count:
            seed = int(rng.integers(lo, hi, endpoint=True))
            if seed not in seeds:
                seeds.append(seed)
        return tuple(seeds)

    def turned(self, pages: int) -> "Page":
        """The page `pages` on (back when negative), within SEED_RANGE."""
        if self.random:
            return dataclasses.replace(self, start=max(self.start + pages, 0))
        lo, hi = SEED_RANGE
        return dataclasses.replace(self, start=min(max(self.start + pages * self.count, lo), hi - self.count + 1))


def page_at(start: int, count: int) -> Page:
    """Consecutive seeds from `start` (moved back so the whole page lies in SEED_RANGE)."""
    lo, hi = SEED_RANGE
    return Page(min(max(int(start), lo), hi - count + 1), count)


class SeedBrowser:
    """Thumbnails of the page on show under the current look, rendered on the render worker between frames."""

    def __init__(self, worker: RenderWorker, renderer: Renderer):
        self._worker = worker
        self._renderer = renderer
        self._lock = threading.Lock()
        self._kept: LRU[tuple[np.ndarray, RenderState]] = LRU(KEPT)    # seed -> (pixels, the look they show)
        self.page: Optional[Page] = None
        self.look: Optional[RenderState] = None
        self.size = 0
        self.error: Optional[str] = None

    def show(self, page: Page, look: RenderState, size: int) -> None:
        """Ask for `page`'s thumbnails under `look`, `size` px a side (cheap when nothing changed)."""
        if (page, look, size) == (self.page, self.look, self.size):
            return
        if size != self.size:
            with self._lock:
                self._kept.clear()
        self.page, self.look, self.size, self.error = page, look, size, None
        self._worker.submit_idle(self._job(page, look, size) if self.missing() else None)

    def thumbnail(self, seed: int) -> tuple[Optional[np.ndarray], bool]:
        """(pixels or None, stale): a stale thumbnail shows another look (it stays until its new one comes)."""
        with self._lock:
            hit = self._kept.get(seed)
        return (None, True) if hit is None else (hit[0], hit[1] != self.look)

    def missing(self) -> list[int]:
        """Seeds of the page on show without a thumbnail under the current look."""
        if self.page is None:
            return []
        return self._missing(self.page, self.look)

    def _missing(self, page: Page, look: Optional[RenderState]) -> list[int]:
        with self._lock:
            return [s for s in page.seeds if (hit := self._kept.get(s)) is None or hit[1] != look]

    def _job(self, page: Page, look: RenderState, size: int) -> Callable[[Callable[[], bool]], None]:
        """Render what `page` lacks under `look`; runs on the worker (again after a frame preempts it)."""
        def job(frame_waiting: Callable[[], bool]) -> None:
            seeds = self._missing(page, look)
            if not seeds or (page, look, size) != (self.page, self.look, self.size):
                return
            try:
                for done, images in render_thumbnails(self._renderer, look, seeds, size, frame_waiting):
                    with self._lock:
                        for seed, image in zip(done, images):
                            self._kept.put(seed, (image, look))
                    if (page, look, size) != (self.page, self.look, self.size):
                        return                                # another page or look: its own job follows
            except (ExplorerError, ValueError) as e:       # the frame reports the same problem in the status line
                self.error = one_line(e)
        return job
