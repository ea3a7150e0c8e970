"""`explorer info`: what a checkpoint holds, including its layer table (w index -> layers -> level)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os

from .values import path

BUFFERS = ("noise_const", "resample_filter", "w_avg", "up_filter", "down_filter", "magnitude_ema",
           "input.transform", "input.freqs", "input.phases")   # tensors that are not learned parameters


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a checkpoint")
    p.add_argument("path", type=path, nargs="?", default=None, help="checkpoint (default: the bundled generator)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def describe(path: "str | os.PathLike[str]") -> dict:
    from ..io import KINDS, read_checkpoint
    from ..nn.families import FAMILY_NAMES, family_of, layer_table_for
    from ..nn.layer_table import LEVELS

    kind, cfg, state = read_checkpoint(path)
    table = layer_table_for(cfg)
    params = {"mapping": 0, "synthesis": 0}
    for k, v in state.items():
        top = k.split(".")[0]
        if top in params and not k.endswith(BUFFERS):
            params[top] += v.numel()
    return {
        "path": str(path),
        "kind": KINDS[kind],
        "family": FAMILY_NAMES[family_of(cfg)],
        "architecture": getattr(cfg, "architecture", None),
        "conv_clamp": getattr(cfg, "conv_clamp", None),
        "resolution": cfg.img_resolution,
        "img_channels": cfg.img_channels,
        "z_dim": cfg.z_dim, "w_dim": cfg.w_dim, "c_dim": cfg.c_dim,
        "num_ws": table.num_ws,
        "mapping_layers": cfg.mapping_layers,
        "parameters": params,
        "has_w_avg": "mapping.w_avg" in state,
        "layers": [dataclasses.asdict(layer) for layer in table.layers],
        "ws": [{"index": s.index, "resolution": s.resolution, "level": s.level, "layers": list(s.layers)}
               | _first_layer_facts(table.layers[s.first_layer]) for s in table.ws],
        "levels": {lvl: table.level_indices(lvl) for lvl in LEVELS},
        "noise_inputs": [{"layer": c.name, "resolution": c.resolution} for c in table.noise_layers],
        "input_transform": table.has_transform,
        "config": cfg.to_dict(),
        "provenance": dict(cfg.provenance),
        **_family_details(cfg),
    }


def _first_layer_facts(layer) -> dict:
    """Where a w index first acts: that layer's output size, channels, sampling rate and cutoff."""
    return {"size": layer.size, "channels": layer.channels, "sampling_rate": layer.resolution, "cutoff": layer.cutoff}


def _family_details(cfg) -> dict:
    """What only StyleGAN (v1) has: fused upsampling, progressive-growing level, the truncation it carries."""
    from ..nn.stylegan1_config import StyleGAN1Config

    if not isinstance(cfg, StyleGAN1Config):
        return {}
    return {"fused_upsampling_from": cfg.fused_from, "blur": cfg.blur, "lod": cfg.lod,
            "default_truncation": {"psi": cfg.truncation_psi, "cutoff": cfg.truncation_cutoff}}


def run(args: argparse.Namespace) -> int:
    from ..bundled import default_checkpoint
    from ..nn.layer_table import span

    d = describe(args.path or default_checkpoint())
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    print(f"{d['path']}\n  kind           {d['kind']}")
    print(f"  family         {d['family']}" + (f", architecture {d['architecture']}" if d["architecture"] else "")
          + (f", conv_clamp {d['conv_clamp']}" if d["conv_clamp"] is not None else ""))
    print(f"  resolution     {d['resolution']} px, {d['img_channels']} channels")
    if "lod" in d:
        fused = d["fused_upsampling_from"]
        trunc = d["default_truncation"]
        print(f"  upsampling     {'fused transposed conv from ' + str(fused) + ' px' if fused else 'nearest + conv'}, "
              f"{'[1,2,1] blur' if d['blur'] else 'no blur'}; level of detail {d['lod']:g}")
        print(f"  truncation     psi {trunc['psi']} on w indices < {trunc['cutoff']} (what the pickle carries)")
    print(f"  latents        z {d['z_dim']}, w {d['w_dim']}, c {d['c_dim']}, num_ws {d['num_ws']}, "
          f"mapping layers {d['mapping_layers']}" + ("" if d["has_w_avg"] else " (w_avg estimated at load)"))
    print(f"  parameters     mapping {d['parameters']['mapping'] / 1e6:.2f} M, synthesis {d['parameters']['synthesis'] / 1e6:.2f} M")
    print("  w index  level   layer            size  channels    rate  cutoff   (rate and cutoff per image width)")
    for layer in d["layers"]:
        i = layer["w_index"]
        first = i is not None and d["ws"][i]["layers"][0] == layer["name"]
        lead = f"  {i:>7}  {layer['level']:<6}" if first else (" " * 17 if i is not None else f"  {'-':>7}  {'':<6}")
        print(f"{lead}  {layer['name']:<15}{layer['size']:>5}{layer['channels']:>10}{layer['resolution']:>8}"
              f"{layer['cutoff']:>8.3g}")
    print("  levels         " + "; ".join(f"{k} {span(v)}" for k, v in d["levels"].items()))
    print("  noise inputs   " + (", ".join(f"{n['layer']} ({n['resolution']}px)" for n in d["noise_inputs"]) or "none"))
    if d["input_transform"]:
        print("  input transform  yes (translate / rotate)")
    if d["provenance"]:
        print("  provenance     " + ", ".join(f"{k}={v}" for k, v in d["provenance"].items()))
    return 0
