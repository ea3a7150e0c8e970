"""StyleGAN3 pickles in NVlabs' format render NVlabs' pixels (within 1e-3, fp32) for every reference output.

The committed fixture (config-T, 16 px, conditional) runs everywhere; the shared t32 / r32 models and per-layer
activations run where the shared reference data is present. Config-R is also checked in CI on small random
networks against tests/reference/nvlabs_sg3_reference.py, itself checked against NVlabs' numbers here.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer import load_generator
from explorer.nn.filter_design import design_lowpass_filter
from explorer.nn.stylegan3 import StyleGAN3Generator
from explorer.nn.stylegan3_config import StyleGAN3Config
from tests.helpers.nvlabs_writer import sg3_config_layout, write_nvlabs_sg3_pickle
from tests.helpers.reference_data import ReferenceModel, load_model
from tests.helpers.stylegan3_nets import random_stylegan3
from tests.reference import nvlabs_sg3_reference as ref

TOL = 1e-3
MODELS = ["t16_cond4", "t32", "r32"]


def _pickle_of(model: ReferenceModel, tmp_path):
    path = tmp_path / f"{model.name}.pkl"
    write_nvlabs_sg3_pickle(model.weights, model.config, path)
    return path


def _t(a) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a)).float()


def _ours(G, model: ReferenceModel, key: str, step: dict) -> torch.Tensor:
    o = model.outputs
    c = _t(o[step["c"]]) if "c" in step and G.c_dim else None
    if step["op"] == "mapping":
        return G.mapping(_t(o[step["z"]]), c, truncation_psi=step["truncation_psi"],
                         truncation_cutoff=step["truncation_cutoff"])
    G.synthesis.input.transform.copy_(_t(o[step["input_transform"]]) if step.get("input_transform") else torch.eye(3))
    if step["op"] == "synthesis":
        return G.synthesis(_t(o[step["ws"]]), noise_mode=step["noise_mode"], force_fp32=step["force_fp32"])
    return G(_t(o[step["z"]]), c, truncation_psi=step["truncation_psi"], truncation_cutoff=step["truncation_cutoff"],
             noise_mode=step["noise_mode"], force_fp32=step["force_fp32"])


@pytest.mark.parametrize("name", MODELS)
def test_every_reference_output_matches_nvlabs(tmp_path, name):
    model = load_model("stylegan3", name)
    G = load_generator(_pickle_of(model, tmp_path))
    checked = {}
    with torch.no_grad():
        for key, step in model.recipe["outputs"].items():
            if step["op"] == "to_uint8":
                ours = (checked[step["img"]] * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
                assert (ours.int() - torch.from_numpy(model.outputs[key]).int()).abs().max() <= 1, key
                continue
            checked[key] = ours = _ours(G, model, key, step)
            err = (ours - _t(model.outputs[key])).abs().max().item()
            assert err < TOL, f"{key}: max abs error {err:.2e}"
    kinds = {s["op"] for s in model.recipe["outputs"].values()}
    assert {"mapping", "synthesis", "generate"} <= kinds
    assert any("transform" in k for k in checked) and any(k.startswith("mix/") for k in checked)


@pytest.mark.parametrize("name", MODELS)
def test_every_layer_matches_nvlabs_activations(tmp_path, name):
    model = load_model("stylegan3", name)
    if model.activations is None:
        pytest.skip(f"no per-layer activations for {name} (only the shared reference data has them)")
    G = load_generator(_pickle_of(model, tmp_path))
    seen = {}
    names = [layer.name for layer in G.layer_table.layers]
    with torch.no_grad():
        G.synthesis(_t(model.outputs["ws/s0/psi1_cutNone"]), on_layer=lambda i, x, carry: seen.__setitem__(names[i], x))
    for key, theirs in model.activations.items():
        if key.startswith("act/synthesis."):
            name_ = key[len("act/synthesis."):]
            err = (seen[name_] - _t(theirs)).abs().max().item()
            assert err < TOL, f"{name_}: max abs error {err:.2e}"
    assert len(seen) == G.num_ws  # input + every layer


@pytest.mark.parametrize("name", MODELS)
def test_reference_restatement_reproduces_nvlabs(name):
    """The slow re-statement used for config-R in CI computes what NVlabs' code computed."""
    model = load_model("stylegan3", name)
    sd = {k: _t(v) for k, v in model.weights.items()}
    cfg, o = model.config, model.outputs
    for key in ["img/s0/psi1_cutNone/const/fp32", "img/s1/psi1_cutNone/const/fp32/transform_tx0.3_ty-0.1_rot10"]:
        step = model.recipe["outputs"][key]
        transform = _t(o[step["input_transform"]]) if step["input_transform"] else None
        img = ref.synthesis(sd, _t(o[step["ws"]]), cfg["layer_names"], cfg["layers"], cfg["input"],
                            cfg["output_scale"], transform=transform)
        assert (img - _t(o[key])).abs().max().item() < 1e-5


