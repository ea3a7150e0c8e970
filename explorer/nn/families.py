"""Which generator family a config describes: the one place that maps a config to its module and table.

StyleGAN2 (GeneratorConfig, nn/generator.py) and StyleGAN (v1) (StyleGAN1Config, nn/stylegan1.py) share the
call conventions and the synthesis contract the renderer uses; StyleGAN3 (StyleGAN3Config, nn/stylegan3.py)
shares the call conventions, but its synthesis is a chain of layers, not resolution blocks. What differs is
built here from the config.
"""
from __future__ import annotations

from typing import Any, Union

import torch

from .config import GeneratorConfig
from .layer_table import LayerTable, build_layer_table, build_stylegan3_layer_table
from .stylegan1_config import FAMILY as STYLEGAN1, StyleGAN1Config
from .stylegan3_config import FAMILY as STYLEGAN3, StyleGAN3Config

AnyConfig = Union[GeneratorConfig, StyleGAN1Config, StyleGAN3Config]
FAMILY_NAMES = {"stylegan2": "StyleGAN2", STYLEGAN1: "StyleGAN (v1)", STYLEGAN3: "StyleGAN3"}


def family_of(cfg: AnyConfig) -> str:
    if isinstance(cfg, StyleGAN3Config):
        return STYLEGAN3
    return STYLEGAN1 if isinstance(cfg, StyleGAN1Config) else "stylegan2"


def config_from_dict(d: dict[str, Any]) -> AnyConfig:
    """The config of the family a JSON object names (StyleGAN2 when it names none, as before families)."""
    if d.get("family") == STYLEGAN1:
        return StyleGAN1Config.from_dict(d)
    if d.get("family") == STYLEGAN3:
        return StyleGAN3Config.from_dict(d)
    return GeneratorConfig.from_dict(d)


def new_generator(cfg: AnyConfig) -> torch.nn.Module:
    if isinstance(cfg, StyleGAN1Config):
        from .stylegan1 import Generator as StyleGAN1Generator
        return StyleGAN1Generator(cfg)
    if isinstance(cfg, StyleGAN3Config):
        from .stylegan3 import StyleGAN3Generator
        return StyleGAN3Generator(cfg)
    from .generator import Generator
    return Generator(cfg)


def layer_table_for(cfg: AnyConfig) -> LayerTable:
    if isinstance(cfg, StyleGAN1Config):
        from .stylegan1 import build_layer_table as build_stylegan1_table
        return build_stylegan1_table(cfg)
    if isinstance(cfg, StyleGAN3Config):
        return build_stylegan3_layer_table(cfg)
    return build_layer_table(cfg)
