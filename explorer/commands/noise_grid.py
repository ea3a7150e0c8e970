"""`explorer noise-grid`: what per-pixel noise does, per level, and where it varies (std over noise seeds)."""
from __future__ import annotations

import argparse

from . import MAX_BATCH, add_checkpoint_arg, add_device_arg, add_look_args, look_and_renderer
from .values import count, path, seed, seed_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("noise-grid", help="stochastic-variation figure: noise per level and its std map",
                       epilog="With --state and no --seeds, the row is the session's current image (mixing and edits included).")
    add_checkpoint_arg(p)
    p.add_argument("--seeds", type=seed_list, default=None, help="one row per seed, e.g. 1,2")
    add_look_args(p, state_help="a saved session: its truncation, edits and noise settings apply; without "
                                "--seeds the row is the session's current image")
    p.add_argument("--std-samples", type=count(2, 4096), default=16, help="noise seeds for the std map (default 16)")
    p.add_argument("--std-seed", type=seed, default=0, help="first noise seed of the std map")
    p.add_argument("--batch", type=count(1, MAX_BATCH), default=None, help="images per forward pass (default: by resolution)")
    p.add_argument("--out", type=path, required=True, help="the PNG to write")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ExplorerError
    from ..grid import noise_figure, noise_grid
    from ..images import save_png
    from ..render.frames import state_frame_settings
    from ..render.state import Source

    if args.seeds is None and not args.state:
        raise ExplorerError("give --seeds, or --state for the session's current image")
    state, renderer = look_and_renderer(args)
    if args.seeds is None:
        G = renderer.model_for(state).G
        fig = noise_grid(G, renderer.compute_ws(state, G), state_frame_settings(state, renderer),
                         args.std_samples, args.std_seed, args.batch)
    else:
        sources = [Source(seed=s) for s in args.seeds]
        fig = noise_figure(state, sources, args.std_samples, args.std_seed, renderer, args.batch)
    out = save_png(args.out, fig.image, state=state, figure=fig.description)
    print(f"wrote {out}: columns {', '.join(fig.description['columns'])} "
          f"(std map white = {fig.description['std_max']:.3g} in [-1, 1] image units)")
    return 0
