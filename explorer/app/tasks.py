"""Long work the status bar shows: a name, a fraction done (or None while unknown) and a cancel request.

Any thread may begin, advance or end a task; the UI thread only reads them once a frame. Later panels
(recording, projection) report through the same three calls: app.begin_task, app.set_progress, app.end_task.
Work in a task polls TaskCancel (an Event-like view of the Cancel button) and runs at a lower CPU priority
(yield_cpu), so on a CPU with few cores the frame being dragged keeps its speed.
"""
from __future__ import annotations

import os
import threading
from typing import Optional

BACKGROUND_NICE = 5     # background tasks run this much nicer than the UI and the interactive renderer


class Task:
    def __init__(self, name: str, cancellable: bool = False):
        self.name = name
        self.cancellable = cancellable
        self.progress: Optional[float] = None    # 0..1, None = indeterminate
        self._cancel = threading.Event()

    def set_progress(self, fraction: float) -> None:
        self.progress = min(max(float(fraction), 0.0), 1.0)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """Work loops check this between steps and stop early, leaving valid output."""
        return self._cancel.is_set()


class TaskList:
    """Running tasks, newest last; the status bar shows the newest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: list[Task] = []

    def begin(self, name: str, cancellable: bool = False) -> Task:
        task = Task(name, cancellable)
        with self._lock:
            self._tasks.append(task)
        return task

    def end(self, task: Optional[Task] = None) -> None:
        with self._lock:
            if task is None and self._tasks:
                self._tasks.pop()
            elif task in self._tasks:
                self._tasks.remove(task)

    @property
    def current(self) -> Optional[Task]:
        with self._lock:
            return self._tasks[-1] if self._tasks else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)


class TaskCancel:
    """A Task's cancel request in the shape render_walk and the projector poll (threading.Event's is_set)."""

    def __init__(self, task: Task):
        self.task = task

    def is_set(self) -> bool:
        return self.task.cancelled


def yield_cpu(steps: int = BACKGROUND_NICE) -> None:
    """Make the calling thread, and the torch threads it starts from now on, yield the CPU to the UI and the
    interactive renderer (Linux: a thread's nice value; new threads inherit it). Elsewhere: no effect."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + steps, 19))
    except (AttributeError, OSError):
        pass
