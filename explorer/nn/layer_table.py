"""A generator's synthesis layers as plain data: their order, the w index driving each, what each outputs,
and the level (coarse / middle / fine) of each w index.

Every family builds one (StyleGAN2 and StyleGAN3: below, from their configs; StyleGAN (v1): stylegan1.py) and
everything outside explorer/nn reads it instead of the modules: the renderer (which layers a change reaches),
the app (slider labels and colours, the layer viewer's list), grids, directions, the projector and the CLI.

Levels come from a layer's cutoff, the highest frequency it can carry in cycles per output-image width
(level_of_cutoff): one rule for every family, which reproduces StyleGAN2's 4-8 / 16-32 / 64+ px split.
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .config import GeneratorConfig
    from .stylegan3_config import StyleGAN3Config

LEVELS = ("coarse", "middle", "fine")
LEVEL_CUTOFFS = (4.0, 16.0)     # cycles per image: coarse up to 4, middle up to 16, fine above
KINDS = ("input", "conv", "rgb")
NVLABS_FP16_RES = 4             # StyleGAN2: NVlabs train the top 4 resolutions in fp16


def level_of_cutoff(cutoff: float) -> str:
    """The level of a layer whose signal is band-limited to `cutoff` cycles per output image.

    Frequencies measured in cycles per output image are relative to the output: a layer with cutoff f
    shapes features no smaller than 1/(2f) of the picture, whatever the resolution. A StyleGAN2 layer at
    R px carries up to R/2 cycles, so the conventional split (4-8 px coarse, 16-32 px middle, 64 px and up
    fine) is a split at 4 and 16 cycles; StyleGAN3's layers all run at about the output's sampling rate
    and differ only in their cutoffs, so the same bounds on the cutoff give levels that mean the same
    scale of the picture in both families (at 1024 px: input, L0, L1 coarse; L2-L4 middle; the rest fine).
    """
    eps = 1e-6  # designed cutoffs land on the bounds up to rounding (7.999999999999999)
    if cutoff <= LEVEL_CUTOFFS[0] * (1 + eps):
        return "coarse"
    if cutoff <= LEVEL_CUTOFFS[1] * (1 + eps):
        return "middle"
    return "fine"


def fp16_resolution(img_resolution: int) -> int:
    """The lowest resolution NVlabs train in fp16 (StyleGAN2: the top 4 resolutions, never below 8 px)."""
    return max(2 ** (int(math.log2(img_resolution)) + 1 - NVLABS_FP16_RES), 8)


def level_of_resolution(res: int) -> str:
    """StyleGAN2's split by resolution (4-8 px coarse, 16-32 px middle, 64 px and up fine): Nyquist is res / 2."""
    return level_of_cutoff(res / 2)


@dataclasses.dataclass(frozen=True)
class Layer:
    """One synthesis layer: a module at `G.synthesis.get_submodule(name)`, with a style affine `.affine` where a
    w drives it."""

    name: str                   # Module path under G.synthesis: 'b8.conv0', 'b8.torgb', 'input', 'L3_52_512'.
    w_index: Optional[int]      # ws[:, w_index] drives its affine (None: no w does, as StyleGAN (v1)'s ToRGB).
    kind: str                   # 'conv' (styles scale its channels: a modulated conv, StyleGAN's AdaIN), 'rgb'
                                # (to the image), 'input' (StyleGAN3's Fourier features: w sets their transform).
    resolution: int             # Sampling rate: samples per output-image width (StyleGAN2: the block's resolution).
    size: int                   # Side of its output in samples (StyleGAN3: the margins included).
    channels: int               # Output channels.
    cutoff: float               # Highest frequency its output carries, cycles per image.
    level: str                  # 'coarse', 'middle' or 'fine' (level_of_cutoff).
    noise: bool = False         # Takes a per-pixel noise input [N, 1, size, size] (a key of `noise=`)?
    transform: bool = False     # Reads the input transform (StyleGAN3's translate / rotate)?
    fp16: bool = False          # Runs in fp16 where NVlabs train it so (precision 'auto' on a GPU)?


@dataclasses.dataclass(frozen=True)
class WSlot:
    index: int                  # w index.
    resolution: int             # Resolution of the first layer it drives (what its slider is labelled with).
    level: str                  # 'coarse', 'middle' or 'fine': the level of that layer.
    layers: tuple[str, ...]     # Names of the layers it drives, in synthesis order.
    first_layer: int            # Index in LayerTable.layers of the first of them: where a change of it resumes.


