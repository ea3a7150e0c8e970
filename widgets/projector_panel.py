"""Projector panel: find the w of a photo while watching it happen, then use it as source A or B.

Choosing a photo (path box or file dialog) shows it whole in the Photo framing panel (crop, rotate, or align on
the eyes and mouth) and here as the projector will see it: the framed square at the model's resolution (the
target and projection squares appear only then, the loss curve once a run starts). Project runs the projector
(engine.project_photo) as a background task, under the status bar's progress bar and Cancel, with a generator of its own, so the frame being dragged stays live; the
projection's current image and its loss curve update about ten times a second. The run's result (finished,
or cancelled: the best step so far) is saved as projected_w-<photo>-NNNN.npz in the capture folder, and
"Use as A" / "Use as B" load it like any w file ("use as A when done" does it at once): mix B's coarse or
fine styles into the photo from there. The noise inputs stay the model's const noise (not optimised), so
the w renders in the app exactly as the projector scored it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import dearpygui.dearpygui as dpg
import numpy as np

from explorer.app.model_info import ModelInfo
from explorer.app.projecting import (DEFAULT_PRESET, DEFAULT_STEPS, IMAGE_TYPES, LOSS_PRESETS, LiveProjection, Photo,
                                    Projected, fit_square, output_path, read_photo, run_projection, target_of)
from explorer.app.tasks import Task
from explorer.errors import ExplorerError

from . import dialogs
from .run_panel import BLANK, THUMB, RunPanel, speed, upload_thumb
from .style import DIM_COLOR, ERROR_COLOR

if TYPE_CHECKING:
    from .app import App

SPACES = {"W": "w", "W+": "w+"}
NOISE_TIP = ("Noise inputs stay the model's const noise (not optimised), so the saved w renders in the app\n"
             "exactly as the projector saw it. W: one w for every layer (edits and mixes best);\n"
             "W+: one w per layer (fits closer). The result is saved in the capture folder.")


class ProjectorPanel(RunPanel):
    title = "Projector"
    curve = "project"

    def __init__(self, app: "App"):
        super().__init__(app)
        self.live: Optional[LiveProjection] = None   # the run in progress, or the last one
        self.job: Optional[Task] = None
        self.result: Optional[Projected] = None      # the last run's result, once the UI has taken it
        self.target_pixels = np.zeros((THUMB, THUMB, 3), np.uint8)    # what the textures show
        self.preview_pixels = np.zeros((THUMB, THUMB, 3), np.uint8)
        self.preview_updates = 0                     # preview uploads of the current run
        self._target_buf = np.full((THUMB, THUMB, 3), BLANK, np.float32)
        self._preview_buf = np.full((THUMB, THUMB, 3), BLANK, np.float32)
        self._target: Optional[np.ndarray] = None    # the target last shown (by identity)
        self._reads = 0                              # target reads asked for; only the newest is shown
        self._incoming: Optional[tuple[int, Optional[Photo], Optional[str]]] = None
        self._shown_read = 0

    @property
    def running(self) -> bool:
        return self.live is not None and not self.live.done.is_set()

    # --- building -----------------------------------------------------------------------------------------
    def build(self) -> None:
        self._target_tex = dpg.add_raw_texture(THUMB, THUMB, self._target_buf, format=dpg.mvFormat_Float_rgb,
                                               parent="textures")
        self._preview_tex = dpg.add_raw_texture(THUMB, THUMB, self._preview_buf, format=dpg.mvFormat_Float_rgb,
                                                parent="textures")
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="project.path", hint="photo to project (.jpg, .png, ...)", width=330, on_enter=True,
                               callback=lambda s, a: self.choose(a))
            self.app.register_text_input("project.path")
            dpg.add_button(tag="project.browse", label="...", callback=lambda: dialogs.show("project.dialog"))
        with dpg.group(horizontal=True, tag="project.images", show=False):   # shown once there is a photo
            with dpg.group():
                dpg.add_text("target", color=DIM_COLOR)
                dpg.add_image(self._target_tex, tag="project.target", width=THUMB, height=THUMB)
            with dpg.group():
                dpg.add_text("projection", color=DIM_COLOR)
                dpg.add_image(self._preview_tex, tag="project.preview", width=THUMB, height=THUMB)
        dpg.add_text("", tag="project.target_note", color=DIM_COLOR, wrap=440)
        with dpg.group(horizontal=True):
            dpg.add_input_int(tag="project.steps", label="steps", default_value=DEFAULT_STEPS, min_value=1,
                              max_value=100_000, min_clamped=True, max_clamped=True, step=0, width=70)
            self.app.register_text_input("project.steps")
            dpg.add_radio_button(tag="project.space", items=list(SPACES), default_value="W", horizontal=True)
        dpg.add_combo(tag="project.loss", items=list(LOSS_PRESETS), default_value=DEFAULT_PRESET, width=240,
                      label="loss")
        with dpg.group(horizontal=True):
            dpg.add_button(tag="project.run", label="Project", callback=self.project)
            with dpg.tooltip("project.run"):
                dpg.add_text(NOISE_TIP)
            dpg.add_button(tag="project.cancel", label="Cancel", show=False, callback=self.cancel)
            dpg.add_button(tag="project.use_a", label="Use as A", enabled=False, callback=lambda: self.use_as("a"))
            dpg.add_button(tag="project.use_b", label="Use as B", enabled=False, callback=lambda: self.use_as("b"))
            dpg.add_checkbox(tag="project.auto", label="A when done", default_value=True)
        with dpg.plot(tag="project.plot", height=130, width=-1, no_menus=True, no_box_select=True,
                      no_mouse_pos=True, no_title=True, show=False):     # shown once a run starts
            dpg.add_plot_axis(dpg.mvXAxis, tag="project.x", label="step")
            with dpg.plot_axis(dpg.mvYAxis, tag="project.y", label="loss"):
                dpg.add_line_series([], [], tag="project.curve")
        dpg.add_text("", tag="project.note", color=DIM_COLOR, wrap=440)

    def build_dialogs(self) -> None:
        dialogs.file_dialog("project.dialog", IMAGE_TYPES, self.choose, "Choose a photo to project")

    # --- actions ------------------------------------------------------------------------------------------
    def choose(self, path: str) -> None:
        """Read `path` (a background task: a big photo takes a moment), then show it in the framing panel and
        here as the projector will see it."""
        path = (path or "").strip()
        dpg.set_value("project.path", path)
        if not path:
            return
        self._reads += 1
        read = self._reads

        def work(task: Task) -> None:
            try:
                self._incoming = (read, read_photo(path), None)
            except ExplorerError as e:
                self._incoming = (read, None, str(e))
                raise                   # and the status bar shows it too

        self.app.run_task(f"reading {Path(path).name}", work)

    def reframe(self) -> None:
        """The framing changed (or the model's resolution did): show the new target (on release of a drag)."""
        framing, info = self.app.framing, self.app.info
        if framing.photo is None or info is None or framing.edit is None or framing.edit.dragging:
            return
        if framing.edit.framing is None:
            self._show_target(None)
            self._say(framing.edit.problem or "this photo cannot be framed", error=True, tag="project.target_note")
            return
        try:
            target = target_of(framing.photo, info.resolution, framing.edit.framing)
        except ExplorerError as e:
            self._show_target(None)
            self._say(str(e), error=True, tag="project.target_note")
            return
        self._show_target(target.pixels)
        notes = "".join(f"\n{n}" for n in target.notes)
        self._say(f"what the projector sees: {target.framing} at {target.pixels.shape[1]}x{target.pixels.shape[0]}"
                  + notes, tag="project.target_note")

    def project(self) -> None:
        """Project the photo in the path box with the steps, space and loss set here (one run at a time)."""
        if self.running:
            return
        info = self.app.info
        photo = dpg.get_value("project.path").strip()
        try:
            if info is None:
                raise ExplorerError("no model loaded yet")
            if not photo:
                raise ExplorerError("choose an image to project first")
            framing = self.app.framing.framing_for(photo)
            out = output_path(self.app.capture.folder, photo)
        except ExplorerError as e:
            self._say(str(e), error=True)
            self.app.show_error(e)
            return
        self._say("", tag="project.target_note")
        state = self.app.state.conform(info)
        space, preset = SPACES[dpg.get_value("project.space")], dpg.get_value("project.loss")
        live = LiveProjection(photo, max(int(dpg.get_value("project.steps")), 1), out, framing)
        self.live, self.result, self.preview_updates = live, None, 0
        self._show_preview(None)
        dpg.show_item("project.images")
        dpg.show_item("project.plot")
        dpg.set_value("project.curve", [[], []])
        self._say(f"reading {Path(photo).name} and the model...")
        self.job = self.app.run_task(f"projecting {Path(photo).name}",
                                     lambda task: run_projection(live, state, info.resolution, space, preset, task),
                                     cancellable=True)
        self._buttons()

    def cancel(self) -> None:
        """Stop after the current step; the best step so far is still saved and usable."""
        if self.job is not None and self.running:
            self.job.cancel()

    def use_as(self, which: str) -> None:
        """Source `which` ('a' or 'b') becomes the projected w (the model must be the one it was made with)."""
        r = self.result
        if r is None or r.path is None:
            self.app.show_error("no projection to use yet: run Project first")
            return
        info = self.app.info
        if info is None or tuple(info.key[:2]) != tuple(r.model_key[:2]):
            self.app.show_error(f"{r.path.name} was projected with {Path(str(r.model_key[0])).name}: "
                                "open that model to use it")
            return
        self.app.load_w(which, str(r.path), 0)

    def close(self) -> None:
        """The app is closing: stop a projection (its best step so far is still written)."""
        self.cancel()

    # --- panel --------------------------------------------------------------------------------------------
    def on_model(self, info: Optional[ModelInfo]) -> None:
        """Another resolution means another target: frame the photo again for this model (keeping its framing)."""
        path = dpg.get_value("project.path").strip()
        if info is None or not path or self.running:
            return
        if self.app.framing.photo is not None and self.app.framing.photo.path == path:
            self.reframe()
        else:
            self.choose(path)

    def tick(self) -> None:
        """Once per UI frame: a read target, and (at most PREVIEW_HZ a second) the run's preview and curve."""
        incoming = self._incoming
        if incoming is not None and incoming[0] > self._shown_read:
            self._shown_read = incoming[0]
            read, photo, error = incoming
            if read == self._reads:          # an older read that finished late is not shown
                if photo is None:
                    self.app.framing.clear()
                    self._show_target(None)
                    self._say(error or "", error=True, tag="project.target_note")
                else:
                    self.app.framing.show_photo(photo)     # its tick calls reframe() with the centre square
        live = self.live
        if live is not None and live is not self._finished and live.target is not None \
                and live.target is not self._target:
            self._show_target(live.target)
        self.watch(live)

    # --- drawing ------------------------------------------------------------------------------------------
    def draw_step(self, live: LiveProjection, preview: Optional[np.ndarray], losses: list[float]) -> None:
        if preview is not None:
            self._show_preview(preview)
            self.preview_updates += 1
        if losses:
            self.plot(losses, live.num_steps, 0, max(losses) * 1.05 + 1e-9)
            rate = speed(live)
            self._say(f"step {len(losses)}/{live.num_steps}: loss {losses[-1]:.4f}" + (f", {rate}" if rate else "")
                      + (f"\n{live.note}" if live.note else ""))

    def finish(self, live: LiveProjection) -> None:
        """The run ended: show its result (the saved w's own image), offer it, apply it to A if asked."""
        r = live.result
        note = f"\n{live.note}" if live.note else ""
        if r is None:
            if live.target is None:         # the photo itself was the problem
                self._show_target(None)
            self._say(f"projection failed: {live.error}" if live.error else "projection stopped", error=True)
        elif r.path is None:
            self._say("cancelled before the first step: nothing written" + note)
        else:
            self.result = r
            self._show_preview(r.image)
            how = f"cancelled at step {r.steps_done}/{r.num_steps}" if r.cancelled else f"done, {r.steps_done} steps"
            rate = speed(live)
            self._say(f"{how}{f' ({rate})' if rate else ''}: PSNR {r.psnr:.1f} dB (w_avg {r.start_psnr:.1f} dB)\nsaved {r.path}" + note)
            self.app.capture.last_saved = f"saved {r.path}"
            if dpg.get_value("project.auto"):
                self.use_as("a")
        self._buttons()

    def _buttons(self) -> None:
        running = self.running
        dpg.configure_item("project.run", enabled=not running)
        dpg.configure_item("project.cancel", show=running)
        usable = self.result is not None and self.result.path is not None and not running
        for tag in ("project.use_a", "project.use_b"):
            dpg.configure_item(tag, enabled=usable)

    def _show_target(self, pixels: Optional[np.ndarray]) -> None:
        self._target = pixels
        self.target_pixels = upload_thumb(pixels, self._target_buf)
        dpg.configure_item("project.images", show=pixels is not None or self.live is not None)

    def _show_preview(self, pixels: Optional[np.ndarray]) -> None:
        self.preview_pixels = upload_thumb(pixels, self._preview_buf)

    @staticmethod
    def _say(text: str, error: bool = False, tag: str = "project.note") -> None:
        dpg.set_value(tag, text)
        dpg.configure_item(tag, color=ERROR_COLOR if error else DIM_COLOR)

