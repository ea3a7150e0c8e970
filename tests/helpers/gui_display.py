"""A private X server for GUI tests, and small drivers that act on Dear PyGui items the way a user would.

Xvfb picks a free display number itself (-displayfd), so parallel runs never collide. Dear PyGui cannot make
a second context in one process, so each test module owns at most one in-process App (or runs the app as a
subprocess).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from typing import Any, Iterator

SCREEN = "1600x1000x24"


@contextmanager
def xvfb(screen: str = SCREEN) -> Iterator[str]:
    """Start Xvfb on a free display; yields its name (':N'); stops it afterwards."""
    if shutil.which("Xvfb") is None:
        import pytest
        pytest.skip("Xvfb is not installed (scripts/setup.sh installs it)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", screen, "-nolisten", "tcp",
                             "+extension", "GLX"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 30
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        chunk = os.read(read_fd, 16)
        if not chunk:
            break
        number += chunk
    os.close(read_fd)
    if not number.strip():
        proc.kill()
        raise RuntimeError("Xvfb did not report a display number")
    try:
        yield f":{number.decode().strip()}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def drive(tag: str, value: Any) -> None:
    """Set an item's value and fire its callback, as Dear PyGui does after a user edit."""
    import dearpygui.dearpygui as dpg
    from widgets.app import invoke

    dpg.set_value(tag, value)
    invoke(dpg.get_item_callback(tag), tag, value, dpg.get_item_user_data(tag))


def click(tag: str) -> None:
    """Press a button."""
    import dearpygui.dearpygui as dpg
    from widgets.app import invoke

    invoke(dpg.get_item_callback(tag), tag, None, dpg.get_item_user_data(tag))


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, env=dict(os.environ), timeout=30)
