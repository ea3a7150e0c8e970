"""File dialogs that hand one chosen path to a callback (every dialog also has a path box beside it)."""
from __future__ import annotations

from typing import Callable, Sequence

import dearpygui.dearpygui as dpg


def file_dialog(tag: str, extensions: Sequence[tuple[str, str]], on_pick: Callable[[str], None],
                label: str = "Choose a file") -> None:
    """A hidden dialog; extensions are (filter, label) pairs like ('.npz', 'w / w+ arrays')."""

    def picked(sender, app_data) -> None:
        selections = list((app_data or {}).get("selections", {}).values())
        path = selections[0] if selections else (app_data or {}).get("file_path_name", "")
        if path:
            on_pick(path)

    with dpg.file_dialog(tag=tag, label=label, show=False, modal=True, width=720, height=440, callback=picked):
        for ext, text in extensions:
            dpg.add_file_extension(ext, custom_text=text)
        dpg.add_file_extension(".*", custom_text="all files")


def show(tag: str) -> None:
    dpg.show_item(tag)
