"""The StyleGAN2 generator (Karras et al. 2020), read top to bottom like the paper.

Parameter and buffer names are NVlabs' own (`mapping.fc0.weight`, `synthesis.b8.conv0.affine.bias`,
...), so their pickles, rosinality's checkpoints and our safetensors files all map onto one module.

    z --mapping--> w --truncation--> ws [N, num_ws, w_dim] --synthesis--> image [N, 3, R, R] in ~[-1, 1]
"""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import torch

from .config import GeneratorConfig
from .family import NOISE_MODES, GeneratorBase, LowPrecision, OnLayer, check_noise_mode, truncate
from .layer_table import LayerTable, build_layer_table
from .ops import (
    FullyConnected,
    bias_act,
    can_overwrite,
    modulated_conv2d,
    normalize_2nd_moment,
    setup_filter,
    upsample2d,
)

__all__ = ["Generator", "MappingNetwork", "BlockSynthesis", "SynthesisNetwork", "GeneratorBase", "NOISE_MODES",
           "truncate"]


# --- Mapping network -------------------------------------------------------------------------------

class MappingNetwork(torch.nn.Module):
    def __init__(
        self,
        z_dim: int,                      # Input latent (z) size.
        c_dim: int,                      # Conditioning label (c) size, 0 = none.
        w_dim: int,                      # Intermediate latent (w) size.
        num_ws: int,                     # Number of copies of w to output.
        num_layers: int = 8,             # Fully connected layers.
        layer_features: Optional[int] = None,  # Hidden width (default w_dim).
        embed_features: Optional[int] = None,  # Label embedding width (default w_dim).
        lr_multiplier: float = 0.01,     # Learning-rate multiplier of every layer.
        w_avg_beta: float = 0.995,       # Decay for tracking the average w during training.
    ):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        embed_features = (embed_features or w_dim) if c_dim > 0 else 0
        layer_features = layer_features or w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnected(c_dim, embed_features)
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnected(features[i], features[i + 1], activation="lrelu",
                                                   lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: Optional[torch.Tensor],       # [N, z_dim]
        c: Optional[torch.Tensor],       # [N, c_dim] or None
        truncation_psi: float = 1,
        truncation_cutoff: Optional[int] = None,
        update_emas: bool = False,
    ) -> torch.Tensor:                   # [N, num_ws, w_dim]
        x = None
        if self.z_dim > 0:
            _check_shape(z, [None, self.z_dim], "z")
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            _check_shape(c, [None, self.c_dim], "c")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if update_emas:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        return truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)


# --- Synthesis network -----------------------------------------------------------------------------

class SynthesisLayer(torch.nn.Module):
    """Modulated 3x3 conv (optionally upsampling) + noise + bias + leaky ReLU."""

    def __init__(
        self,
        in_channels: int,                # Input channels.
        out_channels: int,               # Output channels.
        w_dim: int,                      # Intermediate latent size.
        resolution: int,                 # Output resolution.
        up: bool = False,                # Upsample 2x first?
        use_noise: bool = True,          # Add per-pixel noise?
        conv_clamp: Optional[float] = None,  # Clamp outputs to +-conv_clamp.
        resample_filter: Optional[torch.Tensor] = None,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.resolution, self.up, self.use_noise, self.conv_clamp = resolution, up, use_noise, conv_clamp
        self.register_buffer("resample_filter", setup_filter() if resample_filter is None else resample_filter)
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

    def _weight_sq(self) -> Optional[torch.Tensor]:
        """sum_{k,k} weight^2, reused across frames in eval mode while the weight is unchanged.

        Only in eval mode: fused optimisers update weights without bumping their version counter, so a
        cache keyed on it would go stale during training (it did: D then saw outdated fakes).
        """
        if self.training or (torch.is_grad_enabled() and self.weight.requires_grad):
            return None
        key = (self.weight._version, self.weight.data_ptr(), self.weight.device)
        cached = getattr(self, "_weight_sq_cache", None)
        if cached is None or cached[0] != key:
            with torch.no_grad():
                cached = (key, self.weight.to(torch.float32).square().sum(dim=[2, 3]))
            self._weight_sq_cache = cached
        return cached[1]

    def forward(
        self,
        x: torch.Tensor,                 # [N, in_channels, R or R/2, ...]
        w: torch.Tensor,                 # [N, w_dim]
        noise_mode: str = "const",       # 'const', 'random' or 'none'.
        noise: Optional[torch.Tensor] = None,  # Explicit noise [N or 1, 1, R, R], overriding the mode's.
        noise_scale: float = 1.0,        # Multiplier on the learned noise strength (0 = off).
        gain: float = 1.0,
    ) -> torch.Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight, styles, up=self.up, resample_filter=self.resample_filter,
                             weight_sq=self._weight_sq())
        inplace = can_overwrite(x)
        if self.use_noise and noise_mode != "none" and noise_scale != 0:
            if noise is None:
                if noise_mode == "random":
                    noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
                else:
                    noise = self.noise_const
            noise = noise.to(x.dtype) * (self.noise_strength.to(x.dtype) * noise_scale)
            x = x.add_(noise) if inplace else x + noise
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act="lrelu", gain=gain, clamp=clamp, inplace=inplace)


