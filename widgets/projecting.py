"""The work behind the Projector panel, with no Dear PyGui in it: the target, the live view, the run.

    photo --load_square--> target (centre square at the model's resolution: what the projector sees)
    target + the app's state --engine.project_photo (background task, own model)--> projected_w-<photo>-NNNN.npz
        after each step  (projection thread)  LiveProjection.on_step: keep the newest preview, append the loss
        each UI frame    (UI thread, ~10 Hz)  LiveProjection.snapshot: what the panel puts in its texture and plot

The projection thread only stores and the UI thread only reads, each at its own pace: the window never waits
for a step and the projector never waits for the window.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

from explorer.errors import ExplorerError
from explorer.image_input import load_square
from explorer.project.projector import ProjectionStep
from explorer.render.state import RenderState

from .engine import Projected, project_photo
from .recording import TaskCancel, next_free_path, yield_cpu
from .tasks import Task

DEFAULT_STEPS = 300          # NVlabs use 1000; 300 gives most of the fit while the user waits
LOSS_PRESETS = {             # label -> parse_loss_spec text (None: the defaults, falling back without MobileNet)
    "perceptual + pixel + ssim": None,
    "pixel + ssim": "l2=1,msssim=0.1",
    "perceptual": "perceptual=1",
    "pixel (L2)": "l2=1",
}
DEFAULT_PRESET = "perceptual + pixel + ssim"
IMAGE_TYPES = [("Images{.png,.jpg,.jpeg,.webp,.bmp,.tif,.tiff,.gif}", "images")]


def read_target(path: "str | os.PathLike[str]", resolution: int) -> np.ndarray:
    """The photo as the projector sees it: HxWx3 uint8, centre-cropped and resized to the model's resolution
    (EXIF rotation, alpha on white, CMYK, 16-bit handled; ImageInputError naming the file otherwise)."""
    text = str(path).strip()
    if not text:
        raise ExplorerError("choose an image to project first")
    return load_square(Path(text).expanduser(), resolution)


def fit_square(pixels: np.ndarray, size: int) -> np.ndarray:
    """HxWx3 uint8 shown in a size x size square: whole-pixel enlargement, box-averaged (or sampled) reduction."""
    h, w = pixels.shape[:2]
    if (h, w) == (size, size):
        return pixels
    if h <= size and size % h == 0 and h == w:
        k = size // h
        return np.repeat(np.repeat(pixels, k, axis=0), k, axis=1)
    if h == w and h % size == 0:
        k = h // size
        return (pixels.reshape(size, k, size, k, -1).mean(axis=(1, 3), dtype=np.float32) + 0.5).astype(np.uint8)
    rows, cols = (np.arange(size) * h) // size, (np.arange(size) * w) // size
    return np.ascontiguousarray(pixels[rows][:, cols])


def output_path(capture_dir: "str | os.PathLike[str]", photo: "str | os.PathLike[str]") -> Path:
    """capture_dir/projected_w-<photo stem>-NNNN.npz, numbered past every earlier one (never overwrites)."""
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(str(photo).strip()).stem)[:60]
    return next_free_path(capture_dir, f"projected_w-{stem or 'image'}", ".npz")


class LiveProjection:
    """One projection run as the panel watches it: filled by the projection thread, read by the UI thread."""

    def __init__(self, photo: str, num_steps: int, out: Path):
        self.photo = photo
        self.num_steps = num_steps
        self.out = out
        self.target: Optional[np.ndarray] = None      # set once the photo is read (background thread)
        self.note: Optional[str] = None               # a fallback the user should know about (no MobileNet)
        self.result: Optional[Projected] = None       # set when the run ends with a result
        self.error: Optional[str] = None              # set when it ends without one
        self.done = threading.Event()
        self.started = time.perf_counter()
        self._lock = threading.Lock()
        self._losses: list[float] = []
        self._preview: Optional[np.ndarray] = None
        self._step_times: list[float] = []
        self._version = 0

    def on_step(self, s: ProjectionStep) -> None:
        """Projection thread: keep the step's loss and its preview (the newest one wins; nothing is queued)."""
        with self._lock:
            self._losses.append(float(s.loss))
            self._step_times.append(time.perf_counter())
            if s.preview is not None:
                self._preview = s.preview[0]
            self._version += 1

    def snapshot(self) -> tuple[int, Optional[np.ndarray], list[float]]:
        """UI thread: (a number that changes with every step, the newest preview, the losses so far)."""
        with self._lock:
            return self._version, self._preview, list(self._losses)

    @property
    def steps_done(self) -> int:
        with self._lock:
            return len(self._losses)

    def seconds_per_step(self) -> Optional[float]:
        """Mean time of the steps after the first (the first also pays for warm-up), None before two."""
        with self._lock:
            t = self._step_times
            return (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else None


def run_projection(live: LiveProjection, state: RenderState, resolution: int, space: str, preset: str,
                   task: Task) -> None:
    """The background task: read the photo, project it under the task's progress bar and Cancel, save the w."""
    yield_cpu()     # the window and the interactive renderer come first on a CPU with few cores

    def on_step(s: ProjectionStep) -> None:
        live.on_step(s)
        task.set_progress(s.step / s.num_steps)

    try:
        live.target = read_target(live.photo, resolution)
        if task.cancelled:
            raise ExplorerError("projection cancelled before it started: nothing written")
        live.result = project_photo(state, live.target, live.out, live.num_steps, space, LOSS_PRESETS[preset],
                                    on_step, TaskCancel(task), on_note=lambda note: setattr(live, "note", note))
    except ExplorerError as e:
        live.error = str(e)
        raise
    except Exception as e:   # a bug: the app's task runner reports it; the panel must still leave "running"
        live.error = f"{type(e).__name__}: {e}".splitlines()[0]
        raise
    finally:
        live.done.set()


__all__ = ["DEFAULT_STEPS", "LOSS_PRESETS", "DEFAULT_PRESET", "IMAGE_TYPES", "read_target", "fit_square",
           "output_path", "LiveProjection", "run_projection"]
