"""`explorer info`: what a checkpoint holds, including the w-index / layer / level table."""
from __future__ import annotations

import argparse
import json
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a checkpoint")
    p.add_argument("path", nargs="?", default=None, help="checkpoint (default: the bundled generator)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def describe(path: "str | os.PathLike[str]") -> dict:
    from ..io import KINDS, read_checkpoint
    from ..nn.families import FAMILY_NAMES, family_of, layer_table_for

    kind, cfg, state = read_checkpoint(path)
    table = layer_table_for(cfg)
    params = {"mapping": 0, "synthesis": 0}
    for k, v in state.items():
        top = k.split(".")[0]
        if top in params and not any(k.endswith(s) for s in BUFFERS):
            params[top] += v.numel()
    return {
        "path": str(path),
        "kind": KINDS[kind],
        "family": FAMILY_NAMES[family_of(cfg)],
        "resolution": cfg.img_resolution,
        "img_channels": cfg.img_channels,
        "z_dim": cfg.z_dim, "w_dim": cfg.w_dim, "c_dim": cfg.c_dim,
        "num_ws": cfg.num_ws,
        "mapping_layers": cfg.mapping_layers,
        "architecture": cfg.architecture,
        "conv_clamp": getattr(cfg, "conv_clamp", None),
        "channels": ({i.name: i.channels for i in table.synthesis_layers} if table.synthesis_layers
                     else {str(r): cfg.channels_at(r) for r in cfg.block_resolutions}),
        "parameters": params,
        "has_w_avg": "mapping.w_avg" in state,
        "ws": [{"index": s.index, "resolution": s.resolution, "level": s.level, "layers": list(s.layers)}
               | _layer_facts(table, s.index) for s in table.ws],
        "levels": {lvl: table.level_indices(lvl) for lvl in ("coarse", "middle", "fine")},
        "noise_inputs": [{"layer": c.name, "resolution": c.resolution} for c in table.noise_layers],
        "provenance": dict(cfg.provenance),
        **_family_details(cfg),
    }


# Buffers that are not learned parameters (for the parameter count).
BUFFERS = ("noise_const", "resample_filter", "w_avg", "up_filter", "down_filter", "magnitude_ema",
           "input.transform", "input.freqs", "input.phases")


def _layer_facts(table, w_index: int) -> dict:
    """StyleGAN3: each w drives one layer with its own size, channels, sampling rate and cutoff."""
    if not table.synthesis_layers:
        return {}
    info = table.synthesis_layers[w_index]
    return {"size": list(info.size), "channels": info.channels, "sampling_rate": info.sampling_rate,
            "cutoff": info.cutoff}


def _family_details(cfg) -> dict:
    """What only StyleGAN (v1) has: fused upsampling, progressive-growing level, the truncation it carries."""
    from ..nn.stylegan1_config import StyleGAN1Config

    if not isinstance(cfg, StyleGAN1Config):
        return {}
    return {"fused_upsampling_from": cfg.fused_from, "blur": cfg.blur, "lod": cfg.lod,
            "default_truncation": {"psi": cfg.truncation_psi, "cutoff": cfg.truncation_cutoff}}


def run(args: argparse.Namespace) -> int:
    from ..bundled import default_checkpoint

    d = describe(args.path or default_checkpoint())
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    print(f"{d['path']}\n  kind           {d['kind']}")
    print(f"  family         {d['family']}, architecture {d['architecture']}")
    print(f"  resolution     {d['resolution']} px, {d['img_channels']} channels, conv_clamp {d['conv_clamp']}")
    if "lod" in d:
        fused = d["fused_upsampling_from"]
        trunc = d["default_truncation"]
        print(f"  upsampling     {'fused transposed conv from ' + str(fused) + ' px' if fused else 'nearest + conv'}, "
              f"{'[1,2,1] blur' if d['blur'] else 'no blur'}; level of detail {d['lod']:g}")
        print(f"  truncation     psi {trunc['psi']} on w indices < {trunc['cutoff']} (what the pickle carries)")
    print(f"  latents        z {d['z_dim']}, w {d['w_dim']}, c {d['c_dim']}, num_ws {d['num_ws']}, "
          f"mapping layers {d['mapping_layers']}" + ("" if d["has_w_avg"] else " (w_avg estimated at load)"))
    print(f"  parameters     mapping {d['parameters']['mapping'] / 1e6:.2f} M, synthesis {d['parameters']['synthesis'] / 1e6:.2f} M")
    if "cutoff" in d["ws"][0]:
        print("  w index  layer         size       channels  rate    cutoff   level   (rate and cutoff per image width)")
        for s in d["ws"]:
            size = "x".join(map(str, s["size"]))
            print(f"  {s['index']:>7}  {s['layers'][0]:<12}  {size:<9}  {s['channels']:>8}  {s['sampling_rate']:>6g}  "
                  f"{s['cutoff']:>7.2f}  {s['level']}")
    else:
        print("  channels       " + ", ".join(f"{r}:{c}" for r, c in d["channels"].items()))
        print("  w index  res   level   layers")
        for s in d["ws"]:
            print(f"  {s['index']:>7}  {s['resolution']:>4}  {s['level']:<6}  {', '.join(s['layers'])}")
    print("  levels         " + "; ".join(f"{k} {_span(v)}" for k, v in d["levels"].items()))
    print("  noise inputs   " + (", ".join(f"{n['layer']} ({n['resolution']}px)" for n in d["noise_inputs"]) or "none"))
    if d["provenance"]:
        print("  provenance     " + ", ".join(f"{k}={v}" for k, v in d["provenance"].items()))
    return 0


def _span(idx: list[int]) -> str:
    if not idx:
        return "-"
    return f"{idx[0]}-{idx[-1]}" if len(idx) > 1 else str(idx[0])
