"""MIDI control: knobs, faders, pads and the pitch wheel bound to control addresses, with MIDI learn.

    controller --MIDI--> port (mido; rtmidi's ALSA or JACK) --callback thread--> MidiMap.handle(msg)
        learning?  bind the control that moved to the address waiting for it
        else       each binding of that control: value 0..127 -> low..high -> controls.apply -> SharedState

A binding names a control (kind, channel, number) and an address of the control space (controls.py), with
the span the control's travel covers (by default the field's own range from RenderState). Bindings go into
the session (session.py) as plain data. mido and python-rtmidi are optional (the 'live' extra); only
opening a port needs them.
"""
from __future__ import annotations

import dataclasses
import os
import threading
from typing import Any, Callable, Optional

from ..errors import ExplorerError
from ..render.state import RenderState
from .controls import ControlError, apply, split, value_range
from .shared import SharedState

KINDS = ("cc", "note", "pitchwheel")
BACKEND_ENV = "MIDO_BACKEND"     # mido's own variable: e.g. mido.backends.rtmidi/UNIX_JACK


@dataclasses.dataclass(frozen=True)
class MidiBinding:
    kind: str            # 'cc' (knob, fader), 'note' (pad, key: on = high, off = low) or 'pitchwheel'
    channel: int         # 0-15
    number: int          # controller or note number (0 for the pitch wheel)
    address: str         # a control address, e.g. '/explorer/psi'
    low: float           # value at the control's bottom (0)
    high: float          # value at its top (127)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"MIDI binding kind must be one of {KINDS}, got {self.kind!r}")
        if not 0 <= self.channel <= 15 or not 0 <= self.number <= 127:
            raise ValueError(f"MIDI channel 0-15 and number 0-127, got {self.channel} / {self.number}")
        split(self.address)

    @property
    def control(self) -> tuple[str, int, int]:
        return (self.kind, self.channel, self.number)

    def describe(self) -> str:
        name = {"cc": f"CC {self.number}", "note": f"note {self.number}", "pitchwheel": "pitch wheel"}[self.kind]
        return f"ch {self.channel + 1} {name} -> {self.address} [{self.low:g}, {self.high:g}]"


def control_of(msg: Any) -> Optional[tuple[tuple[str, int, int], float]]:
    """((kind, channel, number), position 0..1) of a mido message, None for messages that are no control."""
    if msg.type == "control_change":
        return ("cc", msg.channel, msg.control), msg.value / 127
    if msg.type in ("note_on", "note_off"):
        on = msg.type == "note_on" and msg.velocity > 0
        return ("note", msg.channel, msg.note), 1.0 if on else 0.0
    if msg.type == "pitchwheel":
        return ("pitchwheel", msg.channel, 0), (msg.pitch + 8192) / 16383
    return None


@dataclasses.dataclass
class MidiCounters:
    received: int = 0
    applied: int = 0
    ignored: int = 0                  # messages from controls that are not bound (clock, unbound knobs)
    bad: int = 0                      # bound values the state refused
    last_error: Optional[str] = None

    def summary(self) -> str:
        return f"MIDI {self.applied}/{self.received} applied" + (f", {self.bad} refused" if self.bad else "")


