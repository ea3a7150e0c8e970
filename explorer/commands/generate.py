"""`explorer generate`: one PNG per seed (or per projected w), NVlabs generate.py semantics."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import add_checkpoint_arg, add_device_arg, add_look_args, check_camera, look_and_renderer, state_from_args
from .values import count, path, seed_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="render images for seeds, projected ws or a saved session")
    add_checkpoint_arg(p)
    p.add_argument("--seeds", type=seed_list, default=None, help="seed list, e.g. 0-7 or 0,3,9")
    p.add_argument("--projected-w", type=path, default=None, metavar="NPZ",
                   help="render ws from an .npz (key 'w') instead of seeds")
    add_look_args(p, state_help="render a saved RenderState session (the options here override its values)",
                  trunc_help="truncation psi (default 1, or what a StyleGAN (v1) pickle carries: 0.7 on w < 8)")
    p.add_argument("--outdir", type=path, required=True, help="where to write the PNGs")
    p.add_argument("--grid", type=path, default=None, metavar="PNG", help="also write all images as one grid to this file")
    p.add_argument("--grid-cols", type=count(1, 1024), default=8, help="columns of --grid (default 8)")
    add_device_arg(p)
    p.set_defaults(func=run)


@torch.no_grad()
def run(args: argparse.Namespace) -> int:
    from ..errors import ExplorerError
    from ..files import ensure_outdir
    from ..images import image_grid, save_png, to_numpy_images
    from ..io import load_generator
    from ..latents import load_ws, one_hot, zs_from_seeds
    from ..render.camera import input_transform

    if args.state:
        return _run_state(args)
    if (args.seeds is None) == (args.projected_w is None):
        raise ExplorerError("give exactly one of --seeds, --projected-w or --state")
    look = state_from_args(args)    # --trunc, --cutoff, --noise-mode, --class over a RenderState's defaults
    G = load_generator(args.checkpoint, device=args.device)
    dev = G.device
    check_camera(look, G.layer_table)
    transform = torch.from_numpy(input_transform(look.translate, look.rotate)).float().to(dev)
    if args.projected_w:
        ws = load_ws(args.projected_w, G.num_ws, G.w_dim).to(dev)
        outdir = ensure_outdir(args.outdir)   # only once every input has been read
        for i in tqdm(range(ws.shape[0]), desc="generate", unit="img", disable=ws.shape[0] < 2):
            img = G.synthesis(ws[i:i + 1], noise_mode=look.noise_mode, transform=transform)
            save_png(outdir / f"proj{i:02d}.png", to_numpy_images(img)[0])
        print(f"wrote {ws.shape[0]} image(s) to {outdir}")
        return 0
    seeds = args.seeds
    psi, cutoff = look.psi, look.cutoff
    if args.psi is None:   # the model's own default truncation, where its file records one
        psi, default_cutoff = G.default_truncation
        cutoff = default_cutoff if cutoff is None else cutoff
    c = one_hot(look.a.class_idx, G.c_dim, device=dev)
    outdir = ensure_outdir(args.outdir)
    images = []
    for seed in tqdm(seeds, desc="generate", unit="img", disable=len(seeds) < 2):
        z = zs_from_seeds([seed], G.z_dim, dev)
        noise_seed = seed if args.noise_seed is None else args.noise_seed
        noise = G.make_noise(noise_seed) if look.noise_mode == "random" else None
        img = G(z, c, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=look.noise_mode, noise=noise,
                transform=transform)
        pixels = to_numpy_images(img)[0]
        save_png(outdir / f"seed{seed:04d}.png", pixels)
        if args.grid:
            images.append(pixels)
    print(f"wrote {len(seeds)} image(s) to {Path(outdir)}")
    if args.grid and images:
        cols = max(1, min(args.grid_cols, len(images)))
        rows = (len(images) + cols - 1) // cols
        save_png(args.grid, image_grid(np.stack(images), rows, cols))
        print(f"wrote {args.grid}")
    return 0


def _run_state(args: argparse.Namespace) -> int:
    from ..files import ensure_outdir
    from ..images import save_png

    state, renderer = look_and_renderer(args)
    pixels = renderer.render(state)
    outdir = ensure_outdir(args.outdir)
    out = save_png(outdir / (Path(args.state).stem + ".png"), pixels, state=state)
    print(f"wrote {out}")
    return 0
