"""`explorer video`: a walk through keyframes (seeds, projected ws, a session's A and B) as MP4 or GIF.

Ctrl+C keeps a valid, shorter video of the frames rendered so far and exits with status 130 (the shell's
code for "stopped by SIGINT"), so scripts can tell a partial result from a complete one.
"""
from __future__ import annotations

import argparse

from ..render.state import INTERP_SPACES
from ..video.paths import INTERPS, MAX_FRAMES_PER_KEY
from ..video.writer import MAX_FPS
from . import MAX_BATCH, add_checkpoint_arg, add_device_arg, add_look_args, look_and_renderer
from .values import count, number, numbers, path, seed_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("video", help="render an interpolation walk through keyframes to .mp4 or .gif")
    add_checkpoint_arg(p)
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--seeds", type=seed_list, default=None, help="keyframe seeds in order, e.g. 1,5,9 or 0-7")
    keys.add_argument("--projected-w", type=path, nargs="+", default=None, metavar="NPZ",
                      help="keyframes from .npz files (key 'w'), every row of each file in order")
    p.add_argument("--frames-per-seed", "--frames-per-key", dest="frames_per_key", type=count(1, MAX_FRAMES_PER_KEY),
                   default=60, metavar="F",
                   help="frames from one keyframe to the next (default 60); an open walk has (K-1)*F+1 "
                        "frames and ends on its last keyframe, a loop K*F frames")
    p.add_argument("--loop", action="store_true", help="return to the first keyframe (seamless when repeated)")
    p.add_argument("--space", choices=INTERP_SPACES, default="w", help="interpolate in W (default) or slerp in Z")
    p.add_argument("--interp", choices=INTERPS, default=None,
                   help="path through the keyframes in W: cubic (Catmull-Rom, default) or linear")
    add_look_args(p, state_help="a saved session: the walk stands in for its source A (without keyframes it "
                                "walks A to B); its truncation, mixing with B, edits and noise apply to every frame")
    p.add_argument("--camera", nargs="+", type=numbers(3), default=None, metavar="TX,TY,DEG",
                   help="camera keyframes of their own (models with an input transform, StyleGAN3): translate x, y "
                        "in image widths and rotate in degrees, spread evenly over the walk; without it the camera "
                        "holds still at --translate / --rotate. With one seed only the camera moves, "
                        "--frames-per-key frames from one camera keyframe to the next")
    p.add_argument("--fps", type=number(0, MAX_FPS, low_open=True), default=30, help="frames per second (default 30; GIF at most 50)")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="resize frames (Lanczos); MP4 needs even sizes (H.264 in yuv420p)")
    p.add_argument("--batch", type=count(1, MAX_BATCH), default=None, help="frames per forward pass (default: by resolution)")
    p.add_argument("--crf", type=count(0, 51), default=18, help="x264 quality, 0 (lossless) .. 51 (worst), default 18")
    p.add_argument("--out", type=path, required=True, help="walk.mp4 or walk.gif")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from ..errors import ExplorerError
    from ..video import (RecordingInterrupted, Walk, keyframes_from_npz, keyframes_from_seeds, parse_size,
                         render_walk)

    state, renderer = look_and_renderer(args)
    if args.seeds is not None:
        keys = keyframes_from_seeds(args.seeds)
    elif args.projected_w:
        G = renderer.model_for(state).G
        keys = keyframes_from_npz(args.projected_w, G.num_ws, G.w_dim)
    elif args.state:
        keys = (state.a, state.b)
    else:
        raise ExplorerError("give keyframes: --seeds, --projected-w or --state (walks its A and B)")
    interp = args.interp or ("linear" if args.space == "z" else "cubic")
    walk = Walk(keys, frames_per_key=args.frames_per_key, loop=args.loop, interp=interp, space=args.space,
                camera=tuple(args.camera or ()))

    bar = tqdm(total=len(walk), desc="video", unit="frame", disable=None)
    try:
        result = render_walk(walk, state, args.out, fps=args.fps, size=parse_size(args.size),
                             batch_size=args.batch, renderer=renderer, crf=args.crf,
                             progress=lambda done, total: bar.update(done - bar.n))
    except RecordingInterrupted as e:
        bar.close()
        r = e.result
        if r.path is None:
            print("explorer video: interrupted before the first frame; nothing written", file=sys.stderr)
        else:
            print(f"explorer video: interrupted; kept {r.frames} of {r.requested} frames in {r.path} "
                  f"({r.frames / args.fps:.2f} s, a valid video)", file=sys.stderr)
        return 130
    bar.close()
    total = result.render_seconds + result.encode_seconds
    w, h = result.size
    print(f"wrote {result.path}: {result.frames} frames of {w}x{h}, {result.frames / args.fps:.2f} s at "
          f"{args.fps:g} fps (render {result.render_seconds:.1f} s, encode {result.encode_seconds:.1f} s"
          f"{f', {result.frames / total:.1f} frames/s' if total > 0 else ''})")
    return 0