class MidiMap:
    """The bindings and MIDI learn. handle() runs on the port's thread; the rest on any thread."""

    def __init__(self, bindings: tuple[MidiBinding, ...] = ()):
        self._lock = threading.Lock()
        self._bindings: list[MidiBinding] = list(bindings)
        self._learning: Optional[tuple[str, float, float]] = None
        self.counters = MidiCounters()
        self.on_learned: Optional[Callable[[MidiBinding], None]] = None

    @property
    def bindings(self) -> tuple[MidiBinding, ...]:
        with self._lock:
            return tuple(self._bindings)

    @property
    def learning(self) -> Optional[str]:
        """The address waiting for a control to move (None when not learning)."""
        with self._lock:
            return None if self._learning is None else self._learning[0]

    def learn(self, address: str, state: RenderState, table: Any,
              low: Optional[float] = None, high: Optional[float] = None) -> None:
        """Bind the next control that moves to `address` (span: the field's range unless given)."""
        lo, hi, _ = value_range(state, table, address)       # raises for addresses no knob can drive
        with self._lock:
            self._learning = (address, lo if low is None else float(low), hi if high is None else float(high))

    def cancel_learn(self) -> None:
        with self._lock:
            self._learning = None

    def bind(self, binding: MidiBinding) -> None:
        """Add a binding; it replaces any binding of the same control and any binding of the same address."""
        with self._lock:
            self._bindings = [b for b in self._bindings
                              if b.control != binding.control and b.address != binding.address] + [binding]

    def remove(self, index: int) -> None:
        with self._lock:
            del self._bindings[index]

    def set_span(self, index: int, low: float, high: float) -> None:
        with self._lock:
            self._bindings[index] = dataclasses.replace(self._bindings[index], low=float(low), high=float(high))

    def handle(self, msg: Any, shared: SharedState) -> None:
        """One MIDI message: learn from it, or move what it is bound to."""
        self.counters.received += 1
        found = control_of(msg)
        if found is None:
            self.counters.ignored += 1
            return
        control, position = found
        with self._lock:
            if self._learning is not None:
                address, lo, hi = self._learning
                self._learning = None
                learned = MidiBinding(*control, address, lo, hi)
            else:
                learned = None
                targets = [b for b in self._bindings if b.control == control]
        if learned is not None:
            self.bind(learned)
            if self.on_learned is not None:
                self.on_learned(learned)
            return
        if not targets:
            self.counters.ignored += 1
            return
        table = shared.table
        try:
            shared.update(lambda state: _move(state, table, targets, position))
            self.counters.applied += 1
        except ControlError as e:
            self.counters.bad += 1
            self.counters.last_error = str(e)


def _move(state: RenderState, table: Any, targets: list[MidiBinding], position: float) -> RenderState:
    if table is None:
        raise ControlError("address", "no model loaded yet")
    for b in targets:
        _, _, kind = value_range(state, table, b.address)
        value = b.low + (b.high - b.low) * position
        value = round(value) if kind is int else (value >= 0.5 * (b.low + b.high) if kind is bool else value)
        state = apply(state, table, b.address, [value])
    return state


# --- ports -------------------------------------------------------------------------------------------

def _mido():
    try:
        import mido
    except ImportError:
        raise ExplorerError("MIDI needs mido and python-rtmidi: pip install 'stylegan-explorer[live]'") from None
    return mido


def backend(name: Optional[str] = None) -> Any:
    """A mido backend: `name`, else $MIDO_BACKEND, else mido's default (rtmidi: ALSA on Linux)."""
    mido = _mido()
    return mido.Backend(name or os.environ.get(BACKEND_ENV) or "mido.backends.rtmidi", load=True)


def input_names(backend_name: Optional[str] = None) -> list[str]:
    """The MIDI inputs the system offers; ExplorerError saying why when the backend cannot start."""
    try:
        return list(backend(backend_name).get_input_names())
    except ExplorerError:
        raise
    except Exception as e:
        raise ExplorerError(f"no MIDI: {_first_line(e)}") from None


class MidiInput:
    """A MIDI input port feeding a MidiMap: a named port of the system, or a virtual one named `name`
    that controllers and other programs connect to (where the backend offers virtual ports)."""

    def __init__(self, midi_map: MidiMap, shared: SharedState, name: str = "explorer", virtual: bool = True,
                 backend_name: Optional[str] = None):
        self.map, self.shared, self.name = midi_map, shared, name
        try:
            self._port = backend(backend_name).open_input(name, virtual=virtual, callback=self._receive)
        except ExplorerError:
            raise
        except Exception as e:   # rtmidi's SystemError, an unknown port name, no ALSA sequencer, no JACK server
            kind = "a virtual MIDI port" if virtual else f"MIDI input {name!r}"
            raise ExplorerError(f"cannot open {kind} ({_first_line(e)})") from None

    def _receive(self, msg: Any) -> None:
        self.map.handle(msg, self.shared)

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> "MidiInput":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
