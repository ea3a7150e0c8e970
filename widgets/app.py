"""The explorer window: owns the RenderState, the render worker, the panels and the per-frame loop.

Which panel sits where (the control column's groups) is widgets/layout.py's; the picture is ImageView's.

    widget callback -> app.update_state(...) -> worker.submit(state)        (returns at once; latest wins)
    every UI frame:  run queued callbacks, shortcut keys -> animate -> take a finished frame -> image view
                     -> panels show the state (sync) -> every panel's tick -> draw -> sleep to the frame-rate cap

Dear PyGui hands callbacks to this loop (manual callback management), so every state change and every
Dear PyGui call happens on the UI thread; torch runs only on the worker thread (and short background
tasks such as writing a w file), so the UI never waits for a frame to render.

Scripted use (tests, `explorer gui --screenshot`):
    app = App(checkpoint="g.safetensors", device="cpu")
    app.update_state(psi=0.5); app.wait_for_render(); img = app.current_image(); app.screenshot("w.png")
"""
from __future__ import annotations

import collections
import inspect
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

import dearpygui.dearpygui as dpg
import numpy as np

from explorer.app.display import check_display
from explorer.app.engine import Engine, check_w_file
from explorer.app.model_info import ModelInfo
from explorer.app.recent import RecentList
from explorer.app.tasks import Task, TaskList
from explorer.bundled import opening_state
from explorer.errors import ExplorerError, one_line, single_line
from explorer.io.files import absolute
from explorer.latents import SEED_RANGE
from explorer.images import save_png
from explorer.app.live import LiveControl
from explorer.render.state import RenderState, Source
from explorer.render.worker import RenderResult, RenderWorker

from . import keyboard, style
from .help import HelpWindow
from .image_view import ImageView
from .layout import Layout, group_named
from .status_panel import StatusPanel

IDLE_FPS = 20.0           # frame-rate cap while nobody touches the window: the CPU goes to the renderer
INPUT_HOLD = 1.0          # seconds of the full frame rate after the last mouse or key input
ANIM_SPEED = 0.25         # animation: t per second (A -> B in 4 s, then back)
ERRORS_KEPT = 20          # errors the status line's details window lists

MOUSE_BUTTONS = (dpg.mvMouseButton_Left, dpg.mvMouseButton_Right, dpg.mvMouseButton_Middle)
_context_made = False     # Dear PyGui crashes when a process creates a second context


def invoke(callback: Optional[Callable], sender: Any = None, app_data: Any = None, user_data: Any = None) -> None:
    """Call an item callback the way Dear PyGui does: with as many of (sender, app_data, user_data) as it takes."""
    if callback is None:
        return
    n = len(inspect.signature(callback).parameters)
    callback(*(sender, app_data, user_data)[:n])


