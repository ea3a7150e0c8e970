"""The work behind the Record panel: walks, "record what I do", figures from the app.

    walk:     keyframes (A -> B, or a list built in the app) + the app's state --render_walk--> .mp4 | .gif
    live:     every frame the app displays --queue--> encoder thread --VideoWriter--> .mp4 | .gif
    figures:  the app's state --grid.py--> mix grid (A rows x B cols per level) / noise figure --> .png

Walks and figures run on a background task with a Renderer of their own (never the interactive worker's:
its caches belong to the worker thread), at a lower CPU priority (tasks.yield_cpu): on a CPU with few cores the
frame being dragged keeps its speed while a walk renders. The live recorder's UI-thread cost is one
queue.put per frame; encoding runs on its own thread, so a slow encoder never stalls the window.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ExplorerError
from ..grid import mix_grid_from_state, noise_grid
from ..images import save_png
from ..render.frames import state_frame_settings
from ..render.renderer import Renderer
from ..render.state import RenderState
from ..video import RecordResult, VideoWriter, Walk, render_walk
from .tasks import Task, TaskCancel

LIVE_BACKLOG_BYTES = 1 << 30   # frames waiting for the encoder beyond this are dropped (and counted), not queued


def record_walk(walk: Walk, state: RenderState, out: "str | os.PathLike[str]", fps: float, task: Task,
                renderer: Renderer) -> RecordResult:
    """render_walk under an app task: its progress bar, its Cancel (which leaves a valid shorter file)."""
    return render_walk(walk, state, out, fps=fps, renderer=renderer, cancel=TaskCancel(task),
                       progress=lambda done, total: task.set_progress(done / max(total, 1)))


def write_mix_grid(state: RenderState, out: "str | os.PathLike[str]", renderer: Renderer) -> Path:
    """The state's A (rows) mixed with B (columns) at each level the model has, as `explorer mix --state`."""
    fig = mix_grid_from_state(state, "all-levels", renderer)
    return save_png(out, fig.image, state=state, figure=fig.description)


def write_noise_figure(state: RenderState, out: "str | os.PathLike[str]", renderer: Renderer) -> Path:
    """The frame on screen with noise per level, all, none, and its std map, as `explorer noise-grid --state`."""
    if state.noise_mode == "none":
        raise ExplorerError("a noise figure needs noise: set the noise mode to const or random")
    G = renderer.model_for(state).G
    fig = noise_grid(G, renderer.compute_ws(state, G), state_frame_settings(state, renderer))
    return save_png(out, fig.image, state=state, figure=fig.description)


class LiveRecorder:
    """Frames in from the UI thread (add), encoded on a thread of its own; finish() finalises the file.

    One video frame per frame added (the app adds each frame it displays), played at `fps`. The output is
    checked when recording starts (format, folder); an encoder failure stops the capture and is raised by
    finish(). Frames beyond LIVE_BACKLOG_BYTES waiting for the encoder are dropped and counted.
    """

    def __init__(self, path: "str | os.PathLike[str]", fps: float = 30):
        self.writer = VideoWriter(path, fps=fps)      # raises now for a bad path or format
        self.path = self.writer.path
        self.frames = 0                     # frames taken (UI thread)
        self.dropped = 0                    # frames not taken: the encoder was too far behind
        self.add_seconds = 0.0              # UI-thread time spent in add()
        self.error: Optional[BaseException] = None
        self._queue: "queue.SimpleQueue[Optional[np.ndarray]]" = queue.SimpleQueue()
        self._backlog = 0                   # bytes queued, not yet encoded
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._encode, name=f"record {self.path.name}", daemon=True)
        self._thread.start()

    @property
    def encoded(self) -> int:
        return self.writer.frames

    def add(self, image: np.ndarray) -> None:
        """Queue one displayed frame (never copied: the app's frames are new arrays, never written again)."""
        t0 = time.perf_counter()
        if self.error is None:
            with self._lock:
                full = self._backlog + image.nbytes > LIVE_BACKLOG_BYTES
                if not full:
                    self._backlog += image.nbytes
            if full:
                self.dropped += 1
            else:
                self._queue.put(image)
                self.frames += 1
        self.add_seconds += time.perf_counter() - t0

    def finish(self) -> Optional[Path]:
        """Encode what is queued, finalise the file; its path (None: no frame). Blocks: call off the UI thread."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.writer.output

    def _encode(self) -> None:
        while True:
            image = self._queue.get()
            if image is None:
                break
            with self._lock:
                self._backlog -= image.nbytes
            if self.error is None:
                try:
                    self.writer.append(image)
                except Exception as e:   # a full disk, a dead ffmpeg: stop taking frames, report at finish
                    self.error = e
        try:
            if self.error is None:
                self.writer.close()
            else:
                self.writer.abort()
        except Exception as e:
            self.error = e


__all__ = ["record_walk", "write_mix_grid", "write_noise_figure",
           "LiveRecorder", "LIVE_BACKLOG_BYTES"]
