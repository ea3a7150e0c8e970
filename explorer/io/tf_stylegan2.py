"""StyleGAN2 TensorFlow generators (G_main of NVlabs' stylegan2 and stylegan2-ada repositories) as our Generator.

The conventions are those of NVlabs' own converter (legacy.py in stylegan2-ada-pytorch), which the tests
check us against on networks built by NVlabs' TF code:
- dense weights are stored [in, out]: transposed;
- conv weights are stored [kh, kw, in, out]: to [out, in, kh, kw]; the upsampling convs (Conv0_up, Skip)
  are also flipped in both spatial axes, because TF runs them as a transposed convolution;
- style biases (mod_bias) are stored without the +1 that TF adds at run time;
- noise buffers are `synthesis/noise{i}` [1, 1, R, R], numbered over conv layers: 4x4/Conv is 0, then
  Conv0_up and Conv1 of each resolution R are 2 log2(R) - 5 and 2 log2(R) - 4.
Dimensions and channels are read from the variables; the static kwargs supply what shapes cannot say
(learning-rate multiplier, clamp, architecture), and every kwarg that would change the arithmetic in a way
we do not reproduce is refused by name rather than rendered wrongly.
"""
from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..nn.config import GeneratorConfig
from .nvlabs import config_from_state
from .tflib import TFNetwork, check_static_kwargs, shaped

SYNTHESIS_FUNCS = ("G_synthesis_stylegan2", "G_synthesis")   # stylegan2 repo, stylegan2-ada repo
# Static kwargs that we read, that only set sizes we read from the variables, or that do not change inference.
_HARMLESS = {
    "latent_size", "label_size", "dlatent_size", "resolution", "num_channels", "mapping_layers", "mapping_fmaps",
    "label_fmaps", "mapping_lrmul", "w_avg_beta", "dlatent_avg_beta", "fmap_base", "fmap_max", "fmap_min",
    "fmap_decay", "fmap_const", "num_fp16_res", "conv_clamp", "use_noise", "randomize_noise",
    "fused_modconv", "dtype", "truncation_psi", "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val",
    "style_mixing_prob", "structure", "impl", "is_training", "is_validation", "return_dlatents",
}
# kwarg: the only values we reproduce.
_ALLOWED = {
    "mapping_nonlinearity": ("lrelu",),
    "nonlinearity": ("lrelu",),
    "normalize_latents": (True,),
    "resample_kernel": ([1.0, 3.0, 3.0, 1.0],),
    "architecture": ("skip", "resnet", "orig"),
    "mapping_func": ("G_mapping",),
    "synthesis_func": SYNTHESIS_FUNCS,
}


def convert_stylegan2(net: TFNetwork, path: "str | os.PathLike[str]") -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    kwargs = _checked_kwargs(net, path)
    v = net.all_variables()
    if "mapping/LabelConcat/weight" in v:
        raise CheckpointError(path, "conditional StyleGAN2 TF generator of the original repository (LabelConcat): "
                                    "not supported; StyleGAN2-ADA's (LabelEmbed) is")
    try:
        state, dims = _state(v)
    except KeyError as e:
        raise CheckpointError(path, f"StyleGAN2 TF generator lacks variable {e.args[0]}") from None
    except ValueError as e:
        raise CheckpointError(path, f"StyleGAN2 TF generator: {e}") from None
    if "resolution" in kwargs and kwargs["resolution"] != dims["img_resolution"]:
        raise CheckpointError(path, f"static kwargs say resolution {kwargs['resolution']}, "
                                    f"the variables {dims['img_resolution']}")
    nv_kwargs = dict(
        z_dim=dims["z_dim"], c_dim=dims["c_dim"],
        mapping_kwargs=dict(lr_multiplier=float(kwargs.get("mapping_lrmul", 0.01)),
                            w_avg_beta=kwargs.get("w_avg_beta", kwargs.get("dlatent_avg_beta", 0.995))),
        synthesis_kwargs=dict(channel_base=int(kwargs.get("fmap_base", 16384)) * 2,
                              channel_max=int(kwargs.get("fmap_max", 512)),
                              conv_clamp=kwargs.get("conv_clamp"),
                              num_fp16_res=kwargs.get("num_fp16_res", 0)),
    )
    cfg = config_from_state(state, nv_kwargs, str(path), "tf-pickle")
    if cfg.architecture != kwargs.get("architecture", cfg.architecture):
        raise CheckpointError(path, f"static kwargs say architecture {kwargs['architecture']!r}, "
                                    f"the variables {cfg.architecture!r}")
    extra = [("tf_build_func", f"{net.build_func_name}/{net.components['synthesis'].build_func_name}")]
    for k in ("truncation_psi", "truncation_cutoff"):
        if k in kwargs:
            extra.append((f"tf_{k}", str(kwargs[k])))
    return cfg.replace(provenance=tuple(sorted(dict(cfg.provenance + tuple(extra)).items()))), state


