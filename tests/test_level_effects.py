"""The level-effects measurement: it attributes changes to the right level and to noise, and the CLI shows it."""
from __future__ import annotations

import json

import torch

from explorer.cli import main
from explorer.io.native import save_generator
from explorer.level_effects import level_effects
from tests.conftest import make_generator


def _deafen(G, level: str) -> None:
    """Make every layer that a level's w indices drive ignore w (its styles become constant)."""
    for i in G.layer_table.level_indices(level):
        for name in G.layer_table.ws[i].layers:
            block, layer = name.split(".")
            getattr(getattr(G.synthesis, block), layer).affine.weight.zero_()


def test_a_level_that_ignores_w_shows_no_change_and_the_others_do():
    G = make_generator(img_resolution=64)
    with torch.no_grad():
        _deafen(G, "fine")
    fx = level_effects(G, pairs=4)["levels"]
    assert set(fx) == {"other seed", "coarse", "middle", "fine", "noise"}
    assert all(v == 0 for v in fx["fine"].values())
    assert fx["coarse"]["layout"] > 0 and fx["middle"]["detail"] > 0
    assert fx["other seed"]["layout"] >= fx["middle"]["layout"]


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
