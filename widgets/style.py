"""Colours the panels share: one per level (coarse / middle / fine) and one for errors."""
from __future__ import annotations

import dearpygui.dearpygui as dpg

LEVEL_COLORS = {
    "coarse": (86, 156, 214),    # blue: pose, face shape
    "middle": (106, 190, 110),   # green: features, hair style
    "fine": (230, 150, 60),      # orange: colour scheme, micro structure
}
ERROR_COLOR = (240, 90, 90)
NOTE_COLOR = (240, 200, 80)
DIM_COLOR = (150, 150, 150)

_themes: dict[str, int] = {}


def level_theme(level: str) -> int:
    """A theme that colours a slider's frame and grab by its level (made once per context)."""
    if level not in _themes:
        r, g, b = LEVEL_COLORS[level]
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_color(dpg.mvThemeCol_FrameBg, (r // 4, g // 4, b // 4))
                dpg.add_theme_color(dpg.mvThemeCol_FrameBgHovered, (r // 3, g // 3, b // 3))
                dpg.add_theme_color(dpg.mvThemeCol_FrameBgActive, (r // 2, g // 2, b // 2))
                dpg.add_theme_color(dpg.mvThemeCol_SliderGrab, (r, g, b))
                dpg.add_theme_color(dpg.mvThemeCol_SliderGrabActive, (min(r + 40, 255), min(g + 40, 255), min(b + 40, 255)))
                dpg.add_theme_color(dpg.mvThemeCol_Text, (min(r + 60, 255), min(g + 60, 255), min(b + 60, 255)))
        _themes[level] = theme
    return _themes[level]


def forget_themes() -> None:
    """Called when the context is destroyed: its theme ids are gone with it."""
    _themes.clear()
