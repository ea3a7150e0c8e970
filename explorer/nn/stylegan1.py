"""The StyleGAN generator (Karras et al. 2019, "A Style-Based Generator Architecture for GANs"), top to bottom.

    z [, c] --pixel norm, dense x 8--> w --truncation--> ws [N, num_ws, w_dim]
    ws --synthesis--> 4x4 constant, then per layer:
        [upsample + 3x3 conv + [1,2,1] blur | 3x3 conv] -> + noise * strength[c] -> + bias -> leaky ReLU
        -> instance norm -> AdaIN: x * (1 + scale(w_i)) + shift(w_i)
    the last block's features --1x1 ToRGB--> image [N, img_channels, R, R] in ~[-1, 1]

Every layer has its own w (num_ws = 2 log2 R - 2, two per resolution); ToRGB has none. This follows NVlabs'
G_style / G_mapping / G_synthesis (networks_stylegan.py): variables keep TF's values in PyTorch layouts
(dense [out, in], conv [out, in, k, k]) and the equalised-learning-rate gains are applied at run time, as
TF does. The call conventions are NVlabs' PyTorch ones, like our StyleGAN2 Generator: G(z, c,
truncation_psi=..., truncation_cutoff=..., noise_mode=...), G.mapping, G.synthesis(ws, noise_mode=...).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from .family import GeneratorBase, truncate
from .generator import BlockSynthesis, _check_shape
from .layer_table import Layer, LayerTable, fp16_resolution, level_of_resolution, make_table
from .ops import LRELU_SLOPE, normalize_2nd_moment
from .stylegan1_config import StyleGAN1Config

GAIN = math.sqrt(2.0)           # He gain of every leaky-ReLU layer, folded into the weights (not the output).


# --- Building blocks -------------------------------------------------------------------------------

class Dense(torch.nn.Module):
    """Fully connected layer with equalised learning rate: y = x @ (W * gain * lr_mul / sqrt(in)) + b * lr_mul."""

    def __init__(
        self,
        in_features: int,               # Input features.
        out_features: int,              # Output features.
        gain: float = GAIN,             # He gain (sqrt 2 before a leaky ReLU, 1 for style affines).
        lr_multiplier: float = 1.0,     # Learning-rate multiplier (0.01 in the mapping network).
    ):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = torch.nn.Parameter(torch.zeros([out_features]))
        self.weight_gain = gain * lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias * self.bias_gain, x, (self.weight * self.weight_gain).t())


def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit RMS per sample and channel over the pixels (in fp32, as TF computes it)."""
    y = x.to(torch.float32)
    y = y - y.mean(dim=[2, 3], keepdim=True)
    return (y * (y.square().mean(dim=[2, 3], keepdim=True) + eps).rsqrt()).to(x.dtype)


def blur(x: torch.Tensor) -> torch.Tensor:
    """The [1, 2, 1] low-pass filter (outer product, sum 1) on every channel, zero padding."""
    f = torch.tensor([1.0, 2.0, 1.0], device=x.device)
    f = (torch.outer(f, f) / 16).to(x.dtype)
    c = x.shape[1]
    return F.conv2d(x, f[None, None].expand(c, 1, 3, 3), padding=1, groups=c)


def upscale_nearest(x: torch.Tensor) -> torch.Tensor:
    """2x upsampling by repeating pixels (TF's upscale2d)."""
    return x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


# --- Mapping network -------------------------------------------------------------------------------

class MappingNetwork(torch.nn.Module):
    def __init__(self, cfg: StyleGAN1Config):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = cfg.z_dim, cfg.c_dim, cfg.w_dim, cfg.num_ws
        self.num_layers, self.normalize_latents = cfg.mapping_layers, cfg.normalize_latents
        if cfg.c_dim > 0:   # LabelConcat: c @ W, no gain, no bias, concatenated to z before the pixel norm.
            self.embed = torch.nn.Parameter(torch.randn([cfg.z_dim, cfg.c_dim]))
        features = [cfg.z_dim * (2 if cfg.c_dim else 1)] + [cfg.mapping_features] * (cfg.mapping_layers - 1) + [cfg.w_dim]
        for i in range(cfg.mapping_layers):
            setattr(self, f"fc{i}", Dense(features[i], features[i + 1], lr_multiplier=cfg.mapping_lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([cfg.w_dim]))

    def forward(
        self,
        z: torch.Tensor,                 # [N, z_dim]
        c: Optional[torch.Tensor] = None,  # [N, c_dim] or None
        truncation_psi: float = 1,
        truncation_cutoff: Optional[int] = None,
        update_emas: bool = False,       # Accepted for call compatibility; StyleGAN (v1) is not trained here.
    ) -> torch.Tensor:                   # [N, num_ws, w_dim]
        _check_shape(z, [None, self.z_dim], "z")
        x = z.to(torch.float32)
        if self.c_dim > 0:
            _check_shape(c, [None, self.c_dim], "c")
            x = torch.cat([x, c.to(torch.float32) @ self.embed.t()], dim=1)
        if self.normalize_latents:
            x = normalize_2nd_moment(x)
        for i in range(self.num_layers):
            x = F.leaky_relu(getattr(self, f"fc{i}")(x), LRELU_SLOPE)
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        return truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)


