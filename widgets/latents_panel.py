"""Latents panel: sources A and B (a seed, or a row of a w / w+ .npz), class, and the A -> B interpolation."""
from __future__ import annotations

import dataclasses
import random
from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.model_info import ModelInfo
from explorer.render.state import RenderState, Source

from . import dialogs
from .panel import Panel
from .style import DIM_COLOR

SPACES = {"W lerp": "w", "Z slerp": "z"}


class LatentsPanel(Panel):
    title = "Latents"

    def build(self) -> None:
        for which in ("a", "b"):
            self._build_source(which)
            dpg.add_spacer(height=4)
        dpg.add_slider_float(tag="latents.t", label="t  A -> B", min_value=0.0, max_value=1.0, width=300,
                             default_value=self.app.state.t, callback=lambda s, a: self.app.update_state(t=float(a)))
        with dpg.group(horizontal=True):
            dpg.add_radio_button(tag="latents.space", items=list(SPACES), horizontal=True, default_value="W lerp",
                                 callback=lambda s, a: self.app.update_state(interp_space=SPACES[a]))
            dpg.add_checkbox(tag="latents.animate", label="animate (space)",
                             callback=lambda s, a: self.app.set_animating(bool(a)))

    def _build_source(self, which: str) -> None:
        p = f"latents.{which}"
        src: Source = getattr(self.app.state, which)
        with dpg.group(horizontal=True):
            dpg.add_text(which.upper())
            dpg.add_input_int(tag=f"{p}.seed", label="seed", step=0, width=110, default_value=src.seed,
                              min_value=0, min_clamped=True, on_enter=True,
                              callback=lambda s, a: self.app.set_seed(which, int(a)))
            self.app.register_text_input(f"{p}.seed")
            dpg.add_button(tag=f"{p}.minus", label=" - ", callback=lambda: self._step(which, -1))
            dpg.add_button(tag=f"{p}.plus", label=" + ", callback=lambda: self._step(which, +1))
            dpg.add_button(tag=f"{p}.random", label="random",
                           callback=lambda: self.app.set_seed(which, random.randint(0, 2 ** 31 - 1)))
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag=f"{p}.w_path", hint="w / w+ .npz", width=200, on_enter=True,
                               callback=lambda: self._load_w(which))
            self.app.register_text_input(f"{p}.w_path")
            dpg.add_input_int(tag=f"{p}.w_row", label="row", step=0, width=36, min_value=0, min_clamped=True)
            self.app.register_text_input(f"{p}.w_row")
            dpg.add_button(tag=f"{p}.load_w", label="Load w", callback=lambda: self._load_w(which))
            dpg.add_button(tag=f"{p}.browse", label="...", callback=lambda: dialogs.show(f"{p}.dialog"))
        with dpg.group(horizontal=True):
            dpg.add_text("", tag=f"{p}.source", color=DIM_COLOR)
            dpg.add_button(tag=f"{p}.use_seed", label="use seed", show=False,
                           callback=lambda: self.app.set_seed(which, getattr(self.app.state, which).seed))
            dpg.add_input_int(tag=f"{p}.class", label="class", step=1, width=90, show=False, min_value=0,
                              min_clamped=True, callback=lambda s, a: self._set_class(which, int(a)))

    def build_dialogs(self) -> None:
        for which in ("a", "b"):
            def picked(path: str, which: str = which) -> None:
                dpg.set_value(f"latents.{which}.w_path", path)
                self._load_w(which)
            dialogs.file_dialog(f"latents.{which}.dialog", [(".npz", "w / w+ arrays")], picked,
                                f"Load a w for {which.upper()}")

    # --- actions ------------------------------------------------------------------------------------
    def _step(self, which: str, delta: int) -> None:
        self.app.set_seed(which, getattr(self.app.state, which).seed + delta)

    def _load_w(self, which: str) -> None:
        path = dpg.get_value(f"latents.{which}.w_path").strip()
        if path:
            self.app.load_w(which, path, int(dpg.get_value(f"latents.{which}.w_row")))

    def _set_class(self, which: str, c: int) -> None:
        src: Source = getattr(self.app.state, which)
        self.app.update_state(**{which: dataclasses.replace(src, class_idx=c)})

    # --- panel --------------------------------------------------------------------------------------
    def on_model(self, info: Optional[ModelInfo]) -> None:
        conditional = info is not None and info.c_dim > 0
        for which in ("a", "b"):
            dpg.configure_item(f"latents.{which}.class", show=conditional,
                               max_value=max(info.c_dim - 1, 0) if conditional else 0, max_clamped=conditional)

    def sync(self, state: RenderState) -> None:
        for which in ("a", "b"):
            src: Source = getattr(state, which)
            p = f"latents.{which}"
            if not dpg.is_item_active(f"{p}.seed"):
                dpg.set_value(f"{p}.seed", src.seed)
            dpg.set_value(f"{p}.source", "w from " + src.describe() if src.w_path else src.describe())
            dpg.configure_item(f"{p}.use_seed", show=src.w_path is not None)
            if src.class_idx is not None:
                dpg.set_value(f"{p}.class", src.class_idx)
        dpg.set_value("latents.t", state.t)
        dpg.set_value("latents.space", next(k for k, v in SPACES.items() if v == state.interp_space))
        dpg.set_value("latents.animate", self.app.animating)
