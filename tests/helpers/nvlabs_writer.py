"""Write pickles with the structure of NVlabs' training snapshots, without NVlabs' code.

Each network is pickled the way `torch_utils.persistence` does it: a call to
`torch_utils.persistence._reconstruct_persistent_obj(meta)` with meta = {type, version, module_src,
class_name, state=<the module's __dict__>}; tensors are pickled by real torch (so storages go through
`torch.storage._load_from_bytes`), plus a `dnnlib.util.EasyDict` for training_set_kwargs. The embedded
module source contains code that would leave a marker file if anyone ever ran it.
"""
from __future__ import annotations

import collections
import pickle
import sys
import types
from typing import Any, Optional

import numpy as np
import torch

MARKER_SOURCE = (
    "import os\n"
    "open(os.path.join(os.environ.get('EXPLORER_TEST_MARKER_DIR', '/tmp'), 'MODULE_SRC_WAS_EXECUTED'), 'w').write('pwned')\n"
    "class Generator: pass\n"
)

NVLABS_CLASS = {
    "Generator": "Generator", "MappingNetwork": "MappingNetwork", "FullyConnected": "FullyConnectedLayer",
    "SynthesisNetwork": "SynthesisNetwork", "SynthesisBlock": "SynthesisBlock", "SynthesisLayer": "SynthesisLayer",
    "ToRGBLayer": "ToRGBLayer", "SkipLayer": "Conv2dLayer",
}


def _install_fake_modules() -> tuple[Any, Any]:
    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # never called by the code under test
        raise AssertionError("the reconstructor must not be called")
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj

    class EasyDict(dict):
        pass
    EasyDict.__module__ = "dnnlib.util"
    EasyDict.__qualname__ = "EasyDict"
    util.EasyDict = EasyDict
    for name, mod in [("torch_utils", types.ModuleType("torch_utils")), ("torch_utils.persistence", persistence),
                      ("dnnlib", types.ModuleType("dnnlib")), ("dnnlib.util", util)]:
        sys.modules.setdefault(name, mod)
    return sys.modules["torch_utils.persistence"], sys.modules["dnnlib.util"]


class _Persistent:
    def __init__(self, class_name: str, state: dict):
        self.class_name, self.state = class_name, state

    def __reduce__(self):
        persistence = sys.modules["torch_utils.persistence"]
        meta = dict(type="class", version=6, module_src=MARKER_SOURCE, class_name=self.class_name, state=self.state)
        return persistence._reconstruct_persistent_obj, (meta,)


def _module_state(params: dict, buffers: dict, modules: dict, init_kwargs: dict, attrs: dict) -> dict:
    return {
        "training": False,
        "_parameters": collections.OrderedDict((k, torch.nn.Parameter(v.clone(), requires_grad=False))
                                               for k, v in params.items()),
        "_buffers": collections.OrderedDict((k, None if v is None else v.clone()) for k, v in buffers.items()),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(),
        "_state_dict_hooks": collections.OrderedDict(),
        "_load_state_dict_pre_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict(modules),
        "_init_args": (),
        "_init_kwargs": init_kwargs,
        **attrs,
    }


def _record(module: torch.nn.Module, init_kwargs: dict, extra_attrs: Optional[dict] = None) -> _Persistent:
    children = collections.OrderedDict()
    for name, child in module._modules.items():
        kw = {}
        if type(child).__name__ == "SynthesisLayer":
            kw = {"conv_clamp": child.conv_clamp}
        children[name] = _record(child, {}, kw)
    state = _module_state({k: v.detach() for k, v in module._parameters.items() if v is not None},
                          {k: v.detach() for k, v in module._buffers.items() if v is not None},
                          children, init_kwargs, extra_attrs or {})
    return _Persistent(NVLABS_CLASS.get(type(module).__name__, type(module).__name__), state)


def write_nvlabs_pickle(G, path, protocol: int = pickle.DEFAULT_PROTOCOL, extra: Optional[dict] = None) -> None:
    """Pickle our Generator `G` as an NVlabs training snapshot dict {G, D, G_ema, augment_pipe, training_set_kwargs}."""
    with open(path, "wb") as f:
        pickle.dump(nvlabs_snapshot(G, extra), f, protocol=protocol)


