"""A long session of random input in the explorer window: does anything grow, crash or slow down?

    /work/tools/quiet python benchmarks/gui_soak.py                      # 180 s on the bundled generator
    python benchmarks/gui_soak.py --seconds 600 --checkpoint my.pkl      # on a real display, any model

Opens the app (under a private Xvfb when there is no $DISPLAY), then fires random events for --seconds: every
slider, drag box, number box, checkbox and combo of every panel gets random values inside its range (the seed
boxes get fresh seeds, so the renderer meets a new latent on most events), --events-per-frame of them
between two UI frames (drawn at the app's own frame-rate cap, as when a user drags a slider). It
prints events per second, the UI frame rate, renders finished, memory (RSS) after warm-up and at the end with
the high-water mark between, the renderer's cache sizes, and any error the status bar showed. One torch
thread (as the tests use) unless --threads says otherwise.

Buttons are left alone (they open dialogs or start recordings and projections that write files); typed
paths are too. What a soak checks is that input never kills the app and that memory stays flat: before the
renderer's caches were bounded, 75 s of seed changes took its w cache from 4 to 3,667 entries (+150 MB).
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VALUE_ITEMS = ("mvSliderFloat", "mvSliderInt", "mvDragFloat", "mvDragInt", "mvInputInt", "mvInputFloat",
               "mvCheckbox", "mvCombo")
SKIP = re.compile(r"path|dialog|fps|steps|frames|^model\.")   # typed file names, long work, model reloads


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1)) / 1024


def value_items() -> list[tuple[str, str, dict]]:
    """(tag, kind, configuration) of every value widget with a callback, by its string tag."""
    import dearpygui.dearpygui as dpg

    found = []
    for item in dpg.get_all_items():
        alias = dpg.get_item_alias(item)
        kind = dpg.get_item_type(item).split("::")[-1]
        if alias and kind in VALUE_ITEMS and dpg.get_item_callback(item) and not SKIP.search(alias):
            found.append((alias, kind, dpg.get_item_configuration(item)))
    return found


def random_value(kind: str, cfg: dict, rng: random.Random):
    if kind == "mvCheckbox":
        return rng.random() < 0.5
    if kind == "mvCombo":
        items = cfg.get("items") or []
        return rng.choice(items) if items else None
    lo, hi = cfg.get("min_value", 0), cfg.get("max_value", 100)
    if kind in ("mvInputInt", "mvInputFloat") and (lo, hi) in ((0, 100), (0.0, 100.0)) and not cfg.get("min_clamped"):
        lo, hi = 0, 2 ** 32 - 1                      # seed boxes: any seed
    if kind.endswith("Int"):
        return rng.randint(int(lo), int(hi))
    return rng.uniform(float(lo), float(hi))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--warmup", type=float, default=15.0, help="events before the first memory reading (s)")
    ap.add_argument("--checkpoint", default=None, help="generator to explore (default: the bundled one)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--events-per-frame", type=int, default=4, help="random events between two UI frames")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)

    if "DISPLAY" not in os.environ:
        from tests.helpers.gui_display import xvfb
        with xvfb() as display:
            os.environ["DISPLAY"] = display
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    import dearpygui.dearpygui as dpg
    import torch

    from tests.helpers.gui_display import drive
    from widgets.app import App

    tmp = tempfile.mkdtemp()
    app = App(checkpoint=args.checkpoint, device=args.device, recent_file=os.path.join(tmp, "recent.json"),
              capture_dir=tmp)
    rng = random.Random(args.seed)
    try:
        first = app.wait_for_render(timeout=600)
        if first is None or first.error:
            sys.exit(f"first render failed: {first and first.error}")
        items = value_items()
        errors: collections.Counter = collections.Counter()
        counts = {"events": 0, "frames": 0, "renders": 0}
        seen = app.last_frame

        def soak(seconds: float) -> float:
            nonlocal seen
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                for _ in range(args.events_per_frame):
                    tag, kind, cfg = rng.choice(items)
                    value = random_value(kind, dpg.get_item_configuration(tag) if kind == "mvCombo" else cfg, rng)
                    if value is None or not dpg.does_item_exist(tag):
                        continue
                    try:
                        drive(tag, value)
                    except Exception as e:   # the app's own callbacks catch errors; count any that escape
                        errors[f"escaped {type(e).__name__}: {str(e)[:60]}"] += 1
                    counts["events"] += 1
                app.frame()
                counts["frames"] += 1
                if app.last_frame is not seen:
                    seen = app.last_frame
                    counts["renders"] += 1
                if app.last_error:
                    errors[app.last_error[:80]] += 1
                    app.clear_error()
            return time.perf_counter() - t0

        soak(args.warmup)
        start_rss = rss_mb()
        with open("/proc/self/clear_refs", "w") as f:   # VmHWM from here on
            f.write("5")
        for k in counts:
            counts[k] = 0
        elapsed = soak(args.seconds)
        end_rss, peak_rss = rss_mb(), rss_mb("VmHWM")
        renderer = app.engine.renderer
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}; model {os.path.basename(app.info.path)} "
              f"({app.info.resolution} px); {len(items)} value widgets driven")
        print(f"{'soak':<24}{elapsed:8.0f} s")
        print(f"{'events':<24}{counts['events']:8d}   {counts['events'] / elapsed:7.1f} / s")
        print(f"{'UI frames':<24}{counts['frames']:8d}   {counts['frames'] / elapsed:7.1f} fps")
        print(f"{'renders finished':<24}{counts['renders']:8d}   {counts['renders'] / elapsed:7.1f} / s")
        print(f"{'RSS after warm-up':<24}{start_rss:8.0f} MB")
        print(f"{'RSS at the end':<24}{end_rss:8.0f} MB   ({end_rss - start_rss:+.0f} MB)")
        print(f"{'RSS high-water mark':<24}{peak_rss:8.0f} MB")
        print(f"{'w cache':<24}{len(renderer._w_cache):8d}   entries (bound {renderer._w_cache.size})")
        print(f"{'direction sets cached':<24}{len(renderer.directions._sets):8d}")
        print(f"{'app alive':<24}{'yes' if dpg.is_dearpygui_running() else 'NO':>8}")
        for message, n in errors.most_common(8):
            print(f"  status bar x{n}: {message}")
    finally:
        app.close()


if __name__ == "__main__":
    main()