# --- Synthesis network -----------------------------------------------------------------------------

class SynthesisLayer(torch.nn.Module):
    """One styled layer: [const | conv | upsampling conv + blur] -> noise -> bias -> lrelu -> instance norm -> AdaIN."""

    def __init__(
        self,
        in_channels: int,                # Input channels (ignored by the constant input).
        out_channels: int,               # Output channels.
        w_dim: int,                      # Intermediate latent size.
        resolution: int,                 # Output resolution.
        kind: str,                       # 'input' (learned 4x4 constant), 'conv' or 'up' (2x upsampling conv).
        fused: bool = False,             # 'up' as one transposed conv (NVlabs: from 128 px on) instead of
                                         # nearest upsampling then conv; the same map up to the 2x2 box sum.
        use_blur: bool = True,           # [1, 2, 1] filter after the upsampling conv?
        use_noise: bool = True,          # Per-pixel noise with a strength per channel?
    ):
        super().__init__()
        self.in_channels, self.out_channels, self.resolution = in_channels, out_channels, resolution
        self.kind, self.fused, self.use_blur, self.use_noise = kind, fused, use_blur, use_noise
        if kind == "input":
            self.const = torch.nn.Parameter(torch.ones([out_channels, resolution, resolution]))
        else:
            self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
            self.weight_gain = GAIN / math.sqrt(in_channels * 9)
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = torch.nn.Parameter(torch.zeros([out_channels]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.affine = Dense(w_dim, 2 * out_channels, gain=1.0)

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        if self.kind == "conv":
            return F.conv2d(x, w, padding=1)
        if self.fused:
            # TF's fused upscale2d_conv2d: the 3x3 kernel summed over the four 2x2 shifts (a 4x4 kernel that
            # equals nearest upsampling + conv), applied as a stride-2 transposed conv.
            w = F.pad(w, [1, 1, 1, 1])
            w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
            x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2, padding=1)
        else:
            x = F.conv2d(upscale_nearest(x), w, padding=1)
        return blur(x) if self.use_blur else x

    def forward(
        self,
        x: Optional[torch.Tensor],       # [N, in_channels, R or R/2, ...]; for 'input' only its batch size counts.
        w: torch.Tensor,                 # [N, w_dim]
        noise_mode: str = "const",       # 'const', 'random' or 'none'.
        noise: Optional[torch.Tensor] = None,  # Explicit noise [N or 1, 1, R, R], overriding the mode's.
        noise_scale: float = 1.0,        # Multiplier on the learned noise strengths (0 = off).
        dtype: torch.dtype = torch.float32,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> torch.Tensor:
        if self.kind == "input":
            x = self.const.to(dtype).unsqueeze(0).repeat([w.shape[0], 1, 1, 1])
        else:
            x = self.convolve(x.to(dtype=dtype))
        x = x.contiguous(memory_format=memory_format)
        if self.use_noise and noise_mode != "none" and noise_scale != 0:
            if noise is None:
                if noise_mode == "random":
                    noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
                else:
                    noise = self.noise_const
            x = x + noise.to(x.dtype) * (self.noise_strength * noise_scale).to(x.dtype).reshape(1, -1, 1, 1)
        x = F.leaky_relu(x + self.bias.to(x.dtype).reshape(1, -1, 1, 1), LRELU_SLOPE)
        x = instance_norm(x)
        style = self.affine(w.to(torch.float32)).to(x.dtype).reshape(-1, 2, self.out_channels, 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]


class ToRGBLayer(torch.nn.Module):
    """1x1 conv to the image channels, linear (no style: StyleGAN's ToRGB takes no w)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        return F.conv2d(x, w, self.bias.to(x.dtype)).to(torch.float32)


class SynthesisBlock(torch.nn.Module):
    """One resolution: two styled layers, then (where the level of detail needs it) ToRGB into the image.

    Progressive growing fades each new resolution in: with `fade` t in (0, 1) the image is
    lerp(torgb(x), upsampled image so far, t); t = 0 replaces it, t = 1 only upsamples it (lod 0, every
    finished model, uses the last block's ToRGB alone).
    """

    def __init__(self, cfg: StyleGAN1Config, resolution: int, fade: float, needs_rgb: bool):
        super().__init__()
        self.resolution, self.fade, self.needs_rgb = resolution, fade, needs_rgb
        out_ch = cfg.channels_at(resolution)
        common = dict(w_dim=cfg.w_dim, resolution=resolution, use_noise=cfg.use_noise)
        if resolution == 4:
            self.input = SynthesisLayer(0, out_ch, kind="input", **common)
        else:
            self.conv0 = SynthesisLayer(cfg.channels_at(resolution // 2), out_ch, kind="up",
                                        fused=cfg.fused_at(resolution), use_blur=cfg.blur, **common)
        self.conv1 = SynthesisLayer(out_ch, out_ch, kind="conv", **common)
        self.torgb = ToRGBLayer(out_ch, cfg.img_channels)
        self.num_conv = 2

    def layer_names(self) -> list[str]:
        return block_layer_names(self.resolution, self.fade, self.needs_rgb)

    def step(
        self,
        name: str,                       # Which of the block's layers to run.
        carry: tuple,                    # (x, img, None) left by the layer before.
        w: Optional[torch.Tensor],       # [N, w_dim] driving it (None for ToRGB).
        dtype: torch.dtype = torch.float32,
        memory_format: torch.memory_format = torch.contiguous_format,
        **noise_kwargs,                  # noise_mode, noise, noise_scale of a styled layer.
    ) -> tuple[torch.Tensor, tuple]:
        """Run one layer: (its output, what it leaves for the next). After conv1 the image so far is upsampled
        (whether or not this block draws into it: a faded-out block only upsamples)."""
        x, img, _ = carry
        if name != "torgb":
            x = getattr(self, name)(x, w, dtype=dtype, memory_format=memory_format, **noise_kwargs)
            if name == "conv1" and img is not None:
                img = upscale_nearest(img)
            return x, (x, img, None)
        y = self.torgb(x)
        return y, (x, y if img is None or self.fade <= 0 else y + (img - y) * self.fade, None)


class SynthesisNetwork(BlockSynthesis):
    """The blocks b4 ... b{R}, run by BlockSynthesis.run: the same contract as StyleGAN2's network
    (explorer/nn/family.py), so the renderer's incremental cache, the layer viewer and the projector drive both alike."""

    def __init__(self, cfg: StyleGAN1Config):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = cfg.w_dim, cfg.img_resolution, cfg.img_channels
        self.block_resolutions = cfg.block_resolutions
        self.num_ws = cfg.num_ws
        for res, fade, needs_rgb in block_plan(cfg):
            setattr(self, f"b{res}", SynthesisBlock(cfg, res, fade, needs_rgb))
        self.layer_table: LayerTable = build_layer_table(cfg)


def block_plan(cfg: StyleGAN1Config) -> list[tuple[int, float, bool]]:
    """(resolution, fade, needs_rgb) per block: TF's level of detail (lod) decides which ToRGBs draw."""
    top = int(math.log2(cfg.img_resolution))
    plan = []
    for res in cfg.block_resolutions:
        steps_below_top = top - int(math.log2(res))      # TF: lod of this resolution's ToRGB
        fade = min(max(cfg.lod - steps_below_top, 0.0), 1.0)
        plan.append((res, fade, res == cfg.img_resolution or cfg.lod > steps_below_top - 1))
    return plan


def block_layer_names(resolution: int, fade: float, needs_rgb: bool) -> list[str]:
    """A block's layers in order: two styled ones (one w each), and ToRGB where it draws (no w)."""
    styled = ["input", "conv1"] if resolution == 4 else ["conv0", "conv1"]
    return styled + (["torgb"] if needs_rgb and fade < 1 else [])


def build_layer_table(cfg: StyleGAN1Config) -> LayerTable:
    """w index i drives exactly one styled layer, at resolution 4 * 2^(i // 2); levels as in the StyleGAN
    paper (coarse 4-8 px, middle 16-32 px, fine 64 px and up). ToRGB layers that draw (the last block's; more
    while a progressive-growing snapshot fades) take no w."""
    fp16_from = fp16_resolution(cfg.img_resolution)
    layers = []
    for b, (res, fade, needs_rgb) in enumerate(block_plan(cfg)):
        level = level_of_resolution(res)
        for k, name in enumerate(block_layer_names(res, fade, needs_rgb)):
            rgb = name == "torgb"
            layers.append(Layer(f"b{res}.{name}", None if rgb else 2 * b + k, "rgb" if rgb else "conv", res, res,
                                cfg.img_channels if rgb else cfg.channels_at(res), res / 2, level,
                                noise=cfg.use_noise and not rgb, fp16=res >= fp16_from))
    return make_table(layers, cfg.num_ws)


# --- The generator ---------------------------------------------------------------------------------

class Generator(GeneratorBase):
    """G(z, c) -> image, with NVlabs' PyTorch call conventions and attributes (forward, device and seeded
    noise come from GeneratorBase)."""

    def __init__(self, cfg: StyleGAN1Config):
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.img_resolution, self.img_channels, self.num_ws = cfg.img_resolution, cfg.img_channels, cfg.num_ws
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)
        self.layer_table: LayerTable = self.synthesis.layer_table

    @property
    def default_truncation(self) -> tuple[float, Optional[int]]:
        """(psi, cutoff) G_style applied when run without them: 0.7 on the first 8 w unless the pickle says."""
        psi, cutoff = self.cfg.truncation_psi, self.cfg.truncation_cutoff
        if psi is None or cutoff is None or cutoff <= 0:
            return 1.0, None
        return float(psi), int(cutoff)
