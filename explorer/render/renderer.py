"""Renderer: RenderState -> HxWx3 uint8, doing only the work a change requires.

    state --(cached per source)--> w_A, w_B --interp t--> base --truncate--> --mix per w index--> --edits--> ws
    ws + noise --synthesis, resumed from the first block whose inputs changed--> image --uint8 on device--> host

Mapping runs once per source (truncation, interpolation and mixing are cheap arithmetic on its result), and
synthesis keeps every layer's output from the previous frame: a change that first reaches layer k (a fine
mix weight, one noise scale, a direction edit on the fine range) reruns from that layer on, inside its
block where it can (not past a 'resnet' skip sum). Cached and uncached renders give the same pixels. The
kept outputs also feed the app's layer viewer (layer_output): no second forward pass. The cost: conv0
outputs besides the block outputs (conv1's are the block outputs themselves), ~140 MB at 1024 px config-f in
fp16 on a GPU, ~280 MB in fp32 on the CPU.
Edits move ws[:, range] by alpha * std * direction: alpha counts standard deviations of w (directions.py).
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
from ..nn.generator import Generator, truncate
from .state import RenderState, Source


@dataclasses.dataclass
class RenderStats:
    seconds: float = 0.0          # wall time of the last render
    first_block: int = 0          # block synthesis resumed from (0 = full synthesis)
    first_layer: str = ""         # layer it resumed from ('b64.conv1'; '' = nothing rerun)
    num_blocks: int = 0
    mapped: int = 0               # mapping-network evaluations in the last render
    device: str = "cpu"
    dtype: str = "float32"


@dataclasses.dataclass
class _Model:
    G: Generator
    key: tuple
    low_precision: Optional[tuple[torch.dtype, int]]
    channels_last: bool


class Renderer:
    def __init__(self, use_cache: bool = True):
        self.use_cache = use_cache
        self.stats = RenderStats()
        self._model: Optional[_Model] = None
        self._w_cache: dict[tuple, torch.Tensor] = {}
        self._noise_cache: dict[tuple, dict[str, torch.Tensor]] = {}
        self.directions = DirectionCache()
        self._prev: Optional[dict] = None   # inputs and per-block outputs of the last synthesis

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
        img = self._synthesize(model, ws, state.noise_mode, noise, scales)
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
            return self._model
        G = load_generator(path, device=device)
        low, channels_last = _precision_plan(G, device, state.precision)
        self._model = _Model(G, key, low, channels_last)
        self._w_cache.clear()
        self._noise_cache.clear()
        self.directions.clear()
        self._prev = None
        self.stats.device = str(device)
        self.stats.dtype = "float32" if low is None else str(low[0]).replace("torch.", "")
        return self._model

    @property
    def model(self) -> Optional[_Model]:
        """The model the last state asked for (None before the first)."""
        return self._model

    @property
    def generator(self) -> Optional[Generator]:
        return None if self._model is None else self._model.G

    def activations(self, block: int) -> Optional[torch.Tensor]:
        """Feature maps [C, H, W] left by block `block` in the last render (no extra forward pass)."""
        if self._prev is None or block >= len(self._prev["outputs"]):
            return None
        return self._prev["outputs"][block][0][0].float()

    def layer_output(self, name: str) -> Optional[torch.Tensor]:
        """Output [C, H, W] of synthesis layer `name` ('b16.conv0', 'b16.torgb') in the last render."""
        if self._prev is None:
            return None
        for layers in self._prev["layers"]:
            if name in layers:
                return layers[name][0]
        return None

    # --- latents ----------------------------------------------------------------------------------
    def compute_ws(self, state: RenderState, G: Generator, w_a: Optional[torch.Tensor] = None) -> torch.Tensor:
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

    def _source_w(self, G: Generator, src: Source) -> torch.Tensor:
        key = ("src", src.seed if src.w_path is None else None, src.w_path, src.w_row, src.class_idx)
        if self.use_cache and key in self._w_cache:
            return self._w_cache[key]
        if src.w_path is not None:
            ws = load_ws(src.w_path, G.num_ws, G.w_dim)
            if not 0 <= src.w_row < ws.shape[0]:
                raise ExplorerError(f"{src.w_path}: row {src.w_row} out of range (file has {ws.shape[0]})")
            w = ws[src.w_row:src.w_row + 1].to(G.device)
        else:
            z = torch.from_numpy(z_from_seed(src.seed, G.z_dim)).float().to(G.device)
            w = G.mapping(z, one_hot(src.class_idx, G.c_dim, device=G.device))
            self.stats.mapped += 1
        self._w_cache[key] = w
        return w

    def _slerp_w(self, G: Generator, a: Source, b: Source, t: float) -> torch.Tensor:
        key = ("slerp", a.seed, b.seed, a.class_idx, b.class_idx, t)
        if self.use_cache and key in self._w_cache:
            return self._w_cache[key]
        za, zb = (torch.from_numpy(z_from_seed(s.seed, G.z_dim)).float() for s in (a, b))
        z = slerp(za, zb, t).to(G.device)
        c = one_hot(a.class_idx, G.c_dim, device=G.device)
        if c is not None and b.class_idx is not None:
            c = c.lerp(one_hot(b.class_idx, G.c_dim, device=G.device), t)
        w = G.mapping(z, c)
        self.stats.mapped += 1
        if len(self._w_cache) > 512:  # dragging t makes a new key per frame
            self._w_cache = {k: v for k, v in self._w_cache.items() if k[0] == "src"}
        self._w_cache[key] = w
        return w

    # --- noise ------------------------------------------------------------------------------------
    def noise_inputs(self, state: RenderState, G: Generator) -> tuple[Optional[dict], dict[str, float]]:
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

    # --- synthesis --------------------------------------------------------------------------------
    def _synthesize(self, model: _Model, ws: torch.Tensor, noise_mode: str, noise: Optional[dict],
                    scales: dict[str, float]) -> torch.Tensor:
        G = model.G
        blocks = G.synthesis.blocks()
        # Compare inputs on the host: one device->host copy per frame instead of a sync per block.
        block_ws = G.synthesis.block_ws(ws.detach().to("cpu", copy=True))
        noise_tag = noise_mode if noise_mode != "random" else ("random", id(noise))
        sigs = [[(noise_tag, scales.get(f"b{b.resolution}.{n}", 1.0)) for n in b.layer_names()] for b in blocks]
        start, resume_at = 0, 0
        prev = self._prev if self.use_cache else None
        if prev is not None and prev["model"] == model.key:
            start = len(blocks)
            for j in range(len(blocks)):
                changed = [k for k in range(len(sigs[j])) if prev["sigs"][j][k] != sigs[j][k]
                           or not torch.equal(prev["block_ws"][j][:, k], block_ws[j][:, k])]
                if changed:
                    start, resume_at = j, (changed[0] if blocks[j].can_resume_at(changed[0]) else 0)
                    break
            if start == len(blocks):  # nothing changed
                self._set_stats(start, 0, blocks)
                return prev["outputs"][-1][1]
        outputs: list = list(prev["outputs"][:start]) if start > 0 else []
        layers: list[dict] = list(prev["layers"][:start]) if start > 0 else []
        x, img = (outputs[-1] if outputs else (None, None))
        # This block's layer outputs (the same tensors, no copies); a resumed block starts with the
        # outputs it keeps from the last frame.
        kept: dict[str, torch.Tensor] = {}
        if resume_at:
            block = blocks[start]
            names = [f"b{block.resolution}.{n}" for n in block.layer_names()]
            kept = {n: prev["layers"][start][n] for n in names[:resume_at]}
            x = prev["outputs"][start][0] if names[resume_at].endswith("torgb") else kept[names[resume_at - 1]]

        def keep_layer(name: str, y: torch.Tensor) -> None:
            kept[name] = y

        def keep(i: int, x_i: torch.Tensor, img_i: torch.Tensor) -> None:
            outputs.append((x_i, img_i))
            layers.append(dict(kept))
            kept.clear()

        img = G.synthesis.run_blocks(ws, start=start, resume_at=resume_at, x=x, img=img, noise_mode=noise_mode,
                                     noise=noise, noise_scales=scales, low_precision=model.low_precision,
                                     channels_last=model.channels_last, on_block=keep, on_layer=keep_layer)
        self._prev = {"model": model.key, "sigs": sigs, "block_ws": block_ws,
                      "outputs": outputs, "layers": layers}
        self._set_stats(start, resume_at, blocks)
        return img

    def _set_stats(self, start: int, resume_at: int, blocks: list) -> None:
        self.stats.first_block, self.stats.num_blocks = start, len(blocks)
        self.stats.first_layer = ("" if start == len(blocks)
                                  else f"b{blocks[start].resolution}.{blocks[start].layer_names()[resume_at]}")


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between two latent vectors (rows), keeping their norm behaviour."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    if float(so.abs().min()) < 1e-6:
        return a.lerp(b, t)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def _precision_plan(G: Generator, device: torch.device, precision: str) -> tuple[Optional[tuple[torch.dtype, int]], bool]:
    """(low-precision dtype and first resolution, channels_last) for a device and a precision setting.

    auto: fp16 on CUDA for the top 4 resolutions (as NVlabs trains them), fp32 on the CPU.
    fp16 / bf16: every block from 8 px up. Activations are NHWC everywhere: measured faster on both.
    """
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None, True
    if precision == "auto":
        first = max(2 ** (int(math.log2(G.img_resolution)) + 1 - 4), 8)
        return (torch.float16, first), True
    if precision == "fp16" and device.type != "cuda":
        raise ExplorerError("fp16 needs a CUDA device (use bf16 or fp32 on the CPU)")
    return (torch.float16 if precision == "fp16" else torch.bfloat16, 8), True
