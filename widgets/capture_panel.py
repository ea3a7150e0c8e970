"""Capture panel: save the frame (PNG with its RenderState inside and beside it), sessions, and the current w."""
from __future__ import annotations

import dearpygui.dearpygui as dpg

from explorer.render.state import RenderState

from . import dialogs
from .panel import Panel
from .style import DIM_COLOR


class CapturePanel(Panel):
    title = "Capture"

    def build(self) -> None:
        dpg.add_input_text(tag="capture.dir", label="folder", width=300, default_value=str(self.app.capture_dir),
                           callback=lambda s, a: self.app.set_capture_dir(a))
        self.app.register_text_input("capture.dir")
        with dpg.group(horizontal=True):
            dpg.add_button(tag="capture.save_image", label="Save image (Ctrl+S)", callback=lambda: self.app.save_image())
            dpg.add_button(tag="capture.save_w", label="Save current w (.npz)", callback=lambda: self.app.save_w())
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="capture.session", hint="session .json", width=200, default_value="session.json")
            self.app.register_text_input("capture.session")
            dpg.add_button(tag="capture.save_session", label="Save session", callback=self._save_session)
            dpg.add_button(tag="capture.load_session", label="Load", callback=self._load_session)
            dpg.add_button(tag="capture.browse_session", label="...", callback=lambda: dialogs.show("capture.dialog"))
        dpg.add_text("", tag="capture.last", color=DIM_COLOR, wrap=420)

    def build_dialogs(self) -> None:
        def picked(path: str) -> None:
            dpg.set_value("capture.session", path)
        dialogs.file_dialog("capture.dialog", [(".json", "session")], picked, "Choose a session file")

    def _save_session(self) -> None:
        self.app.save_session(dpg.get_value("capture.session").strip())

    def _load_session(self) -> None:
        self.app.load_session(dpg.get_value("capture.session").strip())

    def sync(self, state: RenderState) -> None:
        dpg.set_value("capture.last", self.app.last_saved or "")
