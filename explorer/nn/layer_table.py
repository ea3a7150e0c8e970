"""Which synthesis layers each w index feeds, at what resolution, and at which level (coarse/middle/fine).

Computed once from a generator's config and shared by the renderer (what to recompute), the GUI (slider
labels and colours), grids and the CLI, so there is one source of truth for the grouping.
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from .config import GeneratorConfig

if TYPE_CHECKING:
    from .stylegan3_config import StyleGAN3Config

LEVELS = ("coarse", "middle", "fine")
# Upper bounds of coarse and middle, in cycles per output image: the finest detail a layer can carry.
LEVEL_CUTOFFS = (4.0, 16.0)


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


def level_of_resolution(res: int) -> str:
    """The conventional split: 4-8 px coarse, 16-32 px middle, 64 px and up fine (see level_of_cutoff)."""
    return level_of_cutoff(res / 2)


@dataclasses.dataclass(frozen=True)
class ConvLayer:
    name: str            # 'b8.conv0'
    block: int           # Index into block_resolutions.
    resolution: int      # Output resolution of the layer.
    w_index: int         # Which w drives its style.
    has_noise: bool      # Does it take a noise input?


@dataclasses.dataclass(frozen=True)
class WSlot:
    index: int                  # w index.
    resolution: int             # Resolution it is counted at (StyleGAN convention: 2 ws per resolution).
    level: str                  # 'coarse', 'middle' or 'fine'.
    layers: tuple[str, ...]     # Synthesis layers it drives (convs and torgbs).
    first_block: int            # The earliest block it affects.


@dataclasses.dataclass(frozen=True)
class SynthesisLayerInfo:
    """What a StyleGAN3 synthesis layer is, as plain data (for tables, labels and a layer viewer)."""

    name: str                   # 'input', 'L0_36_512', ..., 'L14_1024_3' (NVlabs' module names).
    w_index: int                # The w that drives it (its position: input 0, L0 1, ...).
    size: tuple[int, int]       # Output (width, height) in samples, margins included.
    channels: int               # Output channels.
    sampling_rate: float        # Output samples per image width.
    cutoff: float               # Output band limit in cycles per image width.
    level: str                  # 'coarse', 'middle' or 'fine' (level_of_cutoff).


@dataclasses.dataclass(frozen=True)
class LayerTable:
    block_resolutions: tuple[int, ...]
    convs: tuple[ConvLayer, ...]
    ws: tuple[WSlot, ...]
    synthesis_layers: tuple[SynthesisLayerInfo, ...] = ()  # StyleGAN3: one per w index.

    @property
    def num_ws(self) -> int:
        return len(self.ws)

    @property
    def noise_layers(self) -> tuple[ConvLayer, ...]:
        return tuple(c for c in self.convs if c.has_noise)

    def level_indices(self, level: str) -> list[int]:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        return [s.index for s in self.ws if s.level == level]

    def block_of_resolution(self, res: int) -> int:
        return self.block_resolutions.index(res)

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


def build_layer_table(cfg: GeneratorConfig) -> LayerTable:
    blocks = cfg.block_resolutions
    convs: list[ConvLayer] = []
    drives: dict[int, list[str]] = {i: [] for i in range(cfg.num_ws)}
    first_block: dict[int, int] = {}
    w_idx = 0
    for b, res in enumerate(blocks):
        names = ["conv1"] if res == 4 else ["conv0", "conv1"]
        for k, name in enumerate(names):
            convs.append(ConvLayer(f"b{res}.{name}", b, res, w_idx + k, cfg.use_noise))
        has_torgb = cfg.architecture != "orig" or res == cfg.img_resolution
        used = names + (["torgb"] if has_torgb else [])
        for k, name in enumerate(used):
            drives[w_idx + k].append(f"b{res}.{name}")
            first_block.setdefault(w_idx + k, b)
        w_idx += len(names)
    ws = []
    for i in range(cfg.num_ws):
        res = min(4 * 2 ** (i // 2), cfg.img_resolution)
        ws.append(WSlot(i, res, level_of_resolution(res), tuple(drives[i]), first_block.get(i, len(blocks) - 1)))
    assert w_idx + 1 == cfg.num_ws == 2 * int(math.log2(cfg.img_resolution)) - 2
    return LayerTable(tuple(blocks), tuple(convs), tuple(ws))


def build_stylegan3_layer_table(cfg: "StyleGAN3Config") -> LayerTable:
    """StyleGAN3: w index k drives position k of [input, L0, ..., ToRGB]; no blocks, no noise inputs."""
    inp = cfg.input
    infos = [SynthesisLayerInfo("input", 0, tuple(inp.size), inp.channels, inp.sampling_rate, inp.bandwidth,
                                level_of_cutoff(inp.bandwidth))]
    for k, s in enumerate(cfg.layers, start=1):
        infos.append(SynthesisLayerInfo(s.name, k, tuple(s.out_size), s.out_channels, s.out_sampling_rate,
                                        s.out_cutoff, level_of_cutoff(s.out_cutoff)))
    ws = tuple(WSlot(i.w_index, int(round(i.sampling_rate)), i.level, (i.name,), i.w_index) for i in infos)
    return LayerTable((), (), ws, tuple(infos))
