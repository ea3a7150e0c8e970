"""SharedState: the one RenderState that the app, OSC and MIDI all write, from their own threads.

    OSC thread ─┐
    MIDI thread ─┼─ update(fn) ──> state, version += 1 ──> listeners (send the change out over OSC)
    UI thread ──┘                         │
                                          └──> the app, once per frame: a newer version? render that state

Writers never queue: each update replaces the state, so a flood of messages costs one render per UI frame
(the newest state wins) and no memory grows. An update that raises leaves the state as it was.
"""
from __future__ import annotations

import threading
import traceback
from typing import Callable, Optional

from ..nn.layer_table import LayerTable
from ..render.state import RenderState

Listener = Callable[[RenderState, int], None]


class SharedState:
    def __init__(self, state: RenderState, table: Optional[LayerTable] = None):
        self._cond = threading.Condition()
        self._state = state
        self._version = 0
        self.table = table                      # the model's layer table (None until a model is loaded)
        self.listeners: list[Listener] = []     # told of each change, on the changing thread, outside the lock

    @property
    def state(self) -> RenderState:
        with self._cond:
            return self._state

    @property
    def version(self) -> int:
        with self._cond:
            return self._version

    def get(self) -> tuple[RenderState, int]:
        """(state, version) read together."""
        with self._cond:
            return self._state, self._version

    def set(self, state: RenderState) -> bool:
        """Make `state` current; False (and no new version) when it equals the current one."""
        return self.update(lambda _: state) is not None

    def update(self, change: Callable[[RenderState], RenderState]) -> Optional[RenderState]:
        """Apply change(current) atomically; returns the new state, or None when it changed nothing.
        An exception from `change` propagates and the state stays as it was."""
        with self._cond:
            new = change(self._state)
            if new == self._state:
                return None
            self._state = new
            self._version += 1
            version = self._version
            self._cond.notify_all()
        for listener in list(self.listeners):
            try:
                listener(new, version)
            except Exception:   # a listener (a network send) must never undo or block a change
                traceback.print_exc()
        return new

    def wait_newer(self, version: int, timeout: float) -> bool:
        """Block until the version passes `version` (for scripts, tests and benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._version > version, timeout)
