"""Record panel: walk videos (A -> B, or keyframes collected here), "record what I do", and figures from A/B.

A walk stands in for source A and t; everything else in the state (mixing, truncation, noise, edits) applies
to every frame. Walks and figures render on a background task with a Renderer of their own, one job at a
time, under the status bar's progress bar, a little nicer than the UI and the interactive renderer (so the
frame being dragged stays quick); Cancel leaves a valid shorter video. "Record what I do" takes every frame
the app displays (app.frame_listeners), starting with the one on screen: one video frame each, at the fps
box's rate.
"""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import dearpygui.dearpygui as dpg

from explorer.app.recording import LiveRecorder, record_walk, write_mix_grid, write_noise_figure
from explorer.app.tasks import Task, yield_cpu
from explorer.errors import ExplorerError
from explorer.render.renderer import Renderer
from explorer.render.state import RenderState, Source
from explorer.render.worker import RenderResult
from explorer.app.model_info import ModelInfo
from explorer.video import INTERPS, MAX_FPS, Camera, RecordResult, Walk

from . import dialogs
from .panel import Panel
from .style import DIM_COLOR, ERROR_COLOR

if TYPE_CHECKING:
    from .app import App

AB, LIST = "A -> B", "keyframe list"
STILL, CAMERA_KEYS = "camera still", "camera keyframes"
SPACES = {"W": "w", "Z (slerp)": "z"}
VIDEO_TYPES = [(".mp4", "H.264 video"), (".gif", "GIF")]


