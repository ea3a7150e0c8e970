"""Blending two generators of one architecture layer by layer, as in layer swapping (Pinkney & Adler 2020,
"toonify"): the coarse layers of one model with the fine layers of another, or anything in between.

    weight per synthesis layer (0 = first model, 1 = second)
        --> each tensor of that layer = lerp(first, second, weight)   (a block's const goes with its first
            conv, a 'resnet' skip with its block's conv0: they feed the same activations)
    mapping network and w_avg: the first model's, so one w drives both.

Weights can be given per level ('coarse=0,middle=0.5,fine=1', by the resolution of the layer's block), per
resolution ('16=1'), per layer ('b16.conv0=0.3') or all at once ('all=0.5'); later entries win.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Mapping, Sequence

import torch

from ..errors import ExplorerError
from .generator import Generator
from .layer_table import LEVELS, LayerTable, level_of_resolution


@dataclasses.dataclass(frozen=True)
class BlendLayer:
    name: str            # 'b16.conv0'
    resolution: int      # of its block
    level: str           # 'coarse', 'middle' or 'fine'


def blend_layers(table: LayerTable) -> tuple[BlendLayer, ...]:
    """Every synthesis layer in the order synthesis runs them (the order of RenderState.blend)."""
    resolution = {c.name: c.resolution for c in table.convs}
    out: list[BlendLayer] = []
    for slot in table.ws:
        for name in slot.layers:
            res = resolution.get(name, out[-1].resolution if out else table.block_resolutions[0])
            if name not in (b.name for b in out):
                out.append(BlendLayer(name, res, level_of_resolution(res)))
    return tuple(out)


def layer_tensor_names(G: Generator, layer: str) -> list[str]:
    """Names in G.state_dict() of the tensors that belong to one blend layer."""
    block, part = layer.split(".")
    prefixes = [f"synthesis.{layer}."]
    block_module = getattr(G.synthesis, block)
    first = block_module.layer_names()[0]
    if part == first:
        prefixes += [f"synthesis.{block}.const", f"synthesis.{block}.skip."]
    return [k for k in G.state_dict() if any(k == p or k.startswith(p) for p in prefixes)]


def parse_weights(spec: str, table: LayerTable) -> tuple[float, ...]:
    """'coarse=0,middle=0.5,fine=1' (levels), '16=1' (resolutions), 'b16.conv0=0.3' (layers), 'all=0.5'
    -> one weight per blend layer; layers not named stay 0 (the first model)."""
    layers = blend_layers(table)
    weights = [0.0] * len(layers)
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            continue
        key, sep, value = part.partition("=")
        try:
            w = float(value)
        except ValueError:
            w = float("nan")
        if not sep or not 0.0 <= w <= 1.0:
            raise ExplorerError(f"bad blend weight {part!r}: use NAME=WEIGHT with a weight in [0, 1]")
        hit = [i for i, layer in enumerate(layers)
               if key in ("all", layer.name, layer.level) or key == str(layer.resolution)]
        if not hit:
            names = ", ".join(("all",) + LEVELS + tuple(sorted({str(x.resolution) for x in layers}, key=int)))
            raise ExplorerError(f"bad blend target {key!r}: use {names} or a layer name like {layers[-1].name}")
        for i in hit:
            weights[i] = w
    return tuple(weights)


def check_same_architecture(a: Generator, b: Generator, name_a: str = "first", name_b: str = "second") -> None:
    """ExplorerError naming the first difference when b's weights cannot be blended with a's."""
    ca, cb = a.cfg, b.cfg
    for field in ("img_resolution", "w_dim", "z_dim", "c_dim", "img_channels", "architecture", "use_noise"):
        va, vb = getattr(ca, field), getattr(cb, field)
        if va != vb:
            raise ExplorerError(f"{name_b} cannot be blended with {name_a}: different architecture "
                                f"({field} {vb} vs {va}); blending needs two models of one architecture")
    sa, sb = a.state_dict(), b.state_dict()
    for key, ta in sa.items():
        tb = sb.get(key)
        if tb is None or tb.shape != ta.shape:
            what = "missing" if tb is None else f"shape {list(tb.shape)} vs {list(ta.shape)}"
            raise ExplorerError(f"{name_b} cannot be blended with {name_a}: different architecture "
                                f"({key}: {what}); blending needs two models of one architecture")


@torch.no_grad()
def blend_into(target: Generator, first: Generator, second: Generator, weights: Sequence[float],
               only: "Sequence[int] | None" = None) -> None:
    """Set target's synthesis layers (all, or the indices in `only`) to lerp(first, second, weight)."""
    layers = blend_layers(target.layer_table)
    if len(weights) < len(layers):
        weights = list(weights) + [0.0] * (len(layers) - len(weights))
    dst, sa, sb = target.state_dict(), first.state_dict(), second.state_dict()
    for i in (range(len(layers)) if only is None else only):
        w = float(weights[i])
        for key in layer_tensor_names(target, layers[i].name):
            if not dst[key].is_floating_point():
                continue
            if w == 0.0:
                dst[key].copy_(sa[key])
            elif w == 1.0:
                dst[key].copy_(sb[key])
            else:
                dst[key].copy_(torch.lerp(sa[key].float(), sb[key].float(), w).to(dst[key].dtype))


def blend_generators(first: Generator, second: Generator, weights: Sequence[float],
                     provenance: Mapping[str, str] = ()) -> Generator:
    """A new generator: first's mapping, synthesis layers blended by weight (0 = first, 1 = second)."""
    check_same_architecture(first, second)
    out = copy.deepcopy(first)
    blend_into(out, first, second, weights)
    if provenance:
        out.cfg = dataclasses.replace(first.cfg, provenance=tuple(sorted({**dict(first.cfg.provenance),
                                                                           **dict(provenance)}.items())))
    return out
