"""Tuning panel: after a projection, tune a copy of the generator so that it draws the photo itself.

"Tune the generator to this photo" runs pivotal tuning (explorer/app/tuning.py) from the projector's last w as a
background task under the status bar's progress bar and Cancel; the tuned generator's image of that w and the
PSNR curve update while it runs. The result (finished, or cancelled: the steps so far) is written as
tuned-<photo>-NNNN.safetensors in the capture folder, with its model card, and becomes the session's model with
the photo's w on A: the model panel, the label over the picture and the status line say TUNED. "Back to the
original" opens the generator it was tuned from with one click ("Tuned model" returns to it). The original
file is never written.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import dearpygui.dearpygui as dpg
import numpy as np

from explorer.app.model_info import ModelInfo
from explorer.app.tasks import Task
from explorer.app.tuning import DEFAULT_TUNING_STEPS, LiveTuning, check_tunable, run_tuning, tuned_path
from explorer.errors import ExplorerError
from explorer.project.tune import TuningConfig

from .run_panel import BLANK, THUMB, RunPanel, speed, upload_thumb
from .style import DIM_COLOR, ERROR_COLOR

if TYPE_CHECKING:
    from .app import App

TIP = ("Pivotal tuning: the projector's w stays fixed and a copy of the generator's finest layers is trained\n"
       "until it draws the photo, while a locality term keeps its other images as they were (mixing,\n"
       "truncation and directions keep their meaning). The original file is never changed.")


class TuningPanel(RunPanel):
    title = "Tune generator"
    curve = "tune"

    def __init__(self, app: "App"):
        super().__init__(app)
        self.live: Optional[LiveTuning] = None
        self.job: Optional[Task] = None
        self.tuned: Optional[Path] = None            # the last tuned generator written
        self.original: Optional[str] = None          # the checkpoint it was tuned from (None: the bundled one)
        self.preview_pixels = np.zeros((THUMB, THUMB, 3), np.uint8)
        self._buf = np.full((THUMB, THUMB, 3), BLANK, np.float32)

    @property
    def running(self) -> bool:
        return self.live is not None and not self.live.done.is_set()

    # --- building -----------------------------------------------------------------------------------------
    def build(self) -> None:
        self._texture = dpg.add_raw_texture(THUMB, THUMB, self._buf, format=dpg.mvFormat_Float_rgb, parent="textures")
        with dpg.group(horizontal=True):
            dpg.add_input_int(tag="tune.steps", label="steps", default_value=DEFAULT_TUNING_STEPS, min_value=1,
                              max_value=100_000, min_clamped=True, max_clamped=True, step=0, width=70)
            self.app.register_text_input("tune.steps")
            dpg.add_input_float(tag="tune.locality", label="locality", default_value=TuningConfig().locality_weight,
                                min_value=0.0, min_clamped=True, step=0, width=70, format="%.2f")
            self.app.register_text_input("tune.locality")
            with dpg.tooltip("tune.locality"):
                dpg.add_text("Weight of the term that keeps the tuned generator's other images unchanged:\n"
                             "higher, other seeds move less and the photo fits less; 0 = none.")
        with dpg.group(horizontal=True):
            dpg.add_button(tag="tune.run", label="Tune the generator to this photo", enabled=False, callback=self.tune)
            with dpg.tooltip("tune.run"):
                dpg.add_text(TIP)
            dpg.add_button(tag="tune.cancel", label="Cancel", show=False, callback=self.cancel)
        with dpg.group(horizontal=True):
            with dpg.group():
                dpg.add_text("tuned generator", color=DIM_COLOR)
                dpg.add_image(self._texture, tag="tune.preview", width=THUMB, height=THUMB)
            with dpg.plot(tag="tune.plot", height=THUMB + 20, width=-1, no_menus=True, no_box_select=True,
                          no_mouse_pos=True, no_title=True):
                dpg.add_plot_axis(dpg.mvXAxis, tag="tune.x", label="step")
                with dpg.plot_axis(dpg.mvYAxis, tag="tune.y", label="PSNR dB"):
                    dpg.add_line_series([], [], tag="tune.curve")
        with dpg.group(horizontal=True):
            dpg.add_button(tag="tune.original", label="Back to the original", enabled=False,
                           callback=self.back_to_original)
            dpg.add_button(tag="tune.use_tuned", label="Tuned model", enabled=False, callback=self.use_tuned)
        dpg.add_text("project a photo first: tuning starts from its w", tag="tune.note", color=DIM_COLOR, wrap=440)

    # --- actions ------------------------------------------------------------------------------------------
    def tune(self) -> None:
        """Tune a copy of the model on screen to the projector's last result (one run at a time)."""
        if self.running:
            return
        info = self.app.info
        try:
            projected = check_tunable(self.app.projector.result, None if info is None else info.key)
            out = tuned_path(self.app.capture.folder, projected.photo)
        except ExplorerError as e:
            self._say(str(e), error=True)
            self.app.show_error(e)
            return
        state = self.app.state.conform(info)
        steps = max(int(dpg.get_value("tune.steps")), 1)
        locality = max(float(dpg.get_value("tune.locality")), 0.0)
        live = LiveTuning(projected, steps, out, state.checkpoint)
        self.live = live
        self._show(None)
        dpg.set_value("tune.curve", [[], []])
        self._say(f"reading the model and rendering the locality bank for {Path(projected.photo).name}...")
        self.job = self.app.run_task(f"tuning to {Path(projected.photo).name}",
                                     lambda task: run_tuning(live, state, locality, task), cancellable=True)
        self._buttons()

    def cancel(self) -> None:
        """Stop after the current step; the generator tuned so far is still written and opened."""
        if self.job is not None and self.running:
            self.job.cancel()

    def back_to_original(self) -> None:
        """Open the generator the tuned one came from (the session's w stays: compare the two)."""
        if self.tuned is not None:
            self.app.update_state(checkpoint=self.original)

    def use_tuned(self) -> None:
        if self.tuned is not None:
            self.app.load_checkpoint(str(self.tuned))

    def close(self) -> None:
        self.cancel()

    # --- panel --------------------------------------------------------------------------------------------
    def on_model(self, info: Optional[ModelInfo]) -> None:
        self._buttons()

    def tick(self) -> None:
        if not self.watch(self.live):
            self._buttons()

    # --- drawing ------------------------------------------------------------------------------------------
    def draw_step(self, live: LiveTuning, preview: Optional[np.ndarray], psnrs: list[float]) -> None:
        if preview is not None:
            self._show(preview)
        if psnrs:
            self.plot(psnrs, live.num_steps, min(psnrs) - 0.5, max(psnrs) + 0.5)
            rate = speed(live)
            self._say(f"step {len(psnrs)}/{live.num_steps}: PSNR {psnrs[-1]:.2f} dB to the photo, other images "
                      f"moved {live.locality or 0:.5f}" + (f", {rate}" if rate else ""))

    def finish(self, live: LiveTuning) -> None:
        """The run ended: write-up, and the tuned generator becomes the session's model with the photo's w on A."""
        r = live.result
        if r is None:
            self._say(f"tuning failed: {live.error}" if live.error else "tuning stopped", error=True)
        elif r.path is None:
            self._say("cancelled before the first step: nothing written")
        else:
            self._show(r.image)
            how = f"cancelled at step {r.steps_done}/{r.num_steps}" if r.cancelled else f"done, {r.steps_done} steps"
            self._say(f"{how}: PSNR {r.psnr_before:.1f} -> {r.psnr_after:.1f} dB\nsaved {r.path}\n"
                      "now showing the TUNED generator with the photo's w on A")
            self.app.capture.last_saved = f"saved {r.path}"
            self.tuned, self.original = r.path, live.original
            self.app.load_w("a", str(live.projected.path), 0)
            self.app.load_checkpoint(str(r.path))
        self._buttons()

    def _buttons(self) -> None:
        running = self.running
        projected = self.app.projector.result
        info = self.app.info
        ready = (projected is not None and projected.path is not None and info is not None
                 and tuple(info.key[:2]) == tuple(projected.model_key[:2]))
        dpg.configure_item("tune.run", enabled=ready and not running and not self.app.projector.running)
        dpg.configure_item("tune.cancel", show=running)
        on_tuned = info is not None and self.tuned is not None and Path(info.path) == Path(self.tuned)
        dpg.configure_item("tune.original", enabled=self.tuned is not None and on_tuned and not running)
        dpg.configure_item("tune.use_tuned", enabled=self.tuned is not None and not on_tuned and not running)

    def _show(self, pixels: Optional[np.ndarray]) -> None:
        self.preview_pixels = upload_thumb(pixels, self._buf)

    @staticmethod
    def _say(text: str, error: bool = False) -> None:
        dpg.set_value("tune.note", text)
        dpg.configure_item("tune.note", color=ERROR_COLOR if error else DIM_COLOR)
