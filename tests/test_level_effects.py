"""The level-effects measurement: it attributes changes to the right level and to noise, and the CLI shows it."""
from __future__ import annotations

import json

import torch

from explorer.cli import main
from explorer.io.native import save_generator
from explorer.level_effects import image_change, level_effects
from tests.conftest import make_generator


def _deafen(G, level: str) -> None:
    """Make every layer that a level's w indices drive ignore w (its styles become constant)."""
    for i in G.layer_table.level_indices(level):
        for name in G.layer_table.ws[i].layers:
            block, layer = name.split(".")
            getattr(getattr(G.synthesis, block), layer).affine.weight.zero_()


def _drawing(seed: int) -> torch.Tensor:
    """A [1, 3, 64, 64] picture with forms: smoothed random blobs, different in each channel."""
    g = torch.Generator().manual_seed(seed)
    img = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 72, 72, generator=g), 9, stride=1)
    return (img - img.mean()) / img.std() * 0.4


def test_recolouring_changes_colour_not_shape_and_moving_changes_shape():
    a = _drawing(0)
    gain, offset = torch.tensor([0.6, 0.8, 0.5]).reshape(1, 3, 1, 1), torch.tensor([0.3, -0.2, 0.1]).reshape(1, 3, 1, 1)
    recoloured = a * gain + offset
    moved = torch.roll(a, shifts=(4, 5), dims=(2, 3))
    same = image_change(a, a, 8)
    assert all(abs(v) < 1e-6 for v in same.values())
    recolour, move = image_change(a, recoloured, 8), image_change(a, moved, 8)
    other = image_change(a, _drawing(1), 8)
    assert recolour["colour"] > 0.1 and recolour["shape"] < 0.05           # brighter and bluer, same forms
    assert move["shape"] > 0.3 and other["shape"] > 0.5                    # the forms moved / are different
    assert move["shape"] > 10 * recolour["shape"]


def test_a_level_that_ignores_w_shows_no_change_and_the_others_do():
    G = make_generator(img_resolution=64)
    with torch.no_grad():
        _deafen(G, "fine")
    fx = level_effects(G, pairs=4)["levels"]
    assert set(fx) == {"other seed", "coarse", "middle", "fine", "noise"}
    assert all(v == 0 for v in fx["fine"].values())
    assert fx["coarse"]["shape"] > 0 and fx["middle"]["detail"] > 0
    assert fx["other seed"]["shape"] >= fx["middle"]["shape"]


def test_noise_change_is_zero_without_noise_strength():
    G = make_generator(img_resolution=32)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.zero_()
    fx = level_effects(G, pairs=2)["levels"]
    assert all(v == 0 for v in fx["noise"].values()) and fx["other seed"]["colour"] > 0


def test_metrics_levels_command_without_data(tmp_path, capsys):
    ckpt = tmp_path / "g.safetensors"
    save_generator(make_generator(img_resolution=32), ckpt)
    out = tmp_path / "m.json"
    assert main(["metrics", "--checkpoint", str(ckpt), "--levels", "4", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "coarse" in text and "noise" in text and "FID" not in text
    assert json.loads(out.read_text())["level_effects"]["pairs"] == 4
    assert main(["metrics", "--checkpoint", str(ckpt)]) == 1
    assert "nothing to measure" in capsys.readouterr().err
