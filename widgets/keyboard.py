"""Keyboard shortcuts, one table: which keys, what the help window says they do, and what they do.

Polled once per UI frame from Dear PyGui's key state rather than through key handlers: with manual
callback management a handler runs a frame late, when Ctrl may already be up again. Ignored while a text or
number box has the keyboard, so typing a path never changes the seed.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

import dearpygui.dearpygui as dpg

if TYPE_CHECKING:
    from .app import App

CTRL_KEYS = (dpg.mvKey_ModCtrl, dpg.mvKey_LControl, dpg.mvKey_RControl)
SEED_STEPS = {dpg.mvKey_Right: +1, dpg.mvKey_Up: +1, dpg.mvKey_Left: -1, dpg.mvKey_Down: -1}
PAGE_UP, PAGE_DOWN = 517, 518      # Dear ImGui's key codes (Dear PyGui 2's mvKey_Prior / mvKey_Next are stale ones)
PAGE_STEPS = {PAGE_DOWN: +1, PAGE_UP: -1}


@dataclasses.dataclass(frozen=True)
class Shortcut:
    keys: tuple[int, ...]                     # Dear PyGui key codes; any of them.
    label: str                                # The keys as the help window names them.
    does: str                                 # What they do, for the help window.
    act: Callable[["App", int], None]         # act(app, the key pressed).
    ctrl: bool = False                        # Only with Ctrl held (and then only this one).


def _bookmark(app: "App", key: int) -> None:
    if not app.seeds.bookmark_hovered():      # over a thumbnail: that seed; else the frame on screen
        app.bookmarks.add()


SHORTCUTS = (
    Shortcut(tuple(SEED_STEPS), "Left / Right  (Down / Up)", "seed A - 1 / + 1",
             lambda app, key: app.set_seed("a", app.state.a.seed + SEED_STEPS[key])),
    Shortcut(tuple(PAGE_STEPS), "PgUp / PgDn", "the seed browser's previous / next page",
             lambda app, key: app.seeds.turn(PAGE_STEPS[key])),
    Shortcut((dpg.mvKey_Spacebar,), "Space", "animate A -> B on / off",
             lambda app, key: app.set_animating(not app.animating)),
    Shortcut((dpg.mvKey_B,), "B", "bookmark the frame (over a seed browser thumbnail: that seed)", _bookmark),
    Shortcut((dpg.mvKey_S,), "Ctrl+S", "save the image (in the capture folder)",
             lambda app, key: app.capture.save_image(), ctrl=True),
    Shortcut((dpg.mvKey_F1, dpg.mvKey_Slash), "F1 / ?", "this help: the keys, the mouse, every control",
             lambda app, key: app.help.toggle()),
)
KEYS = tuple(k for s in SHORTCUTS for k in s.keys)


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
    shortcut = next((s for s in SHORTCUTS if key in s.keys and s.ctrl == ctrl), None)
    if shortcut is None:
        return False
    shortcut.act(app, key)
    return True
