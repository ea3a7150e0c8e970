"""UI frame rate of the explorer window while the renderer works flat out on the CPU.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/gui_fps.py            # config-f 256 px
    python benchmarks/gui_fps.py --seconds 30 --fps-limit 0 --checkpoint my.pkl       # on a real display

Opens the app on a random-weight config-f generator (base 32768, max 512) at --resolution, switches the
A -> B animation on (so every UI frame asks for a new render: the worker never idles), and prints
the UI frame rate (mean, 50th / 95th percentile and worst frame time) and the renders finished meanwhile
(compare their ms with the renderer alone, without a window: the UI's drawing shares the CPU):
  renderer idle, input     baseline: only the UI works
  rendering, input         as if the user dragged a slider the whole time (full frame-rate cap)
  rendering, no input      the app drops to its idle cap, leaving the CPU to the renderer
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

from explorer.io.native import save_generator  # noqa: E402
from explorer.nn.config import GeneratorConfig  # noqa: E402
from explorer.nn.generator import Generator  # noqa: E402
from explorer.render.renderer import Renderer  # noqa: E402
from explorer.render.state import RenderState  # noqa: E402


def measure(app, seconds: float, interacting: bool) -> dict:
    """Run the UI loop for `seconds`; frame times and the renders that finished meanwhile.

    interacting: count every frame as user input (as while dragging a slider), which keeps the app at its
    full frame-rate cap; otherwise it drops to its idle cap.
    """
    stamps, renders, seen = [], [], app.last_frame
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if interacting:
            app.note_input()
        app.frame()
        stamps.append(time.perf_counter())
        if app.last_frame is not seen:
            seen = app.last_frame
            renders.append(seen.seconds)
    dt = np.diff(stamps) * 1000
    return {"fps": (len(stamps) - 1) / (stamps[-1] - stamps[0]), "p50": np.percentile(dt, 50),
            "p95": np.percentile(dt, 95), "max": dt.max(), "renders": renders}


def render_alone(ckpt: str, device: str, n: int = 3) -> float:
    """Seconds per full render with no window at all (the animation's kind of change: t moves)."""
    renderer = Renderer()
    state = RenderState(checkpoint=ckpt, device=device)
    renderer.render(state.replace(t=0.05))
    t0 = time.perf_counter()
    for k in range(n):
        renderer.render(state.replace(t=0.1 + 0.1 * k))
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--checkpoint", default=None, help="measure this checkpoint instead of a random config-f one")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--fps-limit", type=float, default=60.0, help="the app's UI frame-rate cap (0 = none)")
    ap.add_argument("--idle-fps", type=float, default=None, help="the app's cap without input (default: its own)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from widgets.app import App

    ckpt = args.checkpoint
    if ckpt is None:
        torch.manual_seed(0)
        cfg = GeneratorConfig(img_resolution=args.resolution, channel_base=32768, channel_max=512, conv_clamp=256)
        ckpt = str(save_generator(Generator(cfg), os.path.join(tempfile.mkdtemp(), f"f{args.resolution}.safetensors")))
    alone = render_alone(ckpt, args.device)
    tmp = tempfile.mkdtemp()
    idle = {} if args.idle_fps is None else {"idle_fps": args.idle_fps}
    app = App(checkpoint=ckpt, device=args.device, width=1400, height=900, fps_limit=args.fps_limit, **idle,
              recent_file=os.path.join(tmp, "recent.json"), capture_dir=tmp)
    try:
        t0 = time.perf_counter()
        result = app.wait_for_render(timeout=600)
        if result is None or result.error:
            sys.exit(f"first render failed: {result and result.error}")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
              f"device {args.device}, UI cap {args.fps_limit or 'none'} fps ({app.idle_fps:g} without input), "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"model {os.path.basename(ckpt)} ({app.info.resolution} px), first frame (load + render) "
              f"{time.perf_counter() - t0:.1f} s")
        rows = [("renderer idle, input", measure(app, min(args.seconds, 5.0), True))]
        app.set_animating(True)
        rows.append(("rendering, input", measure(app, args.seconds, True)))
        rows.append(("rendering, no input", measure(app, args.seconds, False)))
        app.set_animating(False)
        app.wait_for_render(timeout=600)
        for name, m in rows:
            line = (f"{name:<22} UI {m['fps']:6.1f} fps   frame time p50 {m['p50']:6.1f} ms  p95 {m['p95']:6.1f} ms"
                    f"  worst {m['max']:6.1f} ms")
            if m["renders"]:
                line += f"   | {len(m['renders'])} renders, {1000 * np.mean(m['renders']):.0f} ms each"
            print(line, flush=True)
        print(f"{'no window at all':<22} {'':46}{'':17}   | renderer alone, {1000 * alone:.0f} ms each")
    finally:
        app.close()


if __name__ == "__main__":
    main()
