"""Bookmarks panel: a strip of thumbnails of saved states. B (or "Add") bookmarks the frame on screen; a click
jumps back to it; dragging a thumbnail onto another moves it there; "Walk video" renders a keyframe walk
through them all, in order, under the status bar's progress bar (Cancel keeps a valid shorter video)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import dearpygui.dearpygui as dpg
import numpy as np

from explorer.app.tasks import Task, TaskCancel, yield_cpu
from explorer.errors import ExplorerError
from explorer.files import next_free_path
from explorer.live.bookmarks import render_bookmark_walk
from explorer.render.renderer import Renderer

from . import dialogs
from .panel import Panel
from .style import DIM_COLOR

PER_ROW = 4                 # thumbnails per row of the strip
VIDEO_TYPES = [(".mp4", "H.264 video"), (".gif", "GIF")]


class BookmarksPanel(Panel):
    title = "Bookmarks"

    def __init__(self, app):
        super().__init__(app)
        self._shown = (None, -1)              # (list object, version) the strip shows
        self._textures: list[int] = []
        self.note = ""                        # what the last video job wrote (set off the UI thread)

    def build(self) -> None:
        with dpg.group(horizontal=True):
            dpg.add_button(tag="bookmarks.add", label="Add (B)", callback=self.add)
            dpg.add_button(tag="bookmarks.remove", label="Remove last", callback=self._remove_last)
            dpg.add_text("click: jump, drag: reorder", color=DIM_COLOR)
        dpg.add_group(tag="bookmarks.strip")
        with dpg.group(horizontal=True):
            dpg.add_input_int(tag="bookmarks.frames", label="frames/key", default_value=60, min_value=1,
                              min_clamped=True, step=0, width=60)
            dpg.add_input_int(tag="bookmarks.fps", label="fps", default_value=30, min_value=1, max_value=240,
                              min_clamped=True, max_clamped=True, step=0, width=50)
            dpg.add_checkbox(tag="bookmarks.loop", label="loop")
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="bookmarks.path", hint="walk .mp4 / .gif (empty: capture folder)", width=300)
            dpg.add_button(tag="bookmarks.browse", label="...", callback=lambda: dialogs.show("bookmarks.dialog"))
        dpg.add_button(tag="bookmarks.video", label="Walk video through the bookmarks", callback=self.walk_video)
        dpg.add_text("", tag="bookmarks.note", color=DIM_COLOR, wrap=440)
        for tag in ("bookmarks.frames", "bookmarks.fps", "bookmarks.path"):
            self.app.register_text_input(tag)

    def build_dialogs(self) -> None:
        dialogs.file_dialog("bookmarks.dialog", VIDEO_TYPES, lambda p: dpg.set_value("bookmarks.path", p),
                            "Walk video to (.mp4 or .gif)")

    # --- actions -----------------------------------------------------------------------------------------
    def add(self) -> None:
        """Bookmark the frame on screen: its state (as drawn) and a thumbnail."""
        state = self.app.capture.displayed_state()
        if state is not None:
            self.app.live.add_bookmark(state, self.app.view.image)

    def jump(self, index: int) -> None:
        self.app.set_state(self.app.live.bookmarks[index].state)

    def move(self, src: int, dst: int) -> None:
        self.app.live.bookmarks.move(src, dst)

    def _dropped(self, target, source) -> None:
        """Bookmark `source` (the drag's data) dropped on `target`'s button: Dear PyGui hands a drop callback
        no user_data, so the target's index comes from the item itself."""
        self.move(int(source), int(dpg.get_item_user_data(target)))

    def _remove_last(self) -> None:
        marks = self.app.live.bookmarks
        if len(marks):
            marks.remove(len(marks) - 1)

    def walk_video(self) -> Optional[Task]:
        """Render the walk through every bookmark on a background task (its own renderer)."""
        marks = self.app.live.bookmarks.items
        if len(marks) < 2:
            self.app.show_error("a walk video needs at least 2 bookmarks")
            return None
        try:
            path = dpg.get_value("bookmarks.path").strip()
            out = Path(path) if path else next_free_path(self.app.capture_dir, "bookmarks", ".mp4")
        except ExplorerError as e:
            self.app.show_error(e)
            return None
        frames, fps = max(int(dpg.get_value("bookmarks.frames")), 1), max(int(dpg.get_value("bookmarks.fps")), 1)
        loop = bool(dpg.get_value("bookmarks.loop"))

        def work(task: Task) -> None:
            yield_cpu()
            result = render_bookmark_walk(marks, out, frames_per_key=frames, loop=loop, fps=fps, renderer=Renderer(),
                                          progress=lambda done, total: task.set_progress(done / max(total, 1)),
                                          cancel=TaskCancel(task))
            self.note = (f"wrote {result.path} ({result.frames} frames)" + (" - cancelled" if result.cancelled else "")
                         if result.path else "cancelled before the first frame")

        return self.app.run_task(f"walk video {out.name}", work, cancellable=True)

    # --- drawing -----------------------------------------------------------------------------------------
    def tick(self) -> None:
        marks = self.app.live.bookmarks
        if self._shown != (marks, marks.version):
            self._shown = (marks, marks.version)
            self._draw(marks.items)
        dpg.set_value("bookmarks.note", self.note)

    def _draw(self, items: tuple) -> None:
        dpg.delete_item("bookmarks.strip", children_only=True)
        for tex in self._textures:
            dpg.delete_item(tex)
        self._textures = []
        if not items:
            dpg.add_text("no bookmarks yet: press B", parent="bookmarks.strip", color=DIM_COLOR)
            return
        row = None
        for i, b in enumerate(items):
            if i % PER_ROW == 0:
                row = dpg.add_group(horizontal=True, parent="bookmarks.strip")
            pixels = b.thumbnail_pixels()
            if pixels is None:
                pixels = np.full((64, 64, 3), 40, np.uint8)
            h, w = pixels.shape[:2]
            rgba = np.concatenate([pixels.astype(np.float32) / 255, np.ones((h, w, 1), np.float32)], axis=2)
            tex = dpg.add_static_texture(w, h, rgba.reshape(-1), parent="textures")
            self._textures.append(tex)
            with dpg.group(parent=row):
                button = dpg.add_image_button(tex, tag=f"bookmarks.b{i}", width=96 * w // max(w, h),
                                              height=96 * h // max(w, h), user_data=i, payload_type="bookmark",
                                              callback=lambda s, a, u: self.jump(u),
                                              drop_callback=self._dropped)
                with dpg.drag_payload(parent=button, drag_data=i, payload_type="bookmark"):
                    dpg.add_text(f"bookmark {b.name}")
                dpg.add_text(b.name, color=DIM_COLOR)
