"""A StyleGAN3 pickle in NVlabs' format, used the way the app and the commands use any generator: the renderer's
cache, the camera (translate / rotate) against NVlabs' own outputs, videos that hold the camera still or move it
on keyframes of its own, grids, SeFa directions, the projector and the level measurement."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.cli import main
from explorer.errors import ExplorerError
from explorer.images import to_uint8
from explorer.io import load_generator
from explorer.render.camera import input_transform
from explorer.render.renderer import Renderer
from explorer.render.state import Edit, RenderState, Source
from explorer.video import Walk, render_walk, walk_length, walk_transforms
from tests.conftest import make_generator
from tests.helpers.nvlabs_writer import write_nvlabs_sg3_pickle
from tests.helpers.reference_data import load_model
from tests.helpers.render_checks import assert_resumes_with_identical_pixels
from tests.test_video import read_video


@pytest.fixture(scope="module")
def t16():
    return load_model("stylegan3", "t16_cond4")    # config-T, 16 px, 4 classes; committed, so it runs in CI


@pytest.fixture(scope="module")
def pkl(t16, tmp_path_factory):
    path = tmp_path_factory.mktemp("sg3") / "network-snapshot-t16.pkl"
    write_nvlabs_sg3_pickle(t16.weights, t16.config, path)
    return str(path)


def state_of(pkl: str, **changes) -> RenderState:
    return RenderState(checkpoint=pkl, device="cpu", a=Source(seed=1, class_idx=0), b=Source(seed=2, class_idx=1),
                       **changes)


def u8(x: np.ndarray) -> np.ndarray:
    return to_uint8(torch.from_numpy(x))[0].numpy().astype(int)


# --- the camera --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,translate,rotate", [("tx0.3_ty-0.1_rot10", (0.3, -0.1), 10), ("tx0_ty0_rot90", (0, 0), 90)])
def test_the_camera_is_nvlabs_gen_images_transform(t16, name, translate, rotate):
    np.testing.assert_allclose(input_transform(translate, rotate), t16.outputs[f"in/transform/{name}"], atol=1e-6)


@pytest.mark.parametrize("seed,translate,rotate", [(0, "0.3,-0.1", 10), (1, "0,0", 90)])
def test_generate_translate_rotate_gives_nvlabs_pixels(t16, pkl, tmp_path, seed, translate, rotate):
    out = tmp_path / "out"
    assert main(["generate", "--checkpoint", pkl, "--seeds", str(seed), "--class", str(seed), "--translate", translate,
                 "--rotate", str(rotate), "--outdir", str(out)]) == 0     # in/c/s0 is class 0, in/c/s1 class 1
    tx, ty = (float(v) for v in translate.split(","))
    key = f"img/s{seed}/psi1_cutNone/const/fp32/transform_tx{tx:g}_ty{ty:g}_rot{rotate}"
    ours = np.asarray(Image.open(out / f"seed{seed:04d}.png")).astype(int)
    assert np.abs(ours - u8(t16.outputs[key])).max() <= 1
    plain = u8(t16.outputs[f"img/s{seed}/psi1_cutNone/const/fp32"])
    assert np.abs(ours - plain).mean() > 5                      # the camera did move the picture


def test_translate_moves_the_picture_right_and_down_rotate_turns_it_counterclockwise(pkl):
    r = Renderer()
    grey = lambda s: r.render(s, fit=True).astype(float).mean(-1)
    base = grey(state_of(pkl))
    right, down = grey(state_of(pkl, translate=(0.25, 0))), grey(state_of(pkl, translate=(0, 0.25)))
    assert np.abs(right[:, 4:] - base[:, :-4]).mean() < 0.2 * np.abs(right[:, :-4] - base[:, 4:]).mean()
    assert np.abs(down[4:] - base[:-4]).mean() < 0.2 * np.abs(down[:-4] - base[4:]).mean()
    turned = grey(state_of(pkl, rotate=90))
    assert np.abs(turned - np.rot90(base, 1)).mean() < np.abs(turned - np.rot90(base, -1)).mean()


def test_a_camera_asked_of_a_model_without_one_is_a_one_line_error(tmp_path, capsys):
    from explorer.io.native import save_generator

    sg2 = str(save_generator(make_generator(), tmp_path / "sg2.safetensors"))
    for cmd in (["generate", "--seeds", "1", "--outdir", str(tmp_path)], ["mix", "--rows", "1", "--cols", "2", "--out",
                                                                          str(tmp_path / "m.png")]):
        assert main([cmd[0], "--checkpoint", sg2, "--translate", "0.1,0", *cmd[1:]]) == 1
        err = capsys.readouterr().err.strip()
        assert "no input transform" in err and len(err.splitlines()) == 1
    assert main(["video", "--checkpoint", sg2, "--seeds", "1", "--camera", "0,0,0", "0,0,10", "--out",
                 str(tmp_path / "v.gif")]) == 1
    assert "input transform" in capsys.readouterr().err


def test_state_keeps_the_camera_for_models_that_have_one_and_drops_it_otherwise(pkl, tmp_path):
    s = state_of(pkl, translate=(0.2, -0.1), rotate=30)
    s.save(tmp_path / "s.json")
    assert RenderState.load(tmp_path / "s.json") == s
    G = load_generator(pkl)
    assert s.conform(G).translate == (0.2, -0.1) and s.conform(G).rotate == 30
    sg2 = make_generator()
    assert s.conform(sg2).translate == (0.0, 0.0) and s.conform(sg2).rotate == 0.0
    with pytest.raises(ValueError, match="rotate"):
        s.replace(rotate=400)
    with pytest.raises(ValueError, match="translate"):
        s.replace(translate=(5.0, 0.0))
    for bad in ({"rotate": float("nan")}, {"rotate": "30"}, {"translate": [0.1]}, {"translate": "0.1,0"}):
        with pytest.raises(ValueError):
            RenderState.from_dict({**s.to_dict(), **bad})


# --- the renderer --------------------------------------------------------------------------------------------

def test_cached_and_uncached_renders_agree_for_every_control_and_resume_where_it_acts(pkl):
    cached, fresh = Renderer(), Renderer(use_cache=False)
    s = state_of(pkl)
    cached.render(s, fit=True)
    table = cached.generator.layer_table
    names = [layer.name for layer in table.layers]
    first_fine = names[table.ws[table.level_indices("fine")[0]].first_layer] if table.level_indices("fine") else None
    n = table.num_ws
    cases = {
        "last w": (s.with_mix([n - 1], 1.0, n), names[-1]),
        "w 8": (s.with_mix([8], 1.0, n), names[8]),
        "middle level": (s.with_mix(table.level_indices("middle"), 1.0, n), names[table.level_indices("middle")[0]]),
        "coarse level": (s.with_mix(table.level_indices("coarse"), 1.0, n), "input"),
        "translate": (s.replace(translate=(0.1, 0.05)), "input"),
        "rotate": (s.replace(rotate=15.0), "input"),
        "psi": (s.replace(psi=0.5), "input"),
        "psi cutoff 8": (s.replace(psi=0.3, cutoff=8), "input"),
        "t": (s.replace(t=0.5), "input"),
        "edit middle": (s.replace(edits=(Edit("sefa", 0, 2.0, "middle"),)), names[table.level_indices("middle")[0]]),
    }
    assert_resumes_with_identical_pixels(cached, fresh, s, cases)
    # truncation with a cutoff leaves the w indices past it alone
    ws = cached.compute_ws(s.replace(psi=0.0, cutoff=8), cached.generator)
    plain = cached.compute_ws(s, cached.generator)
    assert torch.equal(ws[:, 8:], plain[:, 8:]) and not torch.equal(ws[:, :8], plain[:, :8])
    assert first_fine is None or cached.layer_output(first_fine) is not None


def test_layer_viewer_has_the_input_and_every_layer_from_the_frame(pkl):
    r = Renderer()
    r.render(state_of(pkl), fit=True)
    G = r.generator
    seen = {}
    names = [layer.name for layer in G.layer_table.layers]
    G.synthesis(r.compute_ws(state_of(pkl), G), on_layer=lambda i, y, carry: seen.setdefault(names[i], y[0]))
    assert names[0] == "input" and len(names) == G.num_ws == 16
    for name in names:
        assert torch.equal(r.layer_output(name), seen[name]), name


# --- commands ----------------------------------------------------------------------------------------------

def test_info_shows_the_camera_and_the_layer_table(pkl, capsys):
    assert main(["info", pkl]) == 0
    text = capsys.readouterr().out
    assert "StyleGAN3" in text and "input transform" in text and "noise inputs   none" in text
    assert "L14_16_3" in text and "cutoff" in text


def test_mix_grids_and_directions_work_and_the_noise_figure_says_why_not(pkl, tmp_path, capsys):
    assert main(["mix", "--checkpoint", pkl, "--class", "0", "--rows", "1,2", "--cols", "3", "--styles", "all-levels",
                 "--rotate", "20", "--out", str(tmp_path / "mix.png")]) == 0
    fig = json.loads(Image.open(tmp_path / "mix.png").text["explorer.figure"])
    assert fig["levels"] == {"coarse": list(range(8)), "middle": list(range(8, 16))}
    assert main(["noise-grid", "--checkpoint", pkl, "--class", "0", "--seeds", "1", "--out", str(tmp_path / "n.png")]) == 1
    assert "no noise inputs" in capsys.readouterr().err
    assert main(["directions", "--checkpoint", pkl, "--class", "0", "--layers", "coarse", "--k", "3",
                 "--out", str(tmp_path / "d.npz"), "--grid", str(tmp_path / "d.png"), "--seeds", "1",
                 "--alphas=-2,0,2"]) == 0
    with np.load(tmp_path / "d.npz") as d:
        assert d["directions"].shape == (3, 128) and (np.diff(d["eigenvalues"]) <= 0).all()
    grid = np.asarray(Image.open(tmp_path / "d.png")).astype(int)
    assert grid.shape == (3 * 16, 3 * 16, 3)
    assert np.abs(grid[:16, :16] - grid[:16, 32:]).mean() > 2          # -2 and +2 differ


def test_sefa_reads_the_input_affine_only_for_an_index_that_drives_nothing_else(pkl):
    from explorer.directions import sefa_layer_names

    G = load_generator(pkl)
    assert sefa_layer_names(G, "0") == ["input"]
    assert sefa_layer_names(G, "1-2") == [G.layer_table.layers[1].name, G.layer_table.layers[2].name]


def test_video_holds_the_camera_still_or_moves_it_on_its_own_keyframes(pkl, tmp_path):
    r = Renderer()
    s = state_of(pkl, rotate=30.0)
    still = render_walk(Walk((Source(seed=1), Source(seed=2)), frames_per_key=3), s, tmp_path / "still.gif",
                        renderer=r)
    frames = read_video(still.path)
    assert frames.shape[0] == 4
    for k, seed in ((0, 1), (3, 2)):         # every frame keeps the state's camera (30 degrees)
        expected = r.render(s.replace(a=Source(seed=seed, class_idx=0)), fit=True).astype(int)
        unturned = r.render(s.replace(a=Source(seed=seed, class_idx=0), rotate=0.0), fit=True).astype(int)
        assert np.abs(frames[k] - expected).mean() < 0.3 * np.abs(frames[k] - unturned).mean()

    cams = ((0.0, 0.0, 0.0), (0.2, 0.0, 45.0), (0.0, -0.1, 90.0))
    walk = Walk((Source(seed=1),), frames_per_key=4, camera=cams)      # one latent: only the camera moves
    assert len(walk) == walk_length(3, 4, False) == 9
    m = walk_transforms(walk)
    for k, cam in zip((0, 4, 8), cams):                                  # the camera passes through its keys
        np.testing.assert_allclose(m[k].numpy(), input_transform(cam[:2], cam[2]), atol=1e-6)
    moved = read_video(render_walk(walk, s, tmp_path / "cam.gif", renderer=r).path)
    assert moved.shape[0] == 9
    expected = r.render(s.replace(translate=(0.2, 0.0), rotate=45.0), fit=True).astype(int)
    assert np.abs(moved[4] - expected).mean() < 0.3 * np.abs(moved[4] - moved[0]).mean()

    both = Walk((Source(seed=1), Source(seed=2)), frames_per_key=8, camera=cams[:2], interp="linear")
    m = walk_transforms(both)                                            # own keys spread over the whole walk
    assert m.shape[0] == len(both) == 9
    np.testing.assert_allclose(m[-1].numpy(), input_transform(cams[1][:2], cams[1][2]), atol=1e-6)
    with pytest.raises(ExplorerError, match="camera"):
        Walk((Source(seed=1),), camera=((0, 0, 0),))


def test_cli_video_with_a_camera_path(pkl, tmp_path):
    out = tmp_path / "cam.mp4"
    assert main(["video", "--checkpoint", pkl, "--class", "0", "--seeds", "3", "--camera", "0,0,0", "0.1,0,30",
                 "--frames-per-key", "5", "--size", "32x32", "--out", str(out)]) == 0
    frames = read_video(out)
    assert frames.shape == (6, 32, 32, 3) and np.abs(frames[0].astype(int) - frames[-1]).mean() > 3


def test_project_into_w_and_w_plus_without_noise_maps(pkl, tmp_path):
    assert main(["generate", "--checkpoint", pkl, "--seeds", "5", "--class", "2", "--outdir", str(tmp_path)]) == 0
    for space in ("w", "w+"):
        out = tmp_path / space
        assert main(["project", "--checkpoint", pkl, "--class", "2", "--target", str(tmp_path / "seed0005.png"),
                     "--steps", "12", "--space", space, "--loss", "l2=1", "--outdir", str(out)]) == 0
        with np.load(out / "projected_w.npz") as d:
            assert d["w"].shape == (1, 16, 128) and d.files == ["w"]       # no noise maps: StyleGAN3 has none
            if space == "w":
                assert np.allclose(d["w"], d["w"][:, :1])
    target = np.asarray(Image.open(tmp_path / "seed0005.png")).astype(float)
    found = np.asarray(Image.open(tmp_path / "w+" / "proj.png")).astype(float)
    G = load_generator(pkl)
    start = to_uint8(G.synthesis(G.mapping.w_avg.view(1, 1, -1).expand(1, G.num_ws, -1)))[0].numpy()
    assert np.abs(found - target).mean() < 0.7 * np.abs(start - target).mean()   # it moved towards the photo


def test_metrics_levels_on_stylegan3(pkl, capsys):
    assert main(["metrics", "--checkpoint", pkl, "--levels", "4"]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0] for line in text.splitlines()[1:] if line.strip()}
    assert {"coarse", "middle"} <= rows and "noise" not in rows
