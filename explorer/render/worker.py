"""RenderWorker: a background thread that owns the Renderer, so the UI never waits on torch.

submit() never blocks: it replaces any request not yet started (the latest state wins, stale ones are
dropped). Each result carries the state it was rendered from, the time it took and any error; a failing
render reports its error and the worker keeps serving.

Between frames the worker runs one background job (submit_idle: the seed browser's thumbnails). The job asks
`frame_waiting()` between its steps and raises Preempted when a frame is waiting: the frame renders first, and
the job runs again after it, until it returns. So a frame never waits longer than one step of the job.
"""
from __future__ import annotations

import dataclasses
import threading
import time
import traceback
from typing import Callable, Optional

import numpy as np

from ..errors import ExplorerError, one_line
from .renderer import Renderer, RenderStats
from .state import RenderState


IdleJob = Callable[[Callable[[], bool]], None]     # job(frame_waiting)


class Preempted(Exception):
    """Raised by an idle job that stopped because a frame is waiting; it runs again once the frame is done."""


@dataclasses.dataclass
class RenderResult:
    state: RenderState
    request_id: int
    image: Optional[np.ndarray]        # [H, W, 3] uint8, None on error
    seconds: float
    error: Optional[str] = None        # one line a user can read
    stats: Optional[RenderStats] = None


class RenderWorker:
    def __init__(self, renderer: Optional[Renderer] = None, on_result: Optional[Callable[[RenderResult], None]] = None):
        self.renderer = renderer or Renderer()
        self.on_result = on_result
        self._cond = threading.Condition()
        self._pending: Optional[tuple[int, RenderState]] = None
        self._idle_job: Optional[IdleJob] = None
        self._latest: Optional[RenderResult] = None
        self._next_id = 0
        self._busy = False
        self._stop = False
        self.dropped = 0                      # requests replaced before they started
        self._thread = threading.Thread(target=self._run, name="render-worker", daemon=True)
        self._thread.start()

    def submit(self, state: RenderState) -> int:
        """Queue a render of `state`; returns its request id. Never blocks on rendering."""
        with self._cond:
            self._next_id += 1
            if self._pending is not None:
                self.dropped += 1
            self._pending = (self._next_id, state)
            self._cond.notify()
            return self._next_id

    def submit_idle(self, job: Optional[IdleJob]) -> None:
        """Run `job(frame_waiting)` on the worker thread whenever no frame is pending; it replaces a job not yet
        finished (None: drop it). Never blocks."""
        with self._cond:
            self._idle_job = job
            self._cond.notify()

    def _frame_waiting(self) -> bool:
        with self._cond:
            return self._pending is not None or self._stop

    def latest(self) -> Optional[RenderResult]:
        """The newest finished result (None before the first)."""
        with self._cond:
            return self._latest

    def take(self) -> Optional[RenderResult]:
        """The newest finished result, once: later calls give None until another finishes."""
        with self._cond:
            r, self._latest = self._latest, None
            return r

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy or self._pending is not None

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until nothing is pending or rendering (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy or self._pending is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and self._idle_job is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                job = self._idle_job if self._pending is None else None
                if job is None:
                    request_id, state = self._pending
                    self._pending = None
                    self._busy = True
            if job is not None:
                self._run_idle(job)
                continue
            t0 = time.perf_counter()
            try:
                image = self.renderer.render(state)
                result = RenderResult(state, request_id, image, time.perf_counter() - t0,
                                      stats=dataclasses.replace(self.renderer.stats))
            except (ExplorerError, ValueError) as e:   # the same line the CLI prints for it
                result = RenderResult(state, request_id, None, time.perf_counter() - t0, error=one_line(e))
            except Exception as e:  # keep serving whatever went wrong, but say what it was
                traceback.print_exc()
                result = RenderResult(state, request_id, None, time.perf_counter() - t0, error=one_line(e))
            with self._cond:
                self._latest = result
                self._busy = False
                self._cond.notify_all()
            if self.on_result is not None:
                try:
                    self.on_result(result)
                except Exception:
                    traceback.print_exc()

    def _run_idle(self, job: IdleJob) -> None:
        try:
            job(self._frame_waiting)
        except Preempted:
            return                    # kept: it runs again after the frame
        except Exception:             # the job reports its own errors; this is a bug in it
            traceback.print_exc()
        with self._cond:
            if self._idle_job is job:
                self._idle_job = None
