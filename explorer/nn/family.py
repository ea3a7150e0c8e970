"""What a generator family is to the rest of the explorer: the one interface StyleGAN2 and StyleGAN3 implement.

The renderer, layer viewer, directions, projector, videos, grids, `explorer info` and the app talk to a
generator only through this interface, so a family plugs in by implementing it (a module under explorer/nn/
and a reader under explorer/io/), not by `if family == ...` branches elsewhere.

    G.mapping(z, c, truncation_psi, truncation_cutoff) -> ws [N, num_ws, w_dim]     (G.mapping.w_avg: the mean w)
    G.layer_table: LayerTable                                                        (nn/layer_table.py)
        layers   the synthesis layers in the order they run; per layer: name (a module under G.synthesis with
                 a style affine `.affine`), the w index that drives it, kind (input / conv / rgb), sampling
                 rate, output size and channels, cutoff, level, whether it takes noise or the input transform
        ws       per w index: the layers it drives, the first of them, its level
    G.synthesis.run(ws, start, carry, **options, on_layer) -> image [N, C, R, R] in about [-1, 1]
        Runs layers[start:]. Synthesis can resume at any layer: `carry` is what the layer before left, as
        on_layer(i, output, carry) handed it out, and is None for start == 0. A carry is an opaque value
        (StyleGAN2: the features, the image so far and a resnet skip; StyleGAN3: the features) holding
        tensors that synthesis never writes into again, so a caller may keep them across calls.
        on_layer also shows each layer's own output [N, channels, size, size] (the layer viewer's pixels).
    G.synthesis(ws, **options) -> image: run(ws) from the first layer, NVlabs' call.
    options, accepted by every family and ignored where the model lacks the input:
        noise_mode 'const' | 'random' | 'none'; noise {layer: [N or 1, 1, size, size]}; noise_scales {layer: x}
        transform [3, 3] or [N, 3, 3]: the input transform (NVlabs' G.synthesis.input.transform; None: the
            model's own buffer)
        low_precision (dtype, first layer index) or None: layers from that index on run in dtype
        channels_last: NHWC activations (faster on CPUs)
    G.make_noise(seed, batch) -> {layer: noise}: seeded 'random' noise ({} for a family without noise)
    G(z, c, truncation_psi, truncation_cutoff, noise_mode, **options): NVlabs' call.
    Attributes z_dim, c_dim, w_dim, num_ws, img_resolution, img_channels, device, and cfg (a frozen config
    with to_json() and provenance: what io/native.py writes and reads back).

A family without noise has no noise layers; one without an input transform marks no layer `transform`;
the app then says so instead of showing controls that do nothing.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Protocol

import torch

from .layer_table import LayerTable

NOISE_MODES = ("const", "random", "none")
LowPrecision = tuple[torch.dtype, int]          # (dtype, index of the first layer that runs in it)
OnLayer = Callable[[int, torch.Tensor, Any], None]


class Synthesis(Protocol):
    def run(
        self,
        ws: torch.Tensor,                                   # [N, num_ws, w_dim]
        start: int = 0,                                     # First layer to run (index into layer_table.layers).
        carry: Any = None,                                  # What layer start-1 left (None when start == 0).
        noise_mode: str = "const",
        noise: Optional[Mapping[str, torch.Tensor]] = None,
        noise_scales: Optional[Mapping[str, float]] = None,
        transform: Optional[torch.Tensor] = None,
        low_precision: Optional[LowPrecision] = None,
        channels_last: bool = False,
        on_layer: Optional[OnLayer] = None,
    ) -> torch.Tensor: ...

    def __call__(self, ws: torch.Tensor, **options: Any) -> torch.Tensor: ...


class FamilyGenerator(Protocol):
    """A loaded generator of any family (StyleGAN2: nn/generator.py)."""

    z_dim: int
    c_dim: int
    w_dim: int
    num_ws: int
    img_resolution: int
    img_channels: int
    layer_table: LayerTable
    mapping: torch.nn.Module
    synthesis: Synthesis
    cfg: Any

    @property
    def device(self) -> torch.device: ...

    def make_noise(self, seed: int, batch: int = 1,
                   device: Optional[torch.device] = None) -> dict[str, torch.Tensor]: ...

    def __call__(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, truncation_psi: float = 1,
                 truncation_cutoff: Optional[int] = None, noise_mode: str = "const", **options: Any) -> torch.Tensor: ...


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: Optional[int] = None) -> torch.Tensor:
    """w_avg + psi * (w - w_avg), on the first `cutoff` w indices only when a cutoff is given."""
    if psi == 1:
        return ws
    if cutoff is None:
        return w_avg.lerp(ws, psi)
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


def style_affine(G: FamilyGenerator, layer: str) -> torch.nn.Module:
    """The affine that maps w to layer `layer`'s styles (its `.weight` is [style units, w_dim])."""
    return G.synthesis.get_submodule(layer).affine


def seeded_noise(table: LayerTable, seed: int, batch: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Reproducible noise for every noise layer of a table: what G.make_noise returns."""
    gen = torch.Generator().manual_seed(int(seed))
    return {layer.name: torch.randn([batch, 1, layer.size, layer.size], generator=gen).to(device)
            for layer in table.noise_layers}


class GeneratorBase(torch.nn.Module):
    """NVlabs' call conventions over `self.mapping` and `self.synthesis`, and seeded noise for the layers of
    `self.layer_table`: what every family's Generator sets up in its __init__ and shares from here."""

    mapping: torch.nn.Module
    synthesis: torch.nn.Module
    layer_table: LayerTable

    def forward(
        self,
        z: torch.Tensor,
        c: Optional[torch.Tensor] = None,
        truncation_psi: float = 1,
        truncation_cutoff: Optional[int] = None,
        noise_mode: str = "const",
        update_emas: bool = False,
        **synthesis_kwargs: Any,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode, **synthesis_kwargs)

    @property
    def device(self) -> torch.device:
        return self.mapping.w_avg.device

    @property
    def default_truncation(self) -> tuple[float, Optional[int]]:
        """(psi, cutoff) the model's file asks for when none is given: none for NVlabs' PyTorch models."""
        return 1.0, None

    def noise_layer_names(self) -> list[str]:
        return [layer.name for layer in self.layer_table.noise_layers]

    def make_noise(self, seed: int, batch: int = 1, device: Optional[torch.device] = None) -> dict[str, torch.Tensor]:
        """Seeded random noise for every noise layer: reproducible 'random' noise mode ({} without noise)."""
        return seeded_noise(self.layer_table, seed, batch, device or self.device)


def check_noise_mode(noise_mode: str) -> None:
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
