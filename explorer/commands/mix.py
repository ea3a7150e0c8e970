"""`explorer mix`: the style-mixing figure (NVlabs style_mixing.py layout), one level or all levels."""
from __future__ import annotations

import argparse

from . import MAX_BATCH, add_checkpoint_arg, add_device_arg, add_look_args, look_and_renderer
from .values import count, path, seed_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mix", help="style-mixing grid: row seeds with the column seeds' styles",
                       epilog="With --state and no --rows/--cols, the figure mixes the session's A (row) and B (column).")
    add_checkpoint_arg(p)
    p.add_argument("--rows", type=seed_list, default=None, help="row seeds (left column), e.g. 1,2,3")
    p.add_argument("--cols", type=seed_list, default=None, help="column seeds (top row), whose styles are copied in")
    p.add_argument("--styles", default="coarse",
                   help="w indices taken from the column seed: coarse (default), middle, fine, 0-3, 0,2,5, or "
                        "all-levels for one block of rows per level")
    add_look_args(p, state_help="a saved session: its truncation, class, edits and noise apply to every image; "
                                "without --rows/--cols it mixes the session's A (row) and B (column)")
    p.add_argument("--batch", type=count(1, MAX_BATCH), default=None, help="images per forward pass (default: by resolution)")
    p.add_argument("--out", type=path, required=True, help="the PNG to write")
    add_device_arg(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ExplorerError
    from ..grid import mix_figure, mix_grid_from_state
    from ..images import save_png
    from ..render.state import Source

    if (args.rows is None) != (args.cols is None):
        raise ExplorerError("give both --rows and --cols")
    if args.rows is None and not args.state:
        raise ExplorerError("give --rows and --cols (seeds), or --state to mix a session's A and B")
    state, renderer = look_and_renderer(args)
    if args.rows is None:
        fig = mix_grid_from_state(state, args.styles, renderer, batch_size=args.batch)
    else:
        rows = [Source(seed=s) for s in args.rows]
        cols = [Source(seed=s) for s in args.cols]
        fig = mix_figure(state, rows, cols, args.styles, renderer, batch_size=args.batch)
    out = save_png(args.out, fig.image, state=state, figure=fig.description)
    h, w = fig.image.shape[:2]
    print(f"wrote {out} ({w}x{h})")
    return 0
