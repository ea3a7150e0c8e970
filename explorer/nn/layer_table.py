"""Which synthesis layers each w index feeds, at what resolution, and at which level (coarse/middle/fine).

Computed once from a GeneratorConfig and shared by the renderer (what to recompute), the GUI (slider
labels and colours), grids and the CLI, so there is one source of truth for the grouping.
"""
from __future__ import annotations

import dataclasses
import math

from .config import GeneratorConfig

LEVELS = ("coarse", "middle", "fine")


def level_of_resolution(res: int) -> str:
    """The conventional split: 4-8 px coarse, 16-32 px middle, 64 px and up fine."""
    if res <= 8:
        return "coarse"
    if res <= 32:
        return "middle"
    return "fine"


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
class LayerTable:
    block_resolutions: tuple[int, ...]
    convs: tuple[ConvLayer, ...]
    ws: tuple[WSlot, ...]

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
