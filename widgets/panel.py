"""What every panel is to the app: it builds its items once, rebuilds model-dependent ones, mirrors the state.

Panels read the state from `app.state` and change it only through the app (`app.update_state(...)`,
`app.set_state(...)` and the app's named actions), so the RenderState stays the one truth about the frame.
Item tags are '<panel>.<name>' strings, which tests and keyboard handling address directly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import dearpygui.dearpygui as dpg

from explorer.app.model_info import ModelInfo
from explorer.render.state import RenderState

if TYPE_CHECKING:
    from .app import App


class Panel:
    title = ""

    def __init__(self, app: "App"):
        self.app = app

    def build(self) -> None:
        """Create the items inside the current Dear PyGui container."""
        raise NotImplementedError

    @property
    def header(self) -> str:
        """Tag of the collapsing header the panel sits under in the control column."""
        return f"header.{type(self).__name__}"

    def build_section(self, open: bool = True) -> None:
        """The panel in the control column: its items under a collapsing header with its title."""
        with dpg.collapsing_header(label=self.title, default_open=open, tag=self.header):
            self.build()

    def build_dialogs(self) -> None:
        """Create file dialogs (root items, outside every window); hidden until asked for."""

    @property
    def info(self) -> Optional[ModelInfo]:
        """The model on screen (None until one has loaded)."""
        return self.app.info

    def on_model(self, info: Optional[ModelInfo]) -> None:
        """A new model finished loading (it is already app.info): rebuild what depends on its layers."""

    def sync(self, state: RenderState) -> None:
        """Show `state` (it may have changed from elsewhere: a session, the keyboard, the animation)."""

    def tick(self) -> None:
        """Once per UI frame, after sync: pick up what background work delivered. Cheap; never waits."""

    def close(self) -> None:
        """The window is closing: stop or finish this panel's background work (keeping what it made)."""