def nvlabs_snapshot(G, extra: Optional[dict] = None) -> dict:
    """The snapshot dict write_nvlabs_pickle pickles (G and G_ema are one record), for tests to alter first."""
    _, util = _install_fake_modules()
    cfg = G.cfg
    EasyDict = util.EasyDict
    init_kwargs = dict(
        z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
        img_channels=cfg.img_channels,
        mapping_kwargs=EasyDict(num_layers=cfg.mapping_layers),
        synthesis_kwargs=EasyDict(channel_base=cfg.channel_base, channel_max=cfg.channel_max, num_fp16_res=4,
                                  conv_clamp=cfg.conv_clamp, architecture=cfg.architecture),
    )
    rec = _record(G, init_kwargs, {"z_dim": cfg.z_dim, "c_dim": cfg.c_dim, "w_dim": cfg.w_dim})
    snapshot = {"G": rec, "D": _Persistent("Discriminator", {"_parameters": {}, "_buffers": {}, "_modules": {}}),
                "G_ema": rec, "augment_pipe": None,
                "training_set_kwargs": EasyDict(path="~/datasets/ffhq.zip", use_labels=False, xflip=True)}
    snapshot.update(extra or {})
    return snapshot


# --- StyleGAN3 ---------------------------------------------------------------------------------------

def _fc(sd: dict, prefix: str, activation: str = "linear", lr_multiplier: float = 1.0) -> _Persistent:
    w = sd[prefix + ".weight"]
    out_f, in_f = w.shape
    attrs = dict(in_features=in_f, out_features=out_f, activation=activation,
                 weight_gain=np.float64(lr_multiplier / np.sqrt(in_f)), bias_gain=lr_multiplier)
    return _Persistent("FullyConnectedLayer", _module_state(
        {"weight": w, "bias": sd[prefix + ".bias"]}, {}, {},
        dict(in_features=in_f, out_features=out_f, activation=activation, lr_multiplier=lr_multiplier), attrs))


def _f64(v: Any) -> Any:
    """NVlabs' cutoffs are numpy floats; anything else is passed on as is (for bad-input tests)."""
    return np.float64(v) if isinstance(v, (int, float)) else v


def sg3_snapshot(sd: dict, config: dict, mapping_lr_multiplier: float = 0.01,
                 drop_attrs: Optional[dict] = None) -> _Persistent:
    """The G_ema record NVlabs' networks_stylegan3.Generator pickles as, from an NVlabs-named state dict and a
    config in the layout of shared/reference/stylegan3/*/config.json (init_kwargs, input, layer_names, layers).

    Layer attributes are stored the way NVlabs' constructors leave them: sizes as numpy arrays, cutoffs as numpy
    floats, padding as a list. drop_attrs={'L0_...': ['padding']} leaves attributes out (for bad-input tests).
    """
    _install_fake_modules()
    sd = {k: torch.as_tensor(np.asarray(v)) for k, v in sd.items()}
    kw = config["init_kwargs"]
    drop = drop_attrs or {}
    z_dim, c_dim, w_dim = config["z_dim"], config["c_dim"], config["w_dim"]
    num_ws, res = config["num_ws"], config["img_resolution"]

    def without(name, attrs):
        return {k: v for k, v in attrs.items() if k not in drop.get(name, ())}

    inp = config["input"]
    input_rec = _Persistent("SynthesisInput", _module_state(
        {"weight": sd["synthesis.input.weight"]},
        {k: sd.get("synthesis.input." + k) for k in ("transform", "freqs", "phases")},
        {"affine": _fc(sd, "synthesis.input.affine")},
        dict(w_dim=w_dim, channels=inp["channels"], size=inp["size"][0], sampling_rate=np.float64(inp["sampling_rate"]),
             bandwidth=np.float64(inp["bandwidth"])),
        without("input", dict(w_dim=w_dim, channels=inp["channels"], size=np.broadcast_to(np.asarray(inp["size"][0]), [2]),
                              sampling_rate=np.float64(inp["sampling_rate"]), bandwidth=np.float64(inp["bandwidth"])))))
    layers = collections.OrderedDict(input=input_rec)
    for name in config["layer_names"]:
        a = config["layers"][name]
        p = f"synthesis.{name}."
        attrs = dict(
            w_dim=w_dim, is_torgb=a["is_torgb"], is_critically_sampled=a["is_critically_sampled"], use_fp16=a["use_fp16"],
            in_channels=a["in_channels"], out_channels=a["out_channels"],
            in_size=np.broadcast_to(np.asarray(a["in_size"][0]), [2]), out_size=np.broadcast_to(np.asarray(a["out_size"][0]), [2]),
            in_sampling_rate=int(a["in_sampling_rate"]), out_sampling_rate=int(a["out_sampling_rate"]),
            tmp_sampling_rate=int(a["tmp_sampling_rate"]),
            in_cutoff=_f64(a["in_cutoff"]), out_cutoff=_f64(a["out_cutoff"]),
            in_half_width=_f64(a["in_half_width"]), out_half_width=_f64(a["out_half_width"]),
            conv_kernel=a["conv_kernel"], conv_clamp=a["conv_clamp"], magnitude_ema_beta=kw.get("magnitude_ema_beta", 0.999),
            up_factor=a["up_factor"], up_taps=a["up_taps"], down_factor=a["down_factor"], down_taps=a["down_taps"],
            down_radial=a["down_radial"], padding=[int(v) for v in a["padding"]],
        )
        layers[name] = _Persistent("SynthesisLayer", _module_state(
            {"weight": sd[p + "weight"], "bias": sd[p + "bias"]},
            {"magnitude_ema": sd.get(p + "magnitude_ema"), "up_filter": sd.get(p + "up_filter"),
             "down_filter": sd.get(p + "down_filter")},
            {"affine": _fc(sd, p + "affine")}, {}, without(name, attrs)))
    syn_attrs = dict(w_dim=w_dim, num_ws=num_ws, img_resolution=res, img_channels=kw.get("img_channels", 3),
                     num_layers=len(config["layer_names"]) - 1, num_critical=2, margin_size=10,
                     output_scale=config["output_scale"], num_fp16_res=4, layer_names=list(config["layer_names"]))
    synthesis = _Persistent("SynthesisNetwork", _module_state({}, {}, layers, {}, without("synthesis", syn_attrs)))
    n_map = kw.get("mapping_kwargs", {}).get("num_layers", 2)
    fcs = collections.OrderedDict(embed=_fc(sd, "mapping.embed") if c_dim else None)
    for i in range(n_map):
        fcs[f"fc{i}"] = _fc(sd, f"mapping.fc{i}", "lrelu", mapping_lr_multiplier)
    mapping = _Persistent("MappingNetwork", _module_state(
        {}, {"w_avg": sd["mapping.w_avg"]}, fcs, {},
        without("mapping", dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=num_ws, num_layers=n_map, w_avg_beta=0.998))))
    return _Persistent("Generator", _module_state(
        {}, {}, collections.OrderedDict(synthesis=synthesis, mapping=mapping), dict(kw),
        without("G", dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=res, img_channels=kw.get("img_channels", 3),
                          num_ws=num_ws))))


