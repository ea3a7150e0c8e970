"""The work behind the Projector panel: the target, the run (with a model of its own), the live view.

    photo --load_square--> target (centre square at the model's resolution: what the projector sees)
    target + the app's state --project_photo (background task, own model)--> projected_w-<photo>-NNNN.npz
        after each step  (projection thread)  LiveProjection.on_step: keep the newest preview, append the loss
        each UI frame    (UI thread, ~10 Hz)  LiveProjection.snapshot: what the panel puts in its texture and plot

The projection thread only stores and the UI thread only reads, each at its own pace: the window never waits
for a step and the projector never waits for the window.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..errors import ExplorerError, one_line
from ..files import next_free_path
from ..image_input import load_square
from ..images import to_numpy_images
from ..latents import one_hot
from ..project.losses import ProjectionLoss, parse_loss_spec, psnr
from ..project.projector import ProjectionStep, ProjectorConfig, project, save_projection, synthesize
from ..render.renderer import Renderer
from ..render.state import RenderState
from .tasks import Task, TaskCancel, yield_cpu

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


@dataclasses.dataclass(frozen=True, eq=False)
class Projected:
    """A finished (or cancelled) projection, as plain data for the Projector panel."""

    path: Optional[Path]        # The w+ .npz written (None: cancelled before the first step).
    image: np.ndarray           # HxWx3 uint8: the saved w drawn with the model's const noise (as the app draws A).
    psnr: float                 # dB of that image against the target.
    start_psnr: float           # dB of the w_avg image (where the projection starts), for comparison.
    steps_done: int
    num_steps: int
    cancelled: bool
    model_key: tuple            # The model it was made with (a w means nothing to another model).


def projection_threads() -> int:
    """Torch threads for a projection on the CPU: half the cores, so the interactive renderer keeps the rest
    (more threads than free cores make torch's workers spin-wait for each other: several times slower)."""
    return max(1, (os.cpu_count() or 2) // 2)


def project_photo(
    state: RenderState,                         # Its checkpoint, device and A's class pick the model.
    pixels: np.ndarray,                         # HxWx3 uint8 target, already at the model's resolution.
    out: Path,                                  # Where to write the best ws (.npz, key 'w').
    steps: int,
    space: str,                                 # 'w' or 'w+'.
    loss_spec: Optional[str],                   # parse_loss_spec text; None = the default terms (with fallback).
    on_step: Callable[[ProjectionStep], None],  # Called on this thread after every step (with a preview).
    cancel,                                     # .is_set() -> True stops after the current step.
    on_note: Callable[[str], None] = lambda note: None,   # A fallback the user should know about.
) -> Projected:
    """Project one photo with a generator of its own (the render worker's keeps drawing), on this thread.

    The noise inputs stay the model's const buffers (not optimised), so the saved w renders in the app,
    which draws with those buffers, exactly as the projector scored it; a projection with optimised noise
    fits a little better but its look would not survive into the app.
    """
    model = Renderer().model_for(state)          # a fresh instance: never the worker's
    G = model.G
    if G.device.type == "cpu":   # this thread's share of the cores (thread-local); the rest stay with the window
        torch.set_num_threads(projection_threads())
    targets = torch.tensor(pixels, dtype=torch.uint8, device=G.device).permute(2, 0, 1)[None].float() / 127.5 - 1
    loss = ProjectionLoss(targets, parse_loss_spec(loss_spec), strict=loss_spec is not None, warn=False)
    if loss.warning:
        on_note(loss.warning)
    c = one_hot(state.a.class_idx, G.c_dim, device=G.device)
    cfg = ProjectorConfig(num_steps=steps, space=space, optimize_noise=False)
    result = project(G, targets, loss, cfg, c=c, callback=on_step, cancel=cancel, preview_every=1)
    with torch.no_grad():
        image = synthesize(G, result.ws)
        start = synthesize(G, G.mapping.w_avg.view(1, 1, -1).expand(1, G.num_ws, -1))
        p, p0 = (float(psnr(x.cpu(), targets.cpu())[0]) for x in (image, start))
    path = save_projection(out, result.ws) if result.steps_done > 0 else None
    return Projected(path, to_numpy_images(image)[0], p, p0, result.steps_done, steps, result.cancelled, model.key)


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
    except Exception as e:   # a bug too: the app's task runner reports it; the panel must still leave "running"
        live.error = one_line(e)
        raise
    finally:
        live.done.set()


__all__ = ["Projected", "project_photo", "projection_threads", "DEFAULT_STEPS", "LOSS_PRESETS", "DEFAULT_PRESET", "IMAGE_TYPES", "read_target", "fit_square",
           "output_path", "LiveProjection", "run_projection"]
