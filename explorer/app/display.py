"""Is there an X display to open a window on? Dear PyGui aborts the whole process (SIGABRT) when there is not."""
from __future__ import annotations

import ctypes
import ctypes.util
import os

from explorer.errors import ExplorerError

HINT = "run under xvfb-run (scripts/run-app.sh starts one when there is no display)"


def check_display() -> None:
    """Raise a one-line ExplorerError unless DISPLAY names an X server that accepts a connection."""
    display = os.environ.get("DISPLAY", "")
    if not display:
        raise ExplorerError(f"no display: DISPLAY is not set; {HINT}")
    name = ctypes.util.find_library("X11")
    if name is None:
        return  # cannot probe without libX11; GLFW will say more
    try:
        x11 = ctypes.CDLL(name)
    except OSError:
        return
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = x11.XOpenDisplay(display.encode())
    if not handle:
        raise ExplorerError(f"cannot open display {display!r}; {HINT}")
    x11.XCloseDisplay(handle)
