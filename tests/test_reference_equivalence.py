"""Our engine renders what NVlabs' and rosinality's code would, from their own file formats."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer import load_generator
from explorer.latents import z_from_seed
from tests.conftest import make_generator
from tests.helpers import rosinality_reference as rosi
from tests.helpers.nvlabs_writer import write_nvlabs_pickle
from tests.reference import nvlabs_reference as ref

TOL = 1e-3


def _reference_image(G, z, c=None, psi=1.0, cutoff=None, noise_mode="const"):
    sd = {k: v.clone() for k, v in G.state_dict().items()}
    cfg = G.cfg
    ws = ref.mapping(sd, z, c, cfg.num_ws, cfg.mapping_layers, psi=psi, cutoff=cutoff)
    return ref.synthesis(sd, ws, cfg.img_resolution, architecture=cfg.architecture, conv_clamp=cfg.conv_clamp,
                         noise_mode=noise_mode)


@pytest.mark.parametrize("architecture", ["skip", "resnet", "orig"])
@pytest.mark.parametrize("mapping_layers", [2, 8])
def test_nvlabs_pickle_renders_like_reference(tmp_path, architecture, mapping_layers):
    G0 = make_generator(architecture=architecture, mapping_layers=mapping_layers)
    path = tmp_path / "network-snapshot.pkl"
    write_nvlabs_pickle(G0, path)
    G = load_generator(path)
    assert G.cfg.architecture == architecture and G.cfg.mapping_layers == mapping_layers
    assert G.cfg.conv_clamp == 256
    for seed, psi, cutoff, noise in [(0, 1.0, None, "const"), (5, 0.7, None, "const"), (9, 0.5, 2, "none")]:
        z = torch.from_numpy(z_from_seed(seed, G.z_dim)).float()
        ours = G(z, None, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode=noise)
        theirs = _reference_image(G0, z, psi=psi, cutoff=cutoff, noise_mode=noise)
        assert (ours - theirs).abs().max().item() < TOL


def test_conditional_nvlabs_pickle(tmp_path):
    G0 = make_generator(c_dim=5)
    path = tmp_path / "cond.pkl"
    write_nvlabs_pickle(G0, path)
    G = load_generator(path)
    assert G.c_dim == 5
    z = torch.randn(2, G.z_dim)
    c = torch.nn.functional.one_hot(torch.tensor([1, 3]), 5).float()
    assert (G(z, c) - _reference_image(G0, z, c)).abs().max().item() < TOL
    # the label matters
    assert (G(z, c) - G(z, c.flip(0))).abs().max().item() > 1e-2


def test_conv_clamp_is_honoured(tmp_path):
    G0 = make_generator(conv_clamp=0.5)  # tiny clamp so that it visibly changes the image
    path = tmp_path / "clamp.pkl"
    write_nvlabs_pickle(G0, path)
    G = load_generator(path)
    assert G.cfg.conv_clamp == 0.5
    z = torch.randn(1, G.z_dim)
    assert (G(z) - _reference_image(G0, z)).abs().max().item() < TOL
    unclamped = make_generator(conv_clamp=None)
    unclamped.load_state_dict(G0.state_dict())
    assert (unclamped(z) - G(z)).abs().max().item() > 1e-2


@pytest.mark.parametrize("protocol", [2, 4])
def test_nvlabs_pickle_protocols(tmp_path, protocol):
    G0 = make_generator()
    path = tmp_path / "p.pkl"
    write_nvlabs_pickle(G0, path, protocol=protocol)
    z = torch.randn(1, G0.z_dim)
    assert (load_generator(path)(z) - G0(z)).abs().max().item() < 1e-5


def test_rosinality_checkpoint_renders_like_reference(tmp_path):
    ckpt = rosi.random_checkpoint(size=32)
    path = tmp_path / "550000.pt"
    torch.save(ckpt, path)
    G = load_generator(path)
    assert G.img_resolution == 32 and G.cfg.conv_clamp is None and G.num_ws == 8
    z = torch.randn(3, G.z_dim)
    for psi, noise in [(1.0, "const"), (0.6, "const"), (1.0, "none")]:
        ours = G(z, truncation_psi=psi, noise_mode=noise)
        theirs = rosi.forward(ckpt, z, truncation=psi, noise=noise)
        assert (ours - theirs).abs().max().item() < TOL


def test_rosinality_without_latent_avg_estimates_it(tmp_path):
    ckpt = rosi.random_checkpoint(size=16)
    del ckpt["latent_avg"]
    path = tmp_path / "no_avg.pt"
    torch.save({"g_ema": ckpt["g_ema"]}, path)
    G = load_generator(path)
    w = G.mapping(torch.randn(20000, G.z_dim), None)[:, 0]
    stderr = w.std(0) * (1 / 10000 ** 0.5 + 1 / 20000 ** 0.5)   # both are sample means
    assert ((G.mapping.w_avg - w.mean(0)).abs() < 5 * stderr).all()
    assert G.mapping.w_avg.abs().sum() > 0


def test_native_round_trip_and_convert(tmp_path, capsys):
    from explorer.cli import main

    G0 = make_generator(architecture="resnet")
    pkl = tmp_path / "in.pkl"
    write_nvlabs_pickle(G0, pkl)
    out = tmp_path / "out.safetensors"
    assert main(["convert", str(pkl), str(out)]) == 0
    G = load_generator(out)
    assert G.source_kind == "native"
    z = torch.randn(2, G.z_dim)
    assert torch.equal(G(z), load_generator(pkl)(z))
    provenance = dict(G.cfg.provenance)
    assert provenance["source_format"] == "nvlabs-pickle"


def test_fp16_storage_halves_size_and_keeps_output(tmp_path):
    from explorer.io.native import save_generator

    G0 = make_generator()
    a = save_generator(G0, tmp_path / "a.safetensors")
    b = save_generator(G0, tmp_path / "b.safetensors", dtype=torch.float16)
    assert b.stat().st_size < 0.6 * a.stat().st_size
    z = torch.randn(2, G0.z_dim)
    assert (load_generator(b)(z) - G0(z)).abs().max().item() < 0.05
    assert next(load_generator(b).parameters()).dtype == torch.float32


def test_seed_convention_matches_numpy_randomstate():
    z = z_from_seed(42, 512)
    assert np.array_equal(z, np.random.RandomState(42).randn(1, 512))
