"""rosinality/stylegan2-pytorch checkpoints (torch.save dicts with g_ema): renamed onto NVlabs' layout.

The math is the same generator; only names and where the equalised-lr scale is applied differ:
their conv weights carry 1/sqrt(fan_in) at run time, so we fold it into the stored weight (exactly
what demodulation then sees); their to_rgb scale is applied by our torgb style gain instead.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any

import torch

from ..errors import CheckpointError
from ..nn.config import GeneratorConfig
from .safe_pickle import TensorRecord
from .torch_file import open_torch_file
from .validate import MAX_PARAMETERS


def _weight(state: dict, name: str) -> torch.Tensor:
    """A modulated conv's weight, [1, O, I, k, k] in their layout, as [O, I, k, k]."""
    w = state[name]
    if w.ndim != 5 or w.shape[0] != 1 or 0 in w.shape:
        raise ValueError(f"{name} has shape {list(w.shape)}, expected [1, out, in, k, k]")
    return w[0]


def _conv(state: dict, src: str, dst: str, out: dict) -> None:
    w = _weight(state, f"{src}.conv.weight")                               # [O, I, k, k]
    fan_in = w.shape[1] * w.shape[2] * w.shape[3]
    out[f"{dst}.weight"] = w * (1 / math.sqrt(fan_in))
    out[f"{dst}.affine.weight"] = state[f"{src}.conv.modulation.weight"]
    out[f"{dst}.affine.bias"] = state[f"{src}.conv.modulation.bias"]
    out[f"{dst}.noise_strength"] = state[f"{src}.noise.weight"].reshape([])
    out[f"{dst}.bias"] = state[f"{src}.activate.bias"]


def _torgb(state: dict, src: str, dst: str, out: dict) -> None:
    out[f"{dst}.weight"] = _weight(state, f"{src}.conv.weight")            # [3, C, 1, 1]
    out[f"{dst}.affine.weight"] = state[f"{src}.conv.modulation.weight"]
    out[f"{dst}.affine.bias"] = state[f"{src}.conv.modulation.bias"]
    out[f"{dst}.bias"] = state[f"{src}.bias"].reshape(-1)


def convert_state(g: dict, path: str) -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    g = {k[len("module."):] if k.startswith("module.") else k: v for k, v in g.items()}
    out: dict[str, torch.Tensor] = {}
    mlp = sorted(int(m.group(1)) for k in g if (m := re.match(r"style\.(\d+)\.weight$", k)))
    if not mlp or "input.input" not in g:
        raise CheckpointError(path, "g_ema lacks style.* / input.input tensors: not a rosinality StyleGAN2 generator")
    for i, idx in enumerate(mlp):
        out[f"mapping.fc{i}.weight"] = g[f"style.{idx}.weight"]
        out[f"mapping.fc{i}.bias"] = g[f"style.{idx}.bias"]
    out["synthesis.b4.const"] = g["input.input"][0]
    _conv(g, "conv1", "synthesis.b4.conv1", out)
    _torgb(g, "to_rgb1", "synthesis.b4.torgb", out)
    num_convs = len({m.group(1) for k in g if (m := re.match(r"convs\.(\d+)\.", k))})
    res_list = [4] + [2 ** (3 + j) for j in range(num_convs // 2)]
    for j, res in enumerate(res_list[1:]):
        _conv(g, f"convs.{2 * j}", f"synthesis.b{res}.conv0", out)
        _conv(g, f"convs.{2 * j + 1}", f"synthesis.b{res}.conv1", out)
        _torgb(g, f"to_rgbs.{j}", f"synthesis.b{res}.torgb", out)
    layer = 0
    for res in res_list:
        for name in (["conv1"] if res == 4 else ["conv0", "conv1"]):
            key = f"noises.noise_{layer}"
            if key in g:
                out[f"synthesis.b{res}.{name}.noise_const"] = g[key].reshape(res, res)
            layer += 1
    for k, v in g.items():
        if k.endswith("blur.kernel") or k.endswith("upsample.kernel"):
            taps = torch.tensor([1.0, 3, 3, 1])
            ref = torch.outer(taps, taps)
            if v.shape != ref.shape or not torch.allclose(v / v.sum(), ref / ref.sum()):
                raise CheckpointError(path, f"{k}: only the default [1,3,3,1] blur kernel is supported")
    channels = tuple((r, int(out[f"synthesis.b{r}.conv1.weight"].shape[0])) for r in res_list)
    w_dim = int(out["mapping.fc0.weight"].shape[0])
    cfg = GeneratorConfig(
        img_resolution=res_list[-1],
        z_dim=int(out["mapping.fc0.weight"].shape[1]),
        w_dim=w_dim,
        img_channels=int(out[f"synthesis.b{res_list[-1]}.torgb.weight"].shape[0]),
        mapping_layers=len(mlp),
        channels=channels,
        architecture="skip",
        conv_clamp=None,
        provenance=(("source_format", "rosinality-pt"), ("source_file", os.path.basename(path))),
    )
    return cfg, out


def load_rosinality(path: "str | os.PathLike[str]") -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    """Config and NVlabs-named state of a rosinality checkpoint; only g_ema (and latent_avg) is ever read."""
    with open_torch_file(path) as data:
        if not isinstance(data, dict):
            raise CheckpointError(path, f"torch file holds a {type(data).__name__}, expected a dict with g_ema")
        g = data.get("g_ema", data.get("g"))
        if not isinstance(g, dict):
            raise CheckpointError(path, "torch file has no g_ema state dict (keys: " + _keys(data) + ")")
        g = _materialize(g, path)
        avg = data.get("latent_avg")
        avg = avg.materialize() if isinstance(avg, TensorRecord) else None
    try:
        cfg, state = convert_state(g, str(path))
    except KeyError as e:
        raise CheckpointError(path, f"g_ema lacks tensor {str(e)[:80]}") from None
    except (IndexError, RuntimeError, ValueError, TypeError, ZeroDivisionError, OverflowError) as e:
        raise CheckpointError(path, f"g_ema tensors have shapes rosinality's generator never has ({_first_line(e)})") from None
    if avg is not None:
        if avg.numel() != cfg.w_dim:
            raise CheckpointError(path, f"latent_avg has {avg.numel()} values, the generator's w has {cfg.w_dim}")
        state["mapping.w_avg"] = avg.reshape(-1).float()
    return cfg, state


def _materialize(g: dict, path) -> dict[str, torch.Tensor]:
    """g_ema's tensors read into memory, after checking that they are tensors and that their total is plausible."""
    bad = next((k for k, v in g.items() if not isinstance(k, str) or not isinstance(v, TensorRecord)), None)
    if bad is not None:
        raise CheckpointError(path, f"g_ema entry {_show_key(bad)} is a {type(g[bad]).__name__}, not a tensor")
    total = sum(v.numel() for v in g.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(path, f"g_ema declares {total / 1e6:.0f} M values, more than any generator has")
    return {k: v.materialize() for k, v in g.items()}


def _keys(d: dict) -> str:
    return ", ".join(_show_key(k) for k in list(d)[:8])


def _show_key(k: Any) -> str:
    return k[:60] if isinstance(k, str) else f"<{type(k).__name__}>"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:160] if text else type(e).__name__
