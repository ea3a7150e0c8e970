"""OSC latency and flood: from an OSC message arriving to the frame that shows it, on the bundled model.

    python benchmarks/osc_latency.py                      # the app's window (Xvfb): latency, then a 60 s flood
    python benchmarks/osc_latency.py --frontend loop      # no window: a 60 Hz loop that takes the worker's frames
    python benchmarks/osc_latency.py --flood-seconds 10   # a shorter flood

Messages go over real UDP on 127.0.0.1 to the OscServer. With --frontend app (default) it is the real App
(`explorer gui --osc`) in a private Xvfb, driven frame by frame on the main thread: a frame counts as shown
when App.frame() has drawn it (texture uploaded, Dear PyGui's frame rendered). With --frontend loop, a
stand-in loop at 60 Hz takes the RenderWorker's frames. Latency = shown - the packet arrived at the server.
  latency  one message every --interval s per control (psi: full synthesis; fine mix; one fine noise scale;
           t: interpolation A -> B); median and 95th percentile per control. Target: median < 50 ms.
  flood    --rate messages/s for --flood-seconds s from another process (t sweeping 0..1): frames shown per
           second, messages lost, requests the worker dropped as stale, memory (RSS) at the start, middle and
           end, and whether the last frame shown is the last message's state.
Threads: torch uses --threads (default 2) on the render worker.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: E402

from explorer.render.state import RenderState, Source  # noqa: E402

FRAME_HZ = 60.0
FLOOD_SENDER = """
import socket, sys, time
from pythonosc.osc_message_builder import OscMessageBuilder
host, port, n, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.perf_counter()
for k in range(n):
    if k % 10 == 0:
        time.sleep(max(0.0, t0 + k / rate - time.perf_counter()))
    b = OscMessageBuilder("/explorer/t")
    b.add_arg((k % 1000) / 999)
    sock.sendto(b.build().dgram, (host, port))
