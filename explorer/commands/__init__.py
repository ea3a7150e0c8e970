"""CLI subcommands; each module registers one (see explorer/cli.py). The options several share live here."""
from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Optional

from ..errors import ExplorerError
from ..io.validate import LIMITS
from ..nn.config import num_ws_at
from ..nn.family import NOISE_MODES
from ..nn.layer_table import LayerTable
from ..render.state import DEVICES, MAX_CLASS, PRECISIONS, PSI_RANGE, ROTATE_RANGE, TRANSLATE_RANGE, RenderState
from .values import count, number, numbers, path, seed

MAX_BATCH = 4096      # images in one forward pass or training batch
MAX_WS = num_ws_at(LIMITS["img_resolution"][1])   # w indices of the largest generator io/validate.py allows

if TYPE_CHECKING:
    from ..render.renderer import Renderer


def add_checkpoint_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", "--network", dest="checkpoint", type=path, default=None, metavar="PATH",
                   help="generator checkpoint: explorer .safetensors, NVlabs .pkl or rosinality .pt "
                        "(default: the bundled generator)")


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=DEVICES, help="where to run (default: auto)")


def add_precision_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="arithmetic for synthesis (default: fp16 on CUDA, fp32 on the CPU)")


def add_look_args(p: argparse.ArgumentParser, state_help: Optional[str] = None,
                  trunc_help: str = "truncation psi (default 1)") -> None:
    """Options that decide how every image looks; with --state (offered when state_help is given) they
    override the session's values. Read them with state_from_args."""
    if state_help:
        p.add_argument("--state", type=path, default=None, metavar="JSON", help=state_help)
    p.add_argument("--trunc", dest="psi", type=number(*PSI_RANGE), default=None, help=trunc_help)
    p.add_argument("--cutoff", type=count(0, MAX_WS), default=None, help="truncate only the first K w indices")
    p.add_argument("--noise-mode", default=None, choices=NOISE_MODES, help="default const")
    p.add_argument("--noise-seed", type=seed, default=None, help="seed of the noise for --noise-mode random")
    p.add_argument("--class", dest="class_idx", type=count(0, MAX_CLASS), default=None,
                   help="class label for conditional models")
    p.add_argument("--translate", type=numbers(2, *TRANSLATE_RANGE), default=None, metavar="TX,TY",
                   help="move the picture by TX, TY image widths (+x right, +y down), as NVlabs' gen_images.py; "
                        "models with an input transform (StyleGAN3)")
    p.add_argument("--rotate", type=number(*ROTATE_RANGE), default=None, metavar="DEG",
                   help="turn the picture by DEG degrees (counterclockwise), as NVlabs' gen_images.py (StyleGAN3)")


def state_from_args(args: argparse.Namespace) -> RenderState:
    """A RenderState from --state (if given) with the command line's explicit options applied on top."""
    session = getattr(args, "state", None)
    state = RenderState.load(session) if session else RenderState()
    changes = {}
    if args.checkpoint:
        changes["checkpoint"] = args.checkpoint
    if args.device != "auto" or not session:
        changes["device"] = args.device
    for name in ("psi", "cutoff", "noise_mode", "noise_seed"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.class_idx is not None:
        changes["a"] = dataclasses.replace(state.a, class_idx=args.class_idx)
        changes["b"] = dataclasses.replace(state.b, class_idx=args.class_idx)
    if args.translate is not None:
        changes["translate"] = args.translate
    if args.rotate is not None:
        changes["rotate"] = args.rotate
    try:
        return state.replace(**changes)
    except ValueError as e:
        raise ExplorerError(str(e)) from None


def look_and_renderer(args: argparse.Namespace) -> tuple[RenderState, "Renderer"]:
    """state_from_args, and a Renderer with the state's model loaded and the camera checked against it."""
    from ..render.renderer import Renderer

    state = state_from_args(args)
    renderer = Renderer()
    check_camera(state, renderer.model_for(state).G.layer_table)
    return state, renderer


def check_camera(state: RenderState, table: LayerTable) -> None:
    """A camera (translate / rotate) asked of a model without an input transform is an error, not ignored."""
    if (any(state.translate) or state.rotate) and not table.has_transform:
        raise ExplorerError("--translate / --rotate: this model has no input transform (StyleGAN3 models have one)")
