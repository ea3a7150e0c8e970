"""The few operations StyleGAN2 is built from, written in plain torch.

Every function here computes exactly what NVlabs' reference ops compute (same padding, same filter
normalisation, same order of gain and clamp), so that weights from their pickles render identically.
Where a faster formulation exists with the same result, we use it (e.g. modulating activations
instead of building per-sample weights) and say so.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square (the 'pixel norm' applied to z)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def bias_act(
    x: torch.Tensor,
    bias: Optional[torch.Tensor],
    act: str = "linear",
    gain: float = 1.0,
    clamp: Optional[float] = None,
    inplace: bool = False,
) -> torch.Tensor:
    """x + bias (over dim 1), then activation, then gain, then clamp: NVlabs' bias_act order.

    inplace=True overwrites x (only for tensors nobody else holds): on CPUs a fresh activation-sized
    buffer costs more than the arithmetic. Under autograd the four steps are one function (_BiasAct).
    """
    if act not in ("linear", "lrelu"):
        raise ValueError(f"unknown activation {act!r}")
    if act == "lrelu":
        gain = gain * LRELU_GAIN
    clamp = clamp if clamp is not None and clamp >= 0 else None
    if torch.is_grad_enabled() and (x.requires_grad or (bias is not None and bias.requires_grad)):
        return _BiasAct.apply(x, bias, act, gain, clamp)
    if bias is not None:
        x = x.add_(_along_dim1(bias, x)) if inplace else x + _along_dim1(bias, x)
        inplace = True  # x is a fresh tensor now
    if act == "linear" and gain == 1 and clamp is None:
        return x
    return _act_gain_clamp_(x if inplace else x.clone(), act, gain, clamp)


def _along_dim1(b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return b.to(x.dtype).reshape([1, -1] + [1] * (x.ndim - 2))


def _act_gain_clamp_(y: torch.Tensor, act: str, gain: float, clamp: Optional[float]) -> torch.Tensor:
    if act == "lrelu":
        y = F.leaky_relu_(y, LRELU_SLOPE)
    if gain != 1:
        y = y.mul_(gain)
    return y.clamp_(-clamp, clamp) if clamp is not None else y


class _BiasAct(torch.autograd.Function):
    """bias_act for training: one output buffer, and a backward that reads only that output.

    Autograd would keep every intermediate and, for the clamp alone, build masks with four more passes
    (ge, le, and, where). The output says everything the gradient needs: the leaky ReLU's slope by its sign
    (gain > 0 keeps signs) and the clamp by |y| == clamp. The backward is made of differentiable ops, so R1
    and path-length regularisation can differentiate it again.
    """

    @staticmethod
    def forward(ctx, x, bias, act: str, gain: float, clamp: Optional[float]):
        y = x + _along_dim1(bias, x) if bias is not None else x.clone()
        y = _act_gain_clamp_(y, act, gain, clamp)
        ctx.save_for_backward(y)
        ctx.act, ctx.gain, ctx.clamp, ctx.bias_dtype = act, gain, clamp, None if bias is None else bias.dtype
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        dx = dy
        if ctx.clamp is not None:
            dx = torch.ops.aten.hardtanh_backward(dx, y, -ctx.clamp, ctx.clamp)   # 0 where |y| == clamp
        if ctx.gain != 1:
            dx = dx * ctx.gain
        if ctx.act == "lrelu":
            dx = torch.ops.aten.leaky_relu_backward(dx, y, LRELU_SLOPE, True)
        db = None
        if ctx.bias_dtype is not None and ctx.needs_input_grad[1]:
            acc = torch.promote_types(dx.dtype, torch.float32)   # a bf16 sum over a batch of pixels loses the bias' gradient
            db = dx.sum([d for d in range(dx.ndim) if d != 1], dtype=acc).to(ctx.bias_dtype)
        return dx, db, None, None, None


def can_overwrite(x: torch.Tensor) -> bool:
    """In-place ops are safe on a fresh tensor unless autograd may need its value."""
    return not (torch.is_grad_enabled() and x.requires_grad)


class FullyConnected(torch.nn.Module):
    """Dense layer with equalised learning rate: weights stored as N(0, 1/lr_mul), scaled at run time."""

    def __init__(
        self,
        in_features: int,            # Number of input features.
        out_features: int,           # Number of output features.
        bias: bool = True,           # Learn an additive bias?
        activation: str = "linear",  # 'linear' or 'lrelu'.
        lr_multiplier: float = 1.0,  # Learning-rate multiplier (0.01 in the mapping network).
        bias_init: float = 0.0,      # Initial bias (1 for style affines so styles start near 1).
    ):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = torch.nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


# --- FIR resampling --------------------------------------------------------------------------------

def setup_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """Separable 2-D FIR filter as an outer product, normalised to sum 1 ([4, 4] for the default)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def _depthwise(f: torch.Tensor, channels: int, dtype: torch.dtype, gain: float) -> torch.Tensor:
    # The default filter is symmetric; flip anyway so that correlation == NVlabs' convolution.
    return (f * gain).to(dtype).flip([0, 1])[None, None].expand(channels, 1, -1, -1)


# Each FIR op is linear in x with a fixed filter, so its gradient is its adjoint, another FIR op. Written as
# autograd Functions whose backward calls that adjoint (itself differentiable), R1 and path-length
# regularisation differentiate them twice as cheap depthwise convolutions; autograd's generic double backward
# of a grouped convolution loops over the groups (thousands of tiny convolutions a step).

