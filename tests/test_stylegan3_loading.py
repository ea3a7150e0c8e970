"""StyleGAN3 pickles open safely, keep NVlabs' call conventions, convert to our format, describe themselves,
and every broken one gets a one-line error naming the file."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, safe_open, save_file

from explorer import CheckpointError, load_generator
from explorer.cli import main
from explorer.io.native import save_generator
from explorer.nn.families import layer_table_for
from explorer.nn.stylegan3_config import StyleGAN3Config
from tests.helpers.nvlabs_writer import sg3_config_layout, write_nvlabs_sg3_pickle
from tests.helpers.reference_data import load_model
from tests.helpers.stylegan3_nets import random_stylegan3


@pytest.fixture(scope="module")
def t16():
    return load_model("stylegan3", "t16_cond4")


@pytest.fixture
def pkl(tmp_path, t16):
    path = tmp_path / "network-snapshot-000400.pkl"
    write_nvlabs_sg3_pickle(t16.weights, t16.config, path)
    return path


def _one_line_error(path, *fragments):
    with pytest.raises(CheckpointError) as info:
        load_generator(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    for f in fragments:
        assert f in msg, msg
    return msg


def _z(G, seed=0):
    return torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim)).float()


# --- NVlabs' conventions ---------------------------------------------------------------------------------

def test_pickle_keeps_nvlabs_attributes_and_call_conventions(pkl, t16):
    G = load_generator(pkl)
    assert (G.z_dim, G.c_dim, G.w_dim, G.num_ws, G.img_resolution, G.img_channels) == (64, 4, 128, 16, 16, 3)
    assert G.synthesis.layer_names == t16.config["layer_names"]
    assert set(G.state_dict()) == set(t16.weights)  # NVlabs' names, 1:1
    c = torch.eye(4)[:1]
    ws = G.mapping(_z(G), c, truncation_psi=0.7, truncation_cutoff=8)
    assert ws.shape == (1, 16, 128)
    img = G.synthesis(ws)
    assert img.shape == (1, 3, 16, 16) and img.dtype == torch.float32
    # no noise inputs: every noise mode gives the same picture
    for mode in ("const", "random", "none"):
        assert torch.equal(G.synthesis(ws, noise_mode=mode), img)
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(ws, noise_mode="loud")
    assert G.noise_layer_names() == [] and G.make_noise(3) == {}
    assert torch.equal(G(_z(G), c, truncation_psi=0.7, truncation_cutoff=8, noise_mode="const"), img)


def test_input_transform_is_the_3x3_buffer_nvlabs_scripts_copy_into(tmp_path):
    G0 = random_stylegan3("R", 32)
    path = tmp_path / "r.pkl"
    write_nvlabs_sg3_pickle(G0.state_dict(), sg3_config_layout(G0.cfg), path)
    G = load_generator(path)
    T = G.synthesis.input.transform
    assert T.shape == (3, 3) and torch.equal(T, torch.eye(3)) and "synthesis.input.transform" in dict(G.named_buffers())
    ws = G.mapping(_z(G), None)
    before = G.synthesis(ws)
    a = np.deg2rad(90)  # gen_images.py: transform = inverse of [[cos, sin, tx], [-sin, cos, ty], [0, 0, 1]]
    m = np.array([[np.cos(a), np.sin(a), 0], [-np.sin(a), np.cos(a), 0], [0, 0, 1]])
    T.copy_(torch.from_numpy(np.linalg.inv(m)))
    rotated = G.synthesis(ws)
    assert (rotated - before).abs().max() > 0.1
    # config-R is rotation equivariant, and a quarter turn maps the sampling grid onto itself: exact
    assert (rotated - torch.rot90(before, k=1, dims=(2, 3))).abs().max() < 1e-4


def test_batch_rows_do_not_depend_on_each_other(pkl):
    G = load_generator(pkl)
    ws = G.mapping(torch.randn(3, G.z_dim), torch.eye(4)[:3])
    batch = G.synthesis(ws)
    for i in range(3):
        assert (batch[i:i + 1] - G.synthesis(ws[i:i + 1])).abs().max() < 1e-5


def test_synthesis_resumes_from_any_layer(pkl):
    G = load_generator(pkl)
    ws = G.mapping(_z(G), torch.eye(4)[:1])
    carries = []
    full = G.synthesis.run(ws, on_layer=lambda i, y, carry: carries.append(carry))
    for k in (1, 5, 15):
        assert torch.equal(G.synthesis.run(ws, start=k, carry=carries[k - 1]), full)


def test_layer_facts_are_plain_data(pkl, t16):
    G = load_generator(pkl)
    infos = G.layer_table.layers
    assert [i.name for i in infos] == ["input"] + t16.config["layer_names"]
    assert [i.w_index for i in infos] == list(range(16))
    for info in infos[1:]:
        a = t16.config["layers"][info.name]
        assert [info.size] * 2 == a["out_size"] and info.channels == a["out_channels"]
        assert info.resolution == a["out_sampling_rate"] and info.cutoff == pytest.approx(a["out_cutoff"])
    assert G.layer_table.noise_layers == ()


@pytest.mark.parametrize("resolution,levels", [
    (1024, ([0, 1, 2], [3, 4, 5], list(range(6, 16)))),
    (256, ([0, 1, 2, 3], [4, 5, 6, 7], list(range(8, 16)))),
    (16, (list(range(0, 8)), list(range(8, 16)), [])),
])
def test_levels_follow_each_layers_cutoff(resolution, levels):
    table = layer_table_for(StyleGAN3Config.design(resolution))
    assert (table.level_indices("coarse"), table.level_indices("middle"), table.level_indices("fine")) == levels
    assert table.parse_indices("coarse,15") == sorted(set(levels[0] + [15]))


# --- our format and `explorer info` -------------------------------------------------------------------------

def test_convert_to_safetensors_round_trip(pkl, tmp_path):
    out = tmp_path / "sg3.safetensors"
    assert main(["convert", str(pkl), str(out)]) == 0
    with safe_open(str(out), "pt") as f:
        cfg = json.loads(f.metadata()["config"])
    assert cfg["family"] == "stylegan3" and len(cfg["layers"]) == 15
    G, G0 = load_generator(out), load_generator(pkl)
    assert G.source_kind == "native" and G.cfg == G0.cfg
    z, c = torch.randn(2, G.z_dim), torch.eye(4)[1:3]
    assert torch.equal(G(z, c, truncation_psi=0.5), G0(z, c, truncation_psi=0.5))
    assert dict(G.cfg.provenance)["source_format"] == "nvlabs-pickle"


def test_info_describes_every_w_index(pkl, capsys):
    assert main(["info", str(pkl), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["family"] == "StyleGAN3" and d["architecture"] == "stylegan3-t" and d["num_ws"] == 16
    assert [w["layers"] for w in d["ws"]][:2] == [["input"], ["L0_36_32"]] and d["ws"][15]["layers"] == ["L14_16_3"]
    assert d["ws"][14]["size"] == 16 and d["ws"][14]["channels"] == 32
    assert d["ws"][3]["cutoff"] == pytest.approx(2 * 2 ** (2 / 12 * 2)) and d["ws"][3]["sampling_rate"] == 16
    assert d["levels"]["coarse"] == list(range(8)) and d["noise_inputs"] == []
    assert main(["info", str(pkl)]) == 0
    text = capsys.readouterr().out
    assert "L13_16_32" in text and "stylegan3-t" in text and "cutoff" in text and "noise inputs   none" in text


def test_generate_writes_images_from_a_stylegan3_pickle(pkl, tmp_path):
    assert main(["generate", "--checkpoint", str(pkl), "--seeds", "0-1", "--class", "2", "--outdir",
                 str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["seed0000.png", "seed0001.png"]


# --- bad input: one line, naming the file -------------------------------------------------------------------

def test_truncated_stylegan3_pickle(pkl, tmp_path):
    bad = tmp_path / "cut.pkl"
    bad.write_bytes(pkl.read_bytes()[: pkl.stat().st_size * 2 // 3])
    _one_line_error(bad, "truncated")


def test_unknown_constructor_arguments(tmp_path, t16):
    cfg = {**t16.config, "init_kwargs": {**t16.config["init_kwargs"], "use_fancy_attention": True}}
    path = tmp_path / "fork.pkl"
    write_nvlabs_sg3_pickle(t16.weights, cfg, path)
    _one_line_error(path, "unknown constructor arguments", "use_fancy_attention")
    cfg = {**t16.config, "init_kwargs": {**t16.config["init_kwargs"], "mapping_kwargs": {"num_layers": 3, "depth": 2}}}
    write_nvlabs_sg3_pickle(t16.weights, cfg, path)
    _one_line_error(path, "mapping_kwargs.depth")


@pytest.mark.parametrize("buffer", ["synthesis.L3_36_32.up_filter", "synthesis.L13_16_32.down_filter",
                                    "synthesis.L7_36_32.magnitude_ema", "synthesis.input.freqs"])
def test_missing_buffers(tmp_path, t16, buffer):
    path = tmp_path / "missing.pkl"
    write_nvlabs_sg3_pickle({k: v for k, v in t16.weights.items() if k != buffer}, t16.config, path)
    _one_line_error(path, "missing", buffer)


def test_missing_layer_attribute(tmp_path, t16):
    path = tmp_path / "noattr.pkl"
    write_nvlabs_sg3_pickle(t16.weights, t16.config, path, drop_attrs={"L4_36_32": ["padding"]})
    _one_line_error(path, "L4_36_32", "padding")


@pytest.mark.parametrize("layer,field,value,expect", [
    ("L5_36_32", "padding", [9, 8, 9, 7], "gives output"),
    ("L5_36_32", "in_channels", 31, "takes 31 channels"),
    ("L13_16_32", "out_size", [18, 18], "gives output [16, 16], not [18, 18]"),
    ("L13_16_32", "in_size", [40, 40], "takes size [40, 40] but L12_36_32 gives [36, 36]"),
    ("L2_36_32", "up_factor", 3, "do not meet"),
    ("L14_16_3", "out_channels", 4, "img_channels"),
])
def test_config_that_does_not_add_up(tmp_path, t16, layer, field, value, expect):
    layers = {**t16.config["layers"], layer: {**t16.config["layers"][layer], field: value}}
    path = tmp_path / "bad.pkl"
    write_nvlabs_sg3_pickle(t16.weights, {**t16.config, "layers": layers}, path)
    _one_line_error(path, "does not add up", expect)


def test_tensor_that_does_not_fit_the_layer(tmp_path, t16):
    weights = dict(t16.weights)
    weights["synthesis.L6_36_32.weight"] = np.zeros([32, 32, 1, 1], np.float32)
    path = tmp_path / "shape.pkl"
    write_nvlabs_sg3_pickle(weights, t16.config, path)
    _one_line_error(path, "synthesis.L6_36_32.weight", "shape")


def test_bad_attribute_type(tmp_path, t16):
    layers = {**t16.config["layers"], "L1_36_32": {**t16.config["layers"]["L1_36_32"], "in_cutoff": "two"}}
    path = tmp_path / "type.pkl"
    write_nvlabs_sg3_pickle(t16.weights, {**t16.config, "layers": layers}, path)
    _one_line_error(path, "L1_36_32", "in_cutoff")


def test_skeleton_without_attributes(tmp_path):
    import collections

    from tests.helpers.nvlabs_writer import _install_fake_modules, _Persistent
    _install_fake_modules()

    def rec(cls, params, modules=None):
        return _Persistent(cls, {"_parameters": collections.OrderedDict(params), "_buffers": collections.OrderedDict(),
                                 "_modules": collections.OrderedDict(modules or {}), "_init_kwargs": {}})
    syn = rec("SynthesisNetwork", {}, {"input": rec("SynthesisInput", {"weight": torch.zeros(4, 4)}),
                                       "L0_36_512": rec("SynthesisLayer", {"weight": torch.zeros(4, 4, 3, 3)})})
    path = tmp_path / "stylegan3-t.pkl"
    path.write_bytes(pickle.dumps({"G_ema": rec("Generator", {}, {"synthesis": syn, "mapping": rec("MappingNetwork", {})})}))
    _one_line_error(path, "StyleGAN3", "lacks attribute")


def test_native_file_with_a_broken_stylegan3_config(pkl, tmp_path):
    good = save_generator(load_generator(pkl), tmp_path / "good.safetensors")
    with safe_open(str(good), "pt") as f:
        meta = f.metadata()
    cfg = json.loads(meta["config"])
    cfg["layers"][3]["out_channels"] = 7
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(good)), str(bad), metadata={**meta, "config": json.dumps(cfg)})
    _one_line_error(bad, "invalid generator config", "channels")
    tensors = load_file(str(good))
    tensors["synthesis.L2_36_32.down_filter"][0] = float("nan")
    save_file(tensors, str(bad), metadata=meta)
    _one_line_error(bad, "synthesis.L2_36_32.down_filter", "NaN")
