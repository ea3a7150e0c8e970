"""StyleGAN3Config: a StyleGAN3 generator's shape, layer by layer, as JSON-friendly data.

NVlabs' SynthesisNetwork derives every layer's sizes, sampling rates, cutoffs and filters from a handful
of hyperparameters (a geometric progression of cutoffs from first_cutoff to img_resolution / 2). A loaded
model does not repeat that derivation: it keeps each layer's attributes as its pickle recorded them, so a
model whose attributes differ from today's formula still renders as it did for NVlabs. `design()` runs the
derivation for a freshly built generator. Either way the config must add up (`check`): each layer's input
is the previous layer's output and its paddings produce exactly its output size.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Optional

import numpy as np

FAMILY = "stylegan3"
MAX_RESOLUTION = 8192
MAX_CHANNELS = 8192
MAX_LAYERS = 64


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The Fourier-feature input: `channels` sinusoids sampled on a `size` grid."""

    channels: int
    size: tuple[int, int]          # (width, height) in samples, margin included.
    sampling_rate: float           # Samples per unit length (the image is 1 unit wide without margins).
    bandwidth: float               # Highest frequency of the features (= the first layer's cutoff).


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One SynthesisLayer's attributes, under NVlabs' attribute names."""

    name: str                      # 'L3_52_512': index, output width, output channels.
    is_torgb: bool                 # The last layer: no demodulation, linear activation.
    is_critically_sampled: bool    # Cutoff at Nyquist (the last layers): separable down filter.
    use_fp16: bool                 # NVlabs runs this layer in fp16 on a GPU.
    in_channels: int
    out_channels: int
    in_size: tuple[int, int]       # (width, height).
    out_size: tuple[int, int]
    in_sampling_rate: float
    out_sampling_rate: float
    in_cutoff: float               # Band limit of the input (what the up filter keeps).
    out_cutoff: float              # Band limit of the output (what the down filter keeps).
    in_half_width: float           # Transition band half widths of the two filters.
    out_half_width: float
    up_factor: int                 # Upsampling before the leaky ReLU.
    down_factor: int               # Downsampling after it.
    up_taps: int                   # Filter lengths (1 = no filter).
    down_taps: int
    down_radial: bool              # Down filter is a 2-D radial (jinc) filter [taps, taps].
    padding: tuple[int, int, int, int]  # (x0, x1, y0, y1) of the upsampled signal; negative crops.
    conv_kernel: int               # 3 in config-T, 1 in config-R and ToRGB.
    conv_clamp: Optional[float]    # Clamp after the activation.

    @property
    def tmp_sampling_rate(self) -> float:
        return self.in_sampling_rate * self.up_factor


@dataclasses.dataclass(frozen=True)
class StyleGAN3Config:
    img_resolution: int            # Output resolution.
    input: InputSpec
    layers: tuple[LayerSpec, ...]  # L0 ... L{n-1}; the last one is ToRGB.
    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_channels: int = 3
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    w_avg_beta: float = 0.998
    output_scale: float = 0.25     # The image is the ToRGB output times this.
    provenance: tuple[tuple[str, str], ...] = ()

    family = FAMILY

    def __post_init__(self) -> None:
        problem = self.check()
        if problem:
            raise ValueError(problem)

    # --- derived quantities -------------------------------------------------------------------------
    @property
    def num_ws(self) -> int:
        """One w for the input, one per layer."""
        return len(self.layers) + 1

    @property
    def architecture(self) -> str:
        return f"stylegan3-{self.flavour.lower()}"

    @property
    def conv_clamp(self) -> Optional[float]:
        """The layers' clamp (NVlabs gives every layer the same one)."""
        return self.layers[0].conv_clamp

    @property
    def flavour(self) -> str:
        """'T' (translation equivariant: 3x3 convs) or 'R' (rotation too: 1x1 convs, radial filters)."""
        hidden = self.layers[:-1]
        return "R" if any(s.conv_kernel == 1 or s.down_radial for s in hidden) else "T"

    # --- consistency --------------------------------------------------------------------------------
    def check(self) -> Optional[str]:
        """The first way in which the config does not add up, or None."""
        dims = dict(img_resolution=self.img_resolution, z_dim=self.z_dim, c_dim=self.c_dim, w_dim=self.w_dim,
                    img_channels=self.img_channels, mapping_layers=self.mapping_layers)
        for k, v in dims.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 0 or v > MAX_CHANNELS * 8:
                return f"{k} must be a sane non-negative integer, got {v!r}"
        if not 1 <= self.img_resolution <= MAX_RESOLUTION:
            return f"img_resolution {self.img_resolution} out of range 1-{MAX_RESOLUTION}"
        if self.w_dim < 1 or self.img_channels < 1 or self.mapping_layers < 1 or self.z_dim + self.c_dim < 1:
            return "w_dim, img_channels, mapping_layers and z_dim + c_dim must be positive"
        if not 2 <= len(self.layers) <= MAX_LAYERS:
            return f"{len(self.layers)} synthesis layers (expected 2-{MAX_LAYERS})"
        inp = self.input
        if not (0 < inp.channels <= MAX_CHANNELS and all(0 < s <= 2 * MAX_RESOLUTION for s in inp.size)):
            return f"input has {inp.channels} channels of size {list(inp.size)}"
        prev = ("input", inp.channels, inp.size, inp.sampling_rate)
        for i, s in enumerate(self.layers):
            problem = _check_layer(s, prev, is_last=i == len(self.layers) - 1)
            if problem:
                return f"layer {s.name}: {problem}"
            prev = (s.name, s.out_channels, s.out_size, s.out_sampling_rate)
        last = self.layers[-1]
        if last.out_channels != self.img_channels:
            return f"the last layer {last.name} has {last.out_channels} channels, img_channels is {self.img_channels}"
        if tuple(last.out_size) != (self.img_resolution, self.img_resolution):
            return f"the last layer {last.name} outputs {list(last.out_size)}, img_resolution is {self.img_resolution}"
        if len({s.name for s in self.layers}) != len(self.layers) or "input" in {s.name for s in self.layers}:
            return "layer names are not unique"
        return None

    # --- serialisation ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["family"] = FAMILY
        d["provenance"] = dict(self.provenance)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StyleGAN3Config":
        d = dict(d)
        if d.pop("family", FAMILY) != FAMILY:
            raise ValueError("not a StyleGAN3 config")
        _check_keys(cls, d, "generator config")
        d["input"] = _spec(InputSpec, d.get("input"), "input")
        layers = d.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ValueError("layers must be a list")
        d["layers"] = tuple(_spec(LayerSpec, s, f"layers[{i}]") for i, s in enumerate(layers))
        d["provenance"] = tuple(sorted((str(k), str(v)) for k, v in dict(d.get("provenance") or {}).items()))
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "StyleGAN3Config":
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> "StyleGAN3Config":
        return dataclasses.replace(self, **changes)

    # --- a fresh generator ----------------------------------------------------------------------------
    @classmethod
    def design(
        cls,
        img_resolution: int,               # Output resolution.
        channel_base: int = 32768,         # Channels = min(channel_base / 2 / cutoff, channel_max).
        channel_max: int = 512,
        conv_kernel: int = 3,              # 3 for config-T, 1 for config-R.
        use_radial_filters: bool = False,  # Radial down filters (config-R) in non-critical layers.
        num_layers: int = 14,              # Layers between the input and ToRGB.
        num_critical: int = 2,             # Critically sampled layers at the end.
        first_cutoff: float = 2,           # Cutoff of the first layer.
        first_stopband: float = 2 ** 2.1,  # Minimum stopband of the first layer.
        last_stopband_rel: float = 2 ** 0.3,  # Minimum stopband of the last layer relative to its cutoff.
        margin_size: int = 10,             # Samples kept outside the image on each side.
        num_fp16_res: int = 4,             # fp16 (on GPUs) for the N highest sampling rates.
        filter_size: int = 6,              # Filter taps per sample of the lower rate.
        lrelu_upsampling: int = 2,         # Rate of the leaky ReLU relative to the higher of in/out.
        conv_clamp: Optional[float] = 256,
        **kwargs: Any,                     # z_dim, c_dim, w_dim, img_channels, mapping_layers, ...
    ) -> "StyleGAN3Config":
        """The layer progression of the paper (NVlabs' SynthesisNetwork), for a generator built from scratch."""
        img_channels = int(kwargs.get("img_channels", 3))
        last_cutoff = img_resolution / 2
        last_stopband = last_cutoff * last_stopband_rel
        exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
        stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
        rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, rates / 2) - cutoffs
        sizes = rates + margin_size * 2
        sizes[-2:] = img_resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels

        layers = []
        for i in range(num_layers + 1):
            p = max(i - 1, 0)
            is_torgb = i == num_layers
            in_rate, out_rate = int(rates[p]), int(rates[i])
            tmp_rate = max(in_rate, out_rate) * (1 if is_torgb else lrelu_upsampling)
            up, down = tmp_rate // in_rate, tmp_rate // out_rate
            up_taps = filter_size * up if up > 1 and not is_torgb else 1
            down_taps = filter_size * down if down > 1 and not is_torgb else 1
            kernel = 1 if is_torgb else conv_kernel
            in_size, out_size = int(sizes[p]), int(sizes[i])
            # Output size before downsampling minus what the upsampled input and both filters provide;
            # the low side gets the larger half (the symmetric sample positions of the paper's Appendix C.3).
            pad_total = (out_size - 1) * down + 1 - (in_size + kernel - 1) * up + up_taps + down_taps - 2
            pad_lo = (pad_total + up) // 2
            pad_hi = pad_total - pad_lo
            layers.append(LayerSpec(
                name=f"L{i}_{out_size}_{int(channels[i])}",
                is_torgb=is_torgb,
                is_critically_sampled=i >= num_layers - num_critical,
                use_fp16=bool(rates[i] * 2 ** num_fp16_res > img_resolution),
                in_channels=int(channels[p]), out_channels=int(channels[i]),
                in_size=(in_size, in_size), out_size=(out_size, out_size),
                in_sampling_rate=float(in_rate), out_sampling_rate=float(out_rate),
                in_cutoff=float(cutoffs[p]), out_cutoff=float(cutoffs[i]),
                in_half_width=float(half_widths[p]), out_half_width=float(half_widths[i]),
                up_factor=up, down_factor=down, up_taps=up_taps, down_taps=down_taps,
                down_radial=bool(use_radial_filters and i < num_layers - num_critical),
                padding=(pad_lo, pad_hi, pad_lo, pad_hi),
                conv_kernel=kernel,
                conv_clamp=None if conv_clamp is None else float(conv_clamp),
            ))
        inp = InputSpec(channels=int(channels[0]), size=(int(sizes[0]), int(sizes[0])),
                        sampling_rate=float(rates[0]), bandwidth=float(cutoffs[0]))
        return cls(img_resolution=img_resolution, input=inp, layers=tuple(layers), **kwargs)


