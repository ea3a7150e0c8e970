"""Properties the generator must have whatever its weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.images import to_uint8
from explorer.nn.config import GeneratorConfig
from explorer.nn.layer_table import build_layer_table
from explorer.render.renderer import precision_plan
from tests.conftest import make_generator


@pytest.mark.parametrize("res,num_ws", [(32, 8), (64, 10), (128, 12), (1024, 18)])
def test_num_ws_per_resolution(res, num_ws):
    cfg = GeneratorConfig(img_resolution=res)
    assert cfg.num_ws == num_ws
    assert build_layer_table(cfg).num_ws == num_ws


def test_levels_follow_the_conventional_split_at_1024():
    table = build_layer_table(GeneratorConfig(img_resolution=1024))
    assert table.level_indices("coarse") == [0, 1, 2, 3]
    assert table.level_indices("middle") == [4, 5, 6, 7]
    assert table.level_indices("fine") == list(range(8, 18))


def test_levels_by_resolution_at_64():
    table = build_layer_table(GeneratorConfig(img_resolution=64))
    assert table.level_indices("fine") == [8, 9]
    assert table.ws[1].layers == ("b4.torgb", "b8.conv0")   # torgb shares the next conv0's w
    assert table.parse_indices("coarse,9") == [0, 1, 2, 3, 9]
    assert table.parse_indices("2-4") == [2, 3, 4]
    with pytest.raises(ValueError):
        table.parse_indices("10")


def test_psi_zero_gives_the_average_face():
    G = make_generator()
    z = torch.randn(4, G.z_dim)
    imgs = G(z, truncation_psi=0)
    avg = G.synthesis(G.mapping.w_avg.reshape(1, 1, -1).repeat(1, G.num_ws, 1))
    assert (imgs - avg).abs().max().item() < 1e-5
    assert (G(z) - avg).abs().max().item() > 1e-2


def test_cutoff_truncates_only_the_first_ws():
    G = make_generator()
    z = torch.randn(2, G.z_dim)
    ws = G.mapping(z, None)
    wt = G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=3)
    assert torch.equal(ws[:, 3:], wt[:, 3:])
    assert torch.allclose(wt[:, :3], G.mapping.w_avg.lerp(ws[:, :3], 0.5))


def test_noise_mode_none_equals_zero_noise_strength():
    G = make_generator()
    z = torch.randn(2, G.z_dim)
    off = G(z, noise_mode="none")
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.zero_()
    assert torch.allclose(off, G(z, noise_mode="const"), atol=1e-6)
    assert torch.allclose(off, G(z, noise_mode="random"), atol=1e-6)


def test_noise_scales_zero_equals_none_and_scale_one_equals_const():
    G = make_generator()
    z = torch.randn(1, G.z_dim)
    names = G.noise_layer_names()
    assert torch.allclose(G(z, noise_scales={n: 0.0 for n in names}), G(z, noise_mode="none"), atol=1e-6)
    assert torch.equal(G(z, noise_scales={n: 1.0 for n in names}), G(z))
    assert not torch.allclose(G(z, noise_scales={n: 2.0 for n in names}), G(z))


def test_batch_and_single_sample_paths_agree():
    G = make_generator()
    z = torch.randn(3, G.z_dim)
    batch = G(z)
    single = torch.cat([G(z[i:i + 1]) for i in range(3)])
    assert (batch - single).abs().max().item() < 1e-4


def test_channels_last_and_bf16_paths_stay_close():
    G = make_generator()
    z = torch.randn(2, G.z_dim)
    ref = G(z)
    assert (G(z, channels_last=True) - ref).abs().max().item() < 1e-4
    low = precision_plan(G.layer_table, torch.device("cpu"), "bf16")[0]
    assert low == (torch.bfloat16, 2)                                  # from b8.conv0, the first layer at 8 px
    assert (G(z, low_precision=low) - ref).abs().max().item() < 0.15


def test_uint8_conversion_is_nvlabs_formula():
    img = torch.tensor([-1.0, -0.5, 0.0, 0.999, 1.0, 3.0]).reshape(1, 1, 1, 6).repeat(1, 3, 1, 1)
    out = to_uint8(img)[0, 0, :, 0].numpy()
    expected = np.clip(np.array([-1.0, -0.5, 0.0, 0.999, 1.0, 3.0]) * 127.5 + 128, 0, 255).astype(np.uint8)
    assert np.array_equal(out, expected)


def test_shape_errors_name_the_tensor():
    G = make_generator()
    with pytest.raises(ValueError, match="z has shape"):
        G(torch.randn(2, G.z_dim + 1))
    with pytest.raises(ValueError, match="ws has shape"):
        G.synthesis(torch.randn(1, G.num_ws - 1, G.w_dim))
