"""Peak resident memory of this process while a block runs, in MB above what it held when the block began.

Linux keeps the high-water mark (VmHWM) and lets a process reset it to the current RSS by writing 5 to
/proc/self/clear_refs; where that is not allowed, a thread samples VmRSS every millisecond instead.
"""
from __future__ import annotations

import re
import threading
import time


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1))


def _can_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """with PeakMemory() as m: ...; m.mb is the peak RSS growth during the block."""

    def __enter__(self) -> "PeakMemory":
        self.mb = 0.0
        self._reset = _can_reset()
        self._base = _status("VmRSS")
        if not self._reset:
            self._peak, self._stop = self._base, threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _status("VmRSS"))
            time.sleep(0.001)

    def __exit__(self, *exc) -> None:
        if self._reset:
            peak = _status("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._peak, _status("VmRSS"))
        self.mb = max(0, peak - self._base) / 1024
