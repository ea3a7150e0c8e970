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


def _record(module: torch.nn.Module, init_kwargs: dict, extra_attrs: Optional[dict] = None) -> _Persistent:
    params = collections.OrderedDict((k, torch.nn.Parameter(v.detach().clone(), requires_grad=False))
                                     for k, v in module._parameters.items() if v is not None)
    buffers = collections.OrderedDict((k, v.detach().clone()) for k, v in module._buffers.items() if v is not None)
    children = collections.OrderedDict()
    for name, child in module._modules.items():
        kw = {}
        if type(child).__name__ == "SynthesisLayer":
            kw = {"conv_clamp": child.conv_clamp}
        children[name] = _record(child, {}, kw)
    state = {
        "training": False,
        "_parameters": params,
        "_buffers": buffers,
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": collections.OrderedDict(),
        "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(),
        "_state_dict_hooks": collections.OrderedDict(),
        "_load_state_dict_pre_hooks": collections.OrderedDict(),
        "_modules": children,
        "_init_args": (),
        "_init_kwargs": init_kwargs,
        **(extra_attrs or {}),
    }
    return _Persistent(NVLABS_CLASS.get(type(module).__name__, type(module).__name__), state)


def write_nvlabs_pickle(G, path, protocol: int = pickle.DEFAULT_PROTOCOL, extra: Optional[dict] = None) -> None:
    """Pickle our Generator `G` as an NVlabs training snapshot dict {G, D, G_ema, augment_pipe, training_set_kwargs}."""
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
    with open(path, "wb") as f:
        pickle.dump(snapshot, f, protocol=protocol)
