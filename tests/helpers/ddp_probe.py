"""Run under torchrun: trains a tiny model, records what this rank wrote and a checksum of its weights."""
from __future__ import annotations

import hashlib
import json
import os
import sys

import torch

from explorer.train import loop


def main() -> None:
    data, outdir, probe_dir = sys.argv[1:4]
    rank = int(os.environ["RANK"])
    written: list[str] = []

    def spy(fn):
        def wrapped(*args, **kwargs):
            written.append(fn.__name__)
            return fn(*args, **kwargs)
        return wrapped

    for name in ("save_generator", "save_png", "save_training_state", "_append_jsonl", "_write_json"):
        setattr(loop, name, spy(getattr(loop, name)))
    cfg = loop.TrainConfig(data=data, outdir=outdir, kimg=0.032, batch=8, channel_base=256, channel_max=32,
                           mapping_layers=2, z_dim=32, w_dim=32, snap_kimg=0.016, progress=False, device="cpu")
    captured = {}
    real_train_G = loop.make_networks

    def keep(*a, **k):
        G, D = real_train_G(*a, **k)
        captured["G"], captured["D"] = G, D
        return G, D

    loop.make_networks = keep
    loop.train(cfg)
    digest = hashlib.sha256()
    for m in (captured["G"], captured["D"]):
        for t in list(m.parameters()) + list(m.buffers()):
            digest.update(t.detach().contiguous().numpy().tobytes())
    with open(os.path.join(probe_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"rank": rank, "digest": digest.hexdigest(), "written": written,
                   "world": torch.distributed.get_world_size()}, f)


if __name__ == "__main__":
    main()
