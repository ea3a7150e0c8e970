"""The work behind the Tuning panel: pivotal tuning of the generator to the photo just projected.

    Projected (its w file, its target, the model it was made with)
      --tune_projection (background task, a generator of its own)--> tuned-<photo>-NNNN.safetensors
      after each step  (tuning thread)  LiveTuning.on_step: the newest image of the pivot, its PSNR to the photo
      each UI frame    (UI thread)      LiveTuning.snapshot: what the panel puts in its texture and curve

The tuned generator is written in the capture folder as our safetensors, its model card (photo, framing, search,
every tuning setting, PSNR before and after) in the metadata; the file the app was showing is never written.
The panel then opens the tuned file as the session's model (the model panel and status line say it is tuned)
and keeps the original's path for the one click back.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import ExplorerError, one_line
from ..files import next_free_path
from ..latents import load_ws
from ..project.losses import ProjectionLoss
from ..project.tune import TUNING_LOSS, TuningConfig, TuningStep, origin_card, save_tuned, tune, tuning_card
from ..render.renderer import Renderer
from ..render.state import RenderState
from .projecting import LiveRun, Projected, as_target_tensor, projection_threads
from .tasks import Task, TaskCancel, yield_cpu

DEFAULT_TUNING_STEPS = TuningConfig().num_steps
TOOL = "explorer gui (Tuning panel)"


@dataclasses.dataclass(frozen=True, eq=False)
class Tuned:
    """A finished (or cancelled) tuning, as plain data for the Tuning panel."""

    path: Optional[Path]        # The tuned generator written (None: cancelled before the first step).
    image: np.ndarray           # HxWx3 uint8: the tuned generator's image of the pivot.
    psnr_before: float          # dB of the original generator's image of the pivot against the photo.
    psnr_after: float           # dB of the tuned generator's.
    steps_done: int
    num_steps: int
    cancelled: bool
    photo: str


def tuned_path(capture_dir: "str | os.PathLike[str]", photo: str) -> Path:
    """capture_dir/tuned-<photo stem>-NNNN.safetensors, numbered past every earlier one (never overwrites)."""
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(photo.strip()).stem)[:60]
    return next_free_path(capture_dir, f"tuned-{stem or 'image'}", ".safetensors")


def check_tunable(projected: Optional[Projected], model_key: Optional[tuple]) -> Projected:
    """The projection to tune from, or ExplorerError saying what the user must do first."""
    if projected is None or projected.path is None:
        raise ExplorerError("project a photo first: tuning starts from the projector's w")
    if model_key is None or tuple(model_key[:2]) != tuple(projected.model_key[:2]):
        raise ExplorerError(f"{projected.path.name} was projected with {Path(str(projected.model_key[0])).name}: "
                            "open that model to tune it")
    return projected


def tune_projection(
    state: RenderState,                         # Its checkpoint and device pick the generator to tune (a copy).
    projected: Projected,                       # The projection: pivot w file, target pixels, photo.
    out: Path,                                  # Where the tuned generator goes.
    cfg: TuningConfig,
    on_step,                                    # Called on this thread after every step (TuningStep).
    cancel,                                     # .is_set() -> True stops after the current step.
) -> Tuned:
    """Tune a copy of the generator to the projected photo (explorer/project/tune.py) on this thread, write it."""
    model = Renderer().model_for(state)         # a fresh instance: never the worker's, and never written
    G = model.G
    if G.device.type == "cpu":
        torch.set_num_threads(projection_threads())
    pivot = load_ws(projected.path, G.num_ws, G.w_dim)[:1].to(G.device)
    target = as_target_tensor(projected.target, G.device)
    loss = ProjectionLoss(target, TUNING_LOSS)
    result = tune(G, target, pivot, loss, cfg, callback=on_step, cancel=cancel, preview_every=1)
    path = None
    if result.steps_done > 0:
        card = tuning_card(origin_card(G, projected.photo, projected.framing, projected.search, TOOL), cfg, loss,
                           result)
        path = save_tuned(result.generator, out, card)
    with torch.no_grad():
        image = result.generator.synthesis(pivot, noise_mode="const")
    pixels = (image[0].permute(1, 2, 0) * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu().numpy()
    return Tuned(path, pixels, result.psnr_before, result.psnr_after, result.steps_done, cfg.num_steps,
                 result.cancelled, projected.photo)


class LiveTuning(LiveRun):
    """One tuning run as the Tuning panel watches it (the curve is the PSNR of the pivot's image to the photo)."""

    def __init__(self, projected: Projected, num_steps: int, out: Path, original: Optional[str]):
        super().__init__(num_steps, out)
        self.projected = projected
        self.original = original                      # the checkpoint the app showed (None: the bundled one)
        self.locality: Optional[float] = None
        self.result: Optional[Tuned] = None

    def on_step(self, s: TuningStep) -> None:
        self.locality = s.locality
        self.record(s.psnr, s.preview)


def run_tuning(live: LiveTuning, state: RenderState, locality: float, task: Task) -> None:
    """The background task: tune under the task's progress bar and Cancel, write the tuned generator."""
    yield_cpu()

    def on_step(s: TuningStep) -> None:
        live.on_step(s)
        task.set_progress(s.step / s.num_steps)

    try:
        cfg = TuningConfig(num_steps=live.num_steps, locality_weight=locality)
        live.result = tune_projection(state, live.projected, live.out, cfg, on_step, TaskCancel(task))
    except Exception as e:   # a bug too: the app's task runner reports it; the panel must still leave "running"
        live.error = one_line(e)
        raise
    finally:
        live.done.set()


__all__ = ["DEFAULT_TUNING_STEPS", "Tuned", "tuned_path", "check_tunable", "tune_projection", "LiveTuning",
           "run_tuning"]
