"""Keyboard shortcuts: arrows step seed A, space toggles the animation, B bookmarks the frame, Ctrl+S saves it.

Polled once per UI frame from Dear PyGui's key state rather than through key handlers: with manual
callback management a handler runs a frame late, when Ctrl may already be up again. Ignored while a text or
number box has the keyboard, so typing a path never changes the seed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

if TYPE_CHECKING:
    from .app import App

SEED_KEYS = {dpg.mvKey_Right: +1, dpg.mvKey_Up: +1, dpg.mvKey_Left: -1, dpg.mvKey_Down: -1}
CTRL_KEYS = (dpg.mvKey_ModCtrl, dpg.mvKey_LControl, dpg.mvKey_RControl)
KEYS = (*SEED_KEYS, dpg.mvKey_Spacebar, dpg.mvKey_S, dpg.mvKey_B)


def poll(app: "App") -> bool:
    """Act on the shortcut keys pressed in the last frame (held arrows repeat); True if any was pressed."""
    pressed = [k for k in KEYS if dpg.is_key_pressed(k)]
    if pressed:
        ctrl = any(dpg.is_key_down(k) for k in CTRL_KEYS)
        for key in pressed:
            handle_key(app, key, ctrl)
    return bool(pressed)


def handle_key(app: "App", key: int, ctrl: bool) -> bool:
    """Act on one key press; True when it was a shortcut."""
    if app.typing():
        return False
    if ctrl and key == dpg.mvKey_S:
        app.capture.save_image()
        return True
    if ctrl:
        return False
    if key in SEED_KEYS:
        app.set_seed("a", app.state.a.seed + SEED_KEYS[key])
        return True
    if key == dpg.mvKey_Spacebar:
        app.set_animating(not app.animating)
        return True
    if key == dpg.mvKey_B:
        app.bookmarks.add()
        return True
    return False
