"""Filtered leaky ReLU (StyleGAN3's nonlinearity) in plain torch, for inference.

NVlabs' definition, per channel: add the bias; upsample by `up` (insert up-1 zeros after every sample, pad
or crop by `padding`, convolve with the FIR filter `fu`, gain up^2); leaky ReLU times `gain`; clamp to
+-`clamp`; convolve with `fd` and keep every `down`-th sample. Their CPU path does exactly that, so up^2 - 1
of every up^2 multiplies of the first filter hit inserted zeros, and the second filter computes down^2
times more pixels than it keeps, all on full-size copies made by padding and slicing.

Here the same numbers come from the arithmetic the definition needs and no more:
- upsampling is a transposed convolution with stride `up`: each output phase is a short filter over the
  input (polyphase), no inserted zero is stored or multiplied; the crop is the convolution's own padding;
- downsampling is a strided convolution: only the kept pixels are filtered;
- a separable filter runs as one pass along y and one along x (upsampling starts along y, while the
  signal is still narrow); a radial one as a single 2-D strided convolution;
- the activation gain rides in the upsampling filter (lrelu(g y) = g lrelu(y) for g > 0), the leaky ReLU
  runs in place, and the clamp is skipped when the filter's peak gain proves no value can reach it.
All passes are depthwise convolutions, which PyTorch runs best channels-last on CPUs (the layers keep
activations so). The result is NVlabs' up to float rounding, on any device.
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
    if x.device.type == "cpu" and not x.is_contiguous(memory_format=torch.channels_last):
        # Every pass below is a depthwise convolution, fastest channels-last on CPUs: change layout while
        # adding the bias (one pass over the input instead of two).
        bias = 0 if b is None else b.to(x.dtype).reshape(1, -1, 1, 1)
        if x.requires_grad and torch.is_grad_enabled():  # out= has no gradient (the projector needs one)
            x = (x + bias).contiguous(memory_format=torch.channels_last)
        else:
            x = torch.add(x, bias, out=torch.empty(x.shape, dtype=x.dtype, memory_format=torch.channels_last))
    elif b is not None:
        b = b.to(x.dtype).reshape(1, -1, 1, 1)
        x = x.add_(b) if inplace else x + b
    if clamp is not None and x.device.type == "cpu" and _max_abs(x) * peak_gain(fu, up, gain) <= clamp:
        clamp = None  # no upsampled value can reach the clamp: skip a pass over the largest tensor
    x = upsample(x, fu, up, padding, gain=gain * up * up)
    if slope != 1:
        x = F.leaky_relu_(x, slope)
    if clamp is not None and clamp >= 0:   # in place only where no gradient needs the activation (the projector's does)
        x = x.clamp(-clamp, clamp) if x.requires_grad and torch.is_grad_enabled() else x.clamp_(-clamp, clamp)
    return downsample(x, fd, down)


def upsample(x: torch.Tensor, f: Optional[torch.Tensor], up: int, padding: Sequence[int], gain: float) -> torch.Tensor:
    """upfirdn2d(x, f, up=up, padding=padding, gain=gain): zero insertion, pad, FIR, as transposed convs."""
    px0, px1, py0, py1 = (int(p) for p in padding)
    if f is None:
        f = torch.ones([1, 1], device=x.device)
    f = f.to(x.device, x.dtype)
    if f.ndim == 1:
        x = transposed_fir(x, f * gain, up, py0, py1, dim=2)
        return transposed_fir(x, f, up, px0, px1, dim=3)
    return _transposed_fir_2d(x, f * gain, up, (px0, px1, py0, py1))


def downsample(x: torch.Tensor, f: Optional[torch.Tensor], down: int) -> torch.Tensor:
    """upfirdn2d(x, f, down=down): FIR over the valid region, computed only where every down-th sample is kept."""
    if f is None:
        return x[:, :, ::down, ::down] if down > 1 else x
    f = f.to(x.device, x.dtype)
    if f.ndim == 1:
        return strided_fir(strided_fir(x, f, down, dim=3), f, down, dim=2)
    c = x.shape[1]
    return F.conv2d(x, f.flip([0, 1])[None, None].expand(c, 1, -1, -1), stride=down, groups=c)


def _max_abs(x: torch.Tensor) -> float:
    """max |x| without the copy abs() makes: amax and amin are 1.3-2.5x faster on channels-last activations
    than abs().amax() (and torch.aminmax is 5-10x slower). NaN stays NaN, so the clamp is then kept."""
    return max(x.amax().item(), -x.amin().item())


def peak_gain(f: Optional[torch.Tensor], up: int, gain: float) -> float:
    """The most `upsample` can amplify a value: |upsample(x)| <= peak_gain * max|x| (gain and up^2 included).

    Each output is one polyphase component of f applied to the input, so its worst case is the largest
    sum of |taps| over the phases, per axis.
    """
    if f is None:
        return gain * up * up
    f = f.detach().to("cpu", torch.float64).abs()
    if f.ndim == 2:
        return gain * up * up * max(f[i::up, j::up].sum().item() for i in range(up) for j in range(up))
    return gain * (up * max(f[p::up].sum().item() for p in range(up))) ** 2


def transposed_fir(x: torch.Tensor, f: torch.Tensor, up: int, pad_lo: int, pad_hi: int, dim: int) -> torch.Tensor:
    """Along one axis: y[m] = sum_i x[i] f[m + L-1 - pad_lo - up*i], the zero-inserted, padded, convolved signal.

    That is a transposed convolution with stride `up` whose full output is shifted by L-1-pad_lo: crop (or
    zero-extend) it to the length NVlabs' upfirdn2d gives; the convolution's padding does the symmetric
    part of the crop.
    """
    c, n, taps = x.shape[1], x.shape[dim], f.shape[0]
    lo = taps - 1 - pad_lo                          # samples to drop at the start (negative: zeros to add)
    hi = (n - 1) * up + taps - (n * up + pad_lo + pad_hi - taps + 1) - lo  # ... and at the end
    if up == 1 and taps == 1:
        return _crop(x * f[0] if f[0] != 1 else x, dim, lo, hi)
    shape = (c, 1, 1, taps) if dim == 3 else (c, 1, taps, 1)
    stride = (1, up) if dim == 3 else (up, 1)
    both = max(min(lo, hi), 0)
    pad = (0, both) if dim == 3 else (both, 0)
    y = F.conv_transpose2d(x, f.reshape(shape[1:]).expand(shape), stride=stride, padding=pad, groups=c)
    return _crop(y, dim, lo - both, hi - both)


def strided_fir(x: torch.Tensor, f: torch.Tensor, down: int, dim: int) -> torch.Tensor:
    """Along one axis: y[k] = sum_t f[L-1-t] x[down*k + t] over the valid region (a strided convolution)."""
    c = x.shape[1]
    shape, stride = ((c, 1, 1, -1), (1, down)) if dim == 3 else ((c, 1, -1, 1), (down, 1))
    return F.conv2d(x, f.flip(0).reshape(shape[1:]).expand(shape), stride=stride, groups=c)


def _transposed_fir_2d(x: torch.Tensor, f: torch.Tensor, up: int, padding: tuple[int, int, int, int]) -> torch.Tensor:
    c, (h, w), (th, tw) = x.shape[1], x.shape[2:], f.shape
    px0, px1, py0, py1 = padding
    y = F.conv_transpose2d(x, f[None, None].expand(c, 1, th, tw), stride=up, groups=c)
    lo_x, lo_y = tw - 1 - px0, th - 1 - py0
    hi_x = (w - 1) * up + tw - (w * up + px0 + px1 - tw + 1) - lo_x
    hi_y = (h - 1) * up + th - (h * up + py0 + py1 - th + 1) - lo_y
    return _crop(_crop(y, 3, lo_x, hi_x), 2, lo_y, hi_y)


def _crop(x: torch.Tensor, dim: int, lo: int, hi: int) -> torch.Tensor:
    """Drop lo / hi samples at the two ends of `dim` (negative: append zeros); dropping alone is a view."""
    if lo == 0 and hi == 0:
        return x
    if lo >= 0 and hi >= 0:
        return x.narrow(dim, lo, x.shape[dim] - lo - hi)
    pads = [0, 0, 0, 0]
    pads[(3 - dim) * 2: (3 - dim) * 2 + 2] = [-lo, -hi]
    return F.pad(x, pads)