@pytest.mark.parametrize("name", MODELS)
def test_design_reproduces_nvlabs_layers_and_filters(name):
    """A fresh generator gets the layers and filters NVlabs' code designs for the same arguments."""
    model = load_model("stylegan3", name)
    kw = model.config["init_kwargs"]
    cfg = StyleGAN3Config.design(
        kw["img_resolution"], channel_base=kw["channel_base"], channel_max=kw["channel_max"],
        conv_kernel=kw.get("conv_kernel", 3), use_radial_filters=kw.get("use_radial_filters", False),
        z_dim=kw["z_dim"], w_dim=kw["w_dim"], c_dim=kw["c_dim"], mapping_layers=kw["mapping_kwargs"]["num_layers"])
    layout = sg3_config_layout(cfg)
    assert layout["layer_names"] == model.config["layer_names"]
    assert layout["input"] == model.config["input"]
    for name_, theirs in model.config["layers"].items():
        ours = layout["layers"][name_]
        assert set(ours) == set(theirs)
        for k, v in theirs.items():
            assert ours[k] == pytest.approx(v, abs=1e-12), (name_, k)
    G = StyleGAN3Generator(cfg)
    for k, v in G.state_dict().items():
        if k.endswith("_filter"):
            assert torch.allclose(v, _t(model.weights[k]), atol=1e-7), k
    assert {k for k in G.state_dict()} == set(model.weights)


# --- config-R (and T) on random networks, against the re-statement ----------------------------------------

@pytest.mark.parametrize("flavour,resolution,c_dim,channel_max", [("R", 32, 0, 0), ("R", 64, 3, 0), ("T", 64, 0, 0),
                                                                 ("T", 16, 0, 128)])
