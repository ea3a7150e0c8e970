"""StyleGAN2's residual discriminator with minibatch standard deviation (NVlabs layout and names).

    image [N, 3, R, R] --fromrgb--> b{R} --> ... --> b8 --> b4 (mbstd, conv, fc, out) --> logit [N, 1]
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from .generator import MappingNetwork
from .ops import bias_act, downsample2d, filter2d, setup_filter, FullyConnected


class Conv2dLayer(torch.nn.Module):
    """Equalised-lr convolution, optionally FIR-downsampling 2x, with bias + activation."""

    def __init__(
        self,
        in_channels: int,                # Input channels.
        out_channels: int,               # Output channels.
        kernel_size: int,                # 1 or 3.
        bias: bool = True,               # Learn a bias?
        activation: str = "linear",      # 'linear' or 'lrelu'.
        down: bool = False,              # Downsample 2x (blur, then strided conv)?
        conv_clamp: Optional[float] = None,
    ):
        super().__init__()
        self.down, self.activation, self.conv_clamp = down, activation, conv_clamp
        self.register_buffer("resample_filter", setup_filter())
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels])) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        if not self.down:
            x = F.conv2d(x, w, padding=self.padding)
        elif w.shape[-1] == 1:
            x = F.conv2d(downsample2d(x, self.resample_filter), w)
        else:
            x = F.conv2d(filter2d(x, self.resample_filter, padding=2), w, stride=2)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=gain, clamp=clamp)


class DiscriminatorBlock(torch.nn.Module):
    """[fromrgb] -> conv0 -> conv1 (down), plus a 1x1 downsampling skip, scaled by sqrt(1/2)."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int,
                 conv_clamp: Optional[float] = None):
        super().__init__()
        self.in_channels = in_channels
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=True, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=True)

    def forward(self, x: Optional[torch.Tensor], img: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 0:
            x = self.fromrgb(img)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, num_channels: int = 1) -> torch.Tensor:
    """Append the within-group standard deviation as extra feature maps (lets D see diversity)."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g:
        g = math.gcd(n, g)
    f = num_channels
    y = x.reshape(g, -1, f, c // f, h, w)          # [G, n/G, F, c, H, W]
    y = (y - y.mean(dim=0)).square().mean(dim=0)    # variance over the group
    y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])       # [n/G, F]
    y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)   # [N, F, H, W]
    return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(torch.nn.Module):
    def __init__(self, in_channels: int, cmap_dim: int, resolution: int = 4, mbstd_group_size: int = 4,
                 conv_clamp: Optional[float] = None):
        super().__init__()
        self.mbstd_group_size, self.cmap_dim = mbstd_group_size, cmap_dim
        self.conv = Conv2dLayer(in_channels + 1, in_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.fc = FullyConnected(in_channels * resolution ** 2, in_channels, activation="lrelu")
        self.out = FullyConnected(in_channels, max(cmap_dim, 1))

    def forward(self, x: torch.Tensor, cmap: Optional[torch.Tensor]) -> torch.Tensor:
        x = minibatch_stddev(x, self.mbstd_group_size)
        x = self.conv(x)
        x = self.out(self.fc(x.flatten(1)))
        if self.cmap_dim > 0:  # projection discriminator for conditional models
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class Discriminator(torch.nn.Module):
    def __init__(
        self,
        img_resolution: int,             # Input resolution.
        img_channels: int = 3,           # Input channels.
        c_dim: int = 0,                  # Conditioning label size.
        channel_base: int = 32768,       # Channels at resolution R = min(channel_base // R, channel_max).
        channel_max: int = 512,
        mbstd_group_size: int = 4,       # Group size of the minibatch standard deviation.
        conv_clamp: Optional[float] = None,
    ):
        super().__init__()
        self.img_resolution, self.img_channels, self.c_dim = img_resolution, img_channels, c_dim
        self.block_resolutions = [2 ** i for i in range(int(math.log2(img_resolution)), 2, -1)]
        ch = {r: min(channel_base // r, channel_max) for r in self.block_resolutions + [4]}
        for res in self.block_resolutions:
            block = DiscriminatorBlock(
                in_channels=ch[res] if res < img_resolution else 0,
                tmp_channels=ch[res],
                out_channels=ch[res // 2],
                img_channels=img_channels,
                conv_clamp=conv_clamp,
            )
            setattr(self, f"b{res}", block)
        cmap_dim = ch[4] if c_dim > 0 else 0
        if c_dim > 0:
            self.mapping = MappingNetwork(z_dim=0, c_dim=c_dim, w_dim=cmap_dim, num_ws=1, num_layers=8,
                                          lr_multiplier=0.01)
        self.b4 = DiscriminatorEpilogue(ch[4], cmap_dim, mbstd_group_size=mbstd_group_size, conv_clamp=conv_clamp)

    def forward(self, img: torch.Tensor, c: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, img)
        cmap = self.mapping(None, c)[:, 0] if self.c_dim > 0 else None
        return self.b4(x, cmap)
