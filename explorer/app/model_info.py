"""What the panels know about the loaded generator: plain data, no torch.

The engine (explorer/app/engine.py) builds one ModelInfo per loaded model from its layer table; panels read
it to label and colour sliders (w index -> resolution -> coarse/middle/fine) and to size the mixing and noise
panels. A ModelInfo is also what RenderState.conform fits the app's state to.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import numpy as np

from ..nn.layer_table import LEVELS, LayerTable, span


@dataclasses.dataclass(frozen=True)
class WSlotInfo:
    index: int          # w index.
    resolution: int     # Sampling rate of the first layer it drives (StyleGAN2: 2 ws per resolution).
    level: str          # 'coarse', 'middle' or 'fine'.
    cutoff: float = 0.0  # Cutoff of that layer, cycles per image (what the level follows from).

    @property
    def nyquist(self) -> bool:
        """Does the layer carry all its sampling rate can (StyleGAN2), so that its resolution says it all?"""
        return abs(self.cutoff - self.resolution / 2) < 1e-6

    @property
    def caption(self) -> str:
        """'32 px' (StyleGAN2), '64 px, cutoff 22.6' (a StyleGAN3 layer sampled above its band)."""
        return f"{self.resolution} px" if self.nyquist else f"{self.resolution} px, cutoff {self.cutoff:.3g}"


@dataclasses.dataclass(frozen=True)
class NoiseLayerInfo:
    index: int          # Position in RenderState.noise_scales.
    name: str           # Synthesis layer, e.g. 'b16.conv0'.
    resolution: int


@dataclasses.dataclass(frozen=True)
class LayerInfo:
    name: str           # Synthesis layer, e.g. 'b16.conv0', 'b16.torgb', 'input', 'L3_52_512'.
    resolution: int     # Side of its output in pixels (StyleGAN3: margins included).
    channels: int       # Output channels (what the layer viewer can pick from).
    kind: str = "conv"  # 'input', 'conv' or 'rgb' (explorer/nn/layer_table.py).


@dataclasses.dataclass(frozen=True)
class DirectionSet:
    """Directions as the Directions panel shows them: how many, and what to label each slider with."""

    model_key: tuple                        # The model they belong to.
    source: str                             # 'sefa' or an .npz path.
    layers: str                             # The layer range they apply to.
    indices: tuple[int, ...]                # The w indices of that range.
    eigenvalues: Optional[tuple[float, ...]]  # Per direction (SeFa, or a file that has them).
    std: tuple[float, ...]                  # Spread of w along each: the slider unit.

    def __len__(self) -> int:
        return len(self.std)


@dataclasses.dataclass(frozen=True, eq=False)
class LayerImage:
    """One synthesis layer's activations of a frame, ready to show: uint8 [H, W], 0..255 = lo..hi."""

    name: str
    channel: Optional[int]      # None: mean |activation| over channels.
    channels: int
    resolution: int
    pixels: np.ndarray
    lo: float
    hi: float


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    key: tuple                              # Identifies the loaded model (path, mtime, device, precision).
    path: str                               # The file it came from.
    kind: str                               # 'native', 'nvlabs', 'tf' or 'torch' (explorer.io.KINDS).
    demo: bool                              # A random-weight demo model (nothing trained)?
    resolution: int
    z_dim: int
    w_dim: int
    c_dim: int
    num_ws: int
    ws: tuple[WSlotInfo, ...]
    noise_layers: tuple[NoiseLayerInfo, ...]
    layer_table: LayerTable                 # The model's own table (what RenderState.conform reads).
    device: str = "cpu"
    dtype: str = "float32"
    layers: tuple[LayerInfo, ...] = ()      # Every synthesis layer, in order (the layer viewer's list).
    family: str = "StyleGAN2"               # Generator family, as `explorer info` names it.
    default_truncation: tuple[float, Optional[int]] = (1.0, None)   # (psi, cutoff) the file carries.
    tuned: str = ""                         # 'tuned to <photo> (N steps) from <file>' for a pivotal-tuned model.

    def parse_indices(self, spec: str) -> list[int]:
        """w indices of a range ('coarse', '0-3', ...); ValueError when it does not fit this model."""
        return self.layer_table.parse_indices(spec)

    def fits(self, spec: str) -> bool:
        try:
            return bool(self.parse_indices(spec))
        except ValueError:
            return False

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def label(self) -> str:
        """One line for the window: which model is on screen, and a warning when it is the untrained demo."""
        if self.demo:
            return "Random-weight demo model (untrained): open a checkpoint in the Model panel"
        return f"{self.name}  ({self.resolution} px)" + (f"  TUNED: {self.tuned}" if self.tuned else "")

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels this model has, in order (a 32 px model has no fine level)."""
        return tuple(lvl for lvl in LEVELS if self.level_indices(lvl))

    def level_indices(self, level: str) -> list[int]:
        return [s.index for s in self.ws if s.level == level]

    def level_caption(self, level: str) -> str:
        """What a level spans: '4-8 px' (StyleGAN2), 'cutoff 2-4' (StyleGAN3, whose levels follow the cutoff)."""
        slots = [self.ws[i] for i in self.level_indices(level)]
        if all(s.nyquist for s in slots):
            values, unit = sorted({s.resolution for s in slots}), " px"
            text = f"{values[0]}-{values[-1]}" if len(values) > 1 else f"{values[0]}"
            return text + unit
        values = sorted({round(s.cutoff, 3) for s in slots})
        return f"cutoff {values[0]:.3g}-{values[-1]:.3g}" if len(values) > 1 else f"cutoff {values[0]:.3g}"

    @property
    def has_transform(self) -> bool:
        """Does the model take an input transform (the Camera panel's translate / rotate)?"""
        return self.layer_table.has_transform

    @property
    def noise_resolutions(self) -> tuple[int, ...]:
        return tuple(sorted({n.resolution for n in self.noise_layers}))

    def summary_lines(self) -> list[str]:
        kinds = {"native": "explorer safetensors", "nvlabs": "NVlabs pickle", "torch": "rosinality torch.save",
                 "tf": "NVlabs TensorFlow pickle"}
        lines = [self.name + ("  [random-weight demo]" if self.demo else ""),
                 f"{self.family}, {kinds.get(self.kind, self.kind)}, on {self.device} ({self.dtype})",
                 f"{self.resolution} px, num_ws {self.num_ws}, z {self.z_dim}, w {self.w_dim}"
                 + (f", {self.c_dim} classes" if self.c_dim else "")]
        for lvl in self.levels:
            lines.append(f"{lvl:<7} w {span(self.level_indices(lvl)):<6} {self.level_caption(lvl)}")
        lines.append(f"noise   {len(self.noise_layers)} layers" if self.noise_layers else "noise   none")
        if self.has_transform:
            lines.append("camera  translate / rotate (input transform)")
        if self.tuned:
            lines.append(f"TUNED   {self.tuned}")
        return lines

