"""Live panel: OSC on/off (listen and send addresses), a MIDI port, MIDI learn, and the list of MIDI bindings.

Right-click any slider of the app (or type an address) to MIDI-learn it: the next control that moves on the
port drives it. The bindings list edits each binding's span and removes bindings. The work is in
explorer/app/live.py; this panel draws it and forwards clicks.
"""
from __future__ import annotations

import re
from typing import Optional

import dearpygui.dearpygui as dpg

from explorer.app.live import VIRTUAL_PORT
from explorer.errors import ExplorerError
from explorer.live.controls import PREFIX
from explorer.live.midi import input_names
from explorer.live.osc import DEFAULT_HOST, DEFAULT_PORT

from .panel import Panel
from .style import DIM_COLOR, NOTE_COLOR

# Which control address each slider of the app drives ('{}' is the number in its tag).
SLIDER_ADDRESSES = (
    (r"trunc\.psi", "psi"),
    (r"trunc\.cutoff", "cutoff"),
    (r"latents\.t", "t"),
    (r"(a|b)\.seed", "{}/seed"),
    (r"mix\.w(\d+)", "mix/{}"),
    (r"mix\.group\.(\w+)", "level/{}"),
    (r"noise\.scale\.(\d+)", "noise_scales/{}"),
    (r"noise\.res\.(\d+)", "noise_off_res/{}"),
    (r"noise\.seed", "noise_seed"),
    (r"blend\.l(\d+)", "blend/{}"),
    (r"blend\.level\.(\w+)", "blend_level/{}"),
)


def address_of(tag: str) -> Optional[str]:
    """The control address a slider's tag stands for (None for items no control address reaches)."""
    for pattern, address in SLIDER_ADDRESSES:
        m = re.fullmatch(pattern, tag)
        if m:
            return f"{PREFIX}/" + address.format(*m.groups())
    return None