class App:
    def __init__(
        self,
        checkpoint: Optional[str] = None,     # Generator to open (None: the state's, else the bundled one).
        device: Optional[str] = None,         # 'auto', 'cpu' or 'cuda' (None: the state's).
        precision: Optional[str] = None,      # 'auto', 'fp32', 'fp16' or 'bf16' (None: the state's).
        state: Optional[RenderState] = None,  # Start from this state (a loaded session).
        width: int = 1400,                    # Window size, px.
        height: int = 900,
        fps_limit: float = 60.0,              # UI frame-rate cap while the user interacts (0 = none).
        idle_fps: float = IDLE_FPS,           # Cap when there is no input (drawing costs CPU time too).
        recent_file: Optional[str] = None,    # Where the recent-checkpoints list lives (default: XDG config).
        capture_dir: str = "captures",        # Where Save image / Save w write (the capture panel's folder).
        title: str = "StyleGAN explorer",
        group: Optional[str] = None,          # The group of controls on show at start (default: the first).
    ):
        global _context_made
        if _context_made:
            raise RuntimeError("one App per process: Dear PyGui cannot create a second context")
        check_display()
        start_group = group_named(group) if group else None     # a wrong name: one line, before any window
        base = state or opening_state(checkpoint)   # the bundled model opens on its picked seed pair
        self._state = base.replace(
            checkpoint=absolute(checkpoint) if checkpoint else base.checkpoint,
            device=device or base.device, precision=precision or base.precision)
        self.info: Optional[ModelInfo] = None            # the model on screen
        self.last_frame: Optional[RenderResult] = None   # the frame on screen
        self.last_result: Optional[RenderResult] = None  # the newest result, frame or error
        self.last_error: Optional[str] = None
        self.errors: collections.deque[tuple[str, str]] = collections.deque(maxlen=ERRORS_KEPT)  # (time, message)
        self.model_error: Optional[str] = None
        self.animating = False
        self.ui_fps = 0.0
        self.tasks = TaskList()
        self.recent = RecentList(recent_file)
        self.fps_limit = fps_limit
        self.idle_fps = idle_fps
        self.capture_dir = capture_dir

        self._lock = threading.Lock()
        self._incoming: Optional[tuple[RenderResult, Optional[ModelInfo]]] = None
        self._submitted_id = 0
        self._seen_id = 0
        self._good_model: Optional[tuple] = None         # model fields of the last state that rendered
        self._load_task: Optional[Task] = None
        self._load_request = 0
        self._text_inputs: list[str] = []
        self._threads: list[threading.Thread] = []
        self._dirty = True
        self._anim_dir, self._anim_last = 1.0, time.perf_counter()
        self._frame_no = 0
        self._frame_times: collections.deque[float] = collections.deque(maxlen=90)
        self._next_frame = 0.0
        self._last_input = time.perf_counter()
        self._mouse: tuple = ()
        self.frame_listeners: list[Callable[[RenderResult], None]] = []   # told of each frame put on screen (UI thread)

        self.engine = Engine()
        self.worker = RenderWorker(self.engine, on_result=self._on_result)
        # OSC and MIDI write the state from their own threads (explorer/app/live.py): a remote change goes to
        # the worker at once, and its finished frame wakes the loop, so it shows without waiting for a tick.
        self.live = LiveControl(self._state)
        self._ui_thread = threading.get_ident()
        self._wake = threading.Event()
        self._remote: Optional[tuple[RenderState, int]] = None    # the last remote state sent to the worker
        self._remote_seen = 0                                     # the shared state's version the UI has
        self._remote_request = 0                                  # its request id (its result wakes the loop)
        self.live.shared.listeners.append(self._on_remote)
        _context_made = True
        self._build(title, width, height)
        if start_group:
            self.layout.select(start_group)
        self._submit()

    # --- building -------------------------------------------------------------------------------------
    def _build(self, title: str, width: int, height: int) -> None:
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)
        dpg.add_texture_registry(tag="textures")     # panels add their textures here
        self.view = ImageView(self)
        self.status = StatusPanel(self)
        self.help = HelpWindow(self)
        self.layout = Layout(self)
        self.panels = self.layout.make_panels()      # widgets/layout.py: which panel sits where
        with dpg.window(tag="main"):
            with dpg.group(horizontal=True):
                self.layout.build(width)
                with dpg.group():
                    self.view.build()
                    self.status.build()
        for panel in (self.view, self.status, *self.panels):
            panel.build_dialogs()
        self.help.build()                            # tooltips on the built controls, and the F1 window
        dpg.create_viewport(title=title, width=width, height=height, x_pos=0, y_pos=0)
        dpg.setup_dearpygui()
        dpg.show_viewport()
        dpg.set_primary_window("main", True)

    def reveal(self, panel: Any, item: Optional[str] = None) -> None:
        """Bring `panel` into view: its group's tab, its header open, `item` (or the header) scrolled to."""
        self.layout.reveal(panel, item)

    def register_text_input(self, tag: str) -> None:
        """Keyboard shortcuts pause while this item has the keyboard."""
        self._text_inputs.append(tag)

    def typing(self) -> bool:
        return any(dpg.is_item_active(t) for t in self._text_inputs if dpg.does_item_exist(t))

    # --- the state --------------------------------------------------------------------------------------
    @property
    def state(self) -> RenderState:
        return self._state

    def set_state(self, state: RenderState) -> None:
        """Make `state` the one on screen: queue its render (never waits)."""
        if state == self._state:
            return
        self._state = state
        self.live.shared.set(state)
        self._dirty = True
        self._submit()

    def update_state(self, **changes: Any) -> None:
        """state.replace(**changes); a value the state refuses shows as an error and changes nothing."""
        try:
            self.set_state(self._state.replace(**changes))
        except ValueError as e:
            self.show_error(e)

    def set_seed(self, which: str, seed: int) -> None:
        """Source A or B becomes a seed (keeping its class)."""
        src: Source = getattr(self._state, which)
        self.update_state(**{which: Source(seed=int(min(max(seed, SEED_RANGE[0]), SEED_RANGE[1])), class_idx=src.class_idx)})

    def load_w(self, which: str, path: str, row: int = 0) -> None:
        """Source A or B becomes row `row` of a w / w+ .npz (checked against the model before use)."""
        if self.info is None:
            self.show_error("no model loaded yet")
            return
        try:
            rows = check_w_file(path, self.info)
        except ExplorerError as e:
            self.show_error(e)
            return
        if not 0 <= row < rows:
            self.show_error(f"{path}: row {row} out of range (file has {rows})")
            return
        src: Source = getattr(self._state, which)
        self.update_state(**{which: Source(seed=src.seed, w_path=absolute(path),
                                           w_row=row, class_idx=src.class_idx)})

    def load_checkpoint(self, path: str) -> None:
        """Open another generator; it loads on the worker, and a failure keeps the current one."""
        path = (path or "").strip()
        if path:
            self.update_state(checkpoint=absolute(path))

    def set_animating(self, on: bool) -> None:
        self.animating = bool(on)
        self._anim_last = time.perf_counter()
        self._dirty = True

    # --- errors and long work ----------------------------------------------------------------------------
    def show_error(self, error: "str | BaseException") -> None:
        """Show an error in the status bar: for an exception, the one line the CLI prints for it."""
        self.last_error = one_line(error) if isinstance(error, BaseException) else single_line(error)
        if not self.errors or self.errors[-1][1] != self.last_error:
            self.errors.append((time.strftime("%H:%M:%S"), self.last_error))
        self._dirty = True

    def clear_error(self) -> None:
        self.last_error = None
        self._dirty = True

    def begin_task(self, name: str, cancellable: bool = False) -> Task:
        """Show a progress bar for long work (any thread); check task.cancelled between steps."""
        return self.tasks.begin(name, cancellable)

    def set_progress(self, fraction: float, task: Optional[Task] = None) -> None:
        task = task or self.tasks.current
        if task is not None:
            task.set_progress(fraction)

    def end_task(self, task: Optional[Task] = None) -> None:
        self.tasks.end(task)

    def run_task(self, name: str, work: Callable[[Task], None], cancellable: bool = False) -> Task:
        """Run `work(task)` on a background thread under a progress bar; its errors show in the status bar."""
        task = self.begin_task(name, cancellable)

        def run() -> None:
            try:
                work(task)
            except ExplorerError as e:
                self.show_error(e)
            except Exception as e:  # a bug: say what it was, keep the app alive
                traceback.print_exc()
                self.show_error(e)
            finally:
                self.end_task(task)

        thread = threading.Thread(target=run, name=f"task: {name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return task

    def wait_tasks(self, timeout: float = 60.0) -> None:
        """Let background tasks finish while the UI keeps drawing (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while any(t.is_alive() for t in self._threads):
            if time.monotonic() > deadline:
                raise TimeoutError("background tasks still running")
            self.frame()
        self.frame()

    # --- rendering ---------------------------------------------------------------------------------------
    def _submit(self) -> None:
        remote, self._remote = self._remote, None
        if remote is not None and remote[0] == self._state:
            self._submitted_id = remote[1]      # already on its way: sent by the OSC / MIDI thread
        else:
            self._submitted_id = self.worker.submit(self._state)
        if self._state.model_fields() != self._good_model:   # a model to load first
            name = Path(self._state.checkpoint).name if self._state.checkpoint else "the default model"
            if self._load_task is None:
                self._load_task = self.begin_task(f"loading {name}")
            self._load_task.name = f"loading {name}"
            self._load_request = self._submitted_id

    def _on_result(self, result: RenderResult) -> None:
        """Worker thread: hand the result and the model that drew it to the UI thread."""
        with self._lock:
            self._incoming = (result, self.engine.info)
        if result.request_id == self._remote_request:
            self._wake.set()

    def _on_remote(self, state: RenderState, version: int) -> None:
        """A change of the shared state: from OSC or MIDI (their threads) it goes to the worker at once."""
        if threading.get_ident() == self._ui_thread:
            return
        self._remote = (state, self.worker.submit(state))
        self._remote_request = self._remote[1]      # its frame, once rendered, wakes the loop (_on_result)

    def _follow_remote(self, now: float) -> None:
        """Take the shared state when OSC or MIDI changed it (the newest wins; nothing queues)."""
        state, version = self.live.shared.get()
        if version == self._remote_seen:
            return
        self._remote_seen = version
        if state != self._state:
            self._last_input = now          # remote play counts as input: the full frame rate
            self.set_state(state)

    def _take_result(self) -> None:
        with self._lock:
            item, self._incoming = self._incoming, None
        if item is None:
            return
        result, info = item
        self._seen_id = max(self._seen_id, result.request_id)
        self.last_result = result
        if self._load_task is not None and result.request_id >= self._load_request:
            self.end_task(self._load_task)
            self._load_task = None
        if info is not None and (self.info is None or info.key != self.info.key):
            self._good_model = result.state.model_fields()
            self._model_loaded(info)
        if result.error is not None:
            self.show_error(result.error)
            failed = result.state.model_fields()
            if failed != self._good_model and failed == self._state.model_fields():
                # The model did not load (or the device does not exist): keep the one on screen.
                self.model_error = result.error
                if self._good_model is not None:
                    checkpoint, device, precision = self._good_model
                    self.set_state(self._state.replace(checkpoint=checkpoint, device=device, precision=precision))
            return
        self._good_model = result.state.model_fields()
        self._show(result)

    def _model_loaded(self, info: ModelInfo) -> None:
        self.info = info
        self.model_error = None
        self.live.set_model(info)
        if not info.demo:
            self.recent.add(info.path)
        for panel in self.panels:
            panel.on_model(info)
        self.set_state(self._state.conform(info))
        self._dirty = True

    def _show(self, result: RenderResult) -> None:
        self.last_frame = result
        self.view.show(result.image)
        for listener in self.frame_listeners:
            listener(result)

    def _animate(self, now: float) -> None:
        dt = min(now - self._anim_last, 0.1)
        self._anim_last = now
        t = self._state.t + self._anim_dir * dt * ANIM_SPEED
        if not 0.0 <= t <= 1.0:
            self._anim_dir = -self._anim_dir
            t = min(max(t, 0.0), 1.0)
        self.update_state(t=round(t, 4))

    # --- the loop ----------------------------------------------------------------------------------------
    def frame(self) -> None:
        """One UI frame. Never waits on the renderer; sleeps only to hold the frame-rate cap."""
        now = time.perf_counter()
        self._wake.clear()
        self._follow_remote(now)
        had_input = self._run_callbacks() | keyboard.poll(self)
        self._watch_input(now, had_input)
        if self.animating:
            self._animate(now)
        self._take_result()
        if self._dirty:
            self._dirty = False
            for panel in self.panels:
                panel.sync(self._state)
        self.layout.tick()
        for panel in (self.status, self.view, *self.panels):
            panel.tick()
        dpg.render_dearpygui_frame()
        self._frame_no += 1
        end = time.perf_counter()
        self._frame_times.append(end)
        if len(self._frame_times) > 1:
            self.ui_fps = (len(self._frame_times) - 1) / max(self._frame_times[-1] - self._frame_times[0], 1e-6)
        cap = self._frame_cap(end)
        if cap:
            self._next_frame = max(self._next_frame + 1 / cap, end - 0.1)
            if self._next_frame > end:
                self._wake.wait(self._next_frame - end)   # a remotely changed frame ends the wait early

    def note_input(self) -> None:
        """Count as user input: the full frame rate for the next INPUT_HOLD seconds."""
        self._last_input = time.perf_counter()

    def _watch_input(self, now: float, had_input: bool) -> None:
        mouse = tuple(dpg.get_mouse_pos(local=False))
        if had_input or mouse != self._mouse or any(dpg.is_mouse_button_down(b) for b in MOUSE_BUTTONS):
            self._last_input = now
        self._mouse = mouse

    def _frame_cap(self, now: float) -> float:
        """Full rate while the user interacts or fast frames stream in (animation); else the idle rate."""
        if not self.fps_limit:
            return 0.0
        streaming = self.animating and self.last_frame is not None and self.last_frame.seconds < 1 / self.idle_fps
        if now - self._last_input < INPUT_HOLD or streaming:
            return self.fps_limit
        return min(self.fps_limit, self.idle_fps)

    def _run_callbacks(self) -> bool:
        """Run the callbacks Dear PyGui queued last frame; True when there were any (user input)."""
        jobs = dpg.get_callback_queue() or ()
        for job in jobs:
            try:
                invoke(job[0], *job[1:4])
            except ExplorerError as e:
                self.show_error(e)
            except Exception as e:  # a bug in a callback must not close the window
                traceback.print_exc()
                self.show_error(e)
        return bool(jobs)

    def run(self) -> None:
        """The interactive loop, until the window is closed."""
        while dpg.is_dearpygui_running():
            self.frame()

    def run_frames(self, n: int) -> None:
        for _ in range(n):
            self.frame()

    @property
    def worker_busy(self) -> bool:
        return self.worker.busy

    def wait_for_render(self, timeout: float = 120.0) -> Optional[RenderResult]:
        """Draw frames until the newest request has come back (frame or error); returns that result."""
        deadline = time.monotonic() + timeout
        while self._seen_id < self._submitted_id or self._incoming is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no frame after {timeout} s")
            self.frame()
        self.frame()
        return self.last_result

    def current_image(self) -> Optional[np.ndarray]:
        """The frame on screen, HxWx3 uint8 (a copy)."""
        return None if self.view.image is None else self.view.image.copy()

    def screenshot(self, path: "Optional[str | Path]" = None, settle_frames: int = 3) -> np.ndarray:
        """The whole window as HxWx3 uint8 (saved as PNG when a path is given)."""
        self.run_frames(settle_frames)   # captures lag the state by about two frames
        box: dict[str, Any] = {}
        dpg.output_frame_buffer(callback=lambda sender, buffer: box.setdefault("buffer", buffer))
        for _ in range(60):
            self.frame()
            if "buffer" in box:
                break
        else:
            raise ExplorerError("the window could not be captured")
        buffer = box["buffer"]
        w, h = buffer.get_width(), buffer.get_height()
        rgba = np.asarray(np.array(buffer), np.float32).reshape(h, w, 4)
        rgb = np.ascontiguousarray((rgba[..., :3] * 255 + 0.5).clip(0, 255).astype(np.uint8))
        if path is not None:
            save_png(path, rgb)
        return rgb

    def close(self) -> None:
        self.live.close()           # stop listening for OSC and MIDI
        for panel in self.panels:   # a "record what I do" video is finalised, a walk or a projection stopped
            panel.close()
        self.worker.close()
        for thread in self._threads:
            thread.join(timeout=10)
        dpg.destroy_context()
        style.forget_themes()


__all__ = ["App", "invoke"]
