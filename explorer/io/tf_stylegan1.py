"""StyleGAN (v1) TensorFlow generators (G_style of NVlabs' stylegan repository) as our StyleGAN (v1) family.

NVlabs never converted these to PyTorch. The layouts follow TF's storage, as for StyleGAN2: dense weights
[in, out] are transposed, conv weights [kh, kw, in, out] become [out, in, kh, kw]; nothing is flipped, since
the fused upsampling conv is rebuilt from the stored 3x3 kernel at run time exactly as TF does. Noise
buffers `noise{i}` [1, 1, R, R] are numbered by layer, i = the w index of the layer they feed. The ToRGB of
every resolution (`ToRGB_lod{k}`, k = steps below the output) is kept: a snapshot taken during progressive
growing (lod > 0) fades two of them.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any, Optional

import numpy as np
import torch

from ..errors import CheckpointError
from ..nn.stylegan1_config import AUTO_FUSED_FROM, StyleGAN1Config
from .tflib import TFNetwork, check_static_kwargs, shaped

# Static kwargs that we read, that only set sizes we take from the variables, or that do not change inference.
_HARMLESS = {
    "latent_size", "label_size", "dlatent_size", "resolution", "num_channels", "mapping_layers", "mapping_fmaps",
    "mapping_lrmul", "normalize_latents", "fmap_base", "fmap_decay", "fmap_max", "use_noise", "randomize_noise",
    "structure", "dtype", "truncation_psi", "truncation_cutoff", "truncation_psi_val",
    "truncation_cutoff_val", "dlatent_avg_beta", "style_mixing_prob", "is_training", "is_validation",
    "is_template_graph", "force_clean_graph",
}
# kwarg: the only values we reproduce (NVlabs' defaults, which every published model uses, and fused_scale / blur).
_ALLOWED = {
    "mapping_nonlinearity": ("lrelu",),
    "nonlinearity": ("lrelu",),
    "use_wscale": (True,),
    "use_styles": (True,),
    "const_input_layer": (True,),
    "use_pixel_norm": (False,),
    "use_instance_norm": (True,),
    "fused_scale": (True, False, "auto"),
    "blur_filter": ([1.0, 2.0, 1.0], None),
}
G_STYLE_TRUNCATION = (0.7, 8)   # G_style's defaults for truncation_psi and truncation_cutoff.


def convert_stylegan1(net: TFNetwork, path: "str | os.PathLike[str]") -> tuple[StyleGAN1Config, dict[str, torch.Tensor]]:
    kwargs = _checked_kwargs(net, path)
    v = net.all_variables()
    try:
        state, dims = _state(v)
        cfg = StyleGAN1Config(
            **dims,
            mapping_lr_multiplier=float(kwargs.get("mapping_lrmul", 0.01)),
            normalize_latents=bool(kwargs.get("normalize_latents", True)),
            use_noise="synthesis/noise0" in v,
            blur=kwargs.get("blur_filter", [1, 2, 1]) is not None,
            fused_from=_fused_from(kwargs.get("fused_scale", "auto"), dims["img_resolution"]),
            lod=0.0 if kwargs.get("structure") == "fixed" else _lod(v),
            truncation_psi=_optional(kwargs.get("truncation_psi", G_STYLE_TRUNCATION[0]), float),
            truncation_cutoff=_optional(kwargs.get("truncation_cutoff", G_STYLE_TRUNCATION[1]), int),
            provenance=(("source_file", os.path.basename(str(path))), ("source_format", "tf-pickle"),
                        ("tf_build_func", f"{net.build_func_name}/{net.components['synthesis'].build_func_name}")),
        )
    except KeyError as e:
        raise CheckpointError(path, f"StyleGAN TF generator lacks variable {e.args[0]}") from None
    except (ValueError, TypeError) as e:
        raise CheckpointError(path, f"StyleGAN TF generator: {e}") from None
    if "resolution" in kwargs and kwargs["resolution"] != cfg.img_resolution:
        raise CheckpointError(path, f"static kwargs say resolution {kwargs['resolution']}, "
                                    f"the variables {cfg.img_resolution}")
    return cfg, state


def _checked_kwargs(net: TFNetwork, path: "str | os.PathLike[str]") -> dict[str, Any]:
    kwargs = dict(net.static_kwargs)
    check_static_kwargs(kwargs, _ALLOWED, _HARMLESS, "StyleGAN TF generator", path)
    return kwargs


def _fused_from(fused_scale: Any, img_resolution: int) -> Optional[int]:
    first = {True: 8, False: None, "auto": AUTO_FUSED_FROM}[fused_scale]
    return first if first is not None and first <= img_resolution else None


def _lod(v: dict[str, np.ndarray]) -> float:
    lod = float(np.asarray(v.get("lod", v.get("synthesis/lod", 0.0))).reshape(-1)[0])
    if not math.isfinite(lod):
        raise ValueError(f"level of detail {lod} is not a number")
    return lod


def _optional(value: Any, kind: type) -> Any:
    return None if value is None else kind(value)


def _state(v: dict[str, np.ndarray]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    out: dict[str, np.ndarray] = {}
    res_list = [4] + sorted(int(m.group(1)) for k in v if (m := re.fullmatch(r"synthesis/(\d+)x\1/Conv1/weight", k)))
    if res_list != [2 ** i for i in range(2, 2 + len(res_list))]:
        raise ValueError(f"resolutions {res_list} are not 4, 8, 16, ... up to the output")
    top = int(math.log2(res_list[-1]))

    def layer(dst: str, src: str, w_index: int) -> None:
        if f"{src}/weight" in v:
            out[f"{dst}.weight"] = shaped(v[f"{src}/weight"], src, 4).transpose(3, 2, 0, 1)
        out[f"{dst}.bias"] = v[f"{src}/bias"]
        out[f"{dst}.affine.weight"] = shaped(v[f"{src}/StyleMod/weight"], src, 2).T
        out[f"{dst}.affine.bias"] = v[f"{src}/StyleMod/bias"]
        if f"{src}/Noise/weight" in v:
            out[f"{dst}.noise_strength"] = v[f"{src}/Noise/weight"]
            out[f"{dst}.noise_const"] = shaped(v[f"synthesis/noise{w_index}"], "noise", 4)[0, 0]

    mapping = sorted(int(m.group(1)) for k in v if (m := re.fullmatch(r"mapping/Dense(\d+)/weight", k)))
    if mapping != list(range(len(mapping))) or not mapping:
        raise ValueError(f"mapping layers {mapping} are not Dense0, Dense1, ...")
    for i in mapping:
        out[f"mapping.fc{i}.weight"] = shaped(v[f"mapping/Dense{i}/weight"], f"Dense{i}", 2).T
        out[f"mapping.fc{i}.bias"] = v[f"mapping/Dense{i}/bias"]
    z_dim = out["mapping.fc0.weight"].shape[1]
    c_dim = 0
    if "mapping/LabelConcat/weight" in v:
        out["mapping.embed"] = shaped(v["mapping/LabelConcat/weight"], "LabelConcat", 2).T
        z_dim, c_dim = out["mapping.embed"].shape
    out["mapping.w_avg"] = v["dlatent_avg"]
    out["synthesis.b4.input.const"] = shaped(v["synthesis/4x4/Const/const"], "Const", 4)[0]
    layer("synthesis.b4.input", "synthesis/4x4/Const", 0)
    layer("synthesis.b4.conv1", "synthesis/4x4/Conv", 1)
    for res in res_list:
        n = int(math.log2(res))
        if res > 4:
            layer(f"synthesis.b{res}.conv0", f"synthesis/{res}x{res}/Conv0_up", 2 * n - 4)
            layer(f"synthesis.b{res}.conv1", f"synthesis/{res}x{res}/Conv1", 2 * n - 3)
        rgb = f"synthesis/ToRGB_lod{top - n}"
        out[f"synthesis.b{res}.torgb.weight"] = shaped(v[f"{rgb}/weight"], rgb, 4).transpose(3, 2, 0, 1)
        out[f"synthesis.b{res}.torgb.bias"] = v[f"{rgb}/bias"]
    channels = tuple((r, int(out[f"synthesis.b{r}.conv1.weight"].shape[0])) for r in res_list)
    last = mapping[-1]
    dims = dict(
        img_resolution=res_list[-1],
        channels=channels,
        z_dim=int(z_dim),
        c_dim=int(c_dim),
        w_dim=int(out[f"mapping.fc{last}.weight"].shape[0]),
        img_channels=int(out[f"synthesis.b{res_list[-1]}.torgb.weight"].shape[0]),
        mapping_layers=len(mapping),
        mapping_features=int(out["mapping.fc0.weight"].shape[0]),   # (w_dim when there is one layer)
    )
    state = {k: torch.from_numpy(np.array(a, dtype=np.float32)) for k, a in out.items()}
    return state, dims
