"""Blending two generators of one architecture layer by layer (`explorer blend`)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.errors import ExplorerError
from explorer.io import load_generator
from explorer.io.native import save_generator
from explorer.nn.blend import (blend_generators, check_same_architecture, layer_tensor_names,
                               parse_weights)
from tests.conftest import make_generator

A, B = make_generator(1), make_generator(2)        # same architecture, different weights (32 px: 4-32)


def images(G, ws):
    return G.synthesis(ws, noise_mode="const")


@pytest.fixture(scope="module")
def ws():
    torch.manual_seed(0)
    return A.mapping(torch.randn(2, A.z_dim), None)


def test_layers_are_listed_in_synthesis_order_with_their_level():
    layers = A.layer_table.layers
    assert [x.name for x in layers][:5] == ["b4.conv1", "b4.torgb", "b8.conv0", "b8.conv1", "b8.torgb"]
    assert layers[-1].name == "b32.torgb" and len(layers) == 2 + 3 * 3
    assert {x.level for x in layers if x.resolution <= 8} == {"coarse"} and layers[-1].level == "middle"


def test_zero_is_the_first_model_and_one_the_second(ws):
    n = len(A.layer_table.layers)
    assert torch.equal(images(blend_generators(A, B, [0.0] * n), ws), images(A, ws))
    assert torch.equal(images(blend_generators(A, B, [1.0] * n), ws), images(B, ws))   # the same w drives both
    assert not torch.equal(images(A, ws), images(B, ws))


def test_a_level_takes_only_its_layers_from_the_second_model():
    G = blend_generators(A, B, parse_weights("coarse=1", A.layer_table))
    sd, sa, sb = G.state_dict(), A.state_dict(), B.state_dict()
    coarse = {k for x in A.layer_table.layers if x.level == "coarse" for k in layer_tensor_names(A, x.name)}
    assert "synthesis.b4.const" in coarse and "synthesis.b8.conv0.weight" in coarse
    for k in sd:
        expected = sb[k] if k in coarse else sa[k]
        assert torch.equal(sd[k], expected), k
    assert torch.equal(G.mapping.w_avg, A.mapping.w_avg)


def test_a_weight_between_interpolates_the_tensors():
    G = blend_generators(A, B, parse_weights("b16.conv0=0.25", A.layer_table))
    key = "synthesis.b16.conv0.weight"
    assert torch.allclose(G.state_dict()[key], torch.lerp(A.state_dict()[key], B.state_dict()[key], 0.25))
    assert torch.equal(G.state_dict()["synthesis.b16.conv1.weight"], A.state_dict()["synthesis.b16.conv1.weight"])


def test_weight_specs():
    t = A.layer_table
    w = parse_weights("all=0.5,16=1,b32.torgb=0", t)
    names = [x.name for x in t.layers]
    assert w[names.index("b4.conv1")] == 0.5 and w[names.index("b16.conv0")] == 1.0 and w[-1] == 0.0
    for bad, msg in [("fine=1", "bad blend target 'fine'"), ("coarse=2", "weight in"), ("coarse", "NAME=WEIGHT"),
                     ("b64.conv0=1", "bad blend target")]:
        with pytest.raises(ExplorerError, match=msg):
            parse_weights(bad, t)


def test_mismatched_architectures_get_a_clear_message():
    with pytest.raises(ExplorerError, match=r"b.pt cannot be blended with a.pt: different architecture \(img_resolution 64 vs 32\)"):
        check_same_architecture(A, make_generator(img_resolution=64), "a.pt", "b.pt")
    with pytest.raises(ExplorerError, match=r"different architecture \(synthesis.b4.const: shape"):
        check_same_architecture(A, make_generator(channel_max=32), "a.pt", "b.pt")


def test_the_command_writes_the_blended_generator(tmp_path, ws, capsys):
    a, b = save_generator(A, tmp_path / "a.safetensors"), save_generator(B, tmp_path / "b.safetensors")
    out = tmp_path / "c.safetensors"
    assert main(["blend", str(a), str(b), "--levels", "coarse=0,middle=0.5", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    C = load_generator(out)
    expected = blend_generators(A, B, parse_weights("coarse=0,middle=0.5", A.layer_table))
    assert torch.equal(images(C, ws), images(expected, ws))
    assert "blend" in dict(C.cfg.provenance)
    other = save_generator(make_generator(channel_base=256), tmp_path / "other.safetensors")
    assert main(["blend", str(a), str(other), "--levels", "fine=1", "--out", str(tmp_path / "d.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "other.safetensors cannot be blended" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d.safetensors").exists()


# --- blending live in the renderer ---------------------------------------------------------------------

from explorer.live.controls import apply  # noqa: E402
from explorer.render.renderer import Renderer  # noqa: E402
from explorer.render.state import RenderState, Source  # noqa: E402


@pytest.fixture
def pair(tmp_path):
    return str(save_generator(A, tmp_path / "a.safetensors")), str(save_generator(B, tmp_path / "b.safetensors"))


def test_the_renderer_draws_what_explorer_blend_writes(pair, tmp_path):
    a, b = pair
    weights = parse_weights("coarse=1,b16.conv1=0.5", A.layer_table)
    written = save_generator(blend_generators(A, B, weights), tmp_path / "c.safetensors")
    state = RenderState(checkpoint=a, device="cpu", a=Source(seed=4), psi=0.8)
    live = Renderer().render(state.replace(blend_with=b, blend=weights))
    assert np.array_equal(live, Renderer().render(state.replace(checkpoint=str(written))))
    assert not np.array_equal(live, Renderer().render(state))
    assert np.array_equal(Renderer().render(state.replace(blend_with=b)), Renderer().render(state))   # weights 0


def test_a_blend_change_reruns_from_its_first_layer_and_matches_an_uncached_render(pair):
    a, b = pair
    table = A.layer_table
    state = RenderState(checkpoint=a, device="cpu", a=Source(seed=2), b=Source(seed=3), blend_with=b)
    cached = Renderer()
    cached.render(state)
    steps = [("/explorer/blend_level/middle", 0.5, "b16.conv0"),
             ("/explorer/blend/10", 1.0, "b32.torgb"),
             ("/explorer/blend/2", 0.25, "b8.conv0"),
             ("/explorer/blend_level/middle", 0.0, "b16.conv0"),
             ("/explorer/psi", 0.7, "b4.conv1")]
    for address, value, first in steps:
        state = apply(state, table, address, [value])
        image = cached.render(state)
        assert cached.stats.first_layer == first, address
        assert np.array_equal(image, Renderer(use_cache=False).render(state)), address


def test_a_second_model_of_another_architecture_is_refused_with_its_name(tmp_path, pair):
    a, _ = pair
    other = str(save_generator(make_generator(img_resolution=64), tmp_path / "big.safetensors"))
    state = RenderState(checkpoint=a, device="cpu", blend_with=other, blend=(1.0,))
    with pytest.raises(ExplorerError, match="big.safetensors cannot be blended with .*a.safetensors"):
        Renderer().render(state)


def test_stylegan_v1_generators_blend_too_and_families_do_not_mix(tmp_path):
    from explorer.nn.stylegan1 import Generator as StyleGAN1
    from explorer.nn.stylegan1_config import StyleGAN1Config

    cfg = StyleGAN1Config(img_resolution=16, channels=((4, 32), (8, 32), (16, 16)), z_dim=32, w_dim=32,
                          mapping_layers=2, mapping_features=32)
    torch.manual_seed(0)
    v1a = StyleGAN1(cfg).eval()
    torch.manual_seed(1)
    v1b = StyleGAN1(cfg).eval()
    w = v1a.mapping(torch.randn(1, 32), None)
    n = len(v1a.layer_table.layers)
    assert torch.equal(blend_generators(v1a, v1b, [1.0] * n).synthesis(w), v1b.synthesis(w))   # every tensor goes
    a, b = save_generator(v1a, tmp_path / "v1a.safetensors"), save_generator(v1b, tmp_path / "v1b.safetensors")
    state = RenderState(checkpoint=str(a), device="cpu", blend_with=str(b))
    cached = Renderer()
    cached.render(state)
    state = apply(state, v1a.layer_table, "/explorer/blend_level/middle", [0.5])
    assert np.array_equal(cached.render(state), Renderer(use_cache=False).render(state))
    assert cached.stats.first_layer == "b16.conv0"
    with pytest.raises(ExplorerError, match="a different generator family"):
        check_same_architecture(A, v1a, "a.pt", "v1.pt")


def test_stylegan3_generators_blend_layer_by_layer():
    from explorer.nn.stylegan3 import StyleGAN3Generator
    from explorer.nn.stylegan3_config import StyleGAN3Config

    cfg = StyleGAN3Config.design(16, channel_base=256, channel_max=32, z_dim=16, w_dim=16, mapping_layers=2,
                                 num_layers=4)
    torch.manual_seed(0)
    s3a = StyleGAN3Generator(cfg).eval()
    torch.manual_seed(1)
    s3b = StyleGAN3Generator(cfg).eval()
    layers = s3a.layer_table.layers
    assert [x.name for x in layers][0] == "input" and {x.level for x in layers} >= {"coarse", "middle"}
    w = s3a.mapping(torch.randn(1, 16), None)
    assert torch.equal(blend_generators(s3a, s3b, [1.0] * len(layers)).synthesis(w), s3b.synthesis(w))
    coarse = blend_generators(s3a, s3b, parse_weights("coarse=1", s3a.layer_table)).state_dict()
    assert torch.equal(coarse["synthesis.input.weight"], s3b.state_dict()["synthesis.input.weight"])
    last = layers[-1].name
    assert torch.equal(coarse[f"synthesis.{last}.weight"], s3a.state_dict()[f"synthesis.{last}.weight"])
