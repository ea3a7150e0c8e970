"""Long work the status bar shows: a name, a fraction done (or None while unknown) and a cancel request.

Any thread may begin, advance or end a task; the UI thread only reads them once a frame. Later panels
(recording, projection) report through the same three calls: app.begin_task, app.set_progress, app.end_task.
"""
from __future__ import annotations

import threading
from typing import Optional


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
