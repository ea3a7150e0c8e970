"""Renderer: RenderState -> HxWx3 uint8, doing only the work a change requires.

    state --(cached per source)--> w_A, w_B --interp t--> base --truncate--> --mix per w index--> --edits--> ws
    ws + noise --synthesis, resumed from the first layer whose inputs changed--> image --uint8 on device--> host

Mapping runs once per source (truncation, interpolation and mixing are cheap arithmetic on its result), and
synthesis keeps every layer's output and carry from the previous frame (explorer/nn/family.py): a change that
first reaches layer k (a fine mix weight, one noise scale, a direction edit on the fine range) reruns from
layer k on, for every generator family alike. A layer's inputs are the w its table entry names, its noise
(mode, scale) where it takes noise, the camera (translate, rotate: render/camera.py) where it reads the input
transform, and the carry of the layer before. Cached and uncached renders give the
same pixels. The kept outputs also feed the app's layer viewer (layer_output): no second forward pass. They
cost no copies (the carries point at the same tensors); StyleGAN2 keeps ~140 MB at 1024 px config-f in fp16
on a GPU, ~280 MB in fp32 on the CPU.
Edits move ws[:, range] by alpha * std * direction: alpha counts standard deviations of w (directions.py).
Blending with a second checkpoint (state.blend_with, one weight per layer) swaps in a copy of the model whose
layers are re-blended where their weight moved; the weight is part of each layer's inputs, so a blend change
at layer k reruns from layer k like any other change.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..bundled import default_checkpoint
from ..directions import DirectionCache
from ..errors import ExplorerError
from ..images import to_uint8
from ..io import load_generator, resolve_device
from ..latents import load_ws, one_hot, z_from_seed
from ..lru import LRU
from ..nn.blend import LiveBlend
from ..nn.family import FamilyGenerator, LowPrecision, truncate
from ..nn.layer_table import LayerTable
from .camera import input_transform
from .state import RenderState, Source

W_CACHE_SIZE = 256   # mapped ws kept (seeds visited, slerp steps): ~37 kB each for a 1024 px model


@dataclasses.dataclass
class RenderStats:
    seconds: float = 0.0          # wall time of the last render
    first_index: int = 0          # layer synthesis resumed from (0 = full synthesis, num_layers = nothing rerun)
    first_layer: str = ""         # its name ('b64.conv1'; '' = nothing rerun)
    num_layers: int = 0
    mapped: int = 0               # mapping-network evaluations in the last render
    device: str = "cpu"
    dtype: str = "float32"


@dataclasses.dataclass
class _Model:
    G: FamilyGenerator            # what synthesis runs: the checkpoint's generator, or its blend
    key: tuple
    low_precision: Optional[LowPrecision]
    channels_last: bool
    base: Optional[FamilyGenerator] = None            # the checkpoint's own generator
    blend: Optional[tuple[tuple, LiveBlend]] = None   # (key of the second checkpoint, the live blend)


class Renderer:
    def __init__(self, use_cache: bool = True):
        self.use_cache = use_cache
        self.stats = RenderStats()
        self._model: Optional[_Model] = None
        self._w_cache: LRU[torch.Tensor] = LRU(W_CACHE_SIZE)
        self._noise_cache: dict[tuple, dict[str, torch.Tensor]] = {}
        self.directions = DirectionCache()
        self._prev: Optional[dict] = None   # inputs and per-layer outputs of the last synthesis
        self._camera: Optional[tuple[tuple, torch.Tensor]] = None

    # --- public -----------------------------------------------------------------------------------
    def render(self, state: RenderState, fit: bool = False) -> np.ndarray:
        """Pixels [H, W, 3] uint8 for a state; fit=True first fits it to the model (RenderState.conform)."""
        return self.render_tensor(state, as_uint8=True, fit=fit)[0].cpu().numpy()

    @torch.no_grad()
    def render_tensor(self, state: RenderState, as_uint8: bool = False, fit: bool = False) -> torch.Tensor:
        t0 = time.perf_counter()
        model = self.model_for(state)
        if fit:
            state = state.conform(model.G)
        ws = self.compute_ws(state, model.G)
        noise, scales = self.noise_inputs(state, model.G)
        img = self._synthesize(model, ws, state.noise_mode, noise, scales, self._blend_inputs(model),
                               self.camera_input(state, model.G))
        out = to_uint8(img) if as_uint8 else img
        if out.device.type == "cuda":
            torch.cuda.synchronize(out.device)
        self.stats.seconds = time.perf_counter() - t0
        return out

    def model_for(self, state: RenderState) -> _Model:
        """The generator for a state's checkpoint/device/precision (loaded once, kept until they change)."""
        path = str(Path(state.checkpoint).expanduser()) if state.checkpoint else str(default_checkpoint())
        device = resolve_device(state.device)
        try:
            mtime = os.path.getmtime(path)
        except OSError:
            mtime = None
        key = (path, mtime, str(device), state.precision)
        if self._model is not None and self._model.key == key:
            return self._follow_blend(self._model, state)
        G = load_generator(path, device=device)
        low, channels_last = precision_plan(G.layer_table, device, state.precision)
        self._model = _Model(G, key, low, channels_last, base=G)
        self._w_cache.clear()
        self._noise_cache.clear()
        self.directions.clear()
        self._prev = None
        self.stats.device = str(device)
        self.stats.dtype = "float32" if low is None else str(low[0]).replace("torch.", "")
        return self._follow_blend(self._model, state)

    def _follow_blend(self, model: _Model, state: RenderState) -> _Model:
        """Point model.G at the checkpoint itself, or at its blend with state.blend_with (loaded once)."""
        weights = [state.blend_weight(i) for i in range(len(model.base.layer_table.layers))]
        if not any(weights):
            model.G = model.base
            return model
        path = str(Path(state.blend_with).expanduser())
        try:
            key = (path, os.path.getmtime(path))
        except OSError:
            key = (path, None)
        if model.blend is None or model.blend[0] != key:
            second = load_generator(path, device=model.base.device)
            model.blend = (key, LiveBlend(model.base, second, model.key[0], path))
        model.G = model.blend[1].generator(weights)
        return model

    @staticmethod
    def _blend_inputs(model: _Model) -> dict[str, tuple]:
        """Per layer, what the blend feeds it: (second checkpoint, weight) where the weight is not 0."""
        if model.G is model.base or model.blend is None:
            return {}
        layers = model.base.layer_table.layers
        return {layer.name: (model.blend[0], w) for layer, w in zip(layers, model.blend[1].weights) if w}

    @property
    def model(self) -> Optional[_Model]:
        """The model the last state asked for (None before the first)."""
        return self._model

    @property
    def generator(self) -> Optional[FamilyGenerator]:
        return None if self._model is None else self._model.G

    def layer_output(self, name: str) -> Optional[torch.Tensor]:
        """Output [C, H, W] of synthesis layer `name` ('b16.conv0', 'L3_52_512') in the last render."""
        if self._prev is None or self._model is None:
            return None
        try:
            return self._prev["outputs"][self._model.G.layer_table.index(name)][0]
        except (KeyError, IndexError):
            return None

    # --- latents ----------------------------------------------------------------------------------
    def compute_ws(self, state: RenderState, G: FamilyGenerator, w_a: Optional[torch.Tensor] = None) -> torch.Tensor:
        """ws after interpolation, truncation, mixing and edits: [1, num_ws, w_dim], or [N, ...] when raw
        ws for source A are passed in as w_a [N, num_ws, w_dim] (video walks: every frame gets the state's
        treatment of A)."""
        self.stats.mapped = 0
        w_a = self._source_w(G, state.a) if w_a is None else w_a.to(G.device)
        w_b = self._source_w(G, state.b)
        if state.t == 0:
            base = w_a
        elif state.t == 1 and state.interp_space == "w":
            base = w_b
        elif state.interp_space == "z" and state.a.w_path is None and state.b.w_path is None and w_a.shape[0] == 1:
            base = self._slerp_w(G, state.a, state.b, state.t)
        else:
            base = w_a.lerp(w_b, state.t)
        w_avg = G.mapping.w_avg
        base = truncate(base, w_avg, state.psi, state.cutoff)
        w_b = truncate(w_b, w_avg, state.psi, state.cutoff)
        mix = torch.tensor([state.mix_weight(i) for i in range(G.num_ws)], device=base.device).reshape(1, -1, 1)
        ws = base if not bool((mix > 0).any()) else base.lerp(w_b, mix)
        for edit in state.edits:
            if edit.alpha == 0:
                continue
            dirs = self.directions.steps(G, edit.directions, edit.layers)   # alpha 1 = one std of w
            if not 0 <= edit.index < len(dirs):
                raise ExplorerError(f"direction {edit.index} out of range (0-{len(dirs) - 1})")
            d = torch.from_numpy(dirs[edit.index]).to(ws.device)
            idx = G.layer_table.parse_indices(edit.layers)
            ws = ws.clone()
            ws[:, idx] += edit.alpha * d
        return ws

    def _source_w(self, G: FamilyGenerator, src: Source) -> torch.Tensor:
        key = ("src", src.seed if src.w_path is None else None, src.w_path, src.w_row, src.class_idx)
        hit = self._w_cache.get(key) if self.use_cache else None
        if hit is not None:
            return hit
        if src.w_path is not None:
            ws = load_ws(src.w_path, G.num_ws, G.w_dim)
            if not 0 <= src.w_row < ws.shape[0]:
                raise ExplorerError(f"{src.w_path}: row {src.w_row} out of range (file has {ws.shape[0]})")
            w = ws[src.w_row:src.w_row + 1].to(G.device)
        else:
            z = torch.from_numpy(z_from_seed(src.seed, G.z_dim)).float().to(G.device)
            w = G.mapping(z, one_hot(src.class_idx, G.c_dim, device=G.device))
            self.stats.mapped += 1
        self._w_cache.put(key, w)
        return w

    def _slerp_w(self, G: FamilyGenerator, a: Source, b: Source, t: float) -> torch.Tensor:
        key = ("slerp", a.seed, b.seed, a.class_idx, b.class_idx, t)
        hit = self._w_cache.get(key) if self.use_cache else None
        if hit is not None:
            return hit
        za, zb = (torch.from_numpy(z_from_seed(s.seed, G.z_dim)).float() for s in (a, b))
        z = slerp(za, zb, t).to(G.device)
        c = one_hot(a.class_idx, G.c_dim, device=G.device)
        if c is not None and b.class_idx is not None:
            c = c.lerp(one_hot(b.class_idx, G.c_dim, device=G.device), t)
        w = G.mapping(z, c)
        self.stats.mapped += 1
        self._w_cache.put(key, w)
        return w

    # --- noise ------------------------------------------------------------------------------------
    def noise_inputs(self, state: RenderState, G: FamilyGenerator) -> tuple[Optional[dict], dict[str, float]]:
        """(noise tensors or None, per-layer scales): seeded 'random' noise and switched-off resolutions."""
        layers = G.layer_table.noise_layers
        scales = {c.name: (0.0 if c.resolution in state.noise_off_res else state.noise_scale(i))
                  for i, c in enumerate(layers)}
        if state.noise_mode != "random":
            return None, scales
        key = (state.noise_seed,)
        if key not in self._noise_cache:
            self._noise_cache = {key: G.make_noise(state.noise_seed)}
        return self._noise_cache[key], scales

    # --- the camera -------------------------------------------------------------------------------
    def camera_input(self, state: RenderState, G: FamilyGenerator) -> tuple[tuple, torch.Tensor]:
        """(the camera as a key, its input transform [3, 3] on G's device), made once per camera."""
        key = (tuple(state.translate), state.rotate)
        if self._camera is None or self._camera[0] != key or self._camera[1].device != G.device:
            self._camera = (key, torch.from_numpy(input_transform(*key)).float().to(G.device))
        return self._camera

    # --- synthesis --------------------------------------------------------------------------------
    def _synthesize(self, model: _Model, ws: torch.Tensor, noise_mode: str, noise: Optional[dict],
                    scales: dict[str, float], blend: dict[str, tuple],
                    camera: tuple[tuple, torch.Tensor]) -> torch.Tensor:
        G = model.G
        layers = G.layer_table.layers
        # Compare inputs on the host: one device->host copy per frame instead of a sync per layer.
        ws_host = ws.detach().to("cpu", copy=True)
        noise_tag = noise_mode if noise_mode != "random" else ("random", id(noise))
        sigs = [((noise_tag, scales.get(layer.name, 1.0)) if layer.noise else None, blend.get(layer.name),
                 camera[0] if layer.transform else None) for layer in layers]
        start = 0
        prev = self._prev if self.use_cache else None
        if prev is not None and prev["model"] == model.key:
            moved = {i for i in range(ws_host.shape[1]) if not torch.equal(prev["ws"][:, i], ws_host[:, i])}
            start = next((k for k, layer in enumerate(layers) if layer.w_index in moved or prev["sigs"][k] != sigs[k]),
                         len(layers))
            if start == len(layers):  # nothing changed
                self._set_stats(start, layers)
                return prev["image"]
        outputs: list = list(prev["outputs"][:start]) if start > 0 else []
        carries: list = list(prev["carries"][:start]) if start > 0 else []

        def keep(i: int, y: torch.Tensor, carry) -> None:
            outputs.append(y)
            carries.append(carry)

        img = G.synthesis.run(ws, start=start, carry=carries[-1] if carries else None, noise_mode=noise_mode,
                              noise=noise, noise_scales=scales, transform=camera[1],
                              low_precision=model.low_precision, channels_last=model.channels_last, on_layer=keep)
        self._prev = {"model": model.key, "sigs": sigs, "ws": ws_host, "outputs": outputs, "carries": carries,
                      "image": img}
        self._set_stats(start, layers)
        return img

    def _set_stats(self, start: int, layers: tuple) -> None:
        self.stats.first_index, self.stats.num_layers = start, len(layers)
        self.stats.first_layer = "" if start == len(layers) else layers[start].name


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between two latent vectors (rows), keeping their norm behaviour."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    if float(so.abs().min()) < 1e-6:
        return a.lerp(b, t)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def precision_plan(table: LayerTable, device: torch.device, precision: str) -> tuple[Optional[LowPrecision], bool]:
    """(reduced-precision dtype and the first layer that runs in it, channels_last) for a device and a setting.

    auto: fp16 on CUDA for the layers NVlabs train in fp16 (StyleGAN2: the top 4 resolutions), fp32 on the CPU.
    fp16 / bf16: every layer from 8 px up. Activations are NHWC everywhere: measured faster on both.
    """
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None, True
    if precision == "fp16" and device.type != "cuda":
        raise ExplorerError("fp16 needs a CUDA device (use bf16 or fp32 on the CPU)")
    dtype = torch.float16 if precision in ("auto", "fp16") else torch.bfloat16
    wanted = (lambda layer: layer.fp16) if precision == "auto" else (lambda layer: layer.resolution >= 8)
    first = next((i for i, layer in enumerate(table.layers) if wanted(layer)), None)
    return (None if first is None else (dtype, first)), True