class RecordPanel(Panel):
    title = "Record"

    def __init__(self, app: "App"):
        super().__init__(app)
        self.keyframes: list[Source] = []          # the walk's keys in "keyframe list" mode
        self.camera_keys: list[Camera] = []        # the camera's own keyframes (models with an input transform)
        self.live: Optional[LiveRecorder] = None   # "record what I do", while on
        self.job: Optional[Task] = None            # the walk or figure in progress (one at a time)
        self.running = False
        self.note = ""                             # what the last job wrote (set off the UI thread, shown by tick)
        self._renderer = Renderer()                # jobs' own: the interactive worker's caches stay on its thread
        self._shown: tuple = ()
        app.frame_listeners.append(self._on_frame)

    # --- building -----------------------------------------------------------------------------------------
    def build(self) -> None:
        dpg.add_radio_button(tag="record.keys", items=[AB, LIST], default_value=AB, horizontal=True,
                             callback=self._show_keys)
        with dpg.group(horizontal=True):
            dpg.add_button(tag="record.add_key", label="Add current A", callback=self.add_keyframe)
            dpg.add_button(tag="record.remove_key", label="Remove last", callback=self.remove_keyframe)
            dpg.add_button(tag="record.clear_keys", label="Clear", callback=self.clear_keyframes)
        dpg.add_text("", tag="record.key_list", color=DIM_COLOR, wrap=440)
        with dpg.group(horizontal=True):
            dpg.add_input_int(tag="record.frames", label="frames/key", default_value=60, min_value=1,
                              min_clamped=True, step=0, width=60, callback=self._show_keys)
            dpg.add_input_int(tag="record.fps", label="fps", default_value=30, min_value=1, max_value=MAX_FPS,
                              min_clamped=True, max_clamped=True, step=0, width=50, callback=self._show_keys)
            dpg.add_checkbox(tag="record.loop", label="loop", callback=self._show_keys)
        with dpg.group(tag="record.camera", show=False):
            dpg.add_radio_button(tag="record.camera_mode", items=[STILL, CAMERA_KEYS], default_value=STILL,
                                 horizontal=True, callback=self._show_keys)
            with dpg.group(horizontal=True):
                dpg.add_button(tag="record.add_camera", label="Add current camera", callback=self.add_camera_key)
                dpg.add_button(tag="record.clear_camera", label="Clear", callback=self.clear_camera_keys)
            dpg.add_text("", tag="record.camera_list", color=DIM_COLOR, wrap=440)
        with dpg.group(horizontal=True):
            dpg.add_radio_button(tag="record.interp", items=list(INTERPS), default_value="cubic", horizontal=True)
            dpg.add_text(" in")
            dpg.add_radio_button(tag="record.space", items=list(SPACES), default_value="W", horizontal=True,
                                 callback=self._space_changed)
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="record.walk_path", hint="walk .mp4 / .gif (empty: capture folder)", width=300)
            dpg.add_button(tag="record.walk_browse", label="...", callback=lambda: dialogs.show("record.walk_dialog"))
        with dpg.group(horizontal=True):
            dpg.add_button(tag="record.walk", label="Record walk", callback=self.record_walk)
            dpg.add_button(tag="record.cancel", label="Cancel", show=False, callback=self.cancel)
        dpg.add_separator()
        with dpg.group(horizontal=True):
            dpg.add_checkbox(tag="record.live", label="Record what I do", callback=lambda s, a: self.set_live(bool(a)))
            dpg.add_text("", tag="record.live_note", color=ERROR_COLOR)
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="record.live_path", hint="video .mp4 / .gif at the fps above (empty: capture folder)",
                               width=300)
            dpg.add_button(tag="record.live_browse", label="...", callback=lambda: dialogs.show("record.live_dialog"))
        dpg.add_separator()
        with dpg.group(horizontal=True):
            dpg.add_button(tag="record.mix_grid", label="Mix grid (A rows x B cols per level)", callback=self.mix_grid)
            dpg.add_button(tag="record.noise_figure", label="Noise figure", callback=self.noise_figure)
        dpg.add_text("", tag="record.note", color=DIM_COLOR, wrap=440)
        for tag in ("record.frames", "record.fps", "record.walk_path", "record.live_path"):
            self.app.register_text_input(tag)
        self._show_keys()

    def build_dialogs(self) -> None:
        for which in ("walk", "live"):
            dialogs.file_dialog(f"record.{which}_dialog", VIDEO_TYPES,
                                lambda path, which=which: dpg.set_value(f"record.{which}_path", path),
                                "Record to (.mp4 or .gif)")

    # --- keyframes ----------------------------------------------------------------------------------------
    def add_keyframe(self) -> None:
        """Source A as it is now (seed or w row, with its class) becomes the walk's next keyframe."""
        try:
            self.keyframes.append(self._state().a)
        except ExplorerError as e:
            self.app.show_error(e)
            return
        dpg.set_value("record.keys", LIST)
        self._show_keys()

    def remove_keyframe(self) -> None:
        if self.keyframes:
            self.keyframes.pop()
        self._show_keys()

    def clear_keyframes(self) -> None:
        self.keyframes.clear()
        self._show_keys()

    def walk_keys(self, state: RenderState) -> tuple[Source, ...]:
        """The keyframes a walk would go through now: the state's A and B, or the list."""
        return (state.a, state.b) if dpg.get_value("record.keys") == AB else tuple(self.keyframes)

    def add_camera_key(self) -> None:
        """The camera as it is now (translate, rotate) becomes the camera path's next keyframe."""
        s = self.app.state
        self.camera_keys.append((s.translate[0], s.translate[1], s.rotate))
        dpg.set_value("record.camera_mode", CAMERA_KEYS)
        self._show_keys()

    def clear_camera_keys(self) -> None:
        self.camera_keys.clear()
        self._show_keys()

    def walk_camera(self) -> tuple[Camera, ...]:
        """The camera path of a walk now: () holds the camera still (where the state has it)."""
        moving = self.info is not None and self.info.has_transform and dpg.get_value("record.camera_mode") == CAMERA_KEYS
        return tuple(self.camera_keys) if moving else ()

    def _walk(self, state: RenderState) -> Walk:
        return Walk(self.walk_keys(state), frames_per_key=max(self._int("record.frames"), 1),
                    loop=bool(dpg.get_value("record.loop")), interp=dpg.get_value("record.interp"),
                    space=SPACES[dpg.get_value("record.space")], camera=self.walk_camera())

    def _show_keys(self) -> None:
        keys = self.walk_keys(self.app.state)
        if dpg.get_value("record.keys") == AB:
            text = f"A -> B: {keys[0].describe()} -> {keys[1].describe()}"
        elif keys:
            text = "keys: " + ", ".join(f"{i + 1}. {k.describe()}" for i, k in enumerate(keys))
        else:
            text = "no keyframes: set A, then Add current A (two or more)"
        try:
            n = len(self._walk(self.app.state))
            text += f"\n{n} frames, {n / max(self._int('record.fps'), 1):.1f} s"
        except ExplorerError:
            pass
        dpg.set_value("record.key_list", text)
        dpg.set_value("record.camera_list", "camera keys: " + ", ".join(
            f"{i + 1}. ({tx:+.2f}, {ty:+.2f}, {deg:+.0f} deg)" for i, (tx, ty, deg) in enumerate(self.camera_keys))
            if self.camera_keys else "no camera keys: move the camera, then Add current camera (two or more)")

    def _space_changed(self) -> None:
        """Z walks are great circles (slerp) between seeds: linear only."""
        z = SPACES[dpg.get_value("record.space")] == "z"
        if z:
            dpg.set_value("record.interp", "linear")
        dpg.configure_item("record.interp", enabled=not z)

    # --- walk ---------------------------------------------------------------------------------------------
    def record_walk(self) -> None:
        """Render the walk to the path box's file (or walk-NNNN.mp4 in the capture folder) in the background."""
        if self.running:
            return
        try:
            state = self._state()
            walk = self._walk(state)
            out = self._out_path("record.walk_path", "walk", ".mp4")
        except ExplorerError as e:
            self.app.show_error(e)
            return
        fps = self._int("record.fps")

        def work(task: Task) -> None:
            result = record_walk(walk, state, out, fps, task, self._renderer)
            self._saved(_describe(result))

        self._start(f"recording {out.name}", work, cancellable=True)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    # --- record what I do ---------------------------------------------------------------------------------
    def set_live(self, on: bool) -> None:
        """Start (the frame on screen is the first frame) or stop and finalise "record what I do"."""
        if on and self.live is None:
            try:
                self.live = LiveRecorder(self._out_path("record.live_path", "live", ".mp4"), self._int("record.fps"))
            except ExplorerError as e:
                self.app.show_error(e)
            else:
                shown = self.app.last_frame
                if shown is not None and shown.image is not None:
                    self.live.add(shown.image)
        elif not on and self.live is not None:
            live, self.live = self.live, None

            def work(task: Task) -> None:
                path = live.finish()
                self._saved(f"recorded {path} ({live.encoded} frames)" if path else "nothing recorded: no frame")

            self.app.run_task(f"finishing {live.path.name}", work)
        dpg.set_value("record.live", self.live is not None)

    def _on_frame(self, result: RenderResult) -> None:
        """UI thread, for every frame the app puts on screen: one queue.put while recording."""
        if self.live is not None and result.image is not None:
            self.live.add(result.image)

    # --- figures ------------------------------------------------------------------------------------------
    def mix_grid(self) -> None:
        self._figure("mixgrid", "mix grid", write_mix_grid)

    def noise_figure(self) -> None:
        self._figure("noise", "noise figure", write_noise_figure)

    def _figure(self, stem: str, what: str, write: Callable[[RenderState, Path, Renderer], Path]) -> None:
        if self.running:
            return
        try:
            state = self._state()
            out = self.app.capture.next_path(stem, ".png")
        except ExplorerError as e:
            self.app.show_error(e)
            return
        self._start(f"{what} -> {out.name}", lambda task: self._saved(f"saved {write(state, out, self._renderer)}"))

    # --- jobs ---------------------------------------------------------------------------------------------
    def _start(self, name: str, work: Callable[[Task], None], cancellable: bool = False) -> None:
        self.running = True

        def run(task: Task) -> None:
            yield_cpu()
            try:
                work(task)
            finally:
                self.running = False

        self.job = self.app.run_task(name, run, cancellable)

    def _saved(self, line: str) -> None:
        self.note = line
        self.app.capture.last_saved = line

    def close(self) -> None:
        """The app is closing: stop a walk (it keeps the frames so far) and finalise "record what I do"."""
        self.cancel()
        live, self.live = self.live, None
        if live is not None:
            try:
                live.finish()
            except Exception:   # nowhere left to show it; the window must still close
                traceback.print_exc()

    # --- panel --------------------------------------------------------------------------------------------
    def _state(self) -> RenderState:
        if self.app.info is None:
            raise ExplorerError("no model loaded yet")
        return self.app.state.conform(self.app.info)

    def _int(self, tag: str) -> int:
        return int(dpg.get_value(tag))

    def _out_path(self, tag: str, stem: str, suffix: str) -> Path:
        text = dpg.get_value(tag).strip()
        return Path(text).expanduser() if text else self.app.capture.next_path(stem, suffix)

    def on_model(self, info: Optional[ModelInfo]) -> None:
        dpg.configure_item("record.camera", show=info is not None and info.has_transform)
        dpg.configure_item("record.noise_figure", show=info is None or bool(info.noise_layers))
        self._show_keys()

    def sync(self, state: RenderState) -> None:
        self._show_keys()

    def tick(self) -> None:
        """Once per UI frame: the live frame counter and which buttons work (cheap: only changes are sent)."""
        live = self.live
        shown = (self.running, self.job is not None and self.job.cancelled, self.note,
                 None if live is None else (live.frames, live.dropped, live.error is not None))
        if shown == self._shown:
            return
        self._shown = shown
        for tag in ("record.walk", "record.mix_grid", "record.noise_figure"):
            dpg.configure_item(tag, enabled=not self.running)
        dpg.configure_item("record.cancel", show=self.running and self.job.cancellable, enabled=not shown[1])
        dpg.set_value("record.note", self.note)
        if live is None:
            dpg.set_value("record.live_note", "")
        elif live.error is not None:
            dpg.set_value("record.live_note", f"stopped: {str(live.error).splitlines()[0]}")
        else:
            dropped = f", {live.dropped} dropped (encoder behind)" if live.dropped else ""
            dpg.set_value("record.live_note", f"REC  {live.frames} frames{dropped}")


def _describe(result: RecordResult) -> str:
    if result.path is None:
        return "cancelled before the first frame: nothing written"
    w, h = result.size
    stopped = f" (cancelled: {result.frames} of {result.requested})" if result.cancelled else ""
    return f"recorded {result.path}: {result.frames} frames, {w}x{h}{stopped}"
