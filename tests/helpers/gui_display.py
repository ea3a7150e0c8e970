"""A private X server for GUI tests, and small drivers that act on Dear PyGui items the way a user would.

Xvfb picks a free display number itself (-displayfd), so parallel runs never collide. Dear PyGui cannot make
a second context in one process, so each test module owns at most one in-process App; a module whose App
would be the process's second runs itself in a child pytest process instead (app_or_rerun).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T = TypeVar("T")

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


def drag(app: Any, x0: int, x1: int, y: int, steps: int = 5) -> None:
    """A real left-button drag from (x0, y) to (x1, y) through the X server, drawing frames between events."""
    xdotool("mousemove", str(x0), str(y))
    app.run_frames(2)
    xdotool("mousemove_relative", "--", "1", "0")    # a first motion event, so the press lands on the item
    app.run_frames(2)
    xdotool("mousedown", "1")
    app.run_frames(2)
    for k in range(1, steps + 1):
        xdotool("mousemove", str(x0 + (x1 - x0) * k // steps), str(y))
        app.run_frames(2)
    xdotool("mouseup", "1")
    app.run_frames(3)


def frame(app: Any) -> np.ndarray:
    """The frame of the app's current state once it is on screen and the panels have seen it: float32 HxWx3
    (safe to subtract). Fails on a render error or a frame of an older state."""
    result = app.wait_for_render()
    assert result.error is None, result.error
    assert result.state == app.state
    app.run_frames(1)
    return app.current_image().astype(np.float32)


def projector_app(app: Any, checkpoint: str, captures: str, controls: dict) -> Any:
    """The app on `checkpoint` with seeds 0 (A) and 1 (B), captures in a fresh folder, the photo panels' controls
    set as given (tag -> value), no error showing: where each projector test starts."""
    from explorer.render.state import RenderState, Source

    app.wait_tasks()
    app.set_state(RenderState(checkpoint=checkpoint, device="cpu", a=Source(seed=0), b=Source(seed=1)))
    app.wait_for_render()
    app.capture.set_folder(captures)
    for tag, value in controls.items():
        drive(tag, value)
    app.clear_error()
    app.run_frames(1)
    return app


def app_or_rerun(make_app: Callable[[], T], request: Any, tmp_path_factory: Any) -> T:
    """make_app(), or, when another module's App already holds this process's one Dear PyGui context (a
    whole-suite run), run the requesting test module in a pytest process of its own, once: its tests then
    report here as skipped (all passed in the child) or failed (with the child's report)."""
    try:
        return make_app()
    except RuntimeError as e:
        if "one App per process" not in str(e):
            raise
    import pytest

    module = os.path.abspath(request.module.__file__)
    basetemp = tmp_path_factory.mktemp("child")
    child = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}",
                            module], cwd=ROOT, capture_output=True, text=True, timeout=900)
    summary = (child.stdout.strip().splitlines() or ["no output"])[-1]
    if child.returncode == 0:
        pytest.skip(f"ran in its own process (one Dear PyGui App per process): {summary}")
    pytest.fail(f"in its own process (one Dear PyGui App per process): {summary}\n{child.stdout[-6000:]}"
                f"{child.stderr[-2000:]}", pytrace=False)
