"""DiffAugment: each transform does what it says, per sample, and lets gradients through to the images."""
from __future__ import annotations

import json
import math

import torch

from explorer.train.augment import _color, _cutout, _translation, diff_augment
from explorer.train.loop import train

from .test_train import tiny_config, write_images


def test_translation_moves_a_dot_by_at_most_an_eighth_and_differently_per_sample():
    torch.manual_seed(0)
    x = torch.zeros([64, 1, 16, 16])
    x[:, :, 8, 8] = 1.0
    y = _translation(x)
    assert y.shape == x.shape
    positions = set()
    for img in y[:, 0]:
        assert img.sum() == 1.0  # the dot is never lost or duplicated at this distance from the edge
        r, c = (img == 1).nonzero()[0].tolist()
        assert abs(r - 8) <= 2 and abs(c - 8) <= 2
        positions.add((r, c))
    assert len(positions) > 5


def test_translation_fills_with_zero_not_wrapped_content():
    torch.manual_seed(1)
    y = _translation(torch.ones([32, 3, 16, 16]))
    assert (y == 0).any() and set(y.unique().tolist()) <= {0.0, 1.0}


def test_cutout_zeroes_one_square_of_a_quarter_of_the_area_at_most():
    torch.manual_seed(0)
    y = _cutout(torch.ones([64, 3, 16, 16]))
    zeroed = (y[:, 0] == 0).sum(dim=[1, 2])
    assert (zeroed <= 64).all() and (zeroed > 0).all() and (zeroed == 64).any()
    assert torch.equal(y[:, 0], y[:, 2])  # same hole in every channel


def test_color_changes_each_sample_differently():
    torch.manual_seed(0)
    x = torch.rand([1, 3, 8, 8]).repeat(8, 1, 1, 1)
    y = _color(x)
    assert not torch.allclose(y[0], y[1]) and not torch.allclose(y, x)


def test_gradients_reach_the_input():
    x = torch.randn([8, 3, 16, 16], requires_grad=True)
    diff_augment(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_training_with_augment_runs_with_finite_losses(tmp_path):
    data = write_images(tmp_path / "imgs", n=16)
    summary = train(tiny_config(data, tmp_path / "run", kimg=0.016, augment=True))
    assert summary["stopped"] == "done"
    log = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert log and all(math.isfinite(r["loss_D"]) and math.isfinite(r["loss_G"]) for r in log)
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["augment"] is True
