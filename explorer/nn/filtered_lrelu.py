"""Filtered leaky ReLU (StyleGAN3's nonlinearity) in plain torch, for inference.

NVlabs' definition, per channel: add the bias; upsample by `up` (insert up-1 zeros after every sample, pad
or crop by `padding`, convolve with the FIR filter `fu`, gain up^2); leaky ReLU times `gain`; clamp to
+-`clamp`; convolve with `fd` and keep every `down`-th sample. Their CPU path does exactly that, so up^2 - 1
of every up^2 multiplies of the first filter hit inserted zeros and the second filter computes down^2 times
more pixels than it keeps.

Here the same result is computed the way the arithmetic wants it:
- upsampling is a transposed convolution with stride `up` (the polyphase form: each output phase is a short
  filter over the input, no zeros are multiplied), one pass along x and one along y for a 1-D filter;
- the activation gain rides in the upsampling filter (lrelu(g y) = g lrelu(y) for g > 0);
- downsampling is a strided convolution: only the kept pixels are filtered.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F


def filtered_lrelu(
    x: torch.Tensor,                  # [N, C, H, W]
    fu: Optional[torch.Tensor],       # Upsampling filter: [taps] (separable), [taps, taps] or None.
    fd: Optional[torch.Tensor],       # Downsampling filter, same forms.
    b: Optional[torch.Tensor],        # Bias [C], added first.
    up: int = 1,
    down: int = 1,
    padding: Sequence[int] = (0, 0, 0, 0),  # (x0, x1, y0, y1) of the upsampled signal; negative crops.
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: Optional[float] = None,
    inplace: bool = False,            # May overwrite x (a fresh conv output nobody else holds).
) -> torch.Tensor:
    if gain <= 0:
        raise ValueError(f"gain must be positive, got {gain}")
    if b is not None:
        b = b.to(x.dtype).reshape(1, -1, 1, 1)
        x = x.add_(b) if inplace else x + b
    x = upsample(x, fu, up, padding, gain=gain * up * up)
    if slope != 1:
        x = F.leaky_relu_(x, slope)
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp)
    return downsample(x, fd, down)


def upsample(x: torch.Tensor, f: Optional[torch.Tensor], up: int, padding: Sequence[int], gain: float) -> torch.Tensor:
    """upfirdn2d(x, f, up=up, padding=padding, gain=gain): zero insertion, pad, FIR, as transposed convs."""
    px0, px1, py0, py1 = (int(p) for p in padding)
    if f is None:
        f = torch.ones([1, 1], device=x.device)
    f = f.to(x.dtype)
    if f.ndim == 1:
        x = _transposed_fir(x, f * gain, up, px0, px1, dim=3)
        return _transposed_fir(x, f, up, py0, py1, dim=2)
    return _transposed_fir_2d(x, f * gain, up, (px0, px1, py0, py1))


def downsample(x: torch.Tensor, f: Optional[torch.Tensor], down: int) -> torch.Tensor:
    """upfirdn2d(x, f, down=down): FIR over the valid region, computed only where every down-th sample is kept."""
    c = x.shape[1]
    if f is None:
        return x[:, :, ::down, ::down] if down > 1 else x
    f = f.to(x.dtype).flip(list(range(f.ndim)))  # NVlabs convolves; conv2d correlates
    if f.ndim == 1:
        x = F.conv2d(x, f.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), stride=(1, down), groups=c)
        return F.conv2d(x, f.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), stride=(down, 1), groups=c)
    return F.conv2d(x, f[None, None].expand(c, 1, -1, -1), stride=down, groups=c)


def _transposed_fir(x: torch.Tensor, f: torch.Tensor, up: int, pad_lo: int, pad_hi: int, dim: int) -> torch.Tensor:
    """Along one axis: y[m] = sum_i x[i] f[m + L-1 - pad_lo - up*i], the zero-inserted, padded, convolved signal.

    That is a transposed convolution with stride `up` whose full output is shifted by L-1-pad_lo: crop (or
    zero-extend) it to the length NVlabs' upfirdn2d gives.
    """
    c, n, taps = x.shape[1], x.shape[dim], f.shape[0]
    if up == 1 and taps == 1:
        y = x * f[0] if f[0] != 1 else x
    else:
        shape = (c, 1, 1, taps) if dim == 3 else (c, 1, taps, 1)
        stride = (1, up) if dim == 3 else (up, 1)
        y = F.conv_transpose2d(x, f.reshape(shape[1:]).expand(shape), stride=stride, groups=c)
    lo = taps - 1 - pad_lo                          # samples to drop at the start (negative: zeros to add)
    hi = (n - 1) * up + taps - (n * up + pad_lo + pad_hi - taps + 1) - lo  # ... and at the end
    return _crop(y, dim, lo, hi)


def _transposed_fir_2d(x: torch.Tensor, f: torch.Tensor, up: int, padding: tuple[int, int, int, int]) -> torch.Tensor:
    c, (h, w), (th, tw) = x.shape[1], x.shape[2:], f.shape
    px0, px1, py0, py1 = padding
    y = F.conv_transpose2d(x, f[None, None].expand(c, 1, th, tw), stride=up, groups=c)
    lo_x, lo_y = tw - 1 - px0, th - 1 - py0
    hi_x = (w - 1) * up + tw - (w * up + px0 + px1 - tw + 1) - lo_x
    hi_y = (h - 1) * up + th - (h * up + py0 + py1 - th + 1) - lo_y
    return _crop(_crop(y, 3, lo_x, hi_x), 2, lo_y, hi_y)


def _crop(x: torch.Tensor, dim: int, lo: int, hi: int) -> torch.Tensor:
    """Drop lo / hi samples at the two ends of `dim` (negative: append zeros)."""
    if lo == 0 and hi == 0:
        return x
    pads = [0, 0, 0, 0]
    pads[(3 - dim) * 2: (3 - dim) * 2 + 2] = [-lo, -hi]
    return F.pad(x, pads)