class ToRGBLayer(torch.nn.Module):
    """Modulated 1x1 conv to RGB without demodulation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: Optional[float] = None):
        super().__init__()
        self.in_channels, self.out_channels, self.conv_clamp = in_channels, out_channels, conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp, inplace=can_overwrite(x))


class SkipLayer(torch.nn.Module):
    """The residual path of 'resnet' blocks: 1x1 conv (no bias) then 2x FIR upsampling."""

    def __init__(self, in_channels: int, out_channels: int, resample_filter: torch.Tensor):
        super().__init__()
        self.register_buffer("resample_filter", resample_filter)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * (self.weight_gain * gain)).to(x.dtype)
        return upsample2d(torch.nn.functional.conv2d(x, w), self.resample_filter)


Carry = tuple[Optional[torch.Tensor], Optional[torch.Tensor], Optional[torch.Tensor]]   # (x, img, resnet skip)


class SynthesisBlock(torch.nn.Module):
    """One resolution: [const |] conv0 (up) -> conv1 -> torgb, adding to the upsampled image so far."""

    def __init__(
        self,
        in_channels: int,                # Channels of the previous block, 0 for the 4x4 block.
        out_channels: int,               # Channels of this block.
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        conv_clamp: Optional[float] = None,
        use_noise: bool = True,
    ):
        super().__init__()
        self.in_channels, self.resolution, self.architecture, self.is_last = in_channels, resolution, architecture, is_last
        self.register_buffer("resample_filter", setup_filter())
        f = self.resample_filter
        if in_channels == 0:
            self.const = torch.nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True,
                                        use_noise=use_noise, conv_clamp=conv_clamp, resample_filter=f.clone())
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution,
                                    use_noise=use_noise, conv_clamp=conv_clamp, resample_filter=f.clone())
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1 if (is_last or architecture == "skip") else 0
        if self.num_torgb:
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        if in_channels != 0 and architecture == "resnet":
            self.skip = SkipLayer(in_channels, out_channels, f.clone())

    def layer_names(self) -> list[str]:
        """The block's layers in order, one w each: ['conv0', 'conv1', 'torgb'] (no conv0 at 4 px)."""
        return (["conv0"] if self.in_channels else []) + ["conv1"] + (["torgb"] if self.num_torgb else [])

    def step(
        self,
        name: str,                       # Which of the block's layers to run.
        carry: Carry,                    # (x, img, skip) left by the layer before.
        w: torch.Tensor,                 # [N, w_dim] driving it.
        dtype: torch.dtype = torch.float32,
        memory_format: torch.memory_format = torch.contiguous_format,
        **noise_kwargs,                  # noise_mode, noise, noise_scale of a conv.
    ) -> tuple[torch.Tensor, Carry]:
        """Run one layer: (its output, what it leaves for the next). Entering the block, x takes the block's
        dtype and layout ('resnet' also starts the skip path, which conv1 adds back)."""
        x, img, skip = carry
        if name == self.layer_names()[0]:
            if self.in_channels == 0:
                x = self.const.to(dtype).unsqueeze(0).repeat([w.shape[0], 1, 1, 1])
                x = x.contiguous(memory_format=memory_format)
            else:
                x = x.to(dtype=dtype, memory_format=memory_format)
                if self.architecture == "resnet":
                    skip = self.skip(x, gain=math.sqrt(0.5))
        if name == "conv0":
            y = self.conv0(x, w, **noise_kwargs)
            return y, (y, img, skip)
        if name == "conv1":
            y = self.conv1(x, w, gain=1.0 if skip is None else math.sqrt(0.5), **noise_kwargs)
            return y, (y if skip is None else skip + y, img, None)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, w).to(torch.float32)
        return y, (x, y if img is None else img + y, None)


