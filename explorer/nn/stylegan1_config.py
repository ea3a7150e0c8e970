"""StyleGAN1Config: everything needed to rebuild a StyleGAN (v1) generator from its tensors, as JSON data.

The fields are NVlabs' G_style / G_mapping / G_synthesis arguments (networks_stylegan.py) that change what a
trained generator computes, resolved to plain values: channels per resolution as the variables have them,
the resolution from which the upsampling convolution is fused (fused_scale 'auto' fuses from 128 px on),
the level of detail the pickle was saved at, and the truncation G_style applies by default.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Optional

from .config import block_resolutions_up_to, num_ws_at

FAMILY = "stylegan1"
MAX_RESOLUTION = 8192
MAX_CHANNELS = 8192
MAX_DIM = 8192
MAX_MAPPING_LAYERS = 64
AUTO_FUSED_FROM = 128           # fused_scale='auto': fused when the output of the conv is >= 128 px.


@dataclasses.dataclass(frozen=True)
class StyleGAN1Config:
    img_resolution: int                              # Output resolution (a power of two, >= 4).
    channels: tuple[tuple[int, int], ...]            # (resolution, feature maps) for 4, 8, ... img_resolution.
    z_dim: int = 512                                 # Latent z size.
    c_dim: int = 0                                   # Label size (0 = unconditional).
    w_dim: int = 512                                 # Disentangled latent w size.
    img_channels: int = 3                            # Output channels.
    mapping_layers: int = 8                          # Dense layers of the mapping network.
    mapping_features: int = 512                      # Width of all but the last mapping layer.
    mapping_lr_multiplier: float = 0.01              # Equalised-lr multiplier of the mapping layers.
    normalize_latents: bool = True                   # Pixel-norm [z, embedded c] before the mapping layers?
    use_noise: bool = True                           # Per-pixel noise inputs (with per-channel strengths)?
    blur: bool = True                                # [1, 2, 1] low-pass filter after every upsampling?
    fused_from: Optional[int] = AUTO_FUSED_FROM      # Upsampling conv fused (transposed) from this resolution; None = never.
    lod: float = 0.0                                 # Level of detail: 0 = full resolution (progressive growing).
    truncation_psi: Optional[float] = 0.7            # G_style's default truncation (None = off) ...
    truncation_cutoff: Optional[int] = 8             # ... on the first `cutoff` w indices (None = off).
    provenance: tuple[tuple[str, str], ...] = ()     # Where the weights came from.

    def __post_init__(self) -> None:
        log2 = math.log2(self.img_resolution) if self.img_resolution > 0 else -1
        if not (4 <= self.img_resolution <= MAX_RESOLUTION and log2 == int(log2)):
            raise ValueError(f"img_resolution must be a power of two in 4..{MAX_RESOLUTION}, got {self.img_resolution}")
        if sorted(dict(self.channels)) != self.block_resolutions:
            raise ValueError(f"channels must give every resolution {self.block_resolutions}, got {dict(self.channels)}")
        for res, ch in self.channels:
            if not 1 <= ch <= MAX_CHANNELS:
                raise ValueError(f"{ch} channels at {res} px is out of range 1..{MAX_CHANNELS}")
        for name in ("z_dim", "w_dim", "mapping_features"):
            if not 1 <= getattr(self, name) <= MAX_DIM:
                raise ValueError(f"{name} must be in 1..{MAX_DIM}, got {getattr(self, name)}")
        if not 0 <= self.c_dim <= MAX_DIM or not 1 <= self.img_channels <= 4:
            raise ValueError(f"c_dim {self.c_dim} or img_channels {self.img_channels} out of range")
        if not 1 <= self.mapping_layers <= MAX_MAPPING_LAYERS:
            raise ValueError(f"mapping_layers must be in 1..{MAX_MAPPING_LAYERS}, got {self.mapping_layers}")
        if not 0 <= self.lod <= log2 - 2:
            raise ValueError(f"lod must be in 0..{log2 - 2:g} at {self.img_resolution} px, got {self.lod}")
        if self.fused_from is not None and not (8 <= self.fused_from <= MAX_RESOLUTION
                                                and math.log2(self.fused_from) == int(math.log2(self.fused_from))):
            raise ValueError(f"fused_from must be a power of two >= 8 or None, got {self.fused_from}")

    @property
    def family(self) -> str:
        return FAMILY

    @property
    def architecture(self) -> str:
        """AdaIN style modulation (StyleGAN2's 'skip' / 'resnet' / 'orig' do not apply)."""
        return "adain"

    @property
    def block_resolutions(self) -> list[int]:
        return block_resolutions_up_to(self.img_resolution)

    @property
    def num_ws(self) -> int:
        return num_ws_at(self.img_resolution)

    def channels_at(self, res: int) -> int:
        return dict(self.channels)[res]

    def fused_at(self, res: int) -> bool:
        return self.fused_from is not None and res >= self.fused_from

    # --- serialisation ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["channels"] = {str(r): c for r, c in self.channels}
        d["provenance"] = dict(self.provenance)
        d["family"] = FAMILY
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StyleGAN1Config":
        d = dict(d)
        if d.pop("family", None) != FAMILY:
            raise ValueError(f"not a {FAMILY} config")
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown {FAMILY} config keys: {', '.join(unknown)}")
        if not isinstance(d.get("channels"), dict):
            raise ValueError("channels must be an object {resolution: channels}")
        d["channels"] = tuple(sorted((int(r), int(c)) for r, c in d["channels"].items()))
        d["provenance"] = tuple(sorted((str(k), str(v)) for k, v in dict(d.get("provenance") or {}).items()))
        return cls(**d)

    def replace(self, **changes: Any) -> "StyleGAN1Config":
        return dataclasses.replace(self, **changes)
