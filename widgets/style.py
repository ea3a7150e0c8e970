"""Colours and themes the panels share: one per level (coarse / middle / fine), errors, notes."""
from __future__ import annotations

import dearpygui.dearpygui as dpg

LEVEL_COLORS = {
    "coarse": (86, 156, 214),    # blue: pose, face shape
    "middle": (106, 190, 110),   # green: features, hair style
    "fine": (230, 150, 60),      # orange: colour scheme, micro structure
}
SOURCE_COLORS = {"A": (70, 130, 210), "B": (220, 140, 50)}   # the seed browser's frames around A's and B's seeds
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


def error_button_theme() -> int:
    """A button that reads as error text: red letters, no frame until hovered (made once per context)."""
    if "error_button" not in _themes:
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvButton):
                dpg.add_theme_color(dpg.mvThemeCol_Text, ERROR_COLOR)
                dpg.add_theme_color(dpg.mvThemeCol_Button, (0, 0, 0, 0))
                dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (90, 40, 40))
                dpg.add_theme_style(dpg.mvStyleVar_FramePadding, 4, 2)
        _themes["error_button"] = theme
    return _themes["error_button"]


def selected_tab_theme() -> int:
    """The control column's tab button of the group on show: the accent colour of a selected tab."""
    if "selected_tab" not in _themes:
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvButton):
                dpg.add_theme_color(dpg.mvThemeCol_Button, (41, 74, 122))
                dpg.add_theme_color(dpg.mvThemeCol_ButtonHovered, (51, 94, 152))
        _themes["selected_tab"] = theme
    return _themes["selected_tab"]


def source_theme(which: str) -> int:
    """A thumbnail framed in source `which`'s colour ('A' or 'B'; made once per context)."""
    key = f"source.{which}"
    if key not in _themes:
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvImageButton):
                for part in (dpg.mvThemeCol_Button, dpg.mvThemeCol_ButtonHovered, dpg.mvThemeCol_ButtonActive):
                    dpg.add_theme_color(part, SOURCE_COLORS[which])
        _themes[key] = theme
    return _themes[key]


def forget_themes() -> None:
    """Called when the context is destroyed: its theme ids are gone with it."""
    _themes.clear()
