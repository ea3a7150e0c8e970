"""The StyleGAN3 generator (Karras et al. 2021, "Alias-Free Generative Adversarial Networks"), read top to
bottom like the paper.

Parameter and buffer names are NVlabs' own (`synthesis.input.freqs`, `synthesis.L3_52_512.up_filter`, ...),
so their pickles and our safetensors files map onto one module. The mapping network is StyleGAN2's.

    z --mapping--> ws [N, 16, w_dim] --input (Fourier features, ws[0])--> L0 (ws[1]) ... L14 = ToRGB (ws[15])
      --> x * output_scale = image [N, 3, R, R] in ~[-1, 1]

Each layer: modulated conv (styles from its w), then filtered leaky ReLU: upsample to twice the layer's
highest sampling rate, leaky ReLU there (where its harmonics fit), low-pass to the output cutoff and
downsample. There are no noise inputs; `noise_mode` is accepted for NVlabs' call conventions and ignored.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional

import torch
import torch.nn.functional as F

from .filter_design import design_lowpass_filter
from .filtered_lrelu import filtered_lrelu
from .family import GeneratorBase, LowPrecision, OnLayer, check_noise_mode
from .generator import MappingNetwork, _check_shape
from .layer_table import LayerTable, build_stylegan3_layer_table
from .ops import FullyConnected, can_overwrite
from .stylegan3_config import InputSpec, LayerSpec, StyleGAN3Config


# --- Input: Fourier features --------------------------------------------------------------------------

class SynthesisInput(torch.nn.Module):
    """Sinusoids of fixed random frequencies on a grid, rotated and translated by ws[0] and `transform`."""

    def __init__(self, w_dim: int, spec: InputSpec):
        super().__init__()
        self.w_dim = w_dim
        self.channels = spec.channels
        self.size = tuple(spec.size)               # (width, height)
        self.sampling_rate = spec.sampling_rate
        self.bandwidth = spec.bandwidth
        self.weight = torch.nn.Parameter(torch.randn([self.channels, self.channels]))
        self.affine = FullyConnected(w_dim, 4)     # -> (r_c, r_s, t_x, t_y), starting at the identity
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0, 0, 0]))
        # The inverse of a user transform of the image (NVlabs' scripts copy a 3x3 matrix in here).
        self.register_buffer("transform", torch.eye(3, 3))
        freqs = torch.randn([self.channels, 2])    # a fresh model: frequencies uniform in the disc of `bandwidth`
        radii = freqs.norm(dim=1, keepdim=True)
        self.register_buffer("freqs", freqs / (radii * radii.square().exp().pow(0.25)) * self.bandwidth)
        self.register_buffer("phases", torch.rand([self.channels]) - 0.5)

    def forward(
        self,
        w: torch.Tensor,                           # [N, w_dim]
        transform: Optional[torch.Tensor] = None,  # [3, 3] or [N, 3, 3] instead of the buffer (per call).
    ) -> torch.Tensor:                             # [N, channels, height, width]
        # The learned similarity transform: a rotation then a translation of the image, as inverse matrices.
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rc, rs, tx, ty = t.unbind(dim=1)
        one, zero = torch.ones_like(rc), torch.zeros_like(rc)
        rotate = torch.stack([rc, -rs, zero, rs, rc, zero, zero, zero, one], dim=1).reshape(-1, 3, 3)
        translate = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], dim=1).reshape(-1, 3, 3)
        user = self.transform if transform is None else transform.to(device=w.device, dtype=torch.float32)
        m = rotate @ translate @ (user if user.ndim == 3 else user.unsqueeze(0))

        # Move the features: phases by the translation, frequencies by the linear part.
        phases = self.phases.unsqueeze(0) + (self.freqs.unsqueeze(0) @ m[:, :2, 2:]).squeeze(2)   # [N, C]
        freqs = self.freqs.unsqueeze(0) @ m[:, :2, :2]                                            # [N, C, 2]
        # Fade out frequencies that a user transform pushed beyond the band the layers can carry.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        # Sample sin(2 pi (f . p + phase)) at pixel centres p of a grid 1 unit wide at `sampling_rate`.
        width, height = self.size
        gx = (torch.arange(width, device=w.device, dtype=torch.float32) + (0.5 - width / 2)) / self.sampling_rate
        gy = (torch.arange(height, device=w.device, dtype=torch.float32) + (0.5 - height / 2)) / self.sampling_rate
        x = (gx.reshape(1, 1, -1, 1) * freqs[:, None, None, :, 0] + gy.reshape(1, -1, 1, 1) * freqs[:, None, None, :, 1]
             + phases[:, None, None, :])                                                          # [N, H, W, C]
        x = torch.sin(x * (2 * math.pi)) * amplitudes[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.channels)).t()      # mix channels
        return x.permute(0, 3, 1, 2)                              # NCHW, stored channels-last


# --- Layers --------------------------------------------------------------------------------------------

def modulated_conv2d(
    x: torch.Tensor,                 # [N, I, H, W]
    weight: torch.Tensor,            # [O, I, k, k]
    styles: torch.Tensor,            # [N, I]
    demodulate: bool,
    input_gain: torch.Tensor,        # [] : 1 / RMS of the layer's input, tracked during training
    padding: int,
) -> torch.Tensor:
    """StyleGAN3's modulated convolution: weights and styles pre-normalised to unit RMS (so that fp16 cannot
    overflow), modulated, demodulated per output channel, then every input scaled by input_gain.

    NVlabs normalises the styles over the whole batch; we do it per sample. Demodulation cancels any
    per-sample scale, so the two agree up to the 1e-8 in the demodulation (and ours is batch-independent).
    """
    n = x.shape[0]
    styles = styles.to(torch.float32)
    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
        dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()   # [N, O]
    else:
        dcoefs = torch.ones([n, weight.shape[0]], device=x.device)
    dcoefs = dcoefs * input_gain
    if n == 1:  # one sample: modulate the weight itself, no activation-sized temporaries
        w = weight * styles.reshape(1, -1, 1, 1) * dcoefs.reshape(-1, 1, 1, 1)
        return conv2d(x, w.to(x.dtype), padding)
    # a batch: conv(x, w * s) * d == conv(x * s, w) * d, one convolution with the shared weight
    x = conv2d(x * styles.to(x.dtype).reshape(n, -1, 1, 1), weight.to(x.dtype), padding)
    return x.mul_(dcoefs.to(x.dtype).reshape(n, -1, 1, 1)) if can_overwrite(x) else x * dcoefs.reshape(n, -1, 1, 1)


# When a 3x3 conv runs faster as NNPACK's Winograd convolution than as oneDNN's direct one on CPUs, measured
# inside whole frames (layout changes and the thread pools' hand-overs included, 2 threads, Zen 4): with
# >= 128 channels on both sides and >= 2.5 G multiply-adds (config-T-f at 256 px: 188 vs 509 ms for
# 512 -> 512 at 148 px, 1.8 vs 2.9 s a frame); below that oneDNN wins (small config-T at 256 px: 256
# channels at 36-52 px take 11-14 ms a layer direct, 13-19 ms as Winograd; whole frames ~10 % faster).
WINOGRAD_MIN_CHANNELS = 128
WINOGRAD_MIN_MACS = 2.5e9


def winograd_pays(x: torch.Tensor, w: torch.Tensor, padding: int) -> bool:
    """Whether conv2d(x, w, padding) should take NNPACK's Winograd path (see the thresholds above)."""
    o, i, kh, kw = w.shape
    if x.device.type != "cpu" or x.dtype != torch.float32 or (kh, kw) != (3, 3) or min(o, i) < WINOGRAD_MIN_CHANNELS:
        return False
    n, _, h, wd = x.shape
    macs = n * (h + 2 * padding - 2) * (wd + 2 * padding - 2) * o * i * 9
    return macs >= WINOGRAD_MIN_MACS and torch.backends.nnpack.is_available()  # is_available() initialises NNPACK


