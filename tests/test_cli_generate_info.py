"""`explorer generate` and `explorer info` as a user runs them."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import load_generator
from explorer.cli import main
from explorer.images import to_numpy_images
from explorer.latents import parse_seeds, save_ws, zs_from_seeds
from explorer.errors import ExplorerError
from tests.conftest import make_generator


def test_parse_seeds():
    assert parse_seeds("0-3,10") == [0, 1, 2, 3, 10]
    assert parse_seeds("5,5,2") == [5, 2]
    with pytest.raises(ExplorerError):
        parse_seeds("3-1")
    with pytest.raises(ExplorerError):
        parse_seeds("a,b")


def test_generate_writes_one_png_per_seed_matching_the_model(tmp_path, native_checkpoint):
    out = tmp_path / "out"
    assert main(["generate", "--checkpoint", str(native_checkpoint), "--seeds", "0-2,10", "--trunc", "0.7",
                 "--outdir", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["seed0000.png", "seed0001.png", "seed0002.png", "seed0010.png"]
    G = load_generator(native_checkpoint)
    expected = to_numpy_images(G(zs_from_seeds([10], G.z_dim), truncation_psi=0.7))[0]
    assert np.array_equal(np.asarray(Image.open(out / "seed0010.png")), expected)
    a, b = (np.asarray(Image.open(out / n), dtype=int) for n in ("seed0000.png", "seed0001.png"))
    assert np.abs(a - b).mean() > 1   # different seeds, different images


def test_generate_grid_holds_every_seed_in_order(tmp_path, native_checkpoint):
    grid = tmp_path / "grid.png"
    assert main(["generate", "--checkpoint", str(native_checkpoint), "--seeds", "0-4", "--outdir", str(tmp_path / "o"),
                 "--grid", str(grid), "--grid-cols", "3"]) == 0
    g = np.asarray(Image.open(grid))
    assert g.shape == (2 * 32, 3 * 32, 3)
    assert np.array_equal(g[32:, 32:64], np.asarray(Image.open(tmp_path / "o" / "seed0004.png")))


def test_generate_cutoff_and_noise_modes(tmp_path, native_checkpoint):
    for mode in ("const", "random", "none"):
        assert main(["generate", "--checkpoint", str(native_checkpoint), "--seeds", "3", "--trunc", "0.5",
                     "--cutoff", "2", "--noise-mode", mode, "--outdir", str(tmp_path / mode)]) == 0
    imgs = {m: np.asarray(Image.open(tmp_path / m / "seed0003.png"), dtype=int) for m in ("const", "random", "none")}
    assert np.abs(imgs["const"] - imgs["none"]).max() > 0
    assert np.abs(imgs["random"] - imgs["const"]).max() > 0


def test_generate_from_projected_w(tmp_path, native_checkpoint):
    G = load_generator(native_checkpoint)
    ws = G.mapping(torch.randn(2, G.z_dim), None)
    npz = tmp_path / "projected_w.npz"
    save_ws(npz, ws)
    assert main(["generate", "--checkpoint", str(native_checkpoint), "--projected-w", str(npz),
                 "--outdir", str(tmp_path / "o")]) == 0
    img = np.asarray(Image.open(tmp_path / "o" / "proj01.png"))
    assert np.array_equal(img, to_numpy_images(G.synthesis(ws[1:2]))[0])


def test_generate_conditional_needs_class(tmp_path, capsys):
    from explorer.io.native import save_generator
    path = save_generator(make_generator(c_dim=3), tmp_path / "cond.safetensors")
    assert main(["generate", "--checkpoint", str(path), "--seeds", "0", "--outdir", str(tmp_path / "o")]) == 1
    assert "--class" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", str(path), "--seeds", "0", "--class", "2", "--outdir", str(tmp_path / "o")]) == 0


def test_generate_unwritable_outdir(tmp_path, native_checkpoint, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["generate", "--checkpoint", str(native_checkpoint), "--seeds", "0", "--outdir", str(blocker / "sub")]) == 1
    err = capsys.readouterr().err.strip()
    assert str(blocker / "sub") in err and len(err.splitlines()) == 1


def test_info_describes_layers_levels_and_noise(native_checkpoint, capsys):
    assert main(["info", str(native_checkpoint), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["resolution"] == 32 and d["num_ws"] == 8 and d["z_dim"] == 64 and d["mapping_layers"] == 3
    assert d["levels"] == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": []}
    assert d["ws"][3]["layers"] == ["b8.torgb", "b16.conv0"]
    assert [n["layer"] for n in d["noise_inputs"]][:3] == ["b4.conv1", "b8.conv0", "b8.conv1"]
    layers = {layer["name"]: layer for layer in d["layers"]}
    assert layers["b4.conv1"]["channels"] == 64 and layers["b32.conv1"]["channels"] == 16
    assert layers["b32.torgb"]["channels"] == 3 and layers["b16.conv0"]["w_index"] == 3
    assert layers["b16.conv0"]["cutoff"] == 8 and layers["b16.conv0"]["level"] == "middle"
    assert d["family"] == "StyleGAN2" and d["architecture"] == "skip" and not d["input_transform"]
    assert main(["info", str(native_checkpoint)]) == 0
    text = capsys.readouterr().out
    assert "coarse 0-3" in text and "b16.conv0" in text


def test_save_ws_is_atomic_and_names_an_unwritable_file(tmp_path):
    from explorer.errors import OutputError
    from explorer.latents import load_ws

    ws = torch.randn(2, 4, 8)
    path = save_ws(tmp_path / "w.npz", ws)
    assert torch.equal(load_ws(path, 4, 8), ws) and not list(tmp_path.glob("*.tmp"))
    bad = tmp_path / "missing-dir" / "w.npz"
    with pytest.raises(OutputError, match="missing-dir.*cannot write w"):
        save_ws(bad, ws)
