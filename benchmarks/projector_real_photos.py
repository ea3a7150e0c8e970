"""Photos the generator never saw: W+ search alone vs W+ search + pivotal tuning, and what tuning costs.

    python benchmarks/projector_real_photos.py --faces 0-2 --results r.json    # one slice of faces (resumable)
    python benchmarks/projector_real_photos.py --faces 3-5 --results r.json
    python benchmarks/projector_real_photos.py --faces 6-7 --results r.json
    python benchmarks/projector_real_photos.py --anchor --results r.json       # W+ 500 alone, all faces, one batch
    python benchmarks/projector_real_photos.py --report --results r.json       # the table, closeness, levels
    python benchmarks/projector_real_photos.py --cost 256,1024 --results r.json  # config-f, random weights

Held-out faces: `explorer dataset avatars --seed 4242` (the bundled generator was trained on seed 0's 30,000
avatars; dataset seeds draw disjoint avatars), at the model's resolution. Per face:
  anchor    W+, 500 steps, the projector's defaults (optimised noise maps): what `explorer project` gives today
  W+ | tune the search with the model's own noise (what tuning starts from), then --tune steps of pivotal
            tuning; PSNR of the tuned generator's image of the pivot, wall seconds of search + tuning
  close     mean PSNR between the original and the tuned generator on 32 random seeds (0-31; the locality
            bank uses other z), i.e. how much of the rest of the latent space moved
The report adds `explorer metrics --levels` of the original and of each tuned generator (mean over faces).
Cost: seconds per tuning step (batch 1 + the locality batch) and the process's peak memory, for config-f
generators with random weights at 256 and 1024 px (each in its own process, so peaks do not mix).
Run each slice through /work/tools/quiet; each stays under ~10 minutes on the 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from explorer.image_input import load_square  # noqa: E402
from explorer.io import load_generator  # noqa: E402
from explorer.io.native import save_generator  # noqa: E402
from explorer.latents import parse_seeds  # noqa: E402
from explorer.level_effects import PARTS, level_effects  # noqa: E402
from explorer.nn.config import GeneratorConfig  # noqa: E402
from explorer.nn.generator import Generator  # noqa: E402
from explorer.project.losses import ProjectionLoss, psnr  # noqa: E402
from explorer.project.projector import ProjectorConfig, project, synthesize  # noqa: E402
from explorer.project.tune import TuningConfig, tune  # noqa: E402

HELD_OUT_SEED = 4242
CLOSE_SEEDS = range(32)
COST_MODELS = {256: dict(img_resolution=256, channel_base=32768, channel_max=512, conv_clamp=256),
               1024: dict(img_resolution=1024, channel_base=32768, channel_max=512, conv_clamp=256)}


def held_out_faces(count: int, resolution: int, workdir: Path) -> np.ndarray:
    """[count, R, R, 3] uint8 built with the CLI, as a user would."""
    zip_path = workdir / f"heldout_{HELD_OUT_SEED}_{count}_{resolution}.zip"
    if not zip_path.exists():
        subprocess.run([sys.executable, "-m", "explorer.cli", "dataset", "avatars", "--count", str(count),
                        "--resolution", str(resolution), "--seed", str(HELD_OUT_SEED), "--out", str(zip_path)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import zipfile
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".png"))
        out = []
        for n in names:
            path = workdir / Path(n).name
            path.write_bytes(z.read(n))
            out.append(load_square(path, resolution))
    return np.stack(out)


def as_targets(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels.copy()).permute(0, 3, 1, 2).float() / 127.5 - 1


def seed_ws(G: Generator, seeds) -> torch.Tensor:
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in seeds])).float()
    with torch.no_grad():
        return G.mapping(z.to(G.device), None)


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"faces": {}}


def save_results(path: Path, results: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, path)


def tuning_config(args) -> TuningConfig:
    kwargs = dict(num_steps=args.tune)
    if args.locality is not None:
        kwargs["locality_weight"] = args.locality
    return TuningConfig(**kwargs)


def run_face(G, target: torch.Tensor, args, tuned_path: Path) -> dict:
    t0 = time.perf_counter()
    search = project(G, target, ProjectionLoss(target), ProjectorConfig(num_steps=args.steps, space="w+",
                                                                        optimize_noise=False), preview_every=0)
    t1 = time.perf_counter()
    result = tune(G, target, search.ws, None, tuning_config(args), preview_every=0)   # None: the command's loss
    t2 = time.perf_counter()
    close_ws = seed_ws(G, CLOSE_SEEDS)
    with torch.no_grad():
        close = psnr(result.generator.synthesis(close_ws, noise_mode="const"), G.synthesis(close_ws, noise_mode="const"))
    save_generator(result.generator, tuned_path)
    return dict(search_psnr=result.psnr_before, tuned_psnr=result.psnr_after, close_mean=float(close.mean()),
                close_min=float(close.min()), search_s=t1 - t0, tune_s=t2 - t1, total_s=t2 - t0,
                tuned=str(tuned_path))


def cmd_faces(args, results: dict, path: Path) -> None:
    G = load_generator(args.checkpoint, device="cpu").requires_grad_(False)
    faces = parse_seeds(args.faces)
    pixels = held_out_faces(max(args.count, max(faces) + 1), G.img_resolution, args.workdir)  # one set for all slices
    results.setdefault("config", dict(steps=args.steps, tune=args.tune, threads=torch.get_num_threads(),
                                      tuning=tuning_config(args).__dict__))
    for i in faces:
        if str(i) in results["faces"]:
            print(f"face {i}: already measured, skipped")
            continue
        r = run_face(G, as_targets(pixels[i:i + 1]), args, args.workdir / f"tuned_face{i}.safetensors")
        results["faces"][str(i)] = r
        save_results(path, results)
        print(f"face {i}: W+ {r['search_psnr']:.2f} -> tuned {r['tuned_psnr']:.2f} dB, close {r['close_mean']:.2f} dB "
              f"(min {r['close_min']:.2f}), {r['search_s']:.0f} + {r['tune_s']:.0f} s", flush=True)


def cmd_anchor(args, results: dict, path: Path) -> None:
    G = load_generator(args.checkpoint, device="cpu").requires_grad_(False)
    pixels = held_out_faces(args.count, G.img_resolution, args.workdir)
    targets = as_targets(pixels)
    t0 = time.perf_counter()
    r = project(G, targets, ProjectionLoss(targets), ProjectorConfig(num_steps=500, space="w+"), preview_every=0)
    seconds = time.perf_counter() - t0
    p = psnr(synthesize(G, r.ws, r.noise), targets)
    results["anchor"] = dict(psnr=[float(v) for v in p], mean=float(p.mean()), seconds_batch=seconds,
                             count=args.count)
    save_results(path, results)
    print(f"anchor W+ 500 steps (optimised noise), {args.count} faces in one batch: mean {float(p.mean()):.2f} dB, "
          f"{seconds:.0f} s")


def cmd_report(args, results: dict) -> None:
    faces = results.get("faces", {})
    anchor = results.get("anchor")
    print(f"held-out avatars (dataset seed {HELD_OUT_SEED}), bundled generator, torch threads "
          f"{results.get('config', {}).get('threads')}; config {results.get('config')}")
    print(f"{'face':>4} {'anchor W+500':>13} {'W+ (fixed noise)':>17} {'W+ + tune':>10} {'close (32 seeds)':>17} "
          f"{'search s':>9} {'tune s':>7} {'total s':>8}")
    for k in sorted(faces, key=int):
        r = faces[k]
        a = f"{anchor['psnr'][int(k)]:.2f}" if anchor and int(k) < len(anchor["psnr"]) else "-"
        print(f"{k:>4} {a:>13} {r['search_psnr']:>17.2f} {r['tuned_psnr']:>10.2f} "
              f"{r['close_mean']:>10.2f} (min {r['close_min']:>5.2f})"[:-1] + f") {r['search_s']:>8.0f} "
              f"{r['tune_s']:>7.0f} {r['total_s']:>8.0f}")
    if faces:
        mean = {key: float(np.mean([r[key] for r in faces.values()])) for key in
                ("search_psnr", "tuned_psnr", "close_mean", "total_s")}
        a = f"{np.mean([anchor['psnr'][int(k)] for k in faces]):.2f}" if anchor else "-"
        print(f"mean over {len(faces)} faces: anchor {a} dB, W+ {mean['search_psnr']:.2f} dB, W+ + tuning "
              f"{mean['tuned_psnr']:.2f} dB (target >= 30), closeness {mean['close_mean']:.2f} dB (target >= 30), "
              f"{mean['total_s']:.0f} s per face (target < 120)")
    if args.levels and faces:
        G = load_generator(args.checkpoint, device="cpu").requires_grad_(False)
        original = level_effects(G, pairs=args.levels)["levels"]
        tuned = [level_effects(load_generator(r["tuned"], device="cpu"), pairs=args.levels)["levels"]
                 for r in faces.values() if Path(r["tuned"]).exists()]
        print(f"\nexplorer metrics --levels {args.levels}: original | tuned (mean over {len(tuned)} tuned generators)")
        print(f"{'change':<12}" + "".join(f"{p:>16}" for p in PARTS))
        for name in original:
            cells = [f"{original[name][p]:.3f} | {np.mean([t[name][p] for t in tuned]):.3f}" for p in PARTS]
            print(f"{name:<12}" + "".join(f"{c:>16}" for c in cells))
    for res, c in sorted(results.get("cost", {}).items(), key=lambda kv: int(kv[0])):
        print(f"\ntuning cost, config-f {res} px (random weights, {c['threads']} thread(s)): {c['s_per_step']:.2f} s per "
              f"step (batch 1 + {c['locality_batch']} locality), locality bank of {c['bank']} in {c['bank_s']:.1f} s, "
              f"peak memory {c['peak_gb']:.2f} GB (process; {c['model_gb']:.2f} GB of it the model and its copy)")


def peak_rss_gb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2 ** 20
    return float("nan")


def cmd_cost_one(args) -> None:
    """In a fresh process: time a few tuning steps of a random config-f generator, print JSON."""
    res = int(args.cost_one)
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(**COST_MODELS[res])).eval().requires_grad_(False)
    model_gb = 2 * sum(p.numel() for p in G.parameters()) * 4 / 2 ** 30
    target = torch.rand(1, 3, res, res) * 2 - 1
    pivot = seed_ws(G, [1])
    cfg = TuningConfig(num_steps=args.cost_steps, locality_bank=args.cost_bank)
    stamps: list[float] = []
    t0 = time.perf_counter()
    tune(G, target, pivot, None, cfg, callback=lambda s: stamps.append(time.perf_counter()),
         preview_every=0)
    first = stamps[0] - t0
    per_step = (stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1)
    print(json.dumps(dict(s_per_step=per_step, bank=cfg.locality_bank, locality_batch=cfg.locality_batch,
                          bank_s=first - per_step, peak_gb=peak_rss_gb(), model_gb=model_gb,
                          threads=torch.get_num_threads())))


def cmd_cost(args, results: dict, path: Path) -> None:
    for res in args.cost.split(","):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--cost-one", res, "--threads",
                              str(args.threads), "--cost-steps", str(args.cost_steps), "--cost-bank",
                              str(args.cost_bank)], check=True, capture_output=True, text=True, cwd=ROOT)
        c = json.loads(out.stdout.strip().splitlines()[-1])
        results.setdefault("cost", {})[res] = c
        save_results(path, results)
        print(f"config-f {res} px: {c['s_per_step']:.2f} s/step, bank {c['bank_s']:.1f} s, peak {c['peak_gb']:.2f} GB",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="generator (default: the bundled one)")
    ap.add_argument("--results", type=Path, required=False, default=Path("projector_real_photos.json"))
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "projector_real_photos",
                    help="held-out faces and tuned generators go here")
    ap.add_argument("--faces", default=None, help="measure these faces (e.g. 0-2), skipping ones already measured")
    ap.add_argument("--steps", type=int, default=500, help="W+ search steps before tuning")
    ap.add_argument("--tune", type=int, default=TuningConfig().num_steps, help="tuning steps")
    ap.add_argument("--locality", type=float, default=None, help="tuning's locality weight (default: the command's)")
    ap.add_argument("--anchor", action="store_true", help="W+ 500 steps alone on --count faces, one batch")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--levels", type=int, default=32, help="report: seed pairs for the levels table (0 = skip)")
    ap.add_argument("--cost", default=None, help="config-f resolutions to time tuning at, e.g. 256,1024")
    ap.add_argument("--cost-one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cost-steps", type=int, default=3)
    ap.add_argument("--cost-bank", type=int, default=TuningConfig().locality_bank)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (the benchmark runs under `quiet`)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.cost_one:
        return cmd_cost_one(args)
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = load_results(args.results)
    if args.faces:
        cmd_faces(args, results, args.results)
    if args.anchor:
        cmd_anchor(args, results, args.results)
    if args.cost:
        cmd_cost(args, results, args.results)
    if args.report:
        cmd_report(args, results)


if __name__ == "__main__":
    main()
