"""Semantic directions: SeFa's closed form, the alpha unit, edits in the renderer, the layer outputs it keeps,
and `explorer directions` (npz and grid)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import main
from explorer.directions import (
    DirectionCache,
    load_directions,
    save_directions,
    sefa_directions,
    sefa_layer_names,
    w_covariance,
)
from explorer.errors import ExplorerError
from explorer.io import load_generator
from explorer.io.native import save_generator
from explorer.render.renderer import Renderer
from explorer.render.state import Edit, RenderState, Source
from tests.conftest import make_generator


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return str(save_generator(make_generator(0, img_resolution=64), tmp_path_factory.mktemp("m") / "g64.safetensors"))


@pytest.fixture(scope="module")
def G(ckpt):
    return load_generator(ckpt, device="cpu")


def base_state(ckpt) -> RenderState:
    return RenderState(checkpoint=ckpt, device="cpu", a=Source(seed=3), b=Source(seed=8))


# --- SeFa ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layers", ["all", "coarse", "middle", "fine", "0-3", "9"])
def test_sefa_directions_are_orthonormal_with_descending_positive_eigenvalues(G, layers):
    dirs, evals = sefa_directions(G, layers, k=12)
    assert dirs.shape[1] == G.w_dim and dirs.dtype == np.float32 and len(evals) == len(dirs) > 0
    np.testing.assert_allclose(dirs @ dirs.T, np.eye(len(dirs)), atol=1e-5)
    assert (np.diff(evals) <= 0).all() and (evals > 0).all()


def test_sefa_is_deterministic_for_a_checkpoint_with_a_fixed_sign(ckpt, G):
    again = load_generator(ckpt, device="cpu")
    for layers in ("all", "coarse"):
        d1, e1 = sefa_directions(G, layers, k=10)
        d2, e2 = sefa_directions(again, layers, k=10)
        assert np.array_equal(d1, d2) and np.array_equal(e1, e2)
        pivots = d1[np.arange(len(d1)), np.abs(d1).argmax(axis=1)]
        assert (pivots > 0).all()                       # the largest-magnitude entry is positive


def test_sefa_is_the_papers_closed_form(G):
    # Shen & Zhou: stack the chosen layers' style affine weights, unit-normalise each style unit's weight
    # vector, take the top eigenvectors of A^T A. Here computed independently with numpy.
    names = ["b4.conv1", "b8.conv0", "b8.conv1", "b16.conv0"]       # what w 0-3 drive through convs
    A = np.concatenate([getattr(getattr(G.synthesis, n.split(".")[0]), n.split(".")[1]).affine.weight.numpy()
                        for n in names]).astype(np.float64)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    vals, vecs = np.linalg.eigh(A.T @ A)
    dirs, evals = sefa_directions(G, "coarse", k=5)
    np.testing.assert_allclose(evals, vals[::-1][:5], rtol=1e-5)
    np.testing.assert_allclose(np.abs(dirs @ vecs[:, ::-1][:, :5]), np.eye(5), atol=1e-4)
    # ...and so the first direction moves the styles of those layers more than any random unit vector
    rnd = np.random.RandomState(0).randn(200, G.w_dim)
    rnd /= np.linalg.norm(rnd, axis=1, keepdims=True)
    assert np.linalg.norm(A @ dirs[0]) > np.linalg.norm(A @ rnd.T, axis=0).max()


def test_sefa_factorises_the_layers_its_w_indices_drive(G):
    assert sefa_layer_names(G, "coarse") == ["b4.conv1", "b8.conv0", "b8.conv1", "b16.conv0"]
    assert sefa_layer_names(G, "fine") == ["b64.conv1", "b64.torgb"]   # w9 feeds only the last toRGB
    assert sefa_layer_names(G, "9") == ["b64.torgb"]
    assert not any(n.endswith("torgb") for n in sefa_layer_names(G, "0-8"))
    with pytest.raises(ExplorerError, match="12"):
        sefa_layer_names(G, "12")


def test_k_is_capped_at_the_rank_of_the_stacked_weights(G):
    # 'fine' of this small model: 8 + 8 style units (b64.conv1 and b64.torgb inputs) for a 64-d W
    dirs, evals = sefa_directions(G, "fine", k=40)
    assert len(dirs) == 16 and evals[-1] > 1e-6 * evals[0]
    assert len(sefa_directions(G, "all")[0]) == G.w_dim


# --- alpha unit: standard deviations of w -------------------------------------------------------------------
def test_alpha_counts_standard_deviations_of_w_along_the_direction(G):
    found = DirectionCache().get(G, "sefa", "coarse")
    z = torch.from_numpy(np.random.RandomState(123).randn(3000, G.z_dim)).float()   # other latents
    w = G.mapping(z, None)[:, 0].double().numpy()
    measured = (w @ found.vectors.T.astype(np.float64)).std(axis=0)
    np.testing.assert_allclose(found.std, measured, rtol=0.1)
    np.testing.assert_allclose(np.linalg.norm(found.steps, axis=1), found.std, rtol=1e-5)
    assert np.array_equal(w_covariance(G), w_covariance(G))


# --- edits in the renderer -----------------------------------------------------------------------------------
@pytest.mark.parametrize("layers", ["fine", "coarse", "4,6"])
def test_an_edit_moves_ws_only_inside_its_range_by_alpha_std(ckpt, layers):
    r = Renderer()
    s = base_state(ckpt).replace(psi=0.7)
    G = r.model_for(s).G
    base = r.compute_ws(s, G)
    edited = r.compute_ws(s.replace(edits=(Edit("sefa", 1, -2.5, layers),)), G)
    inside = G.layer_table.parse_indices(layers)
    outside = [i for i in range(G.num_ws) if i not in inside]
    assert torch.equal(edited[:, outside], base[:, outside])
    found = r.directions.get(G, "sefa", layers)
    expected = torch.from_numpy(-2.5 * found.std[1] * found.vectors[1])
    for i in inside:
        torch.testing.assert_close(edited[0, i] - base[0, i], expected, atol=1e-5, rtol=1e-4)


def test_edits_on_a_range_resume_synthesis_from_its_first_layer(ckpt):
    r, fresh = Renderer(), Renderer(use_cache=False)
    s = base_state(ckpt)
    base = r.render(s)
    table = r.generator.layer_table
    for layers, first in (("fine", "b64.conv1"), ("middle", "b16.conv1"), ("coarse", "b4.conv1")):
        e = s.replace(edits=(Edit("sefa", 0, 2.0, layers),))
        img = r.render(e)
        assert r.stats.first_layer == first, layers
        assert np.array_equal(img, fresh.render(e)) and not np.array_equal(img, base)
        r.render(s)
    assert table.layers[table.ws[4].first_layer].name == "b16.conv1"   # w4 first reaches b16.conv1


def test_user_directions_from_npz_are_applied_whatever_their_length(ckpt, tmp_path):
    r = Renderer()
    s = base_state(ckpt)
    G = r.model_for(s).G
    v = np.random.RandomState(5).randn(2, G.w_dim).astype(np.float32)
    np.savez(tmp_path / "short.npz", directions=v)
    np.savez(tmp_path / "long.npz", directions=v * 7)
    base = r.compute_ws(s, G)
    short = r.compute_ws(s.replace(edits=(Edit(str(tmp_path / "short.npz"), 1, 1.5, "all"),)), G)
    long = r.compute_ws(s.replace(edits=(Edit(str(tmp_path / "long.npz"), 1, 1.5, "all"),)), G)
    torch.testing.assert_close(short, long)
    unit = v[1] / np.linalg.norm(v[1])
    std = float(np.sqrt(unit @ w_covariance(G) @ unit))
    torch.testing.assert_close(short[0] - base[0], torch.from_numpy(1.5 * std * unit).expand(G.num_ws, -1),
                               atol=1e-5, rtol=1e-4)
    assert not np.array_equal(r.render(s.replace(edits=(Edit(str(tmp_path / "short.npz"), 0, 2.0, "all"),))),
                              r.render(s))


def test_a_saved_session_keeps_its_edits(ckpt, tmp_path):
    s = base_state(ckpt).replace(edits=(Edit("sefa", 0, 2.0, "coarse"), Edit("sefa", 3, -1.0, "fine")))
    s.save(tmp_path / "s.json")
    assert RenderState.load(tmp_path / "s.json") == s
    assert main(["generate", "--state", str(tmp_path / "s.json"), "--outdir", str(tmp_path / "o")]) == 0
    shown = np.asarray(Image.open(tmp_path / "o" / "s.png"))
    assert np.array_equal(shown, Renderer().render(s))
    assert not np.array_equal(shown, Renderer().render(s.replace(edits=())))


# --- layer outputs kept for the viewer ---------------------------------------------------------------------
def test_renderer_keeps_every_layer_output_without_copies(ckpt):
    s = base_state(ckpt)
    keeping = Renderer()
    keeping.render(s)
    G = keeping.generator
    seen = {}
    names = [layer.name for layer in G.layer_table.layers]
    G.synthesis(keeping.compute_ws(s, G), on_layer=lambda i, y, carry: seen.setdefault(names[i], y.clone()))
    assert list(seen) == names == [f"b{b.resolution}.{n}" for b in G.synthesis.blocks()
                                   for n in ("conv0", "conv1", "torgb") if hasattr(b, n)]
    for name in names:
        torch.testing.assert_close(keeping.layer_output(name).float(), seen[name][0].float(), atol=1e-4, rtol=1e-4)
    early = keeping.layer_output("b16.conv0")
    keeping.render(s.replace(edits=(Edit("sefa", 0, 2.0, "fine"),)))
    assert keeping.stats.first_layer == "b64.conv1"
    assert keeping.layer_output("b16.conv0").data_ptr() == early.data_ptr()   # reused, not recomputed
    assert not torch.equal(keeping.layer_output("b64.conv1"), seen["b64.conv1"][0])


# --- files and the CLI -----------------------------------------------------------------------------------------
def test_cli_writes_directions_that_load_back(ckpt, G, tmp_path, capsys):
    out = tmp_path / "dirs.npz"
    assert main(["directions", "--checkpoint", ckpt, "--layers", "coarse", "--k", "5", "--out", str(out)]) == 0
    assert "eigenvalue" in capsys.readouterr().out
    with np.load(out, allow_pickle=False) as data:
        assert set(data.files) == {"directions", "eigenvalues", "layers", "std"}
        assert data["directions"].shape == (5, G.w_dim) and str(data["layers"]) == "coarse"
        dirs, evals = sefa_directions(G, "coarse", k=5)
        assert np.array_equal(data["directions"], dirs) and np.array_equal(data["eigenvalues"], evals)
        np.testing.assert_allclose(data["std"], DirectionCache().get(G, "sefa", "coarse").std[:5])
    loaded, values = load_directions(out, G.w_dim)
    np.testing.assert_allclose(loaded, dirs, atol=1e-6)
    assert np.array_equal(values, evals)
    assert not list(tmp_path.glob("*.tmp"))


def test_cli_grid_is_direction_blocks_of_seed_rows_by_alpha_columns(tmp_path):
    ckpt = str(save_generator(make_generator(4), tmp_path / "g32.safetensors"))    # 32 px: quick
    grid = tmp_path / "grid.png"
    assert main(["directions", "--checkpoint", ckpt, "--layers", "middle", "--k", "2", "--grid", str(grid),
                 "--seeds", "5,7", "--alphas=-2,0,3", "--trunc", "0.8"]) == 0
    with Image.open(grid) as im:
        image = np.asarray(im.convert("RGB"))
        figure = json.loads(im.text["explorer.figure"])
    assert image.shape == (2 * 2 * 32, 3 * 32, 3)
    assert figure["seeds"] == [5, 7] and figure["alphas"] == [-2.0, 0.0, 3.0] and figure["directions"] == [0, 1]
    r = Renderer()

    def cell(d, s, a):
        return image[(d * 2 + s) * 32:(d * 2 + s + 1) * 32, a * 32:(a + 1) * 32]

    s7 = RenderState(checkpoint=ckpt, device="cpu", psi=0.8, a=Source(seed=7))
    assert np.array_equal(cell(0, 1, 1), r.render(s7))                  # alpha 0: the seed itself
    assert np.array_equal(cell(1, 1, 1), r.render(s7))
    assert np.array_equal(cell(1, 1, 2), r.render(s7.replace(edits=(Edit("sefa", 1, 3.0, "middle"),))))
    assert np.array_equal(cell(0, 0, 0), r.render(s7.replace(a=Source(seed=5), edits=(Edit("sefa", 0, -2.0, "middle"),))))
    assert not np.array_equal(cell(0, 0, 0), cell(0, 0, 2))


def test_default_alphas_are_minus_three_to_three_in_seven_steps():
    import argparse

    from explorer.commands.directions import alpha_list

    assert alpha_list("-3:3:7") == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    assert alpha_list("-1,0.5") == [-1.0, 0.5]
    for bad in ("-3:3", "nan,1", "0:inf:3", "1e6", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            alpha_list(bad)


def _bad_files(tmp_path, w_dim):
    np.savez(tmp_path / "nokey.npz", w=np.zeros((1, w_dim), np.float32))
    np.savez(tmp_path / "shape.npz", directions=np.zeros((2, w_dim + 1), np.float32))
    np.savez(tmp_path / "nan.npz", directions=np.full((1, w_dim), np.nan, np.float32))
    np.savez(tmp_path / "zero.npz", directions=np.zeros((2, w_dim), np.float32))
    np.savez(tmp_path / "evals.npz", directions=np.ones((2, w_dim), np.float32), eigenvalues=np.ones(3))
    np.savez(tmp_path / "pickled.npz", directions=np.array([{"a": 1}], dtype=object))
    np.save(tmp_path / "plain.npy", np.ones((1, w_dim), np.float32))
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 truncated zip")
    (tmp_path / "text.npz").write_text("hello")
    return ["nokey.npz", "shape.npz", "nan.npz", "zero.npz", "evals.npz", "pickled.npz", "plain.npy",
            "garbage.npz", "text.npz", "missing.npz"]


def test_bad_direction_files_give_one_line_errors_naming_the_file(ckpt, G, tmp_path, capsys):
    for name in _bad_files(tmp_path, G.w_dim):
        path = tmp_path / name
        with pytest.raises(ExplorerError) as e:
            load_directions(path, G.w_dim)
        assert str(path) in str(e.value) and "\n" not in str(e.value), name
        assert main(["directions", "--checkpoint", ckpt, "--from", str(path)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and name in err and "Traceback" not in err, name
    with pytest.raises(ExplorerError, match="nokey.npz"):
        Renderer().render(base_state(ckpt).replace(edits=(Edit(str(tmp_path / "nokey.npz"), 0, 1.0, "all"),)))


def test_save_directions_is_atomic_and_reports_unwritable_paths(tmp_path):
    with pytest.raises(ExplorerError, match="nodir"):
        save_directions(tmp_path / "nodir" / "d.npz", np.eye(2, 4), None, "all")
    path = save_directions(tmp_path / "d.npz", np.eye(2, 4), None, "fine")
    with np.load(path) as data:
        assert set(data.files) == {"directions", "layers"}