@dataclasses.dataclass(frozen=True)
class LayerTable:
    layers: tuple[Layer, ...]   # In the order synthesis runs them.
    ws: tuple[WSlot, ...]

    @property
    def num_ws(self) -> int:
        return len(self.ws)

    @property
    def noise_layers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.noise)

    @property
    def has_transform(self) -> bool:
        """Does the model take an input transform (translate / rotate)?"""
        return any(layer.transform for layer in self.layers)

    def index(self, name: str) -> int:
        """Position of layer `name` in synthesis order."""
        for i, layer in enumerate(self.layers):
            if layer.name == name:
                return i
        raise KeyError(f"no synthesis layer {name!r}")

    def level_indices(self, level: str) -> list[int]:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        return [s.index for s in self.ws if s.level == level]

    def parse_indices(self, spec: str) -> list[int]:
        """'coarse', 'middle', 'fine', 'all', '0-3', '0,2,5' or combinations like 'coarse,8'."""
        out: list[int] = []
        for part in str(spec).replace(" ", "").split(","):
            if not part:
                continue
            if part in LEVELS:
                out += self.level_indices(part)
            elif part == "all":
                out += list(range(self.num_ws))
            elif "-" in part[1:]:
                a, b = part.split("-", 1)
                out += list(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
        bad = [i for i in out if not 0 <= i < self.num_ws]
        if bad:
            raise ValueError(f"w index {bad[0]} out of range 0-{self.num_ws - 1}")
        return sorted(set(out))


def make_table(layers: "list[Layer] | tuple[Layer, ...]", num_ws: int) -> LayerTable:
    """The table of layers in synthesis order; each w index's slot is read off the layers it drives."""
    slots = []
    for i in range(num_ws):
        driven = [k for k, layer in enumerate(layers) if layer.w_index == i]   # (None: a layer no w drives)
        if not driven:
            raise ValueError(f"w index {i} drives no synthesis layer")
        first = layers[driven[0]]
        slots.append(WSlot(i, first.resolution, first.level, tuple(layers[k].name for k in driven), driven[0]))
    return LayerTable(tuple(layers), tuple(slots))


def build_layer_table(cfg: "GeneratorConfig") -> LayerTable:
    """StyleGAN2: per block conv0 (not at 4 px), conv1, torgb ('orig' and 'resnet': only in the last block).

    w index k drives conv k (counting convs from b4.conv1), and the torgb of a block shares its w with
    the next block's conv0; the last torgb has the last w.
    """
    layers: list[Layer] = []
    w_idx = 0
    fp16_from = fp16_resolution(cfg.img_resolution)
    for res in cfg.block_resolutions:
        convs = ["conv1"] if res == 4 else ["conv0", "conv1"]
        level, fp16 = level_of_resolution(res), res >= fp16_from
        for k, name in enumerate(convs):
            layers.append(Layer(f"b{res}.{name}", w_idx + k, "conv", res, res, cfg.channels_at(res), res / 2, level,
                                noise=cfg.use_noise, fp16=fp16))
        if cfg.architecture == "skip" or res == cfg.img_resolution:
            layers.append(Layer(f"b{res}.torgb", w_idx + len(convs), "rgb", res, res, cfg.img_channels, res / 2,
                                level, fp16=fp16))
        w_idx += len(convs)
    assert w_idx + 1 == cfg.num_ws == 2 * int(math.log2(cfg.img_resolution)) - 2
    return make_table(layers, cfg.num_ws)


def build_stylegan3_layer_table(cfg: "StyleGAN3Config") -> LayerTable:
    """StyleGAN3: w index k drives position k of [input, L0, ..., L{n-1} = ToRGB]; no noise inputs. The input
    reads the input transform (translate / rotate); every layer runs at its own sampling rate and cutoff."""
    inp = cfg.input
    layers = [Layer("input", 0, "input", int(round(inp.sampling_rate)), int(inp.size[0]), inp.channels,
                    inp.bandwidth, level_of_cutoff(inp.bandwidth), transform=True)]
    for k, spec in enumerate(cfg.layers, start=1):
        layers.append(Layer(spec.name, k, "rgb" if spec.is_torgb else "conv", int(round(spec.out_sampling_rate)),
                            int(spec.out_size[0]), spec.out_channels, spec.out_cutoff, level_of_cutoff(spec.out_cutoff),
                            fp16=spec.use_fp16))
    return make_table(layers, cfg.num_ws)


def span(indices: "list[int]") -> str:
    """'4-7' for a run of w indices, '3' for one, '-' for none."""
    if not indices:
        return "-"
    return f"{indices[0]}-{indices[-1]}" if len(indices) > 1 else str(indices[0])


__all__ = ["LEVELS", "KINDS", "Layer", "WSlot", "LayerTable", "make_table", "build_layer_table",
           "build_stylegan3_layer_table",
           "level_of_cutoff", "level_of_resolution", "fp16_resolution", "span"]
