"""The validation gate (explorer/io/validate.py): what it lists without allocating is what a module holds."""
from __future__ import annotations

import math

import pytest

from explorer import CheckpointError
from explorer.io.validate import MAX_PARAMETERS, expected_shapes, validate_generator
from explorer.nn.config import GeneratorConfig
from explorer.nn.generator import Generator


@pytest.mark.parametrize("kw", [
    dict(img_resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32),
    dict(img_resolution=32, c_dim=5, w_dim=48, z_dim=0, embed_features=20, layer_features=24, mapping_layers=3,
         channel_base=512, channel_max=64, architecture="resnet"),
    dict(img_resolution=64, architecture="orig", use_noise=False, channel_base=1024, channel_max=32, img_channels=1),
    dict(img_resolution=8, channels=((4, 7), (8, 5)), mapping_layers=1),
])
def test_listed_shapes_are_the_real_modules(kw):
    cfg = GeneratorConfig(**kw)
    real = {k: tuple(v.shape) for k, v in Generator(cfg).state_dict().items()}
    assert expected_shapes(cfg, Generator, "x") == real


def test_listed_shapes_are_the_real_modules_for_stylegan1():
    from explorer.nn.families import new_generator
    from explorer.nn.stylegan1_config import StyleGAN1Config
    cfg = StyleGAN1Config(img_resolution=16, channels=((4, 16), (8, 12), (16, 8)), z_dim=16, w_dim=16, c_dim=3,
                          mapping_layers=2, mapping_features=24)
    real = {k: tuple(v.shape) for k, v in new_generator(cfg).state_dict().items()}
    assert expected_shapes(cfg, new_generator, "x") == real


@pytest.mark.parametrize("flavour", ["T", "R"])
def test_listed_shapes_are_the_real_modules_for_stylegan3(flavour):
    from explorer.nn.families import new_generator
    from tests.helpers.stylegan3_nets import random_stylegan3
    G = random_stylegan3(flavour, 16, c_dim=2)
    real = {k: tuple(v.shape) for k, v in G.state_dict().items()}
    assert expected_shapes(G.cfg, new_generator, "x") == real
    validate_generator(G.cfg, real, "x")


def test_a_stylegan3_config_with_implausible_layers_is_refused():
    from explorer.nn.stylegan3_config import StyleGAN3Config
    cfg = StyleGAN3Config.design(16, channel_base=1 << 30, channel_max=8192, z_dim=8, w_dim=8)   # its own check allows it
    with pytest.raises(CheckpointError, match="channels = 8192 is implausible"):
        validate_generator(cfg, {}, "x")


def test_listing_a_huge_generator_costs_nothing():
    from tests.helpers.peak_memory import PeakMemory
    cfg = GeneratorConfig(img_resolution=1024, channel_base=1 << 24, channel_max=4096)
    with PeakMemory() as mem:
        shapes = expected_shapes(cfg, Generator, "x")
    assert sum(math.prod(s) for s in shapes.values()) > MAX_PARAMETERS
    assert mem.mb < 50
    with pytest.raises(CheckpointError, match="2627 M parameters"):
        validate_generator(cfg, shapes, "x.safetensors")


def test_a_faithful_file_passes_and_one_changed_shape_is_named():
    cfg = GeneratorConfig(img_resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32)
    shapes = {k: tuple(v.shape) for k, v in Generator(cfg).state_dict().items()}
    validate_generator(cfg, shapes, "ok.pkl")
    shapes["synthesis.b8.conv0.weight"] = (32, 32, 3, 4)
    with pytest.raises(CheckpointError, match=r"bad.pkl: tensor synthesis.b8.conv0.weight has shape \[32, 32, 3, 4\], "
                                              r"expected \[32, 32, 3, 3\]"):
        validate_generator(cfg, shapes, "bad.pkl")


def test_optional_buffers_may_be_absent_but_nothing_else():
    cfg = GeneratorConfig(img_resolution=8, z_dim=8, w_dim=8, channel_base=64, channel_max=8)
    shapes = {k: tuple(v.shape) for k, v in Generator(cfg).state_dict().items()
              if not k.endswith("resample_filter") and k != "mapping.w_avg"}
    validate_generator(cfg, shapes, "x")
    shapes.pop("synthesis.b8.torgb.bias")
    with pytest.raises(CheckpointError, match="missing 1 tensors"):
        validate_generator(cfg, shapes, "x")