class BlockSynthesis(torch.nn.Module):
    """A synthesis network of one block per resolution (attributes b4, b8, ...), run layer by layer.

    The run of explorer/nn/family.py for every family built of resolution blocks (StyleGAN2 here, StyleGAN
    (v1) in stylegan1.py): a family's network builds its blocks and its layer table (layer names 'b16.conv0':
    block, then the block's layer), sets w_dim and num_ws, and each block runs one of its layers with
    `step(name, carry, w, dtype, memory_format, **noise_kwargs) -> (output, carry)` (w is None for a layer no
    w drives).
    """

    w_dim: int
    num_ws: int
    block_resolutions: list[int]
    layer_table: LayerTable

    def blocks(self) -> list:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def run(
        self,
        ws: torch.Tensor,                                         # [N, num_ws, w_dim]
        start: int = 0,                                           # First layer to run (layer table index).
        carry: Optional[Carry] = None,                            # What layer start-1 left.
        noise_mode: str = "const",
        noise: Optional[Mapping[str, torch.Tensor]] = None,        # 'b8.conv0' -> noise tensor
        noise_scales: Optional[Mapping[str, float]] = None,       # 'b8.conv0' -> multiplier
        transform: Optional[torch.Tensor] = None,                 # No input transform in these families: ignored.
        low_precision: Optional[LowPrecision] = None,             # (dtype, first layer in it)
        channels_last: bool = False,                              # NHWC activations (faster on CPUs)
        on_layer: Optional[OnLayer] = None,                       # (index, output, carry after it)
    ) -> torch.Tensor:
        """Run layers[start:] (explorer/nn/family.py): the renderer resumes from the first layer a change
        reaches, with the carry it kept; on_layer lets it keep each layer's output and carry."""
        _check_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        check_noise_mode(noise_mode)
        if start > 0 and carry is None:
            raise ValueError("resuming synthesis needs the carry of the layer before")
        ws = ws.to(torch.float32)
        mf = torch.channels_last if channels_last else torch.contiguous_format
        carry = carry if carry is not None else (None, None, None)
        for i, layer in enumerate(self.layer_table.layers[start:], start=start):
            block, name = layer.name.split(".")
            dtype = low_precision[0] if low_precision is not None and i >= low_precision[1] else torch.float32
            kwargs = {}
            if layer.noise:
                kwargs = dict(noise_mode=noise_mode,
                              noise=None if noise is None else noise.get(layer.name),
                              noise_scale=1.0 if noise_scales is None else float(noise_scales.get(layer.name, 1.0)))
            w = None if layer.w_index is None else ws[:, layer.w_index]
            y, carry = getattr(self, block).step(name, carry, w, dtype=dtype, memory_format=mf, **kwargs)
            if on_layer is not None:
                on_layer(i, y, carry)
        return carry[1]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", **options) -> torch.Tensor:
        return self.run(ws, noise_mode=noise_mode, **options)


class SynthesisNetwork(BlockSynthesis):
    """The blocks b4 ... bR of StyleGAN2, with its layer table."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = cfg.w_dim, cfg.img_resolution, cfg.img_channels
        self.block_resolutions = cfg.block_resolutions
        self.num_ws = cfg.num_ws
        for res in self.block_resolutions:
            block = SynthesisBlock(
                in_channels=cfg.channels_at(res // 2) if res > 4 else 0,
                out_channels=cfg.channels_at(res),
                w_dim=cfg.w_dim,
                resolution=res,
                img_channels=cfg.img_channels,
                is_last=res == cfg.img_resolution,
                architecture=cfg.architecture,
                conv_clamp=cfg.conv_clamp,
                use_noise=cfg.use_noise,
            )
            setattr(self, f"b{res}", block)
        self.layer_table: LayerTable = build_layer_table(cfg)
        assert [layer.name for layer in self.layer_table.layers] == [
            f"b{b.resolution}.{n}" for b in self.blocks() for n in b.layer_names()]


# --- The generator ---------------------------------------------------------------------------------

class Generator(GeneratorBase):
    """G(z, c) -> image, with NVlabs' call conventions and attributes (the call, device and seeded noise come
    from GeneratorBase)."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.num_ws = cfg.num_ws
        self.mapping = MappingNetwork(
            cfg.z_dim, cfg.c_dim, cfg.w_dim, cfg.num_ws,
            num_layers=cfg.mapping_layers,
            layer_features=cfg.layer_features,
            embed_features=cfg.embed_features,
            lr_multiplier=cfg.mapping_lr_multiplier,
            w_avg_beta=cfg.w_avg_beta,
        )
        self.synthesis = SynthesisNetwork(cfg)
        self.layer_table: LayerTable = self.synthesis.layer_table


def _check_shape(t: Optional[torch.Tensor], shape: Sequence[Optional[int]], what: str) -> None:
    if t is None:
        raise ValueError(f"{what} is required")
    if t.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, t.shape)):
        want = "[" + ", ".join("N" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"{what} has shape {list(t.shape)}, expected {want}")
