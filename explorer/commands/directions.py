"""`explorer directions`: closed-form semantic directions (SeFa) of a checkpoint, as .npz and as a PNG grid.

    explorer directions --layers coarse --k 10 --out dirs.npz
    explorer directions --layers fine --k 5 --grid fine.png --seeds 0-2 --alphas=-3:3:7 --trunc 0.7
    explorer directions --from my_boundary.npz --grid edits.png          (user-made directions)

--out writes 'directions' [k, w_dim] (unit rows), 'eigenvalues' [k], 'layers' (the range, a string) and
'std' [k] (the spread of w along each direction); the app's "load directions" reads the same format.

Grid layout (no labels; also stored as JSON in the PNG's 'explorer.figure' text chunk): one block of rows
per direction, top to bottom in rank order; inside a block one row per seed in --seeds order; one column
per alpha in --alphas order. Every cell is one image at the model's resolution, with no padding, so
direction d, seed s, alpha a sits at row d * len(seeds) + s, column a.

Alpha is counted in standard deviations of the model's w along the direction (see explorer/directions.py):
-3..+3 spans what the model itself samples along it. The same unit as the app's sliders and RenderState
edits, so a grid cell is the frame the app shows at that slider value.
"""
from __future__ import annotations

import argparse

from ..render.state import RANGES
from . import add_checkpoint_arg, add_device_arg, add_look_args, look_and_renderer
from .values import count, number, path, seed_list

DEFAULT_ALPHAS = "-3:3:7"
MAX_ALPHAS = 1024       # grid columns


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("directions", help="semantic directions (SeFa): write them as .npz and/or render a grid",
                       epilog="Negative alphas need '=': --alphas=-3:3:7 or --alphas=-2,0,2.")
    add_checkpoint_arg(p)
    p.add_argument("--layers", default="all",
                   help="w indices the directions are computed for and applied to: all (default), coarse, "
                        "middle, fine, 0-3, 0,2,5")
    p.add_argument("--k", type=count(1, 16384), default=10, help="how many directions, strongest first (default 10)")
    p.add_argument("--from", dest="source", type=path, default=None, metavar="NPZ",
                   help="use the directions in this .npz (key 'directions' [k, w_dim]) instead of SeFa")
    p.add_argument("--out", type=path, default=None, metavar="NPZ", help="write the directions here")
    p.add_argument("--grid", type=path, default=None, metavar="PNG", help="render each direction at --alphas for --seeds")
    p.add_argument("--seeds", type=seed_list, default=[0, 1, 2], help="grid rows per direction (default 0-2)")
    p.add_argument("--alphas", type=alpha_list, default=DEFAULT_ALPHAS,
                   help="grid columns, in standard deviations of w along the direction: a list (-2,0,2) "
                        f"or start:stop:count (default {DEFAULT_ALPHAS})")
    add_look_args(p)
    add_device_arg(p)
    p.set_defaults(func=run)


def alpha_list(text: str) -> list[float]:
    """'-3:3:7' (start:stop:count, both ends included) or '-2,0,2'; finite, within the edits' alpha range."""
    import numpy as np

    try:
        if ":" in text:
            start, stop, n = text.split(":")
            parse = number(*RANGES["alpha"])
            n = count(1, MAX_ALPHAS)(n)
            values = [round(float(a), 6) for a in np.linspace(parse(start), parse(stop), n)]
        else:
            values = [number(*RANGES["alpha"])(a) for a in text.split(",") if a.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: expected start:stop:count or a list like -2,0,2") from None
    if not 1 <= len(values) <= MAX_ALPHAS:
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: give 1..{MAX_ALPHAS} alphas")
    return values


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..directions import save_directions
    from ..io.files import absolute
    from ..errors import ExplorerError
    from ..images import save_png
    from ..latents import one_hot

    source = absolute(args.source) if args.source else "sefa"
    alphas = args.alphas if args.grid else []
    seeds = args.seeds if args.grid else []
    state, renderer = look_and_renderer(args)     # how the grid looks: truncation, noise, class
    G = renderer.model_for(state).G
    one_hot(args.class_idx, G.c_dim)   # a conditional model needs --class (one line if missing)
    try:
        indices = G.layer_table.parse_indices(args.layers)
    except ValueError as e:
        raise ExplorerError(f"--layers {args.layers!r}: {e}") from None
    found = renderer.directions.get(G, source, args.layers)
    k = min(args.k, len(found))
    what = "SeFa" if source == "sefa" else Path(source).name
    print(f"{what} directions over w {_span(indices)} ({args.layers}): "
          f"{k} of {len(found)}" + (f" (the stacked weights have rank {len(found)})" if k < args.k else ""))
    for i in range(k):
        ev = "" if found.eigenvalues is None else f"eigenvalue {found.eigenvalues[i]:9.4f}   "
        print(f"  #{i:<2} {ev}std of w {found.std[i]:.4f}")
    if args.out:
        out = save_directions(args.out, found.vectors[:k],
                              None if found.eigenvalues is None else found.eigenvalues[:k], args.layers, found.std[:k])
        print(f"wrote {out}")
    if args.grid:
        image = direction_grid(renderer, state, source, args.layers, range(k), seeds, alphas)
        figure = {"layout": "rows: direction-major, then seed; columns: alpha", "directions": list(range(k)),
                  "seeds": seeds, "alphas": alphas, "layers": args.layers, "source": source,
                  "alpha_unit": "standard deviations of w along the direction", "tile": G.img_resolution}
        out = save_png(args.grid, image, state=state, figure=figure)
        print(f"wrote {out} ({image.shape[1]}x{image.shape[0]})")
    return 0


def direction_grid(renderer, state, source: str, layers: str, directions, seeds, alphas):
    """[len(directions) * len(seeds) * R, len(alphas) * R, 3] uint8, laid out as the module docstring says."""
    import numpy as np
    from tqdm import tqdm

    from ..images import image_grid
    from ..render.state import Edit, Source

    directions, seeds, alphas = list(directions), list(seeds), list(alphas)
    cells = []
    with tqdm(total=len(directions) * len(seeds) * len(alphas), desc="directions grid", unit="img") as bar:
        for d in directions:
            for seed in seeds:
                base = state.replace(a=Source(seed=seed, class_idx=state.a.class_idx))
                for alpha in alphas:   # the renderer resumes from the first block the range reaches
                    cells.append(renderer.render(base.replace(edits=(Edit(source, d, float(alpha), layers),))))
                    bar.update()
    return image_grid(np.stack(cells), rows=len(directions) * len(seeds), cols=len(alphas))


def _span(indices: list[int]) -> str:
    if len(indices) > 1 and indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}-{indices[-1]}"
    return ",".join(map(str, indices))
