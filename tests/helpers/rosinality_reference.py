"""rosinality/stylegan2-pytorch's generator re-stated in their own names and formulation (fused grouped
modulated conv with the 1/sqrt(fan_in) scale on the weight, blur after the transposed conv, upfirdn2d
skip upsampling), plus a writer of random checkpoints in their layout. Used to test our importer."""
from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

from tests.reference.nvlabs_reference import setup_filter, upfirdn2d

CHANNELS = {4: 64, 8: 64, 16: 32, 32: 16, 64: 16}


def random_checkpoint(size: int = 32, n_mlp: int = 3, style_dim: int = 64, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    sd = {}
    for i in range(1, n_mlp + 1):
        sd[f"style.{i}.weight"] = r(style_dim, style_dim, scale=100)  # stored / lr_mul (0.01)
        sd[f"style.{i}.bias"] = r(style_dim, scale=0.1)
    sd["input.input"] = r(1, CHANNELS[4], 4, 4)

    def styled(prefix, cin, cout):
        sd[f"{prefix}.conv.weight"] = r(1, cout, cin, 3, 3)
        sd[f"{prefix}.conv.modulation.weight"] = r(cin, style_dim)
        sd[f"{prefix}.conv.modulation.bias"] = 1 + r(cin, scale=0.1)
        sd[f"{prefix}.noise.weight"] = r(1, scale=0.3)
        sd[f"{prefix}.activate.bias"] = r(cout, scale=0.1)

    def to_rgb(prefix, cin, up):
        sd[f"{prefix}.conv.weight"] = r(1, 3, cin, 1, 1)
        sd[f"{prefix}.conv.modulation.weight"] = r(cin, style_dim)
        sd[f"{prefix}.conv.modulation.bias"] = 1 + r(cin, scale=0.1)
        sd[f"{prefix}.bias"] = r(1, 3, 1, 1, scale=0.1)
        if up:
            sd[f"{prefix}.upsample.kernel"] = setup_filter() * 4

    styled("conv1", CHANNELS[4], CHANNELS[4])
    to_rgb("to_rgb1", CHANNELS[4], False)
    res, cin, layer = 8, CHANNELS[4], 0
    sd["noises.noise_0"] = r(1, 1, 4, 4)
    while res <= size:
        cout = CHANNELS[res]
        styled(f"convs.{layer}", cin, cout)
        sd[f"convs.{layer}.conv.blur.kernel"] = setup_filter() * 4
        styled(f"convs.{layer + 1}", cout, cout)
        to_rgb(f"to_rgbs.{layer // 2}", cout, True)
        sd[f"noises.noise_{layer + 1}"] = r(1, 1, res, res)
        sd[f"noises.noise_{layer + 2}"] = r(1, 1, res, res)
        cin, res, layer = cout, res * 2, layer + 2
    return {"g_ema": sd, "latent_avg": r(style_dim, scale=0.5),
            "args": argparse.Namespace(size=size, n_mlp=n_mlp, latent=style_dim, channel_multiplier=2)}


def _equal_linear(x, w, b, lr_mul=1.0, act=False):
    out = F.linear(x, w * (1 / math.sqrt(w.shape[1]) * lr_mul))
    if act:
        return F.leaky_relu(out + b * lr_mul, 0.2) * math.sqrt(2)
    return out + b * lr_mul


def _modconv(x, sd, prefix, style, demodulate=True, upsample=False):
    w0 = sd[f"{prefix}.conv.weight"]
    batch, cin = x.shape[:2]
    cout, k = w0.shape[1], w0.shape[-1]
    s = _equal_linear(style, sd[f"{prefix}.conv.modulation.weight"], sd[f"{prefix}.conv.modulation.bias"])
    weight = (1 / math.sqrt(cin * k * k)) * w0 * s.view(batch, 1, cin, 1, 1)
    if demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, cout, 1, 1, 1)
    weight = weight.view(batch * cout, cin, k, k)
    x = x.view(1, batch * cin, *x.shape[2:])
    if upsample:
        weight = weight.view(batch, cout, cin, k, k).transpose(1, 2).reshape(batch * cin, cout, k, k)
        out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
        out = out.view(batch, cout, *out.shape[2:])
        return upfirdn2d(out, sd[f"{prefix}.conv.blur.kernel"] / 4, pad=(1, 1, 1, 1), gain=4)
    out = F.conv2d(x, weight, padding=k // 2, groups=batch)
    return out.view(batch, cout, *out.shape[2:])


def forward(ckpt: dict, z: torch.Tensor, truncation: float = 1.0, noise: str = "const") -> torch.Tensor:
    sd = ckpt["g_ema"]
    n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
    x = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
    for i in range(1, n_mlp + 1):
        x = _equal_linear(x, sd[f"style.{i}.weight"], sd[f"style.{i}.bias"], lr_mul=0.01, act=True)
    if truncation != 1:
        x = ckpt["latent_avg"] + truncation * (x - ckpt["latent_avg"])
    num_layers = sum(1 for k in sd if k.startswith("noises."))
    latent = x.unsqueeze(1).repeat(1, num_layers + 1, 1)

    def styled(h, prefix, style, noise_buf, up=False):
        h = _modconv(h, sd, prefix, style, upsample=up)
        if noise != "none":
            h = h + sd[f"{prefix}.noise.weight"] * noise_buf
        return F.leaky_relu(h + sd[f"{prefix}.activate.bias"].view(1, -1, 1, 1), 0.2) * math.sqrt(2)

    def rgb(h, prefix, style, skip):
        out = _modconv(h, sd, prefix, style, demodulate=False) + sd[f"{prefix}.bias"]
        if skip is not None:
            out = out + upfirdn2d(skip, sd[f"{prefix}.upsample.kernel"] / 4, up=2, pad=(2, 1, 2, 1), gain=4)
        return out

    out = sd["input.input"].repeat(z.shape[0], 1, 1, 1)
    out = styled(out, "conv1", latent[:, 0], sd["noises.noise_0"])
    skip = rgb(out, "to_rgb1", latent[:, 1], None)
    i = 1
    for j in range(num_layers // 2):
        out = styled(out, f"convs.{2 * j}", latent[:, i], sd[f"noises.noise_{2 * j + 1}"], up=True)
        out = styled(out, f"convs.{2 * j + 1}", latent[:, i + 1], sd[f"noises.noise_{2 * j + 2}"])
        skip = rgb(out, f"to_rgbs.{j}", latent[:, i + 2], skip)
        i += 2
    return skip
