"""Where each panel sits: the control column's groups (a tab each, named for what the user is doing), the panels
in each group and which start open; and how the column and the picture share the window at any size.

    window: | controls (a tab button per group, a scrolling column each) | toolbar / picture / status line |

A new panel is one line in PANELS: its group, its class, the App attribute it is known by, open at start or not.
The app builds, ticks and closes every panel listed here, in this order.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Optional

import dearpygui.dearpygui as dpg

from explorer.errors import ExplorerError

from .blend_panel import BlendPanel
from .bookmarks_panel import BookmarksPanel
from .camera_panel import CameraPanel
from .capture_panel import CapturePanel
from .directions_panel import DirectionsPanel
from .framing_panel import FramingPanel
from .latents_panel import LatentsPanel
from .layer_viewer_panel import LayerViewerPanel
from .live_panel import LivePanel
from .mixing_panel import MixingPanel
from .model_panel import ModelPanel
from .noise_panel import NoisePanel
from .panel import Panel
from .projector_panel import ProjectorPanel
from .record_panel import RecordPanel
from .seeds_panel import SeedsPanel
from .style import selected_tab_theme
from .truncation_panel import TruncationPanel
from .tuning_panel import TuningPanel

if TYPE_CHECKING:
    from .app import App

GROUPS = ("Explore", "Seeds", "Make", "Inspect")    # tabs, left to right; the first is the one shown at start


@dataclasses.dataclass(frozen=True)
class Slot:
    group: str                 # One of GROUPS.
    panel: type[Panel]         # The panel's class; built as panel(app).
    name: str                  # The App attribute it is known by (app.projector).
    open: bool = True          # Its header open at start (the controls a user reaches for most).


PANELS = (
    Slot("Explore", LatentsPanel, "latents"),
    Slot("Explore", TruncationPanel, "truncation"),
    Slot("Explore", MixingPanel, "mixing"),
    Slot("Explore", CameraPanel, "camera"),
    Slot("Explore", DirectionsPanel, "directions", open=False),
    Slot("Explore", NoisePanel, "noise", open=False),
    Slot("Explore", BlendPanel, "blend", open=False),
    Slot("Seeds", SeedsPanel, "seeds"),
    Slot("Seeds", BookmarksPanel, "bookmarks"),
    Slot("Make", CapturePanel, "capture"),
    Slot("Make", RecordPanel, "record"),
    Slot("Make", ProjectorPanel, "projector"),
    Slot("Make", FramingPanel, "framing"),
    Slot("Make", TuningPanel, "tuning", open=False),
    Slot("Make", LivePanel, "live_panel", open=False),
    Slot("Inspect", ModelPanel, "model"),
    Slot("Inspect", LayerViewerPanel, "layer_viewer"),
)

COLUMN_SHARE = 0.3           # of the window's width for the control column...
COLUMN_MIN, COLUMN_MAX = 420, 560   # ...within these bounds, px (420 fits every panel's widest row)
REVEAL_FRAMES = 10           # UI frames reveal() keeps trying to scroll an item into view


def group_named(name: str) -> str:
    """The group a user named (any case); ExplorerError naming the groups for a name that is none of them."""
    group = next((g for g in GROUPS if g.lower() == name.strip().lower()), None)
    if group is None:
        raise ExplorerError(f"no group of controls named {name!r} (the groups: {', '.join(GROUPS)})")
    return group


def column_width(window_width: int) -> int:
    """The control column's width for a window `window_width` px wide."""
    return int(min(max(window_width * COLUMN_SHARE, COLUMN_MIN), COLUMN_MAX))


class Layout:
    """Builds the control column from PANELS and keeps it sized to the window; brings a panel into view."""

    def __init__(self, app: "App"):
        self.app = app
        self.slots: dict[Panel, Slot] = {}
        self.width = 0                                   # the column's width now, px
        self.group = GROUPS[0]                           # the group on show
        self._reveal: Optional[tuple[str, str, str, int]] = None   # (scrolling column, item, its panel's header, frames left)

    def make_panels(self) -> list[Panel]:
        """Every panel of PANELS, each also set as its App attribute."""
        panels = []
        for slot in PANELS:
            panel = slot.panel(self.app)
            setattr(self.app, slot.name, panel)
            self.slots[panel] = slot
            panels.append(panel)
        return panels

    def build(self, width: int) -> None:
        """The control column (inside the current container): a tab button per group above a column of its
        panels, each under its header. (Buttons rather than Dear PyGui's tab bar, which stretches its first tab.)"""
        self.width = column_width(width)
        with dpg.child_window(tag="controls", width=self.width, height=-1, border=False, no_scrollbar=True):
            with dpg.group(horizontal=True, tag="groups"):
                for group in GROUPS:
                    dpg.add_button(tag=f"group.{group}", label=f" {group} ", user_data=group,
                                   callback=lambda s, a, u: self.select(u))
            for group in GROUPS:
                with dpg.child_window(tag=f"controls.{group}", width=-1, height=-1, border=False,
                                      show=group == self.group):
                    for panel, slot in self.slots.items():
                        if slot.group == group:
                            panel.build_section(slot.open)
        self.select(self.group)

    def select(self, group: str) -> None:
        """Show `group`'s column and mark its tab."""
        self.group = group
        for g in GROUPS:
            dpg.configure_item(f"controls.{g}", show=g == group)
            dpg.bind_item_theme(f"group.{g}", selected_tab_theme() if g == group else 0)

    def group_of(self, panel: Panel) -> str:
        return self.slots[panel].group

    def reveal(self, panel: Panel, item: Optional[str] = None) -> None:
        """Show `panel`: its group's tab, its header open, and `item` (default: the header) scrolled into view."""
        group = self.group_of(panel)
        self.select(group)
        dpg.set_value(panel.header, True)
        self._reveal = (f"controls.{group}", item or panel.header, panel.header, REVEAL_FRAMES)

    def tick(self) -> None:
        """Once a frame: follow the window's width; finish a reveal once the item has a place on screen."""
        width = column_width(dpg.get_viewport_client_width())
        if width != self.width:
            self.width = width
            dpg.configure_item("controls", width=width)
        if self._reveal is not None:
            self._scroll_into_view(*self._reveal)

    def _scroll_into_view(self, column: str, item: str, header: str, left: int) -> None:
        """Scroll `column` so that `item` sits near its top, once the item has been laid out (its position
        within the column's content is known a frame after its header opened). The item's place is its panel
        header's plus their distance on screen: get_item_pos is (0, 0) for some items (a drawlist)."""
        scroll, height = dpg.get_y_scroll(column), dpg.get_item_rect_size(column)[1]
        y = dpg.get_item_pos(header)[1] + dpg.get_item_rect_min(item)[1] - dpg.get_item_rect_min(header)[1]
        item_h = dpg.get_item_rect_size(item)[1]
        if dpg.is_item_visible(item) and item_h > 0 and scroll <= y and y + item_h <= scroll + height:
            self._reveal = None
            return
        if item_h > 0:
            dpg.set_y_scroll(column, max(y - 8, 0))      # Dear PyGui clamps it once the content is measured
        self._reveal = (column, item, header, left - 1) if left > 1 else None