class _Filter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, f: torch.Tensor, padding: int, gain: float) -> torch.Tensor:
        ctx.f, ctx.padding, ctx.gain = f, padding, gain
        c = x.shape[1]
        return F.conv2d(x, _depthwise(f, c, x.dtype, gain), padding=padding, groups=c)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        # Correlation with k padded by p  <->  correlation with flip(k) padded by (taps - 1 - p).
        return _Filter.apply(dy, ctx.f.flip([0, 1]), ctx.f.shape[-1] - 1 - ctx.padding, ctx.gain), None, None, None


class _Up(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, f: torch.Tensor, gain: float, output_padding: int = 0) -> torch.Tensor:
        ctx.f, ctx.gain = f, gain
        c = x.shape[1]
        # oneDNN has no fast bf16 depthwise transposed convolution: 35-50 ms where fp32 takes 0.4-3 ms (batch 16,
        # 8-32 px, Zen 4), so on a CPU it runs in fp32, casts included.
        low = x.device.type == "cpu" and x.dtype in (torch.bfloat16, torch.float16)
        dtype = torch.float32 if low else x.dtype
        with torch.autocast(x.device.type, enabled=False):
            y = F.conv_transpose2d(x.to(dtype), _depthwise(f, c, dtype, gain), stride=2, padding=1,
                                   output_padding=output_padding, groups=c)
        return y.to(x.dtype)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        return _Down.apply(dy, ctx.f, ctx.gain), None, None, None


class _Down(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, f: torch.Tensor, gain: float) -> torch.Tensor:
        ctx.f, ctx.gain, ctx.size = f, gain, x.shape[-2:]
        c = x.shape[1]
        return F.conv2d(x, _depthwise(f, c, x.dtype, gain), stride=2, padding=1, groups=c)

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        extra = ctx.size[0] - 2 * dy.shape[-2], ctx.size[1] - 2 * dy.shape[-1]   # odd inputs: one more row/col
        return _Up.apply(dy, ctx.f, ctx.gain, extra), None, None


def filter2d(x: torch.Tensor, f: torch.Tensor, padding: int, gain: float = 1.0) -> torch.Tensor:
    """Convolve every channel with the 2-D filter f after zero padding on all sides.

    The convolution pads (no F.pad copy): 2-4x faster on CPUs at 128-256 px, identical output.
    """
    return _Filter.apply(x, f, padding, gain)


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x FIR upsampling (zero insertion, pad (2,1), filter with gain 4), as one transposed conv.

    conv_transpose2d with stride 2 inserts the zeros and filters in one pass; padding 1 on a 4-tap filter
    yields exactly NVlabs' (2, 1) padding of the zero-stuffed signal.
    """
    return _Up.apply(x, f, 4.0)


def downsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x FIR downsampling: pad 1, filter, keep every second pixel (one strided depthwise conv)."""
    return _Down.apply(x, f, 1.0)


# --- Modulated convolution -------------------------------------------------------------------------

def modulated_conv2d(
    x: torch.Tensor,                # Input activations [N, I, H, W].
    weight: torch.Tensor,           # Shared weight [O, I, k, k].
    styles: torch.Tensor,           # Per-sample input scales [N, I].
    demodulate: bool = True,        # Normalise each output channel to unit expected variance?
    up: bool = False,               # 2x upsampling transposed conv followed by the FIR filter?
    resample_filter: Optional[torch.Tensor] = None,
    weight_sq: Optional[torch.Tensor] = None,  # Precomputed sum over (k,k) of weight^2, [O, I].
) -> torch.Tensor:
    """StyleGAN2's modulated convolution: conv(x, weight * s) demodulated per output channel.

    For one sample we modulate the weight itself (no activation-sized temporaries). For a batch we
    scale activations instead: conv(x, w * s) * d == conv(x * s, w) * d for per-input-channel s and
    per-output-channel d, so one batched convolution with the shared weight replaces N grouped ones.
    Both give NVlabs' result up to float rounding.
    """
    n, in_ch, _, _ = x.shape
    out_ch, _, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:
        # Pre-normalise so that fp16 activations cannot overflow; demodulation cancels the scaling.
        weight = weight * (1 / math.sqrt(in_ch * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
        weight_sq = None

    dcoefs = None
    if demodulate:
        # sum_{i,k,k} (w[o,i,k,k] s[n,i])^2 == (s^2 @ sum_{k,k} w^2) : a matmul, not an [N,O,I,k,k] tensor.
        w_sq = weight.to(torch.float32).square().sum(dim=[2, 3]) if weight_sq is None else weight_sq  # [O, I]
        dcoefs = (styles.to(torch.float32).square() @ w_sq.t() + 1e-8).rsqrt()  # [N, O]

    if n == 1:
        w = weight * styles.to(weight.dtype).reshape(1, -1, 1, 1)
        if dcoefs is not None:
            w = w * dcoefs.to(weight.dtype).reshape(-1, 1, 1, 1)
        return _conv(x, w.to(x.dtype), up, resample_filter)
    x = _conv(x * styles.to(x.dtype).reshape(n, -1, 1, 1), weight.to(x.dtype), up, resample_filter)
    if dcoefs is not None:
        x = x.mul_(dcoefs.to(x.dtype).reshape(n, -1, 1, 1)) if can_overwrite(x) else x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
    return x


def _conv(x: torch.Tensor, w: torch.Tensor, up: bool, resample_filter: Optional[torch.Tensor]) -> torch.Tensor:
    if not up:
        return F.conv2d(x, w, padding=w.shape[-1] // 2)
    x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)   # [N, O, 2H+1, 2W+1]
    return filter2d(x, resample_filter, padding=1, gain=4.0)  # [N, O, 2H, 2W]
