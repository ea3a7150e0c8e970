"""StyleGAN (v1): TF pickles of NVlabs' G_style render what NVlabs' TF code renders, and the family works end to end.

tests/data/tf/sg1_*.npz hold generators built by NVlabs' own TF code (random weights, perturbed) with their TF
outputs; the tests write TF-format pickles from them. Bigger references (512-dim mapping, shared with the
team) are checked when present: $EXPLORER_REFERENCE_DIR or <repo>/../shared/reference.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer import load_generator
from explorer.cli import main
from explorer.io.native import save_generator
from explorer.nn.stylegan1 import Generator as StyleGAN1
from explorer.nn.stylegan1_config import StyleGAN1Config
from explorer.render.renderer import Renderer
from explorer.render.state import Edit, RenderState, Source
from tests.helpers.render_checks import assert_resumes_with_identical_pixels
from tests.helpers.tf_writer import generator_from_reference, max_abs_diff, write_fixture_pickle, write_snapshot

TOL = 1e-3
FIXTURES = ["sg1_r16", "sg1_r32_cond3_fused", "sg1_r128_gray", "sg1_r16_lod"]


@pytest.mark.parametrize("name", FIXTURES)
def test_tf_stylegan_pickle_renders_like_nvlabs_tf(tmp_path, name):
    meta, ref = write_fixture_pickle(name, tmp_path / "karras2019.pkl")
    G = load_generator(tmp_path / "karras2019.pkl")
    assert isinstance(G, StyleGAN1) and G.num_ws == meta["num_ws"]
    z = torch.from_numpy(ref["in/z"])
    c = torch.from_numpy(ref["in/c"]) if G.c_dim else None
    assert max_abs_diff(G.mapping(z, c), ref["ref/ws/psi1.0_cutNone"]) < TOL
    ws = torch.from_numpy(ref["ref/ws/psi1.0_cutNone"])
    n = ref["ref/img/const"].shape[0]
    for mode in ("const", "none"):
        assert max_abs_diff(G.synthesis(ws[:n], noise_mode=mode), ref[f"ref/img/{mode}"]) < TOL
    # G_style's truncation: psi on the first `cutoff` w indices, or on all of them
    cn = None if c is None else c[:n]
    assert max_abs_diff(G(z[:n], cn, truncation_psi=0.7, truncation_cutoff=4), ref["ref/gen/psi0.7_cut4"]) < TOL
    if "ref/gen/psi0.5_cutNone" in ref:
        assert max_abs_diff(G(z, c, truncation_psi=0.5), ref["ref/gen/psi0.5_cutNone"]) < TOL
        assert max_abs_diff(G.synthesis(torch.from_numpy(ref["ref/mixws"])), ref["ref/img/mix"]) < TOL


def test_what_the_pickles_carry_is_read(tmp_path):
    cfgs = {}
    for name in FIXTURES:
        write_fixture_pickle(name, tmp_path / f"{name}.pkl")
        cfgs[name] = load_generator(tmp_path / f"{name}.pkl")
    assert cfgs["sg1_r16"].default_truncation == (0.7, 8)                  # G_style's defaults
    assert cfgs["sg1_r32_cond3_fused"].default_truncation == (0.6, 4)      # set in its static kwargs
    assert cfgs["sg1_r16"].cfg.fused_from is None                          # 'auto' fuses from 128 px
    assert cfgs["sg1_r128_gray"].cfg.fused_from == 128
    assert cfgs["sg1_r32_cond3_fused"].cfg.fused_from == 8                 # fused_scale=True
    assert cfgs["sg1_r16_lod"].cfg.lod == pytest.approx(0.6)
    assert cfgs["sg1_r128_gray"].img_channels == 1 and cfgs["sg1_r32_cond3_fused"].c_dim == 3


def test_levels_are_the_papers_coarse_middle_fine():
    cfg = StyleGAN1Config(img_resolution=1024, channels=tuple((2 ** i, 8) for i in range(2, 11)))
    table = StyleGAN1(cfg).layer_table
    assert table.num_ws == 18
    assert table.level_indices("coarse") == [0, 1, 2, 3]          # 4^2 - 8^2
    assert table.level_indices("middle") == [4, 5, 6, 7]          # 16^2 - 32^2
    assert table.level_indices("fine") == list(range(8, 18))      # 64^2 - 1024^2
    assert [s.layers for s in table.ws[:3]] == [("b4.input",), ("b4.conv1",), ("b8.conv0",)]


# --- the shared references (NVlabs TF outputs, 512-dim mapping) -------------------------------------

def _reference_dir() -> Path | None:
    env = os.environ.get("EXPLORER_REFERENCE_DIR")
    repo = Path(__file__).resolve().parent.parent
    for cand in ([Path(env)] if env else []) + [repo.parent / "shared" / "reference", repo / "shared" / "reference"]:
        if (cand / "stylegan1").is_dir():
            return cand / "stylegan1"
    return None


@pytest.mark.parametrize("model", ["r16", "r32_cond2"])
def test_shared_stylegan1_reference(tmp_path, model):
    root = _reference_dir()
    if root is None or not (root / model / "weights.npz").exists():
        pytest.skip("shared StyleGAN (v1) reference data not present (set EXPLORER_REFERENCE_DIR)")
    config = json.loads((root / model / "config.json").read_text())
    recipe = json.loads((root / model / "recipe.json").read_text())
    with np.load(root / model / "weights.npz") as w:
        weights = {k: w[k] for k in w.files}
    with np.load(root / model / "outputs.npz") as o:
        ref = {k: o[k] for k in o.files}
    write_snapshot(tmp_path / "ref.pkl", generator_from_reference(config["networks"], weights))
    G = load_generator(tmp_path / "ref.pkl")
    got: dict[str, torch.Tensor] = {}
    t = lambda key: got[key] if key in got else torch.from_numpy(ref[key])   # noqa: E731
    for key, step in recipe["outputs"].items():
        c = t(step["c"]) if step.get("c") and G.c_dim else None
        if step["op"] == "mapping":
            got[key] = G.mapping(t(step["z"]), c, truncation_psi=step["truncation_psi"],
                                 truncation_cutoff=step["truncation_cutoff"])
        elif step["op"] == "synthesis":
            got[key] = G.synthesis(torch.from_numpy(ref[step["ws"]]), noise_mode=step["noise_mode"])
        elif step["op"] == "generate":
            got[key] = G(t(step["z"]), c, truncation_psi=step["truncation_psi"],
                         truncation_cutoff=step["truncation_cutoff"], noise_mode=step["noise_mode"])
        elif step["op"] == "to_uint8":
            img = got[step["img"]]
            got[key] = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
            assert np.abs(got[key].numpy().astype(int) - ref[key].astype(int)).max() <= 1, key
            continue
        assert max_abs_diff(got[key], ref[key]) < TOL, key


# --- native format, CLI and the app's renderer ---------------------------------------------------

def test_convert_round_trip_keeps_every_bit(tmp_path, capsys):
    write_fixture_pickle("sg1_r32_cond3_fused", tmp_path / "in.pkl")
    out = tmp_path / "sg1.safetensors"
    assert main(["convert", str(tmp_path / "in.pkl"), str(out)]) == 0
    G0, G = load_generator(tmp_path / "in.pkl"), load_generator(out)
    assert isinstance(G, StyleGAN1) and G.source_kind == "native" and G.cfg == G0.cfg.replace(provenance=G.cfg.provenance)
    z, c = torch.randn(2, G.z_dim), torch.eye(3)[:2]
    assert torch.equal(G(z, c, truncation_psi=0.6, truncation_cutoff=4), G0(z, c, truncation_psi=0.6, truncation_cutoff=4))
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["family"] == "StyleGAN (v1)" and d["architecture"] == "adain" and d["kind"] == "explorer safetensors"
    assert d["default_truncation"] == {"psi": 0.6, "cutoff": 4} and d["fused_upsampling_from"] == 8
    assert d["levels"] == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": []}


def test_info_on_a_tf_stylegan_pickle(tmp_path, capsys):
    write_fixture_pickle("sg1_r128_gray", tmp_path / "sg1.pkl")
    assert main(["info", str(tmp_path / "sg1.pkl")]) == 0
    text = capsys.readouterr().out
    assert "TensorFlow pickle" in text and "StyleGAN (v1)" in text
    assert "fused transposed conv from 128 px" in text and "psi 0.7 on w indices < 8" in text
    assert "b128.conv1" in text and "fine" in text


def test_generate_uses_the_truncation_the_pickle_carries_unless_told(tmp_path):
    from PIL import Image

    write_fixture_pickle("sg1_r16", tmp_path / "sg1.pkl")
    G = load_generator(tmp_path / "sg1.pkl")
    assert main(["generate", "--checkpoint", str(tmp_path / "sg1.pkl"), "--seeds", "3", "--outdir", str(tmp_path / "a")]) == 0
    assert main(["generate", "--checkpoint", str(tmp_path / "sg1.pkl"), "--seeds", "3", "--trunc", "1",
                 "--outdir", str(tmp_path / "b")]) == 0
    a = np.asarray(Image.open(tmp_path / "a" / "seed0003.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "b" / "seed0003.png")).astype(int)
    z = torch.from_numpy(np.random.RandomState(3).randn(1, G.z_dim)).float()
    for png, psi, cutoff in [(a, 0.7, 8), (b, 1.0, None)]:
        want = (G(z, truncation_psi=psi, truncation_cutoff=cutoff).permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255)
        assert np.abs(want.to(torch.uint8)[0].numpy().astype(int) - png).max() <= 1
    assert np.abs(a - b).max() > 10


def make_stylegan1(img_resolution: int = 64, seed: int = 0) -> StyleGAN1:
    """A small StyleGAN (v1) generator whose every parameter matters (noise strengths, biases, w_avg set)."""
    torch.manual_seed(seed)
    cfg = StyleGAN1Config(img_resolution=img_resolution, z_dim=32, w_dim=32, mapping_layers=3, mapping_features=32,
                          channels=tuple((2 ** i, 16) for i in range(2, int(np.log2(img_resolution)) + 1)))
    G = StyleGAN1(cfg).eval()
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.normal_(0, 0.3)
            elif name.endswith("bias"):
                p.normal_(0, 0.2)
        G.mapping.w_avg.normal_(0, 0.3)
    return G.requires_grad_(False)


@pytest.fixture(scope="module")
def sg1_ckpt(tmp_path_factory):
    return str(save_generator(make_stylegan1(), tmp_path_factory.mktemp("sg1") / "sg1_64.safetensors"))


def test_renderer_cache_gives_the_same_pixels_for_every_change(sg1_ckpt):
    cached, fresh = Renderer(), Renderer(use_cache=False)
    s = RenderState(checkpoint=sg1_ckpt, device="cpu", a=Source(seed=3), b=Source(seed=8))
    cached.render(s)
    G = cached.generator
    n_ws, n_noise = G.num_ws, len(G.layer_table.noise_layers)
    cases = {
        "fine mix": (s.with_mix(range(8, n_ws), 1.0, n_ws), "b64.conv0"),
        "w 9 only": (s.with_mix([9], 1.0, n_ws), "b64.conv1"),
        "w 0 only": (s.with_mix([0], 1.0, n_ws), "b4.input"),
        "w 1 only": (s.with_mix([1], 1.0, n_ws), "b4.conv1"),
        "psi+cutoff": (s.replace(psi=0.5, cutoff=4), "b4.input"),
        "last noise": (s.with_noise_scale(n_noise - 1, 0.0, n_noise), "b64.conv1"),
        "noise off 32": (s.replace(noise_off_res=(32,)), "b32.conv0"),
        "random noise": (s.replace(noise_mode="random", noise_seed=5), "b4.input"),
        "edit": (s.replace(edits=(Edit("sefa", 0, 2.0, "coarse"),)), "b4.input"),
    }
    assert_resumes_with_identical_pixels(cached, fresh, s, cases)
    assert cached.layer_output("b4.input").shape == (16, 4, 4)
    assert cached.layer_output("b64.torgb").shape == (3, 64, 64)


def test_mix_noise_grid_and_directions_commands(sg1_ckpt, tmp_path):
    from PIL import Image

    assert main(["mix", "--checkpoint", sg1_ckpt, "--rows", "1,2", "--cols", "3", "--styles", "fine",
                 "--out", str(tmp_path / "mix.png")]) == 0
    assert Image.open(tmp_path / "mix.png").size == (2 * 64, 3 * 64)   # (1 + cols) x (1 + rows)
    assert main(["noise-grid", "--checkpoint", sg1_ckpt, "--seeds", "1", "--out", str(tmp_path / "noise.png")]) == 0
    assert main(["directions", "--checkpoint", sg1_ckpt, "--layers", "coarse", "--k", "3",
                 "--out", str(tmp_path / "dirs.npz")]) == 0
    with np.load(tmp_path / "dirs.npz") as d:
        assert d[d.files[0]].shape[-1] == 32


def test_video_and_projector_run_on_stylegan1(sg1_ckpt, tmp_path):
    from PIL import Image

    assert main(["video", "--checkpoint", sg1_ckpt, "--seeds", "1,2", "--frames-per-seed", "3",
                 "--out", str(tmp_path / "walk.gif")]) == 0
    assert Image.open(tmp_path / "walk.gif").n_frames >= 3
    assert main(["generate", "--checkpoint", sg1_ckpt, "--seeds", "4", "--outdir", str(tmp_path)]) == 0
    assert main(["project", "--checkpoint", sg1_ckpt, "--target", str(tmp_path / "seed0004.png"), "--steps", "3",
                 "--space", "w+", "--outdir", str(tmp_path / "proj")]) == 0
    with np.load(tmp_path / "proj" / "projected_w.npz") as d:
        assert d["w"].shape == (1, 10, 32)


def test_app_model_info_lists_the_layers_a_stylegan1_frame_has(sg1_ckpt):
    from explorer.app.engine import describe

    r = Renderer()
    r.render(RenderState(checkpoint=sg1_ckpt, device="cpu"))
    info = describe(r.generator, ("k",), r.stats)
    names = [layer.name for layer in info.layers]
    assert names[:3] == ["b4.input", "b4.conv1", "b8.conv0"] and names[-1] == "b64.torgb"
    assert sum(n.endswith("torgb") for n in names) == 1           # lod 0: only the last block draws
    assert all(r.layer_output(n) is not None for n in names)      # each one has an image in the viewer
    assert info.family == "StyleGAN (v1)" and info.summary_lines()[1].startswith("StyleGAN (v1)")
