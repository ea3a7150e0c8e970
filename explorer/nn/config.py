"""GeneratorConfig: everything needed to rebuild a generator from its tensors, as JSON-friendly data."""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Optional

ARCHITECTURES = ("skip", "resnet", "orig")


def block_resolutions_up_to(img_resolution: int) -> list[int]:
    """4, 8, ..., img_resolution: one synthesis block each (StyleGAN and StyleGAN2 alike)."""
    return [2 ** i for i in range(2, int(math.log2(img_resolution)) + 1)]


def num_ws_at(img_resolution: int) -> int:
    """Two w indices per resolution from 4 px on, less one: 18 at 1024 px (StyleGAN and StyleGAN2 alike)."""
    return 2 * int(math.log2(img_resolution)) - 2


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    img_resolution: int                    # Output resolution (a power of two, >= 4).
    z_dim: int = 512                       # Latent z size (0 allowed only for purely conditional models).
    c_dim: int = 0                         # Conditioning label size (0 = unconditional).
    w_dim: int = 512                       # Intermediate latent w size.
    img_channels: int = 3                  # Output channels.
    mapping_layers: int = 8                # Fully connected layers in the mapping network.
    mapping_lr_multiplier: float = 0.01    # Equalised-lr multiplier of the mapping network.
    layer_features: Optional[int] = None   # Width of hidden mapping layers (default w_dim).
    embed_features: Optional[int] = None   # Width of the label embedding (default w_dim).
    w_avg_beta: float = 0.995              # Decay of the tracked average w.
    channel_base: int = 32768              # Channels at resolution R = min(channel_base // R, channel_max).
    channel_max: int = 512
    channels: Optional[tuple[tuple[int, int], ...]] = None  # Explicit (resolution, channels) pairs, overriding.
    architecture: str = "skip"             # 'skip', 'resnet' or 'orig'.
    conv_clamp: Optional[float] = None     # Clamp of conv outputs (256 in NVlabs-trained models).
    use_noise: bool = True                 # Per-pixel noise inputs in the synthesis layers.
    num_fp16_res: int = 0                  # Top resolutions that may run in reduced precision.
    provenance: tuple[tuple[str, str], ...] = ()  # Where the weights came from (kind, source file, ...).

    def __post_init__(self) -> None:
        log2 = math.log2(self.img_resolution) if self.img_resolution > 0 else -1
        if self.img_resolution < 4 or log2 != int(log2):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {self.img_resolution}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.z_dim == 0 and self.c_dim == 0:
            raise ValueError("a generator needs z_dim > 0 or c_dim > 0")

    # --- derived quantities -------------------------------------------------------------------------
    @property
    def block_resolutions(self) -> list[int]:
        return block_resolutions_up_to(self.img_resolution)

    @property
    def num_ws(self) -> int:
        return num_ws_at(self.img_resolution)

    def channels_at(self, res: int) -> int:
        if self.channels is not None:
            return dict(self.channels)[res]
        return min(self.channel_base // res, self.channel_max)

    # --- serialisation ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["channels"] = None if self.channels is None else {str(r): c for r, c in self.channels}
        d["provenance"] = dict(self.provenance)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GeneratorConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown generator config keys: {', '.join(unknown)}")
        d = dict(d)
        if d.get("channels") is not None:
            d["channels"] = tuple(sorted((int(r), int(c)) for r, c in dict(d["channels"]).items()))
        d["provenance"] = tuple(sorted((str(k), str(v)) for k, v in dict(d.get("provenance") or {}).items()))
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "GeneratorConfig":
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> "GeneratorConfig":
        return dataclasses.replace(self, **changes)
