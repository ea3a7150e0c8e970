"""The app's live controls without the drawing: the shared state that OSC and MIDI write, the OSC listener,
the MIDI port and its bindings, and the bookmarks, for the Live, Bookmarks and Blend panels.

    OSC / MIDI thread --SharedState--> app.frame(): a newer version? app.set_state(it)
    app.set_state(...) --SharedState.set--> OSC 'send on change', MIDI and OSC apply on top of it

A remote change also goes to the render worker at once (app.py), so its frame does not wait for the next UI
frame to be submitted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..errors import ExplorerError
from ..io import load_generator
from ..live.bookmarks import Bookmark, BookmarkList
from ..live.midi import MidiInput, MidiMap
from ..live.osc import OscServer, parse_endpoint
from ..live.session import LiveSession
from ..live.shared import SharedState
from ..nn.blend import check_same_architecture
from ..render.state import RenderState

VIRTUAL_PORT = "explorer"      # the name of the app's own MIDI input when it opens a virtual port


class LiveControl:
    def __init__(self, state: RenderState):
        self.shared = SharedState(state)
        self.osc: Optional[OscServer] = None
        self.midi_map = MidiMap()
        self.midi: Optional[MidiInput] = None
        self.midi_port: Optional[str] = None        # what is open: a port name, or VIRTUAL_PORT
        self.bookmarks = BookmarkList()

    # --- the model ---------------------------------------------------------------------------------------
    def set_model(self, info: Any) -> None:
        """The model on screen changed: addresses now follow its layer table."""
        self.shared.table = None if info is None else info.layer_table

    # --- OSC ---------------------------------------------------------------------------------------------
    def start_osc(self, listen: str, send_to: Optional[str] = None) -> OscServer:
        """Listen on `listen` ('127.0.0.1:9000'); with send_to ('host:port'), send every change there."""
        host, port = parse_endpoint(listen)
        target = parse_endpoint(send_to) if send_to else None
        self.stop_osc()
        self.osc = OscServer(self.shared, host, port, send_to=target)
        return self.osc

    def stop_osc(self) -> None:
        if self.osc is not None:
            self.osc.close()
            self.osc = None

    # --- MIDI --------------------------------------------------------------------------------------------
    def open_midi(self, port: Optional[str] = None) -> None:
        """Open a MIDI input by name, or (None) a virtual port other programs connect to."""
        self.close_midi()
        virtual = port is None or port == VIRTUAL_PORT
        self.midi = MidiInput(self.midi_map, self.shared, name=VIRTUAL_PORT if virtual else port, virtual=virtual)
        self.midi_port = VIRTUAL_PORT if virtual else port

    def close_midi(self) -> None:
        if self.midi is not None:
            self.midi.close()
            self.midi, self.midi_port = None, None

    def learn(self, address: str) -> None:
        """MIDI learn: the next control that moves drives `address` (ControlError if nothing numeric is there)."""
        if self.shared.table is None:
            raise ExplorerError("no model loaded yet")
        self.midi_map.learn(address, self.shared.state, self.shared.table)

    # --- bookmarks ---------------------------------------------------------------------------------------
    def add_bookmark(self, state: RenderState, image: Any) -> int:
        return self.bookmarks.add(Bookmark.capture(state, image))

    # --- blending --------------------------------------------------------------------------------------
    @staticmethod
    def check_blend(first: str, second: str) -> str:
        """The second checkpoint's resolved path once it loads and matches the first's architecture
        (ExplorerError naming the file and the first difference otherwise). Slow: run it off the UI thread."""
        path = str(Path(second).expanduser().resolve())
        check_same_architecture(load_generator(first, device="cpu"), load_generator(path, device="cpu"), first, path)
        return path

    # --- sessions ----------------------------------------------------------------------------------------
    def session(self, state: RenderState) -> LiveSession:
        return LiveSession(state, self.bookmarks.items, self.midi_map.bindings)

    def restore(self, session: LiveSession) -> None:
        """Take a loaded session's bookmarks and MIDI bindings (the state goes through the app)."""
        self.bookmarks = BookmarkList(session.bookmarks)
        self.midi_map.cancel_learn()
        for i in reversed(range(len(self.midi_map.bindings))):
            self.midi_map.remove(i)
        for b in session.midi:
            self.midi_map.bind(b)

    # --- status ------------------------------------------------------------------------------------------
    def status(self) -> str:
        """Counters for the status line ('' when neither OSC nor MIDI is on)."""
        parts = []
        if self.osc is not None:
            parts.append(f"{self.osc.counters.summary()} on {self.osc.address}")
        if self.midi is not None:
            parts.append(self.midi_map.counters.summary())
        learning = self.midi_map.learning
        if learning:
            parts.append(f"MIDI learn: move a control for {learning}")
        return "   |   ".join(parts)

    def close(self) -> None:
        self.stop_osc()
        self.close_midi()
