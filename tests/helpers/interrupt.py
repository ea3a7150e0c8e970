"""Run a command line as a user would and press Ctrl+C once it shows progress.

A user presses Ctrl+C at a command running in the foreground of a terminal, where SIGINT has its default
action. A test suite started in the background by a script (`pytest ... &`, nohup, some CI runners) has SIGINT
ignored, and a process inherits an ignored SIGINT across exec: Python then never raises KeyboardInterrupt, and
a command that relies on it (explorer video) runs to the end as if nobody had pressed anything. So the command
is always started with SIGINT at its default action, as in a terminal.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time


def start_cli(args: list[str], **popen_kwargs) -> subprocess.Popen:
    """`python -m explorer.cli ARGS` (one torch thread) with SIGINT at its default action, as in a terminal."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "explorer.cli", *args]
    ignored = (threading.current_thread() is threading.main_thread()
               and signal.getsignal(signal.SIGINT) == signal.SIG_IGN)
    if not ignored:
        return subprocess.Popen(cmd, env=env, **popen_kwargs)
    # exec resets a handled signal to its default action but keeps an ignored one ignored: handle it here
    # for the moment of the fork (signals are process-wide, so only the main thread may do this).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(cmd, env=env, **popen_kwargs)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def ctrl_c_after(args: list[str], marker: str, timeout: float = 120) -> tuple[int, str]:
    """Start `python -m explorer.cli ARGS`, wait until stderr shows `marker` (a tqdm count), send SIGINT once;
    (exit status, stdout)."""
    proc = start_cli(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + timeout
        buf = ""
        while time.time() < deadline and marker not in buf:
            chunk = os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
            if not chunk:
                break
            buf += chunk
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, stdout
