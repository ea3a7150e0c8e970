"""Directions panel: one slider per semantic direction (SeFa, or directions loaded from an .npz) on a layer range.

A slider at alpha adds `alpha` standard deviations of w along its direction to the w indices of the range
(an Edit in the RenderState, so sessions, saved PNGs, videos and grids keep it). Edits on other ranges or
from other files stay applied while this panel shows one (source, range): a coarse pose edit and a fine
colour edit combine; the note under the sliders lists them, and Reset clears every edit.

Directions are computed off the UI thread (engine.directions, on a background thread) and shared with the
renderer, so the panel never runs torch and the renderer never computes them twice.
"""
from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.model_info import DirectionSet, ModelInfo
from explorer.errors import ExplorerError
from explorer.io.files import absolute
from explorer.nn.layer_table import span
from explorer.render.state import RANGES as VALUE_RANGES, Edit, RenderState

from . import dialogs
from .help import add_model_tip
from .panel import Panel
from .style import DIM_COLOR, level_theme

SEFA = "sefa"
SEFA_LABEL = "SeFa (closed form)"
RANGES = ("all", "coarse", "middle", "fine")
MAX_SLIDERS = 10          # strongest directions shown
ALPHA_MAX = VALUE_RANGES["alpha"][1]   # slider range, in standard deviations of w (the model's samples stay within +-3)


