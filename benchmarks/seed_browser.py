"""How long the seed browser takes to fill a page, in the real window, and what the UI does meanwhile.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/seed_browser.py                  # bundled model
    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/seed_browser.py --resolution 256 --pages 2

Opens the app (the bundled model, or a random-weight config-f generator at --resolution), shows the Seeds
group with a 4x4 page, and turns --pages pages of new seeds (half consecutive, half random), each time timing
from the page turn until its first thumbnail and until all 16 are on screen, with the UI frame times meanwhile
(the thumbnails render on the worker between frames: the UI should keep its frame rate). The anchor, measured
in the same run: the same 16 seeds drawn one at a time by the renderer, as stepping through them with the
arrow keys would (no window).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.bundled import default_checkpoint  # noqa: E402
from explorer.io.native import save_generator  # noqa: E402
from explorer.nn.config import GeneratorConfig  # noqa: E402
from explorer.nn.generator import Generator  # noqa: E402
from explorer.render.renderer import Renderer  # noqa: E402
from explorer.render.state import RenderState, Source  # noqa: E402


def one_at_a_time(ckpt: str, device: str, seeds: list[int]) -> float:
    """Seconds to render `seeds` one frame each with the renderer alone (each a new seed: full synthesis)."""
    renderer = Renderer()
    state = RenderState(checkpoint=ckpt, device=device)
    renderer.render(state.replace(a=Source(seed=10 ** 6)))
    t0 = time.perf_counter()
    for seed in seeds:
        renderer.render(state.replace(a=Source(seed=seed)))
    return time.perf_counter() - t0


def fill(app, turn, timeout: float = 600.0) -> dict:
    """Turn the page with `turn()` and draw UI frames until every thumbnail of it is on screen."""
    browser = app.seeds.browser
    stamps = [time.perf_counter()]
    turn()
    first = None
    while True:
        app.note_input()                   # as if the user were at the window: the full frame-rate cap
        app.frame()
        now = time.perf_counter()
        stamps.append(now)
        if browser.page == app.seeds.page:
            left = len(browser.missing())
            if first is None and left < len(app.seeds.page.seeds):
                first = now - stamps[0]
            if left == 0:
                break
        if now - stamps[0] > timeout:
            sys.exit("the page did not fill")
    dt = np.diff(stamps) * 1000
    return {"all": stamps[-1] - stamps[0], "first": first, "frames": len(dt), "p95": np.percentile(dt, 95),
            "max": dt.max(), "seeds": app.seeds.page.seeds}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution", type=int, default=None, help="a random config-f model (default: the bundled one)")
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from widgets.app import App

    if args.resolution is None:
        ckpt = str(default_checkpoint())
    else:
        torch.manual_seed(0)
        cfg = GeneratorConfig(img_resolution=args.resolution, channel_base=32768, channel_max=512, conv_clamp=256)
        ckpt = str(save_generator(Generator(cfg), os.path.join(tempfile.mkdtemp(), f"f{args.resolution}.safetensors")))
    tmp = tempfile.mkdtemp()
    app = App(checkpoint=ckpt, device=args.device, width=1400, height=900,
              recent_file=os.path.join(tmp, "recent.json"), capture_dir=tmp)
    try:
        result = app.wait_for_render(timeout=600)
        if result is None or result.error:
            sys.exit(f"first render failed: {result and result.error}")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
              f"device {args.device}, load average {os.getloadavg()[0]:.1f}")
        print(f"model {os.path.basename(ckpt)} ({app.info.resolution} px), thumbnails "
              f"{min(app.info.resolution, 128)} px, page 4x4")
        app.layout.select("Seeds")
        fill(app, lambda: app.seeds.go_to(5000))                  # warm-up: the first page
        rows = []
        for k in range(args.pages):
            turn = app.seeds.random_page if k % 2 else (lambda: app.seeds.turn(+1))
            rows.append(fill(app, turn))
        for k, r in enumerate(rows):
            kind = "random" if k % 2 else "next"
            print(f"page {k + 1} ({kind:<6})  first thumbnail {1000 * r['first']:6.0f} ms   all 16 "
                  f"{1000 * r['all']:6.0f} ms   UI frames meanwhile {r['frames']:4d}, p95 {r['p95']:5.1f} ms, "
                  f"worst {r['max']:5.1f} ms", flush=True)
        alls = [r["all"] for r in rows]
        print(f"all 16 thumbnails: median {1000 * np.median(alls):.0f} ms, worst {1000 * max(alls):.0f} ms")
        alone = one_at_a_time(ckpt, args.device, list(rows[-1]["seeds"]))
        print(f"anchor, the same 16 seeds one frame at a time (renderer alone, no window): {1000 * alone:.0f} ms "
              f"({1000 * alone / 16:.1f} ms a seed)")
    finally:
        app.close()


if __name__ == "__main__":
    main()