def test_random_network_matches_reference_restatement(tmp_path, monkeypatch, flavour, resolution, c_dim, channel_max):
    """(T, 16 px, 128 channels: the early convs run as Winograd convolutions on the CPU, forced at this size.)"""
    from explorer.nn import stylegan3

    if channel_max == 128:
        monkeypatch.setattr(stylegan3, "WINOGRAD_MIN_MACS", 0)
    G0 = random_stylegan3(flavour, resolution, c_dim, channel_max=channel_max)
    path = tmp_path / "g.pkl"
    write_nvlabs_sg3_pickle(G0.state_dict(), sg3_config_layout(G0.cfg), path)
    G = load_generator(path)
    assert G.cfg == G0.cfg.replace(provenance=G.cfg.provenance) and G.cfg.flavour == flavour
    assert any(s.down_radial for s in G.cfg.layers) == (flavour == "R")
    sd = {k: v.clone() for k, v in G0.state_dict().items()}
    layout = sg3_config_layout(G0.cfg)
    z = torch.randn(3, G.z_dim)
    c = torch.nn.functional.one_hot(torch.tensor([0, 2, 1]), c_dim).float() if c_dim else None
    rot = torch.tensor([[0.8, 0.6, 0.1], [-0.6, 0.8, -0.2], [0, 0, 1]])
    for psi, cutoff, transform in [(1.0, None, None), (0.6, 5, rot)]:
        G.synthesis.input.transform.copy_(torch.eye(3) if transform is None else transform)
        with torch.no_grad():
            ours = G(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
            ws = ref.mapping(sd, z, c, G.num_ws, G.cfg.mapping_layers, psi=psi, cutoff=cutoff)
            theirs = ref.synthesis(sd, ws, layout["layer_names"], layout["layers"], layout["input"],
                                   transform=transform)
        assert theirs.abs().max() > 0.05  # a real picture, not a constant
        assert (ours - theirs).abs().max().item() < TOL


def test_clamp_is_honoured(tmp_path):
    G = random_stylegan3("R", 32, conv_clamp=0.5)
    layout = sg3_config_layout(G.cfg)
    sd = dict(G.state_dict())
    ws = G.mapping(torch.randn(2, G.z_dim), None)
    with torch.no_grad():
        ours = G.synthesis(ws)
        theirs = ref.synthesis(sd, ws, layout["layer_names"], layout["layers"], layout["input"])
        unclamped = ref.synthesis(sd, ws, layout["layer_names"],
                                  {n: {**a, "conv_clamp": None} for n, a in layout["layers"].items()}, layout["input"])
    assert (ours - theirs).abs().max().item() < TOL
    assert (theirs - unclamped).abs().max().item() > 0.05  # the clamp did change the picture


def test_design_filters_match_scipy_formulas():
    """Kaiser-windowed sinc with unit DC gain; the radial one is a jinc, non-separable, also unit DC gain."""
    f = design_lowpass_filter(12, cutoff=2, width=12, fs=32)
    assert f.shape == (12,) and f.sum().item() == pytest.approx(1, abs=1e-6) and torch.allclose(f, f.flip(0))
    r = design_lowpass_filter(12, cutoff=2, width=12, fs=32, radial=True)
    assert r.shape == (12, 12) and r.sum().item() == pytest.approx(1, abs=1e-6)
    assert torch.linalg.matrix_rank(r.double(), atol=1e-6) > 1
    assert design_lowpass_filter(1, 2, 12, 32) is None


def test_large_convs_take_the_winograd_path_and_small_ones_do_not(monkeypatch):
    from explorer.nn import stylegan3

    if not torch.backends.nnpack.is_available():
        pytest.skip("this torch build has no NNPACK: every conv runs through oneDNN")
    calls = []
    real = torch._nnpack_spatial_convolution
    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    G = random_stylegan3("T", 16, channel_max=128)
    z = torch.randn(1, G.z_dim)
    G(z)
    assert calls == []   # a 16 px model's convs are far below WINOGRAD_MIN_MACS, where oneDNN's direct conv is faster
    monkeypatch.setattr(stylegan3, "WINOGRAD_MIN_MACS", 0)
    G(z)
    wide = [s for s in G.cfg.layers
            if s.conv_kernel == 3 and min(s.in_channels, s.out_channels) >= stylegan3.WINOGRAD_MIN_CHANNELS]
    assert wide and len(calls) == len(wide)


def test_winograd_is_chosen_by_size_and_channels():
    """Large convs with many channels take Winograd; few channels (its transforms dominate) or few
    multiply-adds (oneDNN's direct conv is faster there) do not; nor do non-3x3, non-fp32 or non-CPU convs."""
    from explorer.nn.stylegan3 import winograd_pays

    def pays(c_in, c_out, size, k=3, dtype=torch.float32):
        return winograd_pays(torch.empty(1, c_in, size, size, dtype=dtype), torch.empty(c_out, c_in, k, k, dtype=dtype), 1)

    if not torch.backends.nnpack.is_available():
        pytest.skip("this torch build has no NNPACK")
    assert pays(512, 512, 148) and pays(256, 181, 276)
    assert not pays(64, 64, 300)              # 3.3 G multiply-adds, but 64 channels
    assert not pays(256, 256, 36)             # 256 channels, but 0.85 G multiply-adds
    assert not pays(512, 512, 148, k=1) and not pays(512, 512, 148, dtype=torch.float64)
