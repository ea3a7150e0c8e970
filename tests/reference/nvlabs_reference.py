"""An independent re-statement of NVlabs' StyleGAN2 generator (reference ops, fused modulated conv) working
directly on an NVlabs-named state dict. Tests compare our engine against it.

Written from the published algorithm (FACTS.md section 1), deliberately in NVlabs' formulation rather than
ours: per-sample weights in a grouped convolution, explicit zero-insertion upsampling, 4x4 FIR filtering
with NVlabs' paddings, bias_act order act -> gain -> clamp. Slow and simple on purpose.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def setup_filter(taps=(1, 3, 3, 1)):
    f = torch.tensor(taps, dtype=torch.float32)
    f = f[:, None] * f[None, :]
    return f / f.sum()


def upfirdn2d(x, f, up=1, down=1, pad=(0, 0, 0, 0), gain=1.0):
    """Zero insertion, pad (x0, x1, y0, y1; negative crops), FIR (2-D, or 1-D along both axes), keep every down-th."""
    n, c, h, w = x.shape
    if up > 1:  # insert zeros
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = pad
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    if f is None:
        f = torch.ones([1, 1])
    f = (f * gain ** (f.ndim / 2)).flip(list(range(f.ndim)))
    if f.ndim == 2:
        x = F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)
    else:  # separable: the same taps along x, then along y
        x = F.conv2d(x, f[None, None, None, :].repeat(c, 1, 1, 1), groups=c)
        x = F.conv2d(x, f[None, None, :, None].repeat(c, 1, 1, 1), groups=c)
    return x[:, :, ::down, ::down]


def bias_act(x, b, act, gain=1.0, clamp=None):
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2))
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2)
        gain = gain * math.sqrt(2)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def fc(x, sd, name, act="linear", lr_mul=1.0):
    w = sd[name + ".weight"]
    b = sd[name + ".bias"]
    x = x.matmul((w * (lr_mul / math.sqrt(w.shape[1]))).t())
    return bias_act(x, b * lr_mul, act)


def modulated_conv_fused(x, weight, styles, demodulate=True, up=1, padding=0, f=None):
    """NVlabs' fused path: per-sample weights, batch folded into groups."""
    n = x.shape[0]
    o, i, kh, kw = weight.shape
    w = weight[None] * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        d = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        w = w * d.reshape(n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, i, kh, kw)
    if up == 1:
        x = F.conv2d(x, w, padding=padding, groups=n)
    else:
        # conv2d_resample(up=2): transposed conv (weights not flipped), then FIR with gain 4, pad (1,1,1,1)
        wt = w.reshape(n, o, i, kh, kw).transpose(1, 2).reshape(n * i, o, kh, kw)
        x = F.conv_transpose2d(x, wt, stride=2, groups=n)
        x = upfirdn2d(x, f, pad=(1, 1, 1, 1), gain=4)
    return x.reshape(n, -1, *x.shape[2:])


def mapping(sd, z, c, num_ws, num_layers, lr_mul=0.01, psi=1.0, cutoff=None):
    def norm(v):
        return v * (v.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
    x = norm(z)
    if c is not None and "mapping.embed.weight" in sd:
        y = norm(fc(c, sd, "mapping.embed"))
        x = torch.cat([x, y], dim=1)
    for i in range(num_layers):
        x = fc(x, sd, f"mapping.fc{i}", act="lrelu", lr_mul=lr_mul)
    ws = x[:, None].repeat(1, num_ws, 1)
    if psi != 1:
        avg = sd["mapping.w_avg"]
        if cutoff is None:
            ws = avg.lerp(ws, psi)
        else:
            ws[:, :cutoff] = avg.lerp(ws[:, :cutoff], psi)
    return ws


def synthesis(sd, ws, resolution, architecture="skip", conv_clamp=None, noise_mode="const"):
    f = setup_filter()
    res_list = [2 ** i for i in range(2, int(np.log2(resolution)) + 1)]

    def layer(x, w, name, up, gain=1.0):
        styles = fc(w, sd, name + ".affine")
        noise = None
        if noise_mode == "const" and name + ".noise_const" in sd:
            noise = sd[name + ".noise_const"] * sd[name + ".noise_strength"]
        x = modulated_conv_fused(x, sd[name + ".weight"], styles, up=up, padding=1 if up == 1 else 0, f=f)
        if noise is not None:
            x = x + noise
        clamp = conv_clamp * gain if conv_clamp is not None else None
        return bias_act(x, sd[name + ".bias"], "lrelu", gain=gain, clamp=clamp)

    def torgb(x, w, name):
        wt = sd[name + ".weight"]
        styles = fc(w, sd, name + ".affine") * (1 / math.sqrt(wt.shape[1]))
        x = modulated_conv_fused(x, wt, styles, demodulate=False)
        return bias_act(x, sd[name + ".bias"], "linear", clamp=conv_clamp)

    x = img = None
    w_idx = 0
    for res in res_list:
        b = f"synthesis.b{res}"
        has_rgb = architecture == "skip" or res == resolution
        if res == 4:
            x = sd[b + ".const"][None].repeat(ws.shape[0], 1, 1, 1)
            x = layer(x, ws[:, w_idx], b + ".conv1", 1)
            used = 1
        elif architecture == "resnet":
            sw = sd[b + ".skip.weight"]
            y = F.conv2d(x, sw * (math.sqrt(0.5) / math.sqrt(sw.shape[1])))
            y = upfirdn2d(y, f, up=2, pad=(2, 1, 2, 1), gain=4)
            x = layer(x, ws[:, w_idx], b + ".conv0", 2)
            x = layer(x, ws[:, w_idx + 1], b + ".conv1", 1, gain=math.sqrt(0.5))
            x = y + x
            used = 2
        else:
            x = layer(x, ws[:, w_idx], b + ".conv0", 2)
            x = layer(x, ws[:, w_idx + 1], b + ".conv1", 1)
            used = 2
        if img is not None:
            img = upfirdn2d(img, f, up=2, pad=(2, 1, 2, 1), gain=4)
        if has_rgb:
            y = torgb(x, ws[:, w_idx + used], b + ".torgb")
            img = y if img is None else img + y
        w_idx += used
    return img