def conv2d(x: torch.Tensor, w: torch.Tensor, padding: int) -> torch.Tensor:
    """A stride-1 convolution, channels-last out. Large 3x3 ones go through the Winograd transform on CPUs
    (NNPACK, shipped inside torch): 2.25-4x fewer multiplies for the same sums, to within float rounding
    (1e-4 of the output's scale)."""
    if winograd_pays(x, w, padding):
        return torch._nnpack_spatial_convolution(_nchw(x), w, None, [padding, padding])  # NCHW out
    return F.conv2d(x.contiguous(memory_format=torch.channels_last), w, padding=padding)


def _nchw(x: torch.Tensor) -> torch.Tensor:
    """x in contiguous NCHW; from channels-last as a batched 2-D transpose (1.5x faster than a 4-D one)."""
    if x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        return x.contiguous()
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n, h * w, c).transpose(1, 2).contiguous().view(n, c, h, w)


class SynthesisLayer(torch.nn.Module):
    """Modulated conv, then filtered leaky ReLU from the input's sampling rate to the output's."""

    def __init__(self, w_dim: int, spec: LayerSpec):
        super().__init__()
        self.spec = spec
        self.name = spec.name
        self.in_channels, self.out_channels = spec.in_channels, spec.out_channels
        self.in_size, self.out_size = tuple(spec.in_size), tuple(spec.out_size)
        self.is_torgb = spec.is_torgb
        self.affine = FullyConnected(w_dim, spec.in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([spec.out_channels, spec.in_channels, spec.conv_kernel, spec.conv_kernel]))
        self.bias = torch.nn.Parameter(torch.zeros([spec.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        # The designed filters are data (a checkpoint brings its own); a fresh model designs them.
        self.register_buffer("up_filter", design_lowpass_filter(
            spec.up_taps, spec.in_cutoff, spec.in_half_width * 2, spec.tmp_sampling_rate))
        self.register_buffer("down_filter", design_lowpass_filter(
            spec.down_taps, spec.out_cutoff, spec.out_half_width * 2, spec.tmp_sampling_rate, radial=spec.down_radial))

    def forward(self, x: torch.Tensor, w: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        s = self.spec
        _check_shape(x, [None, s.in_channels, s.in_size[1], s.in_size[0]], f"{s.name} input")
        styles = self.affine(w)
        if s.is_torgb:
            styles = styles * (1 / math.sqrt(s.in_channels * s.conv_kernel ** 2))
        x = modulated_conv2d(x.to(dtype), self.weight, styles, demodulate=not s.is_torgb,
                             input_gain=self.magnitude_ema.rsqrt(), padding=s.conv_kernel - 1)
        gain, slope = (1, 1) if s.is_torgb else (math.sqrt(2), 0.2)
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, up=s.up_factor, down=s.down_factor,
                              padding=s.padding, gain=gain, slope=slope, clamp=s.conv_clamp, inplace=can_overwrite(x))

    def extra_repr(self) -> str:
        s = self.spec
        return (f"{s.in_channels}->{s.out_channels}, {list(s.in_size)}->{list(s.out_size)}, rate "
                f"{s.in_sampling_rate:g}->{s.out_sampling_rate:g}, cutoff {s.in_cutoff:g}->{s.out_cutoff:g}, "
                f"up {s.up_factor} down {s.down_factor}{' radial' if s.down_radial else ''}")


# --- Synthesis network ---------------------------------------------------------------------------------

class SynthesisNetwork(torch.nn.Module):
    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.w_dim, self.num_ws = cfg.w_dim, cfg.num_ws
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.output_scale = cfg.output_scale
        self.input = SynthesisInput(cfg.w_dim, cfg.input)
        self.layer_names = [s.name for s in cfg.layers]
        for spec in cfg.layers:
            setattr(self, spec.name, SynthesisLayer(cfg.w_dim, spec))
        self.layer_table: LayerTable = build_stylegan3_layer_table(cfg)

    def layers(self) -> list[SynthesisLayer]:
        return [getattr(self, name) for name in self.layer_names]

    def run(
        self,
        ws: torch.Tensor,                                   # [N, num_ws, w_dim]
        start: int = 0,                                     # Position in [input, L0, ..., ToRGB] to run from.
        carry: Optional[torch.Tensor] = None,               # The output of position start-1.
        noise_mode: str = "const",                          # No noise inputs: accepted and ignored.
        noise: Optional[Mapping[str, torch.Tensor]] = None,
        noise_scales: Optional[Mapping[str, float]] = None,
        transform: Optional[torch.Tensor] = None,           # [3, 3] or [N, 3, 3]; None: the input's buffer.
        low_precision: Optional[LowPrecision] = None,       # (dtype, first position in it); None: fp32.
        channels_last: bool = False,                        # Accepted; the filtered ops choose their layout.
        on_layer: Optional[OnLayer] = None,                 # (position, output, carry = that output)
    ) -> torch.Tensor:
        """Synthesis from position `start` (explorer/nn/family.py): w index k drives position k, and the carry
        is the previous position's output, so a change of ws[:, k] reruns from position k."""
        _check_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        check_noise_mode(noise_mode)
        named = [*(noise or {}), *(noise_scales or {})]
        if named:
            raise ValueError(f"StyleGAN3 has no noise inputs (got noise for {named[0]!r})")
        if not 0 <= start <= self.num_ws:
            raise ValueError(f"start must be in 0..{self.num_ws}, got {start}")
        if start > 0 and carry is None:
            raise ValueError("resuming synthesis needs the carry of the layer before")
        ws = ws.to(torch.float32).unbind(dim=1)
        x = carry
        if start == 0:
            x = self.input(ws[0], transform)
            if on_layer is not None:
                on_layer(0, x, x)
        for k, layer in enumerate(self.layers()[max(start - 1, 0):], start=max(start, 1)):
            low = low_precision is not None and k >= low_precision[1]
            x = layer(x, ws[k], dtype=low_precision[0] if low else torch.float32)
            if on_layer is not None:
                on_layer(k, x, x)
        return x.to(torch.float32) * self.output_scale

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "const",        # Accepted for NVlabs' conventions; there is no noise to shape.
        force_fp32: bool = False,         # NVlabs: keep fp32 on a GPU even where the layer was trained in fp16.
        **options,
    ) -> torch.Tensor:
        """NVlabs' call: on a GPU the layers they train in fp16 run in fp16 unless force_fp32 (or a plan is given)."""
        if "low_precision" not in options and not force_fp32 and ws.device.type == "cuda":
            first = next((i for i, layer in enumerate(self.layer_table.layers) if layer.fp16), None)
            options["low_precision"] = None if first is None else (torch.float16, first)
        return self.run(ws, noise_mode=noise_mode, **options)


# --- The generator -------------------------------------------------------------------------------------

class StyleGAN3Generator(GeneratorBase):
    """StyleGAN3: G(z, c) -> image, with NVlabs' call conventions and attributes (no noise inputs)."""

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.num_ws = cfg.num_ws
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(
            cfg.z_dim, cfg.c_dim, cfg.w_dim, cfg.num_ws,
            num_layers=cfg.mapping_layers,
            lr_multiplier=cfg.mapping_lr_multiplier,
            w_avg_beta=cfg.w_avg_beta,
        )
        self.layer_table: LayerTable = self.synthesis.layer_table
