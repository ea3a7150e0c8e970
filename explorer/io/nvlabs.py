"""NVlabs stylegan2-ada-pytorch / StyleGAN3-repo pickles: their G_ema as our Generator.

Tensor names already match ours. For StyleGAN2 everything else is read from the tensors themselves
(mapping depth, channels, architecture) and from the constructor arguments the persistence record kept
(conv_clamp, lr multiplier); StyleGAN3 layers are described by their records (nvlabs_stylegan3.py). Never
from their embedded source code.
"""
from __future__ import annotations

import os
import re
from typing import Any

import torch

from ..errors import CheckpointError
from ..nn.config import GeneratorConfig
from ..nn.stylegan3_config import StyleGAN3Config
from .nvlabs_stylegan3 import is_stylegan3, stylegan3_config
from .safe_pickle import PersistentRecord, safe_load_pickle

NETWORK_KEYS = ("G_ema", "G")


def record_state_dict(rec: PersistentRecord, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten a persistence record's _parameters/_buffers/_modules into a state dict."""
    out: dict[str, torch.Tensor] = {}
    st = rec.state
    for group in ("_parameters", "_buffers"):
        for name, t in (st.get(group) or {}).items():
            if t is not None:
                out[prefix + name] = t.detach().clone() if isinstance(t, torch.Tensor) else torch.as_tensor(t)
    for name, child in (st.get("_modules") or {}).items():
        if isinstance(child, PersistentRecord):
            out.update(record_state_dict(child, prefix + name + "."))
        elif child is not None:
            raise ValueError(f"unexpected module object {type(child).__name__} at {prefix + name}")
    return out


def _kwargs(rec: PersistentRecord) -> dict[str, Any]:
    kw = rec.state.get("_init_kwargs") or {}
    return dict(kw) if isinstance(kw, dict) else {}


def config_from_state(state: dict[str, torch.Tensor], kwargs: dict[str, Any], path: str, source: str) -> GeneratorConfig:
    """Infer the GeneratorConfig from NVlabs-named tensors plus the recorded constructor arguments."""
    if "synthesis.b4.const" not in state:
        raise CheckpointError(path, "no synthesis.b4.const tensor: not a StyleGAN2 generator")
    res = sorted(int(m.group(1)) for k in state if (m := re.match(r"synthesis\.b(\d+)\.conv1\.weight$", k)))
    channels = tuple((r, int(state[f"synthesis.b{r}.conv1.weight"].shape[0])) for r in res)
    img_res = res[-1]
    mapping_layers = len({k.split(".")[1] for k in state if re.match(r"mapping\.fc\d+\.weight$", k)})
    mk = dict(kwargs.get("mapping_kwargs") or {})
    sk = dict(kwargs.get("synthesis_kwargs") or {})
    z_dim = int(kwargs.get("z_dim", state["mapping.fc0.weight"].shape[1]))
    c_dim = int(kwargs.get("c_dim", state["mapping.embed.weight"].shape[1] if "mapping.embed.weight" in state else 0))
    w_dim = int(state["mapping.w_avg"].shape[0]) if "mapping.w_avg" in state else int(kwargs.get("w_dim", 512))
    if any(".skip.weight" in k for k in state):
        arch = "resnet"
    elif f"synthesis.b{res[0]}.torgb.weight" not in state and len(res) > 1:
        arch = "orig"
    else:
        arch = "skip"
    arch_kw = sk.get("architecture", arch)
    if arch_kw != arch:
        raise CheckpointError(path, f"recorded architecture {arch_kw!r} disagrees with the tensors ({arch!r})")
    base, cmax = int(sk.get("channel_base", 32768)), int(sk.get("channel_max", 512))
    derived = all(min(base // r, cmax) == c for r, c in channels)
    hidden = state["mapping.fc0.weight"].shape[0] if mapping_layers > 1 else None
    embed = state["mapping.embed.weight"].shape[0] if c_dim > 0 else None
    clamp = sk.get("conv_clamp", None)
    return GeneratorConfig(
        img_resolution=img_res,
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        img_channels=int(state[f"synthesis.b{img_res}.torgb.weight"].shape[0]),
        mapping_layers=mapping_layers,
        mapping_lr_multiplier=float(mk.get("lr_multiplier", 0.01)),
        layer_features=int(hidden) if hidden is not None and hidden != w_dim else None,
        embed_features=int(embed) if embed is not None and embed != w_dim else None,
        w_avg_beta=float(mk.get("w_avg_beta", 0.995) or 0.995),
        channel_base=base,
        channel_max=cmax,
        channels=None if derived else channels,
        architecture=arch,
        conv_clamp=None if clamp is None else float(clamp),
        use_noise=any(k.endswith("noise_strength") for k in state),
        num_fp16_res=int(sk.get("num_fp16_res", 0) or 0),
        provenance=(("source_format", source), ("source_file", os.path.basename(str(path)))),
    )


def load_nvlabs(path: "str | os.PathLike[str]") -> tuple["GeneratorConfig | StyleGAN3Config", dict[str, torch.Tensor]]:
    data = safe_load_pickle(path)
    if isinstance(data, PersistentRecord):  # a bare network pickle
        data = {"G_ema": data}
    if not isinstance(data, dict):
        raise CheckpointError(path, f"pickle holds a {type(data).__name__}, not an NVlabs network snapshot")
    key = next((k for k in NETWORK_KEYS if isinstance(data.get(k), PersistentRecord)), None)
    if key is None:
        raise CheckpointError(path, "pickle has no G_ema or G network (keys: " + ", ".join(map(str, list(data)[:8])) + ")")
    rec = data[key]
    if rec.class_name != "Generator":
        raise CheckpointError(path, f"{key} is a {rec.class_name!r}, not a Generator")
    try:
        state = record_state_dict(rec)
    except (ValueError, AttributeError, TypeError) as e:
        raise CheckpointError(path, f"cannot read {key}'s tensors ({e})") from None
    if is_stylegan3(rec):
        return stylegan3_config(rec, path), state
    kwargs = _kwargs(rec)
    if "synthesis" in (rec.state.get("_modules") or {}):
        kwargs.setdefault("synthesis_kwargs", {})
        syn_kw = _kwargs(rec.child("synthesis"))
        for k in ("channel_base", "channel_max", "conv_clamp", "architecture", "num_fp16_res"):
            if k in syn_kw:
                kwargs["synthesis_kwargs"].setdefault(k, syn_kw[k])
        try:  # the layer's own attribute is the value actually used at run time
            layer = rec.child("synthesis").child("b4").child("conv1")
            if "conv_clamp" in layer.state:
                kwargs["synthesis_kwargs"]["conv_clamp"] = layer.state["conv_clamp"]
        except (KeyError, AttributeError, TypeError):
            pass
    try:
        cfg = config_from_state(state, kwargs, str(path), "nvlabs-pickle")
    except KeyError as e:
        raise CheckpointError(path, f"{key} lacks tensor {e}") from None
    return cfg, state
