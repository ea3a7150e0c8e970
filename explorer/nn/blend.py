"""Blending two generators of one architecture layer by layer, as in layer swapping (Pinkney & Adler 2020,
"toonify"): the coarse layers of one model with the fine layers of another, or anything in between.

    weight per synthesis layer (the layer table's order; 0 = first model, 1 = second)
        --> each tensor of that layer = lerp(first, second, weight)
    mapping network and w_avg: the first model's, so one w drives both.

A layer's tensors are those under its module (G.synthesis.<name>); a block's tensors that no layer owns go with
the block's first layer when they feed it (a const, a 'resnet' skip) and with its last layer otherwise.
Weights can be given per level ('coarse=0,middle=0.5,fine=1', the table's levels), per resolution ('16=1'),
per layer ('b16.conv0=0.3') or all at once ('all=0.5'); later entries win. Works for every family.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Mapping, Optional, Sequence

import torch

from ..errors import ExplorerError
from .family import FamilyGenerator
from .layer_table import LEVELS, LayerTable

INPUT_TENSORS = ("const", "skip")   # block tensors that feed the block's first layer


def layer_tensor_names(G: FamilyGenerator, layer: str) -> list[str]:
    """Names in G.state_dict() of the tensors that belong to one synthesis layer."""
    names = [x.name for x in G.layer_table.layers]
    keys = list(G.state_dict())

    def owner(key: str) -> Optional[str]:
        return next((n for n in names if key.startswith(f"synthesis.{n}.")), None)

    mine = [k for k in keys if owner(k) == layer]
    if "." in layer:                                  # a layer of a block: take its share of the block's own tensors
        block = layer.split(".")[0]
        siblings = [n for n in names if n.split(".")[0] == block]
        orphans = [k for k in keys if k.startswith(f"synthesis.{block}.") and owner(k) is None]
        if layer == siblings[0]:
            mine += [k for k in orphans if k.split(".")[2] in INPUT_TENSORS]
        if layer == siblings[-1]:
            mine += [k for k in orphans if k.split(".")[2] not in INPUT_TENSORS]
    return mine


def parse_weights(spec: str, table: LayerTable) -> tuple[float, ...]:
    """'coarse=0,middle=0.5,fine=1' (levels), '16=1' (resolutions), 'b16.conv0=0.3' (layers), 'all=0.5'
    -> one weight per synthesis layer; layers not named stay 0 (the first model)."""
    layers = table.layers
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


def check_same_architecture(a: FamilyGenerator, b: FamilyGenerator, name_a: str = "first",
                            name_b: str = "second") -> None:
    """ExplorerError naming the first difference when b's weights cannot be blended with a's."""
    if type(a) is not type(b):
        raise ExplorerError(f"{name_b} cannot be blended with {name_a}: a different generator family "
                            f"({type(b).__module__} vs {type(a).__module__})")
    for field in ("img_resolution", "w_dim", "z_dim", "c_dim", "img_channels", "architecture", "use_noise"):
        va, vb = getattr(a.cfg, field, None), getattr(b.cfg, field, None)
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
def blend_into(target: FamilyGenerator, first: FamilyGenerator, second: FamilyGenerator, weights: Sequence[float],
               only: "Sequence[int] | None" = None) -> None:
    """Set target's synthesis layers (all, or the indices in `only`) to lerp(first, second, weight)."""
    layers = target.layer_table.layers
    weights = list(weights) + [0.0] * max(0, len(layers) - len(weights))
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


def blend_generators(first: FamilyGenerator, second: FamilyGenerator, weights: Sequence[float],
                     provenance: Mapping[str, str] = ()) -> FamilyGenerator:
    """A new generator: first's mapping, synthesis layers blended by weight (0 = first, 1 = second)."""
    check_same_architecture(first, second)
    out = copy.deepcopy(first)
    blend_into(out, first, second, weights)
    if provenance:
        out.cfg = dataclasses.replace(first.cfg, provenance=tuple(sorted({**dict(first.cfg.provenance),
                                                                           **dict(provenance)}.items())))
    return out


class LiveBlend:
    """A copy of `first` whose synthesis layers follow blend weights that change frame by frame: each call
    re-blends only the layers whose weight moved (the renderer then reruns from the first of them)."""

    def __init__(self, first: FamilyGenerator, second: FamilyGenerator, name_first: str = "first",
                 name_second: str = "second"):
        check_same_architecture(first, second, name_first, name_second)
        self.first, self.second = first, second
        self.mixed = copy.deepcopy(first)
        self.weights = (0.0,) * len(first.layer_table.layers)

    def generator(self, weights: Sequence[float]) -> FamilyGenerator:
        """The blended generator for `weights` (one per layer of the layer table; missing = 0)."""
        n = len(self.weights)
        weights = tuple(float(w) for w in weights[:n]) + (0.0,) * max(0, n - len(weights))
        changed = [i for i in range(n) if weights[i] != self.weights[i]]
        if changed:
            blend_into(self.mixed, self.first, self.second, weights, only=changed)
            self.weights = weights
        return self.mixed