class DirectionsPanel(Panel):
    title = "Directions"

    def __init__(self, app):
        super().__init__(app)
        self.source = SEFA                    # what the sliders move along: 'sefa' or an .npz path
        self.layers = "all"                   # ...on these w indices
        self.sources: list[str] = [SEFA]      # choices in the source combo
        self.shown: Optional[DirectionSet] = None
        self._wanted: Optional[tuple] = None  # (model key, source, layers) last asked for
        self._incoming: Optional[DirectionSet] = None
        self._failed = False
        self._thread: Optional[threading.Thread] = None

    # --- building -----------------------------------------------------------------------------------------
    def build(self) -> None:
        with dpg.group(horizontal=True):
            dpg.add_combo(tag="dirs.source", items=[SEFA_LABEL], default_value=SEFA_LABEL, width=240,
                          callback=lambda s, a: self.select_source(self._source_of(a)))
            dpg.add_button(tag="dirs.reset", label="Reset all", callback=self.reset)
        with dpg.group(horizontal=True):
            dpg.add_radio_button(tag="dirs.range", items=list(RANGES), horizontal=True, default_value=self.layers,
                                 callback=lambda s, a: self.select_layers(a))
            dpg.add_input_text(tag="dirs.custom", hint="w: 0-3", width=70, on_enter=True,
                               callback=lambda s, a: self.select_layers(a.strip()))
            self.app.register_text_input("dirs.custom")
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="dirs.path", hint="directions .npz", width=230, on_enter=True,
                               callback=lambda: self.load_file(dpg.get_value("dirs.path")))
            self.app.register_text_input("dirs.path")
            dpg.add_button(tag="dirs.load", label="Load directions",
                           callback=lambda: self.load_file(dpg.get_value("dirs.path")))
            dpg.add_button(tag="dirs.browse", label="...", callback=lambda: dialogs.show("dirs.dialog"))
        dpg.add_text("no model yet", tag="dirs.note", color=DIM_COLOR, wrap=440)
        dpg.add_group(tag="dirs.body")

    def build_dialogs(self) -> None:
        def picked(path: str) -> None:
            dpg.set_value("dirs.path", path)
            self.load_file(path)
        dialogs.file_dialog("dirs.dialog", [(".npz", "directions")], picked, "Load directions")

    # --- actions ------------------------------------------------------------------------------------------
    def select_source(self, source: str) -> None:
        self._request(source, self._pending()[1])

    def select_layers(self, layers: str) -> None:
        if not layers:
            return
        if self.info is not None and not self.info.fits(layers):
            self.app.show_error(f"layer range {layers!r} does not fit this {self.info.resolution} px model "
                                f"(w indices 0-{self.info.num_ws - 1})")
            return
        self._request(self._pending()[0], layers)

    def load_file(self, path: str) -> None:
        """Directions from an .npz ('directions' [k, w_dim]); they become the sliders' source once read."""
        path = (path or "").strip()
        if path:
            layers = self._pending()[1]
            self._wanted = None               # read it again even if it was loaded before (it may have changed)
            self._request(absolute(path), layers)

    def reset(self) -> None:
        self.app.update_state(edits=())

    def set_alpha(self, index: int, alpha: float) -> None:
        """Slider `index` of the shown directions to `alpha` (0 removes the edit)."""
        mine = (self.source, self.layers, index)
        edits = list(self.app.state.edits)
        at = next((i for i, e in enumerate(edits) if (e.directions, e.layers, e.index) == mine), None)
        new = Edit(self.source, index, round(float(alpha), 4), self.layers)
        if at is None and new.alpha != 0:
            edits.append(new)
        elif at is not None:
            edits[at:at + 1] = [new] if new.alpha != 0 else []
        self.app.update_state(edits=tuple(edits))

    def _pending(self) -> tuple[str, str]:
        """(source, layers) on their way to the sliders, else those the sliders have."""
        return (self._wanted[1], self._wanted[2]) if self._wanted is not None else (self.source, self.layers)

    def _request(self, source: str, layers: str) -> None:
        """Ask the engine for the directions of (source, layers) on a background thread. tick() shows them and
        only then makes them the sliders' (source, layers): a file that fails to load changes nothing."""
        if self.info is None:
            return
        key = (self.info.key, source, layers)
        if self._wanted == key:
            return
        self._wanted = key
        dpg.set_value("dirs.note", "computing directions...")

        def work() -> None:
            try:
                found = self.app.engine.directions(source, layers)
            except Exception as e:   # an unreadable file, a model switch: say so, keep the sliders
                if not isinstance(e, ExplorerError):
                    traceback.print_exc()
                if self._wanted == key:
                    self._wanted = None       # the next try asks again
                self._failed = True
                self.app.show_error(e)
                return
            if self._wanted == (found.model_key, source, layers):
                self._incoming = found

        # Its own thread, not an app task: usually milliseconds, and the note above says it is working.
        self._thread = threading.Thread(target=work, name="directions", daemon=True)
        self._thread.start()

    def wait(self, timeout: float = 60.0) -> None:
        """Until the directions asked for last are on screen (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)
        self.app.run_frames(1)

    def close(self) -> None:
        """Let a computation under way finish: a daemon thread cut off inside torch as the process exits aborts
        it ("terminate called without an active exception"), e.g. when the window closes right after a load."""
        if self._thread is not None:
            self._thread.join(timeout=60)

    # --- panel --------------------------------------------------------------------------------------------
    def on_model(self, info: Optional[ModelInfo]) -> None:
        self.shown = None
        self._wanted = None
        dpg.delete_item("dirs.body", children_only=True)
        if info is None:
            return
        if not info.fits(self.layers):
            self.layers = "all"
        self._request(self.source, self.layers)

    def tick(self) -> None:
        """Once per UI frame: show directions the background thread has just delivered."""
        if self._failed:
            self._failed = False
            if self.shown is None:
                dpg.set_value("dirs.note", "no directions: see the error below the image")
            self.sync(self.app.state)
        found, self._incoming = self._incoming, None
        if found is None or self.info is None or found.model_key != self.info.key:
            return
        if found.source not in self.sources:
            self.sources.append(found.source)
        self.source, self.layers, self.shown = found.source, found.layers, found
        self._build_sliders(found)
        self.sync(self.app.state)

    def _build_sliders(self, found: DirectionSet) -> None:
        dpg.delete_item("dirs.body", children_only=True)
        levels = {self.info.ws[i].level for i in found.indices}
        theme = level_theme(levels.pop()) if len(levels) == 1 else None
        for i in range(min(len(found), MAX_SLIDERS)):
            ev = f"  eig {found.eigenvalues[i]:.2f}" if found.eigenvalues is not None else ""
            item = dpg.add_slider_float(tag=f"dirs.d{i}", label=f"#{i}{ev}", parent="dirs.body", width=240,
                                        min_value=-ALPHA_MAX, max_value=ALPHA_MAX, format="%+.2f sd", user_data=i,
                                        callback=lambda s, a, u: self.set_alpha(u, float(a)))
            if theme is not None:
                dpg.bind_item_theme(item, theme)
            eig = f" (SeFa eigenvalue {found.eigenvalues[i]:.2f})" if found.eigenvalues is not None else ""
            where = span(list(found.indices))
            add_model_tip(item, "dirs.d", index=i, eig=eig,
                          layers=where if where == found.layers else f"{where} ({found.layers})")

    def sync(self, state: RenderState) -> None:
        labels = [SEFA_LABEL] + [Path(s).name for s in self.sources[1:]]
        for e in state.edits:   # a session may bring edits along files this panel has not loaded
            if e.directions != SEFA and e.directions not in self.sources:
                self.sources.append(e.directions)
                labels.append(Path(e.directions).name)
        dpg.configure_item("dirs.source", items=labels)
        dpg.set_value("dirs.source", self._label_of(self.source))
        dpg.set_value("dirs.range", self.layers if self.layers in RANGES else "")
        if self.layers not in RANGES and not dpg.is_item_active("dirs.custom"):
            dpg.set_value("dirs.custom", self.layers)
        found = self.shown
        if found is None:
            return
        alphas = {e.index: e.alpha for e in state.edits if (e.directions, e.layers) == (self.source, self.layers)}
        for i in range(min(len(found), MAX_SLIDERS)):
            if not dpg.is_item_active(f"dirs.d{i}"):
                dpg.set_value(f"dirs.d{i}", alphas.get(i, 0.0))
        what = "SeFa" if self.source == SEFA else Path(self.source).name
        span = f"{found.indices[0]}-{found.indices[-1]}" if len(found.indices) > 1 else str(found.indices[0])
        lines = [f"{what}: {len(found)} directions on w {span} ({self.layers}); slider = std of w"]
        others = [e for e in state.edits if (e.directions, e.layers) != (self.source, self.layers) and e.alpha]
        if others:
            lines.append("also applied: " + ", ".join(
                f"{'SeFa' if e.directions == SEFA else Path(e.directions).name} {e.layers} #{e.index} {e.alpha:+.2f}"
                for e in others))
        dpg.set_value("dirs.note", "\n".join(lines))

    def _label_of(self, source: str) -> str:
        return SEFA_LABEL if source == SEFA else Path(source).name

    def _source_of(self, label: str) -> str:
        return next((s for s in self.sources if self._label_of(s) == label), SEFA)
