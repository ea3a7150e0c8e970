"""OSC latency and flood: from an OSC message arriving to the frame that shows it, on the bundled model.

    python benchmarks/osc_latency.py                      # latency per control, then a 60 s flood
    python benchmarks/osc_latency.py --flood-seconds 10   # a shorter flood

Messages go over real UDP on 127.0.0.1 to an OscServer that writes a SharedState; a display loop at 60 Hz
(the app's frame loop, without the window) submits the newest state to the app's RenderWorker and takes
finished frames. Latency = the frame for a message's state is taken by the loop - the packet arrived.
  latency  one message every --interval s per control (psi: full synthesis; fine mix; one fine noise scale;
           t: interpolation A -> B); median and 95th percentile per control. Target: median < 50 ms.
  flood    --rate messages/s for --flood-seconds s (t sweeping 0..1): frames drawn per second, requests the
           worker dropped as stale, memory (RSS) at the start and end, and whether the last state shown is
           the last message sent.
Threads: torch uses --threads (default 2) on the worker thread.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: E402

from explorer.io import load_generator  # noqa: E402
from explorer.live.osc import OscServer  # noqa: E402
from explorer.live.shared import SharedState  # noqa: E402
from explorer.render.state import RenderState, Source  # noqa: E402
from explorer.render.worker import RenderWorker  # noqa: E402

FRAME_HZ = 60.0


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


class DisplayLoop:
    """The app's frame loop without a window: a change of the shared state is submitted to the worker at
    once (from the thread that made it), and the loop takes finished frames at FRAME_HZ."""

    def __init__(self, shared: SharedState, worker: RenderWorker):
        self.shared, self.worker = shared, worker
        self.shown: dict[int, float] = {}     # state version -> when its frame was taken
        self.frames = 0
        self._lock = threading.Lock()
        self._submitted: dict[int, int] = {}  # request id -> version
        self._stop = threading.Event()
        shared.listeners.append(self._submit)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _submit(self, state: RenderState, version: int) -> None:
        with self._lock:
            self._submitted[self.worker.submit(state)] = version

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            result = self.worker.take()
            if result is not None and result.image is not None:
                self.frames += 1
                with self._lock:
                    self.shown[self._submitted.pop(result.request_id, -1)] = time.perf_counter()
                    self._submitted = {k: v for k, v in self._submitted.items() if k > result.request_id}
            time.sleep(max(0.0, 1 / FRAME_HZ - (time.perf_counter() - t0)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def wait_applied(server: OscServer, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while server.counters.applied < count:
        if time.monotonic() > deadline:
            raise TimeoutError("OSC message not applied")
        time.sleep(0.0005)


def latency(server: OscServer, loop: DisplayLoop, sock: socket.socket, address: str, values: list[float],
            interval: float) -> list[float]:
    out = []
    for v in values:
        before = server.counters.applied
        sock.sendto(message(address, v), (server.host, server.port))
        wait_applied(server, before + 1)
        arrived, version = server.counters.last_applied_at, server.counters.last_applied_version
        deadline = time.monotonic() + 10
        while version not in loop.shown:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no frame for {address} {v}")
            time.sleep(0.0005)
        out.append((loop.shown[version] - arrived) * 1000)
        time.sleep(interval)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100, help="latency samples per control")
    ap.add_argument("--interval", type=float, default=0.05, help="seconds between latency messages")
    ap.add_argument("--rate", type=float, default=1000, help="flood messages per second")
    ap.add_argument("--flood-seconds", type=float, default=60)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    G = load_generator(None, device="cpu")
    table = G.layer_table
    fine = table.level_indices("fine")
    noise_fine = max(i for i, c in enumerate(table.noise_layers) if c.resolution == G.img_resolution)
    shared = SharedState(RenderState(device="cpu", a=Source(seed=1), b=Source(seed=2)), table)
    worker = RenderWorker()
    loop = DisplayLoop(shared, worker)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with OscServer(shared, port=0) as server:
        sock.sendto(message("/explorer/psi", 0.99), (server.host, server.port))   # load the model, warm caches
        wait_applied(server, 1)
        deadline = time.monotonic() + 60
        while server.counters.last_applied_version not in loop.shown and time.monotonic() < deadline:
            time.sleep(0.01)

        vals = [0.2 + 0.8 * ((k * 7) % 20) / 19 for k in range(args.messages)]
        controls = {
            "psi (full synthesis)": ("/explorer/psi", vals),
            f"fine mix (w {fine[0]})": (f"/explorer/mix/{fine[0]}", [v - 0.2 for v in vals]),
            f"fine noise (layer {noise_fine})": (f"/explorer/noise_scales/{noise_fine}", [2 * v - 0.4 for v in vals]),
            "t (A -> B)": ("/explorer/t", [v - 0.2 for v in vals]),
        }
        print(f"OSC latency, bundled model ({G.img_resolution} px), {args.threads} torch threads, "
              f"display loop at {FRAME_HZ:g} Hz, {args.messages} messages per control")
        print(f"{'control':<26} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
        for name, (address, values) in controls.items():
            ms = sorted(latency(server, loop, sock, address, values, args.interval))
            p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
            print(f"{name:<26} {statistics.median(ms):>10.1f} {p95:>8.1f} {ms[-1]:>8.1f}")
        print("target: median < 50 ms")

        n = int(args.rate * args.flood_seconds)
        frames0, dropped0, applied0, rss0 = loop.frames, worker.dropped, server.counters.applied, rss_mb()
        rss_mid = None
        t0 = time.perf_counter()
        for k in range(n):
            target = t0 + k / args.rate
            while time.perf_counter() < target:
                pass
            sock.sendto(message("/explorer/t", (k % 1000) / 999), (server.host, server.port))
            if k == n // 2:
                rss_mid = rss_mb()
        elapsed = time.perf_counter() - t0
        last_value = ((n - 1) % 1000) / 999
        time.sleep(0.5)
        final = shared.state
        wait_idle = worker.wait_idle(30)
        time.sleep(0.2)
        frames = loop.frames - frames0
        last_shown = max(loop.shown) if loop.shown else -1
        print(f"\nflood: {n} messages in {elapsed:.1f} s ({n / elapsed:.0f}/s)")
        print(f"  applied {server.counters.applied - applied0}, bad {server.counters.bad_total}")
        print(f"  frames drawn {frames} ({frames / elapsed:.1f}/s), stale requests dropped by the worker "
              f"{worker.dropped - dropped0}")
        print(f"  RSS MB: start {rss0:.0f}, middle {rss_mid:.0f}, end {rss_mb():.0f}")
        print(f"  newest state kept: t = {final.t:.4f} (last sent {last_value:.4f}); its frame shown: "
              f"{last_shown == shared.version and wait_idle}")
    loop.close()
    worker.close()


if __name__ == "__main__":
    main()