print(time.perf_counter() - t0)
"""


def message(address: str, value: float) -> bytes:
    b = OscMessageBuilder(address)
    b.add_arg(float(value))
    return b.build().dgram


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Frontend:
    """Something that shows frames: tells the sender when a given state is on screen."""

    def __init__(self) -> None:
        self.frames = 0
        self.frame_ms: list[float] = []     # UI frames: how long each took to draw
        self.render_ms: list[float] = []    # frames shown: how long each took to render
        self._lock = threading.Lock()
        self._pending: Optional[tuple[RenderState, float, threading.Event, list]] = None
        self._last: Optional[RenderState] = None

    def expect(self, state: RenderState, arrived: float) -> tuple[threading.Event, list]:
        """Sender thread: the returned event is set, and the list gets the latency, once `state` is shown."""
        done, out = threading.Event(), []
        with self._lock:
            if self._last == state:                    # shown already (counted from now: an overestimate)
                out.append(time.perf_counter() - arrived)
                done.set()
            else:
                self._pending = (state, arrived, done, out)
        return done, out

    def shown(self, state: RenderState) -> None:
        """A frame of `state` is now on screen."""
        self.frames += 1
        with self._lock:
            self._last = state
            p = self._pending
            if p is not None and p[0] == state:
                p[3].append(time.perf_counter() - p[1])
                p[2].set()
                self._pending = None


class AppFrontend(Frontend):
    """The real App, driven on the main thread until the sender is done."""

    def __init__(self, app) -> None:
        super().__init__()
        self.app = app
        self._last_id = -1

    def run_until(self, finished: Callable[[], bool]) -> None:
        import dearpygui.dearpygui as dpg

        draw = dpg.render_dearpygui_frame
        timed: list[float] = []

        def timed_draw() -> None:      # the draw alone, not the frame-rate cap's sleep
            t0 = time.perf_counter()
            draw()
            timed.append((time.perf_counter() - t0) * 1000)

        dpg.render_dearpygui_frame = timed_draw
        try:
            while not finished():
                self.app.frame()
                r = self.app.last_frame
                if r is not None and r.request_id != self._last_id:
                    self._last_id = r.request_id
                    self.render_ms.append(r.seconds * 1000)
                    self.shown(r.state)
        finally:
            dpg.render_dearpygui_frame = draw
            self.frame_ms = timed


class LoopFrontend(Frontend):
    """The app's frame loop without a window: a change goes to the worker at once (as in the app), the loop
    takes finished frames at FRAME_HZ."""

    def __init__(self, shared, worker) -> None:
        super().__init__()
        self.worker = worker
        shared.listeners.append(lambda state, version: worker.submit(state))

    def run_until(self, finished: Callable[[], bool]) -> None:
        while not finished():
            t0 = time.perf_counter()
            r = self.worker.take()
            if r is not None and r.image is not None:
                self.shown(r.state)
            time.sleep(max(0.0, 1 / FRAME_HZ - (time.perf_counter() - t0)))


def wait_applied(server, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while server.counters.applied < count:
        if time.monotonic() > deadline:
            raise TimeoutError("OSC message not applied")
        time.sleep(0.0005)


def measure(server, shared, front: Frontend, worker, G, args, report: list[str]) -> None:
    """The sender thread: latency per control, then the flood; lines go to `report`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = (server.host, server.port)

    def send_and_wait(address: str, value: float) -> float:
        before = server.counters.applied
        sock.sendto(message(address, value), target)
        wait_applied(server, before + 1)
        done, out = front.expect(shared.state, server.counters.last_applied_at)
        if not done.wait(30):
            raise TimeoutError(f"no frame for {address} {value}")
        return out[0] * 1000

    table = G.layer_table
    fine = table.level_indices("fine")
    noise_fine = max(i for i, c in enumerate(table.noise_layers) if c.resolution == G.img_resolution)
    send_and_wait("/explorer/psi", 0.99)        # the first frame: model loaded, caches warm
    vals = [0.2 + 0.8 * ((k * 7) % 20) / 19 for k in range(args.messages)]
    controls = {
        "psi (full synthesis)": ("/explorer/psi", vals),
        f"fine mix (w {fine[0]})": (f"/explorer/mix/{fine[0]}", [v - 0.2 for v in vals]),
        f"fine noise (layer {noise_fine})": (f"/explorer/noise_scales/{noise_fine}", [2 * v - 0.4 for v in vals]),
        "t (A -> B)": ("/explorer/t", [v - 0.2 for v in vals]),
    }
    report.append(f"OSC latency, bundled model ({G.img_resolution} px), frontend {args.frontend}, "
                  f"{args.threads} torch threads, {args.messages} messages per control, one every {args.interval} s")
    report.append(f"{'control':<26} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, (address, values) in controls.items():
        ms = []
        for v in values:
            ms.append(send_and_wait(address, v))
            time.sleep(args.interval)
        ms.sort()
        p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
        report.append(f"{name:<26} {statistics.median(ms):>10.1f} {p95:>8.1f} {ms[-1]:>8.1f}")
    report.append("target: median < 50 ms")

    n = int(args.rate * args.flood_seconds)
    frames0, dropped0, applied0, rss0 = front.frames, worker.dropped, server.counters.applied, rss_mb()
    # The flood comes from another process, as from another program: paced in 10 ms bursts (no busy wait).
    flood = subprocess.Popen([sys.executable, "-c", FLOOD_SENDER, server.host, str(server.port), str(n), str(args.rate)],
                             stdout=subprocess.PIPE, text=True)
    time.sleep(args.flood_seconds / 2)
    rss_mid = rss_mb()
    elapsed = float(flood.communicate(timeout=args.flood_seconds * 3 + 60)[0].strip() or "nan")
    received = -1
    while server.counters.received != received:      # until the server has taken all that reached it
        received = server.counters.received
        time.sleep(1.0)
    got = server.counters.applied - applied0
    last = shared.state
    done, _ = front.expect(last, time.perf_counter())
    last_shown = done.wait(30)
    frames = front.frames - frames0
    report.append(f"\nflood: {n} messages in {elapsed:.1f} s ({n / elapsed:.0f}/s) while drawing")
    report.append(f"  applied {got} ({n - got} lost: dropped by the kernel before the server read them), "
                  f"bad {server.counters.bad_total}")
    report.append(f"  frames shown {frames} ({frames / elapsed:.1f}/s); stale requests the worker dropped "
                  f"{worker.dropped - dropped0}")
    report.append(f"  RSS MB: start {rss0:.0f}, middle {rss_mid:.0f}, end {rss_mb():.0f}")
    report.append(f"  newest state: t = {last.t:.4f}, last sent {((n - 1) % 1000) / 999:.4f}; its frame shown: {last_shown}")
    sock.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frontend", choices=("app", "loop"), default="app")
    ap.add_argument("--messages", type=int, default=100, help="latency samples per control")
    ap.add_argument("--interval", type=float, default=0.05, help="seconds between latency messages")
    ap.add_argument("--rate", type=float, default=1000, help="flood messages per second")
    ap.add_argument("--flood-seconds", type=float, default=60)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    state = RenderState(device="cpu", a=Source(seed=1), b=Source(seed=2))
    report: list[str] = []
    errors: list[BaseException] = []
    finished = threading.Event()

    def sender(server, shared, front, worker, G) -> None:
        try:
            measure(server, shared, front, worker, G, args, report)
        except BaseException as e:   # reported by the main thread
            errors.append(e)
        finally:
            finished.set()

    with contextlib.ExitStack() as stack:
        if args.frontend == "app":
            from tests.helpers.gui_display import xvfb
            os.environ["DISPLAY"] = stack.enter_context(xvfb())
            from widgets.app import App
            app = App(state=state, width=1280, height=800)
            stack.callback(app.close)
            app.wait_for_render(timeout=300)
            server = app.live.start_osc("127.0.0.1:0")
            shared, worker, G = app.live.shared, app.worker, app.engine.renderer.generator
            front: Frontend = AppFrontend(app)
        else:
            from explorer.live.osc import OscServer
            from explorer.live.shared import SharedState
            from explorer.render.worker import RenderWorker
            worker = RenderWorker()
            stack.callback(worker.close)
            G = worker.renderer.model_for(state).G
            shared = SharedState(state, G.layer_table)
            server = stack.enter_context(OscServer(shared, port=0))
            front = LoopFrontend(shared, worker)
        thread = threading.Thread(target=sender, args=(server, shared, front, worker, G), daemon=True)
        thread.start()
        front.run_until(finished.is_set)
        thread.join()
    if errors:
        raise errors[0]
    if front.frame_ms:
        report.append(f"  the window: drawing one UI frame (Dear PyGui, Mesa software GL under Xvfb) took "
                      f"{statistics.median(front.frame_ms):.1f} ms median")
    if front.render_ms:
        report.append(f"  rendering a frame shown took {statistics.median(front.render_ms):.1f} ms median")
    print("\n".join(report))


if __name__ == "__main__":
    main()
