"""The work behind the Projector panel: the target, the run (with a model of its own), the live view.

    photo --read_photo--> Photo (read once) --target_of(framing)--> target (the framed square at the model's
                                                                    resolution: what the projector sees)
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

from PIL import Image

from ..errors import ExplorerError, one_line
from ..files import next_free_path
from ..image_input import open_rgb
from ..images import to_numpy_images
from ..latents import one_hot
from ..project.framing import FramedPhoto, Framing, frame_image, frame_photo
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


@dataclasses.dataclass(frozen=True, eq=False)
class Photo:
    """A photo the user chose, read once: what the crop view shows and what targets are cut from."""

    path: str                   # As the user gave it.
    image: Image.Image          # 8-bit RGB, upright (EXIF), transparency on white.

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


def photo_path(path: "str | os.PathLike[str]") -> Path:
    text = str(path).strip()
    if not text:
        raise ExplorerError("choose an image to project first")
    return Path(text).expanduser()


def read_photo(path: "str | os.PathLike[str]") -> Photo:
    """The photo (EXIF rotation, alpha on white, CMYK, 16-bit handled; ImageInputError naming the file otherwise)."""
    return Photo(str(path).strip(), open_rgb(photo_path(path)))


def target_of(photo: Photo, resolution: int, framing: Framing = Framing()) -> FramedPhoto:
    """The photo as the projector sees it: the framing's square, resampled to the model's resolution."""
    return frame_image(photo.image, photo.path, resolution, framing)


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
    target: np.ndarray          # HxWx3 uint8: what it was projected to (the framed photo).
    photo: str                  # The photo file.
    framing: str                # How its square was chosen (Framing.describe()).
    psnr: float                 # dB of that image against the target.
    start_psnr: float           # dB of the w_avg image (where the projection starts), for comparison.
    steps_done: int
    num_steps: int
    cancelled: bool
    model_key: tuple            # The model it was made with (a w means nothing to another model).
    search: dict = dataclasses.field(default_factory=dict)   # space, steps, loss: for a tuned model's card.


def projection_threads() -> int:
    """Torch threads for a projection on the CPU: half the cores, so the interactive renderer keeps the rest
    (more threads than free cores make torch's workers spin-wait for each other: several times slower)."""
    return max(1, (os.cpu_count() or 2) // 2)


def project_photo(
    state: RenderState,                         # Its checkpoint, device and A's class pick the model.
    target: FramedPhoto,                        # The framed photo, at the model's resolution.
    out: Path,                                  # Where to write the best ws (.npz, key 'w').
    steps: int,
    space: str,                                 # 'w' or 'w+'.
    loss_spec: Optional[str],                   # parse_loss_spec text; None = the default terms (with fallback).
    on_step: Callable[[ProjectionStep], None],  # Called on this thread after every step (with a preview).
    cancel,                                     # .is_set() -> True stops after the current step.
    on_note: Callable[[str], None] = lambda note: None,   # A fallback the user should know about.
    photo: str = "",                            # The photo file (for the result's record).
) -> Projected:
    """Project one photo with a generator of its own (the render worker's keeps drawing), on this thread.

    The noise inputs stay the model's const buffers (not optimised), so the saved w renders in the app,
    which draws with those buffers, exactly as the projector scored it (and pivotal tuning can start from
    it); a projection with optimised noise fits a little better but its look would not survive into the app.
    """
    model = Renderer().model_for(state)          # a fresh instance: never the worker's
    G = model.G
    if G.device.type == "cpu":   # this thread's share of the cores (thread-local); the rest stay with the window
        torch.set_num_threads(projection_threads())
    targets = as_target_tensor(target.pixels, G.device)
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
    search = {"space": space, "steps": result.steps_done, "loss": float(result.losses[0]) if result.steps_done else None}
    return Projected(path, to_numpy_images(image)[0], target.pixels, photo, target.framing, p, p0, result.steps_done,
                     steps, result.cancelled, model.key, search)


def as_target_tensor(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 -> [1, 3, H, W] in [-1, 1] on the device (what the projector and tuning compare with)."""
    return torch.tensor(pixels, dtype=torch.uint8, device=device).permute(2, 0, 1)[None].float() / 127.5 - 1


class LiveRun:
    """One background run (a projection, a tuning) as a panel watches it: filled by the worker thread, read by the
    UI thread. The worker only stores and the UI only reads, each at its own pace."""

    def __init__(self, num_steps: int, out: Path):
        self.num_steps = num_steps
        self.out = out
        self.note: Optional[str] = None               # something the user should know about (a fallback)
        self.error: Optional[str] = None              # set when the run ends without a result
        self.done = threading.Event()
        self.started = time.perf_counter()
        self._lock = threading.Lock()
        self._values: list[float] = []
        self._preview: Optional[np.ndarray] = None
        self._step_times: list[float] = []
        self._version = 0

    def record(self, value: float, preview: Optional[np.ndarray]) -> None:
        """Worker thread: keep the step's value (its loss, or PSNR) and its preview (the newest one wins)."""
        with self._lock:
            self._values.append(float(value))
            self._step_times.append(time.perf_counter())
            if preview is not None:
                self._preview = preview
            self._version += 1

    def snapshot(self) -> tuple[int, Optional[np.ndarray], list[float]]:
        """UI thread: (a number that changes with every step, the newest preview, the values so far)."""
        with self._lock:
            return self._version, self._preview, list(self._values)

    @property
    def steps_done(self) -> int:
        with self._lock:
            return len(self._values)

    def seconds_per_step(self) -> Optional[float]:
        """Mean time of the steps after the first (the first also pays for warm-up), None before two."""
        with self._lock:
            t = self._step_times
            return (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else None


class LiveProjection(LiveRun):
    """One projection run as the Projector panel watches it (the curve is the loss)."""

    def __init__(self, photo: str, num_steps: int, out: Path, framing: Framing = Framing()):
        super().__init__(num_steps, out)
        self.photo = photo
        self.framing = framing
        self.target: Optional[np.ndarray] = None      # set once the photo is read and framed (background thread)
        self.result: Optional[Projected] = None       # set when the run ends with a result

    def on_step(self, s: ProjectionStep) -> None:
        """Projection thread: keep the step's loss and its preview."""
        self.record(float(s.loss), None if s.preview is None else s.preview[0])


def run_projection(live: LiveProjection, state: RenderState, resolution: int, space: str, preset: str,
                   task: Task) -> None:
    """The background task: read and frame the photo, project it under the task's progress bar and Cancel,
    save the w."""
    yield_cpu()     # the window and the interactive renderer come first on a CPU with few cores

    def on_step(s: ProjectionStep) -> None:
        live.on_step(s)
        task.set_progress(s.step / s.num_steps)

    try:
        target = frame_photo(photo_path(live.photo), resolution, live.framing)
        live.target = target.pixels
        if task.cancelled:
            raise ExplorerError("projection cancelled before it started: nothing written")
        live.result = project_photo(state, target, live.out, live.num_steps, space, LOSS_PRESETS[preset],
                                    on_step, TaskCancel(task), on_note=lambda note: setattr(live, "note", note),
                                    photo=live.photo)
    except Exception as e:   # a bug too: the app's task runner reports it; the panel must still leave "running"
        live.error = one_line(e)
        raise
    finally:
        live.done.set()


__all__ = ["Projected", "Photo", "read_photo", "target_of", "project_photo", "as_target_tensor", "projection_threads",
           "DEFAULT_STEPS", "LOSS_PRESETS", "DEFAULT_PRESET", "IMAGE_TYPES", "fit_square", "output_path", "LiveRun",
           "LiveProjection", "run_projection"]