def write_nvlabs_sg3_pickle(sd: dict, config: dict, path, protocol: int = pickle.DEFAULT_PROTOCOL, **kwargs) -> None:
    """An NVlabs StyleGAN3 training snapshot {G, D, G_ema, augment_pipe, training_set_kwargs} (see sg3_snapshot)."""
    _, util = _install_fake_modules()
    rec = sg3_snapshot(sd, config, **kwargs)
    snapshot = {"G": rec, "D": _Persistent("Discriminator", {"_parameters": {}, "_buffers": {}, "_modules": {}}),
                "G_ema": rec, "augment_pipe": None,
                "training_set_kwargs": util.EasyDict(path="~/datasets/afhq.zip", use_labels=bool(config["c_dim"]))}
    with open(path, "wb") as f:
        pickle.dump(snapshot, f, protocol=protocol)


def sg3_config_layout(cfg, init_kwargs: Optional[dict] = None) -> dict:
    """Our StyleGAN3Config in the layout sg3_snapshot reads (that of the shared reference config.json)."""
    import dataclasses

    layers = {}
    for s in cfg.layers:
        a = dataclasses.asdict(s)
        a.pop("name")
        a.update(in_size=list(s.in_size), out_size=list(s.out_size), padding=list(s.padding),
                 tmp_sampling_rate=s.tmp_sampling_rate)
        layers[s.name] = a
    kw = dict(z_dim=cfg.z_dim, w_dim=cfg.w_dim, c_dim=cfg.c_dim, img_resolution=cfg.img_resolution,
              img_channels=cfg.img_channels, mapping_kwargs={"num_layers": cfg.mapping_layers})
    kw.update(init_kwargs or {})
    return dict(init_kwargs=kw, z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
                num_ws=cfg.num_ws, output_scale=cfg.output_scale,
                input=dict(channels=cfg.input.channels, size=list(cfg.input.size),
                           sampling_rate=cfg.input.sampling_rate, bandwidth=cfg.input.bandwidth),
                layer_names=[s.name for s in cfg.layers], layers=layers)