def _checked_kwargs(net: TFNetwork, path: "str | os.PathLike[str]") -> dict[str, Any]:
    kwargs = dict(net.static_kwargs)
    check_static_kwargs(kwargs, _ALLOWED, _HARMLESS, "StyleGAN2 TF generator", path)
    synth = net.components["synthesis"].build_func_name
    if synth not in SYNTHESIS_FUNCS:
        raise CheckpointError(path, f"synthesis network {synth!r} (StyleGAN2 configs A-D, progressive growing): "
                                    f"not supported; {' and '.join(SYNTHESIS_FUNCS)} are")
    return kwargs


def _state(v: dict[str, np.ndarray]) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """NVlabs PyTorch-named tensors from TF variables (legacy.py's name map and layouts)."""
    out: dict[str, np.ndarray] = {}
    res_list = [4] + sorted(int(m.group(1)) for k in v if (m := re.fullmatch(r"synthesis/(\d+)x\1/Conv1/weight", k)))
    if res_list != [2 ** i for i in range(2, 2 + len(res_list))]:
        raise ValueError(f"resolutions {res_list} are not 4, 8, 16, ... up to the output")
    use_noise = "synthesis/4x4/Conv/noise_strength" in v

    def dense(dst: str, src: str) -> None:
        out[f"{dst}.weight"] = shaped(v[f"{src}/weight"], src, 2).T
        out[f"{dst}.bias"] = v[f"{src}/bias"]

    def layer(dst: str, src: str, noise_index: int, up: bool = False) -> None:
        w = shaped(v[f"{src}/weight"], src, 4)
        out[f"{dst}.weight"] = (w[::-1, ::-1] if up else w).transpose(3, 2, 0, 1)
        out[f"{dst}.bias"] = v[f"{src}/bias"]
        out[f"{dst}.affine.weight"] = shaped(v[f"{src}/mod_weight"], src, 2).T
        out[f"{dst}.affine.bias"] = v[f"{src}/mod_bias"] + 1
        if use_noise:
            out[f"{dst}.noise_strength"] = v[f"{src}/noise_strength"].reshape([])
            out[f"{dst}.noise_const"] = v[f"synthesis/noise{noise_index}"][0, 0]

    mapping = sorted(int(m.group(1)) for k in v if (m := re.fullmatch(r"mapping/Dense(\d+)/weight", k)))
    if mapping != list(range(len(mapping))) or not mapping:
        raise ValueError(f"mapping layers {mapping} are not Dense0, Dense1, ...")
    for i in mapping:
        dense(f"mapping.fc{i}", f"mapping/Dense{i}")
    c_dim = embed = 0
    if "mapping/LabelEmbed/weight" in v:
        dense("mapping.embed", "mapping/LabelEmbed")
        c_dim, embed = out["mapping.embed.weight"].shape[1], out["mapping.embed.weight"].shape[0]
    if "dlatent_avg" in v:
        out["mapping.w_avg"] = v["dlatent_avg"]
    out["synthesis.b4.const"] = shaped(v["synthesis/4x4/Const/const"], "4x4/Const/const", 4)[0]
    layer("synthesis.b4.conv1", "synthesis/4x4/Conv", 0)
    for res in res_list:
        src = f"synthesis/{res}x{res}"
        if res > 4:
            n = 2 * int(np.log2(res))
            layer(f"synthesis.b{res}.conv0", f"{src}/Conv0_up", n - 5, up=True)
            layer(f"synthesis.b{res}.conv1", f"{src}/Conv1", n - 4)
            if f"{src}/Skip/weight" in v:  # 'resnet'
                out[f"synthesis.b{res}.skip.weight"] = shaped(v[f"{src}/Skip/weight"], src, 4)[::-1, ::-1].transpose(3, 2, 0, 1)
        if f"{src}/ToRGB/weight" in v:
            w = shaped(v[f"{src}/ToRGB/weight"], src, 4)
            out[f"synthesis.b{res}.torgb.weight"] = w.transpose(3, 2, 0, 1)
            out[f"synthesis.b{res}.torgb.bias"] = v[f"{src}/ToRGB/bias"]
            out[f"synthesis.b{res}.torgb.affine.weight"] = shaped(v[f"{src}/ToRGB/mod_weight"], src, 2).T
            out[f"synthesis.b{res}.torgb.affine.bias"] = v[f"{src}/ToRGB/mod_bias"] + 1
    state = {k: torch.from_numpy(np.array(a, dtype=np.float32)) for k, a in out.items()}
    dims = dict(img_resolution=res_list[-1], c_dim=int(c_dim),
                z_dim=int(out["mapping.fc0.weight"].shape[1]) - int(embed))
    return state, dims
