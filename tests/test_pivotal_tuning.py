"""Pivotal tuning: a copy of the generator learns to draw the photo at the pivot; the rest stays put."""
from __future__ import annotations

import hashlib
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import main as cli_main
from explorer.io import load_generator
from explorer.io.native import save_generator
from explorer.latents import load_ws
from explorer.project.losses import ProjectionLoss, psnr
from explorer.project.tune import TuningConfig, read_model_card, save_tuned, tune
from tests.conftest import make_generator

PIXEL_LOSS = {"l2": 1.0}


def seed_ws(G, seeds) -> torch.Tensor:
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(G.z_dim) for s in seeds])).float()
    with torch.no_grad():
        return G.mapping(z, None)


def photo_outside_the_range(G) -> torch.Tensor:
    """A target no w reaches exactly: a smooth colour ramp with a hard-edged square in it."""
    r = G.img_resolution
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, r), torch.linspace(-1, 1, r), indexing="ij")
    img = torch.stack([xx, yy, -xx * 0.5])
    img[:, r // 4: r // 2, r // 4: r // 2] = torch.tensor([0.8, -0.6, 0.2]).view(3, 1, 1)
    return ((img * 127.5 + 128).clamp(0, 255).floor() / 127.5 - 1)[None]


def closeness(G, H, ws) -> float:
    with torch.no_grad():
        return float(psnr(G.synthesis(ws, noise_mode="const"), H.synthesis(ws, noise_mode="const")).mean())


def test_tuning_makes_the_pivot_draw_the_photo():
    G = make_generator()
    target, pivot = photo_outside_the_range(G), seed_ws(G, [3])
    result = tune(G, target, pivot, ProjectionLoss(target, PIXEL_LOSS),
                  TuningConfig(num_steps=80, learning_rate=3e-3, locality_weight=0))
    with torch.no_grad():
        after = float(psnr(result.generator.synthesis(pivot, noise_mode="const"), target)[0])
    assert after == pytest.approx(result.psnr_after, abs=1e-4)
    assert result.psnr_after > result.psnr_before + 6, (result.psnr_before, result.psnr_after)
    assert result.history[-1] < result.history[0] / 4 and result.steps_done == 80 and not result.cancelled


def test_the_original_generator_is_untouched_and_mapping_and_noise_stay_in_the_copy():
    G = make_generator()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    target, pivot = photo_outside_the_range(G), seed_ws(G, [3])
    tuned = tune(G, target, pivot, ProjectionLoss(target, PIXEL_LOSS), TuningConfig(num_steps=10, learning_rate=3e-3)).generator
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    after = tuned.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and all(k.startswith("synthesis.") for k in changed)
    assert not any(k.endswith("noise_const") or k.endswith("resample_filter") for k in changed)
    assert not any(p.requires_grad for p in tuned.parameters())


def test_locality_term_keeps_other_latents_close():
    G = make_generator()
    target, pivot = photo_outside_the_range(G), seed_ws(G, [3])
    others = seed_ws(G, range(100, 116))            # seeds the bank never saw
    cfg = dict(num_steps=80, learning_rate=3e-3, locality_bank=32, locality_batch=4)
    free = tune(G, target, pivot, ProjectionLoss(target, PIXEL_LOSS), TuningConfig(locality_weight=0, **cfg))
    local = tune(G, target, pivot, ProjectionLoss(target, PIXEL_LOSS), TuningConfig(locality_weight=3, **cfg))
    free_close, local_close = closeness(G, free.generator, others), closeness(G, local.generator, others)
    assert local_close > free_close + 3, (free_close, local_close)
    assert local.psnr_after > local.psnr_before + 3   # and it still learns the photo


def test_progress_and_cancel():
    G = make_generator()
    target, pivot = photo_outside_the_range(G), seed_ws(G, [3])
    cancel = threading.Event()
    seen = []

    def on_step(s):
        seen.append(s)
        if s.step == 4:
            cancel.set()

    result = tune(G, target, pivot, ProjectionLoss(target, PIXEL_LOSS), TuningConfig(num_steps=50),
                  callback=on_step, cancel=cancel, preview_every=2)
    assert result.cancelled and result.steps_done == 4 and len(result.history) == 4
    assert [s.step for s in seen] == [1, 2, 3, 4] and all(s.num_steps == 50 for s in seen)
    assert [s.preview is not None for s in seen] == [False, True, False, True]
    assert seen[1].preview.shape == (32, 32, 3) and seen[1].preview.dtype == np.uint8


def test_bad_shapes_are_refused():
    G = make_generator()
    target = photo_outside_the_range(G)
    with pytest.raises(ValueError, match="pivot must be"):
        tune(G, target, torch.zeros(1, 3, G.w_dim), ProjectionLoss(target, PIXEL_LOSS))
    with pytest.raises(ValueError, match="target must be"):
        tune(G, target.expand(2, -1, -1, -1), seed_ws(G, [1]), ProjectionLoss(target, PIXEL_LOSS))


def test_saved_tuned_generator_loads_and_draws_the_same(tmp_path):
    G = make_generator()
    target, pivot = photo_outside_the_range(G), seed_ws(G, [3])
    tuned = tune(G, target, pivot, ProjectionLoss(target, PIXEL_LOSS), TuningConfig(num_steps=10, learning_rate=3e-3)).generator
    card = {"tuned_from": "small.safetensors", "photo": "me.png", "tuning": {"steps_done": 10}}
    path = save_tuned(tuned, tmp_path / "tuned.safetensors", card)
    loaded = load_generator(path, device="cpu")
    with torch.no_grad():
        assert torch.equal(loaded.synthesis(pivot, noise_mode="const"), tuned.synthesis(pivot, noise_mode="const"))
    assert read_model_card(path) == card
    prov = dict(loaded.cfg.provenance)
    assert prov["tuned_from"] == "small.safetensors" and prov["tuned_photo"] == "me.png" and prov["tuned_steps"] == "10"
    untuned = save_generator(G, tmp_path / "plain.safetensors")
    assert read_model_card(untuned) is None


# --- the command line ----------------------------------------------------------------------------------

@pytest.fixture
def tiny_checkpoint(tmp_path):
    return save_generator(make_generator(), tmp_path / "tiny.safetensors")


def test_cli_tune_writes_a_tuned_generator_and_leaves_the_original_alone(tmp_path, tiny_checkpoint, capsys):
    G = make_generator()
    photo = tmp_path / "photo.png"
    Image.fromarray(((photo_outside_the_range(G)[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
                    ).resize((50, 40)).save(photo)
    digest = hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    out = tmp_path / "out"
    rc = cli_main(["project", "--checkpoint", str(tiny_checkpoint), "--target", str(photo), "--steps", "10",
                   "--space", "w+", "--loss", "l2", "--tune", "40", "--outdir", str(out), "--device", "cpu"])
    assert rc == 0
    assert hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest() == digest
    stdout = capsys.readouterr().out
    assert "tuned 40 step(s)" in stdout and "the original generator is unchanged" in stdout
    card = read_model_card(out / "tuned.safetensors")
    assert card["photo"] == "photo.png" and card["tuned_from"] == "tiny.safetensors"
    assert card["tuned_from_sha256"] == digest and card["search"]["space"] == "w+"
    assert card["tuning"]["steps_done"] == 40 and card["tuning"]["psnr_after"] > card["tuning"]["psnr_before"]
    assert card["tuning"]["loss_terms"] == {"l2": 1.0}
    # the tuned generator is a checkpoint like any other: render the pivot with it
    assert cli_main(["generate", "--checkpoint", str(out / "tuned.safetensors"), "--projected-w",
                     str(out / "projected_w.npz"), "--outdir", str(tmp_path / "gen"), "--device", "cpu"]) == 0
    drawn = np.asarray(Image.open(tmp_path / "gen" / "proj00.png"))
    assert np.array_equal(drawn, np.asarray(Image.open(out / "proj_tuned.png")))
    target = np.asarray(Image.open(out / "target.png")).astype(float)
    searched = np.asarray(Image.open(out / "proj.png")).astype(float)
    assert np.abs(drawn - target).mean() < np.abs(searched - target).mean()
    assert cli_main(["info", str(out / "tuned.safetensors")]) == 0
    assert "tuned_photo=photo.png" in capsys.readouterr().out


def test_cli_tune_rejects_negative_numbers(tmp_path, tiny_checkpoint, capsys):
    Image.new("RGB", (40, 40)).save(tmp_path / "a.png")
    for opt in (["--tune", "-3"], ["--tune", "5", "--locality", "-1"]):
        rc = cli_main(["project", "--checkpoint", str(tiny_checkpoint), "--target", str(tmp_path / "a.png"),
                       "--outdir", str(tmp_path / "out"), *opt])
        err = capsys.readouterr().err.strip()
        assert rc == 1 and len(err.splitlines()) == 1 and opt[-2] in err
