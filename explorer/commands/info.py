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
    from ..nn.layer_table import build_layer_table

    kind, cfg, state = read_checkpoint(path)
    table = build_layer_table(cfg)
    params = {"mapping": 0, "synthesis": 0}
    for k, v in state.items():
        top = k.split(".")[0]
        if top in params and not any(k.endswith(s) for s in ("noise_const", "resample_filter", "w_avg")):
            params[top] += v.numel()
    return {
        "path": str(path),
        "kind": KINDS[kind],
        "resolution": cfg.img_resolution,
        "img_channels": cfg.img_channels,
        "z_dim": cfg.z_dim, "w_dim": cfg.w_dim, "c_dim": cfg.c_dim,
        "num_ws": cfg.num_ws,
        "mapping_layers": cfg.mapping_layers,
        "architecture": cfg.architecture,
        "conv_clamp": cfg.conv_clamp,
        "channels": {str(r): cfg.channels_at(r) for r in cfg.block_resolutions},
        "parameters": params,
        "has_w_avg": "mapping.w_avg" in state,
        "ws": [{"index": s.index, "resolution": s.resolution, "level": s.level, "layers": list(s.layers)}
               for s in table.ws],
        "levels": {lvl: table.level_indices(lvl) for lvl in ("coarse", "middle", "fine")},
        "noise_inputs": [{"layer": c.name, "resolution": c.resolution} for c in table.noise_layers],
        "provenance": dict(cfg.provenance),
    }


def run(args: argparse.Namespace) -> int:
    from ..bundled import default_checkpoint

    d = describe(args.path or default_checkpoint())
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    print(f"{d['path']}\n  kind           {d['kind']}")
    print(f"  resolution     {d['resolution']} px, {d['img_channels']} channels, architecture {d['architecture']}, "
          f"conv_clamp {d['conv_clamp']}")
    print(f"  latents        z {d['z_dim']}, w {d['w_dim']}, c {d['c_dim']}, num_ws {d['num_ws']}, "
          f"mapping layers {d['mapping_layers']}" + ("" if d["has_w_avg"] else " (w_avg estimated at load)"))
    print("  channels       " + ", ".join(f"{r}:{c}" for r, c in d["channels"].items()))
    print(f"  parameters     mapping {d['parameters']['mapping'] / 1e6:.2f} M, synthesis {d['parameters']['synthesis'] / 1e6:.2f} M")
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
