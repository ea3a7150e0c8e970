"""Frames per second of `explorer video` rendering, and how the time splits between rendering and encoding.

    python benchmarks/video_fps.py                              # CPU: 64 px (base 4096, max 256) and 256 px config-f
    python benchmarks/video_fps.py --models small64 --batches 1,2,4,8,16,32 --frames 96
    python benchmarks/video_fps.py --format gif --device cuda

Random-weight models (speed does not depend on training). For each model and batch size it renders one
walk with render_walk, exactly as the CLI does, and prints:
  render fps   frames / time in synthesis + uint8 conversion (the forward passes, batched)
  total fps    frames / (render + encode) time of the main thread
  encode %     the main thread's share spent handing frames to the encoder and finalising the file
  ffmpeg cpu   CPU seconds the ffmpeg process used (it encodes in parallel, on the same cores)
  cpu ms/f     this process's CPU time per frame: steadier than fps on a shared machine (use --threads 1)
The default run takes 1-3 minutes on 2 CPU cores.

Measured (2 shared CPU cores, load average 7-10 from other jobs, so wall-clock fps is pessimistic;
CPU ms per frame with --threads 1 is the steady number), MP4, fp32, channels_last:
  small64  --threads 1   batch 1: 37 ms/frame (27 fps)   2: 27   4: 22   8: 19.7 (50 fps)   16: 19.5   32: 19.7
  f256     --threads 1   batch 1: 1084 ms/frame   2: 1081   4: 1045   8: 1059            (0.5-0.9 fps wall)
  small64  2 threads     batch 1: 0.9 fps   4: 9.6   8: 15.4   16: 16.7  (torch's two OpenMP threads spin
                         at every op while the machine is oversubscribed; batching cuts the op count)
  f256     2 threads     batch 1: 0.28 fps   4: 0.41
  Encoding: the main thread spends 4-8 % of its time handing 64 px frames to ffmpeg and 1-2 % at 256 px;
  ffmpeg itself uses ~1.3 ms CPU per 64 px frame and ~12 ms per 256 px frame (6 % and 1 % of rendering).
  GIF at 64 px: 27 % of the time is encoding (Pillow's palette quantisation when the file is closed).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from explorer.io.native import save_generator  # noqa: E402
from explorer.nn.config import GeneratorConfig  # noqa: E402
from explorer.nn.generator import Generator  # noqa: E402
from explorer.perf import tune_allocator  # noqa: E402
from explorer.render.frames import default_batch_size  # noqa: E402
from explorer.render.renderer import Renderer  # noqa: E402
from explorer.render.state import RenderState  # noqa: E402
from explorer.video import Walk, keyframes_from_seeds, render_walk  # noqa: E402

MODELS = {
    "small64": dict(img_resolution=64, channel_base=4096, channel_max=256),       # issue 2 small config (2x the bundled width)
    "f256": dict(img_resolution=256, channel_base=32768, channel_max=512, conv_clamp=256),
}
DEFAULTS = {"small64": ("1,4,8,16", 49), "f256": ("1,4", 9)}   # batch sizes, frames per run


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_one(renderer: Renderer, state: RenderState, frames: int, batch: int, out: str) -> dict:
    walk = Walk(keyframes_from_seeds([1, 2, 3]), frames_per_key=max(1, (frames - 1) // 2))
    c0, p0, t0 = child_cpu(), time.process_time(), time.perf_counter()
    result = render_walk(walk, state, out, fps=30, batch_size=batch, renderer=renderer)
    wall, cpu = time.perf_counter() - t0, time.process_time() - p0
    busy = result.render_seconds + result.encode_seconds
    return dict(frames=result.frames, render_fps=result.frames / result.render_seconds,
                total_fps=result.frames / busy, encode_share=result.encode_seconds / busy,
                ffmpeg_cpu=child_cpu() - c0, wall=wall, cpu_ms=1000 * cpu / result.frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="small64,f256", help=f"comma list of {', '.join(MODELS)}")
    ap.add_argument("--batches", default=None, help="batch sizes to try (default per model: "
                    + "; ".join(f"{m} {b}" for m, (b, _) in DEFAULTS.items()) + ")")
    ap.add_argument("--frames", type=int, default=None, help="frames per run (default 49 at 64 px, 9 at 256 px)")
    ap.add_argument("--format", choices=["mp4", "gif"], default="mp4")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tune_allocator()
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}, "
          f"format {args.format}")
    print(f"{'model':8} {'batch':>5} {'frames':>6} {'render fps':>10} {'total fps':>9} {'encode %':>8} "
          f"{'ffmpeg cpu s':>12} {'cpu ms/f':>8} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            torch.manual_seed(0)
            G = Generator(GeneratorConfig(**MODELS[name])).eval()
            path = save_generator(G, os.path.join(tmp, f"{name}.safetensors"))
            del G
            state = RenderState(checkpoint=str(path), device=args.device)
            renderer = Renderer()
            G = renderer.model_for(state).G
            batches, frames = DEFAULTS[name]
            batches = [int(b) for b in (args.batches or batches).split(",")]
            frames = args.frames or frames
            run_one(renderer, state, 3, max(batches), os.path.join(tmp, f"warm.{args.format}"))  # warm-up
            for batch in batches:
                r = run_one(renderer, state, frames, batch, os.path.join(tmp, f"{name}-{batch}.{args.format}"))
                print(f"{name:8} {batch:5d} {r['frames']:6d} {r['render_fps']:10.2f} {r['total_fps']:9.2f} "
                      f"{100 * r['encode_share']:7.1f}% {r['ffmpeg_cpu']:12.2f} {r['cpu_ms']:8.1f} {r['wall']:7.1f}", flush=True)
            print(f"{name:8} default batch size: {default_batch_size(G)}")


if __name__ == "__main__":
    main()
