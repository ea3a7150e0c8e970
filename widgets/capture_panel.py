"""Capture panel: save the frame (PNG with its RenderState inside and beside it), sessions, and the current w.

Files go to the capture folder as explorer-NNNN.png (+ .json) and w-NNNN.npz, numbered past what is there
and never overwritten; the writing runs as a background task, so a large PNG never stalls the window.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.engine import save_current_w
from explorer.app.tasks import Task
from explorer.errors import ExplorerError
from explorer.files import next_free_path
from explorer.images import save_png
from explorer.live.session import LiveSession
from explorer.render.state import RenderState

from . import dialogs
from .panel import Panel
from .style import DIM_COLOR


class CapturePanel(Panel):
    title = "Capture"

    def __init__(self, app):
        super().__init__(app)
        self.folder = Path(app.capture_dir)         # where saves without a path go (and the other panels' files)
        self.last_saved: Optional[str] = None       # one line about the newest file written (any thread)
        self._shown: Optional[str] = None
        self._reserved: set[Path] = set()           # names handed out whose files may still be being written

    def build(self) -> None:
        dpg.add_input_text(tag="capture.dir", label="folder", width=300, default_value=str(self.folder),
                           callback=lambda s, a: self.set_folder(a))
        self.app.register_text_input("capture.dir")
        with dpg.group(horizontal=True):
            dpg.add_button(tag="capture.save_image", label="Save image (Ctrl+S)", callback=lambda: self.save_image())
            dpg.add_button(tag="capture.save_w", label="Save current w (.npz)", callback=lambda: self.save_w())
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="capture.session", hint="session .json", width=200, default_value="session.json")
            self.app.register_text_input("capture.session")
            dpg.add_button(tag="capture.save_session", label="Save session",
                           callback=lambda: self.save_session(dpg.get_value("capture.session").strip()))
            dpg.add_button(tag="capture.load_session", label="Load",
                           callback=lambda: self.load_session(dpg.get_value("capture.session").strip()))
            dpg.add_button(tag="capture.browse_session", label="...", callback=lambda: dialogs.show("capture.dialog"))
        dpg.add_text("", tag="capture.last", color=DIM_COLOR, wrap=420)

    def build_dialogs(self) -> None:
        dialogs.file_dialog("capture.dialog", [(".json", "session")],
                            lambda path: dpg.set_value("capture.session", path), "Choose a session file")

    def tick(self) -> None:
        if self.last_saved != self._shown:
            self._shown = self.last_saved
            dpg.set_value("capture.last", self._shown or "")

    # --- actions ------------------------------------------------------------------------------------------
    def set_folder(self, path: str) -> None:
        self.folder = Path(path.strip() or ".")

    def next_path(self, stem: str, suffix: str) -> Path:
        """folder/stem-NNNN.suffix, past every file there and every name handed out (OutputError if unusable)."""
        path = next_free_path(self.folder, stem, suffix, self._reserved)
        self._reserved.add(path)
        return path

    def save_image(self, path: "Optional[str | Path]" = None) -> Optional[Path]:
        """Write the frame on screen as PNG, its RenderState in a text chunk and in a .json beside it."""
        state, image = self.displayed_state(), self.app.view.image
        if state is None or image is None:
            return None
        path = self._path(path, "explorer", ".png")
        if path is not None:
            def work(task: Task) -> None:
                save_png(path, image, text={"Software": "stylegan-explorer"}, state=state)
                state.save(path.with_suffix(".json"))
                self.last_saved = f"saved {path} (+ .json)"

            self.app.run_task(f"saving {path.name}", work)
        return path

    def save_w(self, path: "Optional[str | Path]" = None) -> Optional[Path]:
        """Write the ws of the frame on screen (after mixing, truncation, interpolation) as w+ .npz."""
        state = self.displayed_state()
        G, info = self.app.engine.current
        if state is None:
            return None
        if G is None or info is None or self.info is None or info.key != self.info.key:
            self.app.show_error("a model is loading; save the w once it is on screen")
            return None
        path = self._path(path, "w", ".npz")
        if path is not None:
            def work(task: Task) -> None:
                save_current_w(G, state, path)
                self.last_saved = f"saved {path}"

            self.app.run_task(f"saving {path.name}", work)
        return path

    def save_session(self, path: "str | Path") -> None:
        """The state, with the bookmarks and MIDI bindings (explorer/live/session.py)."""
        try:
            self.app.live.session(self.app.state).save(path)
            self.last_saved = f"session saved to {path}"
        except ExplorerError as e:
            self.app.show_error(e)

    def load_session(self, path: "str | Path") -> None:
        try:
            session = LiveSession.load(path)
        except ExplorerError as e:
            self.app.show_error(e)
            return
        self.app.live.restore(session)
        self.app.set_state(session.state)

    # --- helpers ------------------------------------------------------------------------------------------
    def displayed_state(self) -> Optional[RenderState]:
        """The state of the frame on screen, as the renderer drew it (fitted to the model)."""
        frame = self.app.last_frame
        if frame is None:
            self.app.show_error("nothing rendered yet")
            return None
        return frame.state if self.info is None else frame.state.conform(self.info)

    def _path(self, path: "Optional[str | Path]", stem: str, suffix: str) -> Optional[Path]:
        try:
            return Path(path) if path is not None else self.next_path(stem, suffix)
        except ExplorerError as e:
            self.app.show_error(e)
            return None