def filtered_size(n: int, up: int, down: int, pad_lo: int, pad_hi: int, up_taps: int, down_taps: int) -> int:
    """Output length of upsample -> pad -> filter -> filter -> downsample along one axis."""
    return (n * up + pad_lo + pad_hi - (up_taps - 1) - (down_taps - 1) + (down - 1)) // down


def _check_layer(s: LayerSpec, prev: tuple, is_last: bool) -> Optional[str]:
    prev_name, prev_channels, prev_size, prev_rate = prev
    if s.is_torgb != is_last:
        return "only the last layer may be (and must be) ToRGB"
    for k in ("in_channels", "out_channels", "up_factor", "down_factor", "up_taps", "down_taps", "conv_kernel"):
        v = getattr(s, k)
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_CHANNELS:
            return f"{k} must be a positive integer, got {v!r}"
    if s.up_factor > 16 or s.down_factor > 16 or s.up_taps > 256 or s.down_taps > 256 or s.conv_kernel > 15:
        return "resampling factors, filter taps or kernel implausibly large"
    if len(s.in_size) != 2 or len(s.out_size) != 2 or len(s.padding) != 2 * 2:
        return "sizes must be (width, height) and padding (x0, x1, y0, y1)"
    if not all(isinstance(v, int) and 0 < v <= 2 * MAX_RESOLUTION for v in (*s.in_size, *s.out_size)):
        return f"sizes {list(s.in_size)} -> {list(s.out_size)} out of range"
    if s.in_channels != prev_channels:
        return f"takes {s.in_channels} channels but {prev_name} gives {prev_channels}"
    if tuple(s.in_size) != tuple(prev_size):
        return f"takes size {list(s.in_size)} but {prev_name} gives {list(prev_size)}"
    if not math.isclose(s.in_sampling_rate, prev_rate):
        return f"input sampling rate {s.in_sampling_rate:g} but {prev_name} gives {prev_rate:g}"
    if not math.isclose(s.in_sampling_rate * s.up_factor, s.out_sampling_rate * s.down_factor):
        return (f"sampling rates {s.in_sampling_rate:g} x {s.up_factor} and {s.out_sampling_rate:g} x "
                f"{s.down_factor} do not meet")
    if s.is_torgb and (s.up_taps, s.down_taps, s.up_factor, s.down_factor) != (1, 1, 1, 1):
        return "ToRGB must not resample"
    if s.down_radial and s.down_taps == 1:
        return "a radial down filter needs more than one tap"
    if s.conv_clamp is not None and not s.conv_clamp >= 0:
        return f"conv_clamp must be >= 0, got {s.conv_clamp}"
    k = s.conv_kernel - 1  # the conv pads by kernel - 1: its output grows by that much
    px0, px1, py0, py1 = s.padding
    got = (filtered_size(s.in_size[0] + k, s.up_factor, s.down_factor, px0, px1, s.up_taps, s.down_taps),
           filtered_size(s.in_size[1] + k, s.up_factor, s.down_factor, py0, py1, s.up_taps, s.down_taps))
    if got != tuple(s.out_size):
        return f"padding {list(s.padding)} gives output {list(got)}, not {list(s.out_size)}"
    return None


def _check_keys(cls: type, d: dict, what: str) -> None:
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"unknown {what} keys: {', '.join(unknown)}")


def _spec(cls: type, d: Any, what: str) -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"{what} must be an object")
    _check_keys(cls, d, what)
    d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return cls(**d)
