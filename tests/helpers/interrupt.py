"""Run a command line as a user would and press Ctrl+C once its progress bar shows something."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def ctrl_c_after(args: list[str], marker: str, timeout: float = 120) -> tuple[int, str]:
    """Start `python -m explorer.cli ARGS`, wait until stderr shows `marker` (a tqdm count), send SIGINT once;
    (exit status, stdout)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "explorer.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
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
