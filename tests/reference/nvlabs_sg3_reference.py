"""An independent re-statement of NVlabs' StyleGAN3 synthesis network (reference ops) on an NVlabs-named state
dict, in their formulation rather than ours: per-sample weights in a grouped convolution, filtered leaky ReLU
as zero insertion + full-rate FIR + activation + full-rate FIR + striding, the Fourier input on an
affine_grid. Slow and simple on purpose; tests compare our engine against it, and it is itself checked
against NVlabs' own numbers (shared/reference/stylegan3) where those are present.

`layers` maps each layer name to its attributes as NVlabs' SynthesisLayer holds them (the layout of
shared/reference/stylegan3/*/config.json), `inp` the input layer's (channels, size, sampling_rate, bandwidth).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .nvlabs_reference import fc, mapping, upfirdn2d  # noqa: F401  (mapping is the same network as StyleGAN2's)


def modulated_conv2d(x, weight, styles, demodulate, padding, input_gain):
    n = x.shape[0]
    o, i, kh, kw = weight.shape
    if demodulate:  # pre-normalise so that large styles cannot overflow, then demodulate
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight[None] * styles.reshape(n, 1, i, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    w = w * input_gain
    y = F.conv2d(x.reshape(1, n * i, *x.shape[2:]), w.reshape(n * o, i, kh, kw), padding=padding, groups=n)
    return y.reshape(n, o, *y.shape[2:])


def filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    x = x + b.reshape(1, -1, 1, 1)
    x = upfirdn2d(x, fu, up=up, pad=tuple(padding), gain=up ** 2)
    x = F.leaky_relu(x, slope) * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d(x, fd, down=down)


def synthesis_input(sd, w, inp, transform=None):
    p = "synthesis.input."
    n = w.shape[0]
    transform = sd[p + "transform"] if transform is None else transform
    t = fc(w, sd, p + "affine")                            # (r_c, r_s, t_x, t_y)
    t = t / t[:, :2].norm(dim=1, keepdim=True)
    m_r = torch.eye(3).repeat(n, 1, 1)                     # inverse rotation of the image
    m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
    m_t = torch.eye(3).repeat(n, 1, 1)                     # inverse translation
    m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
    T = m_r @ m_t @ transform[None]
    freqs, phases = sd[p + "freqs"][None], sd[p + "phases"][None]
    phases = phases + (freqs @ T[:, :2, 2:]).squeeze(2)
    freqs = freqs @ T[:, :2, :2]
    bandwidth, rate = inp["bandwidth"], inp["sampling_rate"]
    amplitudes = (1 - (freqs.norm(dim=2) - bandwidth) / (rate / 2 - bandwidth)).clamp(0, 1)
    width, height = inp["size"]
    theta = torch.tensor([[0.5 * width / rate, 0, 0], [0, 0.5 * height / rate, 0]], dtype=torch.float32)
    grid = F.affine_grid(theta[None], [1, 1, height, width], align_corners=False)    # [1, H, W, 2]
    x = (grid.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, H, W, C]
    x = torch.sin((x + phases[:, None, None]) * (2 * np.pi)) * amplitudes[:, None, None]
    weight = sd[p + "weight"] / math.sqrt(inp["channels"])
    return (x @ weight.t()).permute(0, 3, 1, 2)


def synthesis_layer(sd, name, a, x, w):
    p = f"synthesis.{name}."
    styles = fc(w, sd, p + "affine")
    weight = sd[p + "weight"]
    if a["is_torgb"]:
        styles = styles / math.sqrt(a["in_channels"] * a["conv_kernel"] ** 2)
    x = modulated_conv2d(x, weight, styles, demodulate=not a["is_torgb"], padding=a["conv_kernel"] - 1,
                         input_gain=sd[p + "magnitude_ema"].rsqrt())
    return filtered_lrelu(x, sd.get(p + "up_filter"), sd.get(p + "down_filter"), sd[p + "bias"],
                          up=a["up_factor"], down=a["down_factor"], padding=a["padding"],
                          gain=1.0 if a["is_torgb"] else math.sqrt(2), slope=1.0 if a["is_torgb"] else 0.2,
                          clamp=a["conv_clamp"])


def synthesis(sd, ws, layer_names, layers, inp, output_scale=0.25, transform=None, activations=None):
    """ws [N, num_ws, w_dim] -> image; `activations` (a dict) receives every layer's output by name."""
    x = synthesis_input(sd, ws[:, 0], inp, transform)
    if activations is not None:
        activations["input"] = x
    for i, name in enumerate(layer_names):
        x = synthesis_layer(sd, name, layers[name], x, ws[:, i + 1])
        if activations is not None:
            activations[name] = x
    return x * output_scale
