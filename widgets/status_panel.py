"""Status bar: render time, UI frame rate, device, a progress bar (with cancel) for long work, the last error."""
from __future__ import annotations

import time

import dearpygui.dearpygui as dpg

from .panel import Panel
from .style import ERROR_COLOR


class StatusPanel(Panel):
    title = "Status"

    def build(self) -> None:
        dpg.add_text("starting...", tag="status.line")
        with dpg.group(horizontal=True, tag="status.task", show=False):
            dpg.add_progress_bar(tag="status.progress", width=360, default_value=0.0)
            dpg.add_button(tag="status.cancel", label="Cancel", callback=self._cancel)
        with dpg.group(horizontal=True):
            dpg.add_button(tag="status.clear", label="x", show=False, callback=lambda: self.app.clear_error())
            dpg.add_text("", tag="status.error", color=ERROR_COLOR, wrap=0)

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
            where = "unchanged" if not st.first_layer else f"from {st.first_layer}, layer {st.first_index + 1}/{st.num_layers}"
            parts.append(f"render {st.seconds * 1000:.0f} ms ({where})")
            parts.append(f"{r.stats.device} {r.stats.dtype}")
        elif app.info is None:
            parts.append("no model loaded" if app.model_error else "loading model...")
        parts.append(f"UI {app.ui_fps:.0f} fps")
        live = app.live.status()       # OSC / MIDI counters, bad messages, MIDI learn
        if live:
            parts.append(live)
        if app.worker_busy:
            parts.append("rendering...")
        dpg.set_value("status.line", "   |   ".join(parts))
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
        dpg.set_value("status.error", f"error: {error}" if error else "")
        dpg.configure_item("status.clear", show=bool(error))
