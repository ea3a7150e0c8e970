"""What the Projector and Tuning panels share: watching one background run (a LiveRun) from the UI thread.

The run's worker only stores each step; once per UI frame the panel looks, and at most PREVIEW_HZ a second
draws the newest preview and the curve, so a fast run never floods the window. The run's end is handled once.
"""
from __future__ import annotations

import time
from typing import Optional

import dearpygui.dearpygui as dpg
import numpy as np

from explorer.app.projecting import LiveRun, fit_square

from .panel import Panel

THUMB = 128             # side of the target, projection and tuned-image textures, px
PREVIEW_HZ = 10.0       # most texture and curve updates a second while a run goes on
BLANK = 0.15            # grey of an empty texture


class RunPanel(Panel):
    """A panel that watches one LiveRun at a time; `curve` names its plot's items (<curve>.curve, .x, .y)."""

    curve = ""

    def __init__(self, app):
        super().__init__(app)
        self._drawn: tuple = (None, -1)              # (run, step count) on screen
        self._last_draw = 0.0
        self._finished: Optional[LiveRun] = None

    def watch(self, live: Optional[LiveRun]) -> bool:
        """Once per UI frame: draw the run's newest step (throttled) and finish it once it is done.
        False when there is no run left to watch."""
        if live is None or live is self._finished:
            return False
        now = time.perf_counter()
        done = live.done.is_set()
        if done or now - self._last_draw >= 1.0 / PREVIEW_HZ:
            self._last_draw = now
            version, preview, values = live.snapshot()
            if self._drawn != (live, version):
                self._drawn = (live, version)
                self.draw_step(live, preview, values)
        if done:
            self._finished = live
            self.finish(live)
        return True

    def draw_step(self, live: LiveRun, preview: Optional[np.ndarray], values: list[float]) -> None:
        """Show the newest preview and the values so far (called at most PREVIEW_HZ a second)."""
        raise NotImplementedError

    def finish(self, live: LiveRun) -> None:
        """The run ended (finished, cancelled or failed): show and use its result."""
        raise NotImplementedError

    def plot(self, values: list[float], num_steps: int, low: float, high: float) -> None:
        dpg.set_value(f"{self.curve}.curve", [list(range(1, len(values) + 1)), values])
        dpg.set_axis_limits(f"{self.curve}.x", 0, num_steps)
        dpg.set_axis_limits(f"{self.curve}.y", low, high)


def speed(live: LiveRun) -> str:
    """'0.12 s/step' once two steps are done, else ''."""
    rate = live.seconds_per_step()
    return f"{rate:.2f} s/step" if rate is not None else ""


def upload_thumb(pixels: Optional[np.ndarray], buf: np.ndarray) -> np.ndarray:
    """Into a THUMB x THUMB texture's own buffer, in place (the texture reads it on the next draw); returns the
    uint8 shown."""
    if pixels is None:
        buf.fill(BLANK)
        return np.zeros((THUMB, THUMB, 3), np.uint8)
    shown = fit_square(pixels, THUMB)
    np.multiply(shown, np.float32(1 / 255), out=buf)
    return shown
