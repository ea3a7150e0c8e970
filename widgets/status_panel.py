"""The status line under the picture, one line: render time and the layer synthesis resumed from, device, UI
frame rate, a progress bar (with Cancel) for long work, and the last error cut to fit; a click on the error
opens it in full with the ones before it."""
from __future__ import annotations

import time

import dearpygui.dearpygui as dpg

from .panel import Panel
from .style import ERROR_COLOR, error_button_theme

LINE_H = 28            # the status line's height under the picture, px
CHAR_W = 7             # px per character of the default font (to cut the error to the space left)
TASK_W = 260           # the progress bar's width, px


class StatusPanel(Panel):
    title = "Status"

    def build(self) -> None:
        with dpg.group(horizontal=True, tag="status"):
            dpg.add_text("starting...", tag="status.line")
            with dpg.group(horizontal=True, tag="status.task", show=False):
                dpg.add_progress_bar(tag="status.progress", width=TASK_W, default_value=0.0)
                dpg.add_button(tag="status.cancel", label="Cancel", callback=self._cancel)
            dpg.add_button(tag="status.error_button", label="", show=False, callback=self.show_details)
            dpg.bind_item_theme("status.error_button", error_button_theme())

    def build_dialogs(self) -> None:
        with dpg.window(tag="status.details", label="Errors", show=False, width=700, height=260, pos=(80, 80),
                        no_collapse=True):
            dpg.add_text("", tag="status.error", color=ERROR_COLOR, wrap=660)
            dpg.add_text("", tag="status.earlier", wrap=660)
            with dpg.group(horizontal=True):
                dpg.add_button(tag="status.clear", label="Clear", callback=self._clear)
                dpg.add_button(tag="status.close", label="Close", callback=lambda: dpg.hide_item("status.details"))

    def show_details(self) -> None:
        """The last error in full, and the ones before it (newest first)."""
        dpg.show_item("status.details")
        dpg.focus_item("status.details")

    def _clear(self) -> None:
        self.app.clear_error()
        dpg.hide_item("status.details")

    def _cancel(self) -> None:
        task = self.app.tasks.current
        if task is not None:
            task.cancel()

    def tick(self) -> None:
        """Once per UI frame: cheap text and bar updates, nothing that waits."""
        app = self.app
        r = app.last_frame
        parts = []
        if app.info is not None and app.info.tuned:
            parts.append(f"TUNED model {app.info.name}")
        if r is not None and r.stats is not None:
            # stats.seconds is the synthesis alone: a model load (done before it, on the worker) is not counted
            st = r.stats
            where = "unchanged" if not st.first_layer else f"from {st.first_layer} (layer {st.first_index + 1}/{st.num_layers})"
            parts.append(f"render {st.seconds * 1000:.0f} ms {where}")
            parts.append(f"{r.stats.device} {r.stats.dtype}")
        elif app.info is None:
            parts.append("no model loaded" if app.model_error else "loading model...")
        parts.append(f"UI {app.ui_fps:.0f} fps")
        live = app.live.status()       # OSC / MIDI counters, bad messages, MIDI learn
        if live:
            parts.append(live)
        if app.worker_busy:
            parts.append("rendering...")
        line = "  |  ".join(parts)
        dpg.set_value("status.line", line)
        task = app.tasks.current
        dpg.configure_item("status.task", show=task is not None)
        if task is not None:
            if task.progress is None:   # unknown length: a bar that sweeps
                value, overlay = (time.monotonic() * 0.7) % 1.0, task.name
            else:
                value, overlay = task.progress, f"{task.name}  {task.progress * 100:.0f}%"
            dpg.set_value("status.progress", value)
            dpg.configure_item("status.progress", overlay=overlay)
            dpg.configure_item("status.cancel", show=task.cancellable, enabled=not task.cancelled)
        error = app.last_error
        dpg.configure_item("status.error_button", show=bool(error))
        dpg.set_value("status.error", error or "no error")
        if error:
            room = (dpg.get_item_rect_size("view.area")[0] - len(line) * CHAR_W - (TASK_W + 80) * (task is not None)) // CHAR_W
            dpg.configure_item("status.error_button", label=clip(f"error: {error}", max(room - 4, 24)))
        history = list(app.errors)
        if error and history and history[-1][1] == error:
            history.pop()                       # shown above in full
        earlier = [f"{when}  {text}" for when, text in reversed(history)]
        dpg.set_value("status.earlier", ("earlier:\n" + "\n".join(earlier)) if earlier else "")


def clip(text: str, n: int) -> str:
    """`text` cut to n characters, saying so (the whole of it is a click away)."""
    return text if len(text) <= n else text[:n - 14] + "... (click)"