class LivePanel(Panel):
    title = "Live: OSC and MIDI"

    def __init__(self, app):
        super().__init__(app)
        self._shown_bindings: Optional[tuple] = None

    @property
    def live(self):
        return self.app.live

    def build(self) -> None:
        with dpg.group(horizontal=True):
            dpg.add_checkbox(tag="live.osc", label="OSC in", callback=lambda s, a: self.set_osc(bool(a)))
            dpg.add_input_text(tag="live.osc_listen", default_value=f"{DEFAULT_HOST}:{DEFAULT_PORT}", width=130)
            dpg.add_text("send to")
            dpg.add_input_text(tag="live.osc_send", hint="host:port", width=130)
        for tag in ("live.osc_listen", "live.osc_send"):
            self.app.register_text_input(tag)
        dpg.add_text("", tag="live.osc_status", color=DIM_COLOR)
        with dpg.group(horizontal=True):
            dpg.add_checkbox(tag="live.midi", label="MIDI in", callback=lambda s, a: self.set_midi(bool(a)))
            dpg.add_combo(tag="live.midi_port", items=[VIRTUAL_PORT], default_value=VIRTUAL_PORT, width=220)
            dpg.add_button(tag="live.midi_ports", label="find ports", callback=self.refresh_ports)
        with dpg.group(horizontal=True):
            dpg.add_input_text(tag="live.learn_address", hint=f"{PREFIX}/psi", width=220)
            self.app.register_text_input("live.learn_address")
            dpg.add_button(tag="live.learn", label="MIDI learn",
                           callback=lambda: self.learn(dpg.get_value("live.learn_address").strip()))
            dpg.add_button(tag="live.learn_cancel", label="cancel", show=False,
                           callback=lambda: self.live.midi_map.cancel_learn())
        dpg.add_text("right-click a slider to MIDI-learn it", tag="live.learning", color=DIM_COLOR)
        dpg.add_group(tag="live.bindings")

    def build_dialogs(self) -> None:
        with dpg.handler_registry(tag="live.handlers"):
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Right, callback=self._right_click)

    # --- actions -----------------------------------------------------------------------------------------
    def set_osc(self, on: bool) -> None:
        try:
            if on:
                self.live.start_osc(dpg.get_value("live.osc_listen"), dpg.get_value("live.osc_send").strip() or None)
            else:
                self.live.stop_osc()
        except ExplorerError as e:
            self.app.show_error(e)
        dpg.set_value("live.osc", self.live.osc is not None)

    def set_midi(self, on: bool) -> None:
        try:
            if on:
                self.live.open_midi(dpg.get_value("live.midi_port"))
            else:
                self.live.close_midi()
        except ExplorerError as e:
            self.app.show_error(e)
        dpg.set_value("live.midi", self.live.midi is not None)

    def refresh_ports(self) -> None:
        try:
            names = input_names()
        except ExplorerError as e:
            self.app.show_error(e)
            names = []
        dpg.configure_item("live.midi_port", items=[VIRTUAL_PORT] + names)

    def learn(self, address: str) -> None:
        try:
            self.live.learn(address)
        except (ExplorerError, ValueError) as e:
            self.app.show_error(f"MIDI learn: {e}")

    def _right_click(self) -> None:
        for tag in dpg.get_aliases():
            address = address_of(tag)
            if address and dpg.is_item_hovered(tag):
                dpg.set_value("live.learn_address", address)
                self.learn(address)
                return

    # --- drawing -----------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Once per UI frame: learning note, OSC counters, the bindings list when it changed."""
        learning = self.live.midi_map.learning
        dpg.set_value("live.learning", f"move a MIDI control to drive {learning}" if learning
                      else "right-click a slider to MIDI-learn it")
        dpg.configure_item("live.learning", color=NOTE_COLOR if learning else DIM_COLOR)
        dpg.configure_item("live.learn_cancel", show=bool(learning))
        osc = self.live.osc
        dpg.set_value("live.osc", osc is not None)       # also when started elsewhere (explorer gui --osc)
        dpg.set_value("live.midi", self.live.midi is not None)
        if osc is not None and not dpg.is_item_active("live.osc_listen"):
            dpg.set_value("live.osc_listen", osc.address)
        dpg.set_value("live.osc_status", "" if osc is None else
                      f"{osc.counters.summary()}" + (f"  last: {osc.counters.last_error}" if osc.counters.last_error else ""))
        bindings = self.live.midi_map.bindings
        if bindings != self._shown_bindings:
            self._shown_bindings = bindings
            self._draw_bindings(bindings)

    def _draw_bindings(self, bindings: tuple) -> None:
        dpg.delete_item("live.bindings", children_only=True)
        if not bindings:
            dpg.add_text("no MIDI bindings", parent="live.bindings", color=DIM_COLOR)
            return
        for i, b in enumerate(bindings):
            with dpg.group(horizontal=True, parent="live.bindings"):
                dpg.add_text(f"{b.describe().split(' -> ')[0]} -> {b.address[len(PREFIX) + 1:]}", tag=f"live.b{i}")
                dpg.add_input_float(tag=f"live.b{i}.low", width=70, default_value=b.low, step=0, format="%.3g",
                                    user_data=i, callback=lambda s, a, u: self._span(u, low=float(a)))
                dpg.add_input_float(tag=f"live.b{i}.high", width=70, default_value=b.high, step=0, format="%.3g",
                                    user_data=i, callback=lambda s, a, u: self._span(u, high=float(a)))
                dpg.add_button(tag=f"live.b{i}.remove", label="x", user_data=i,
                               callback=lambda s, a, u: self.live.midi_map.remove(u))

    def _span(self, index: int, low: Optional[float] = None, high: Optional[float] = None) -> None:
        b = self.live.midi_map.bindings[index]
        self.live.midi_map.set_span(index, b.low if low is None else low, b.high if high is None else high)
