"""Image distances for projection: perceptual (MobileNetV2 or NVlabs' VGG16), pixel, multi-scale SSIM.

Every distance takes NCHW images in the generator's range (~[-1, 1]) and returns one value per image,
so a batch of targets is optimised as independent problems. Target-side work (features of the targets)
is done once in ProjectionLoss.__init__, not every step.

The MobileNetV2 distance follows LPIPS (Zhang et al. 2018) without its learned channel weights: features
from several stages, each position's channel vector scaled to unit length, squared differences summed over
channels and averaged over positions, summed over stages. It is what we can run offline: NVlabs' VGG16
LPIPS file is not redistributable here, but users who have it can pass it with `vgg16_path`.
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Optional, Union

import torch
import torch.nn.functional as F

from ..errors import ExplorerError
from ..io.torchscript import VGG16_LPIPS, load_known_torchscript
from .mobilenet import MissingWeightsError, load_mobilenet_v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TERMS = ("perceptual", "l2", "l1", "msssim")
DEFAULT_WEIGHTS = {"perceptual": 1.0, "l2": 1.0, "msssim": 0.1}
MSSSIM_SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003


def parse_loss_spec(spec: Optional[str]) -> dict[str, float]:
    """'perceptual=1,l2=0.5,msssim' -> {'perceptual': 1.0, 'l2': 0.5, 'msssim': 1.0}; None -> defaults."""
    if spec is None:
        return dict(DEFAULT_WEIGHTS)
    out: dict[str, float] = {}
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = {"lpips": "perceptual", "vgg": "perceptual", "mse": "l2", "ssim": "msssim"}.get(name, name)
        if name not in TERMS:
            raise ExplorerError(f"unknown loss term {name!r} in --loss {spec!r} (known: {', '.join(TERMS)})")
        try:
            weight = float(value) if value else 1.0
        except ValueError:
            raise ExplorerError(f"bad weight {value!r} for {name} in --loss {spec!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ExplorerError(f"weight of {name} must be a finite number >= 0, got {value}")
        out[name] = weight
    if not any(out.values()):
        raise ExplorerError(f"--loss {spec!r} has no term with a positive weight")
    return out


# --- Perceptual distances --------------------------------------------------------------------------

def perceptual_resolution(img_resolution: int) -> int:
    """Images reach the network at 128-256 px: small ones upsampled so deep stages keep some extent,
    large ones area-downsampled to 256 like NVlabs' projector (speed; VGG/LPIPS were made at that size)."""
    return min(max(img_resolution, 128), 256)


def _resize(img: torch.Tensor, size: int) -> torch.Tensor:
    if img.shape[-1] == size and img.shape[-2] == size:
        return img
    if img.shape[-1] > size:
        return F.interpolate(img, size=(size, size), mode="area")
    return F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)


class MobileNetDistance(torch.nn.Module):
    """LPIPS-style distance on ImageNet MobileNetV2 features (no learned weights)."""

    def __init__(self, net: torch.nn.Module, resolution: int):
        super().__init__()
        self.net, self.resolution = net, resolution
        self.channels_last = net.features[0][0].weight.device.type == "cpu"  # faster depthwise convs there
        if self.channels_last:
            self.net = net.to(memory_format=torch.channels_last)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Unit-length (over channels) features of NCHW images in [-1, 1]."""
        x = _resize(img, self.resolution)
        x = ((x + 1) * 0.5 - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return [f * (f.square().sum(dim=1, keepdim=True) + 1e-10).rsqrt() for f in self.net.stage_features(x)]

    def distance(self, feats: list[torch.Tensor], target_feats: list[torch.Tensor]) -> torch.Tensor:
        return sum((f - t).square().sum(dim=1).mean(dim=[1, 2]) for f, t in zip(feats, target_feats))


class VGG16Distance(torch.nn.Module):
    """NVlabs' VGG16 LPIPS TorchScript (metrics/vgg16.pt), called as their projector calls it."""

    def __init__(self, path: Union[str, os.PathLike], device: torch.device):
        super().__init__()
        self.net = load_known_torchscript(path, VGG16_LPIPS, device)  # refuses any other file unrun
        self.resolution = 256

    def features(self, img: torch.Tensor) -> list[torch.Tensor]:
        x = (img + 1) * 127.5  # their network takes [0, 255]
        if x.shape[-1] > self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="area")
        return [self.net(x, resize_images=False, return_lpips=True)]

    def distance(self, feats: list[torch.Tensor], target_feats: list[torch.Tensor]) -> torch.Tensor:
        return (feats[0] - target_feats[0]).square().flatten(1).sum(dim=1)


# --- Pixel and structural distances ----------------------------------------------------------------

def _gaussian_window(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-x.square() / (2 * sigma ** 2))
    return g / g.sum()


def _ssim_terms(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean SSIM and contrast-structure term, images in [0, 1], separable Gaussian window."""
    n, c = x.shape[:2]
    k = window.numel()
    maps = torch.cat([x, y, x * x, y * y, x * y], dim=1)      # one grouped conv blurs all five
    g = maps.shape[1]
    maps = F.conv2d(maps, window.view(1, 1, 1, k).expand(g, 1, 1, k), groups=g)
    maps = F.conv2d(maps, window.view(1, 1, k, 1).expand(g, 1, k, 1), groups=g)
    mx, my, exx, eyy, exy = maps.split(c, dim=1)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    sxx, syy, sxy = exx - mx * mx, eyy - my * my, exy - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return ssim.flatten(1).mean(dim=1), cs.flatten(1).mean(dim=1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Multi-scale SSIM per image (1 = identical) of NCHW images in [-1, 1].

    Uses as many of the 5 standard scales as the image allows (the window must fit: 3 scales at 64 px),
    with the standard scale weights renormalised; negative terms are clamped so powers stay defined.
    """
    x, y = (x + 1) * 0.5, (y + 1) * 0.5
    size = min(x.shape[-2:])
    window_size = min(window_size, size - (1 - size % 2))
    scales = 1
    while scales < len(MSSSIM_SCALE_WEIGHTS) and size // 2 ** scales >= window_size:
        scales += 1
    weights = torch.tensor(MSSSIM_SCALE_WEIGHTS[:scales], device=x.device)
    weights = weights / weights.sum()
    window = _gaussian_window(window_size, sigma, x.device)
    out = torch.ones(x.shape[0], device=x.device)
    for s in range(scales):
        ssim, cs = _ssim_terms(x, y, window)
        term = ssim if s == scales - 1 else cs
        out = out * term.clamp(min=1e-6) ** weights[s]
        if s < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return out


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image of uint8 or [-1, 1] images, measured on the 8-bit images users see."""
    def u8(t: torch.Tensor) -> torch.Tensor:
        return t.float() if t.dtype == torch.uint8 else (t * 127.5 + 128).clamp(0, 255).floor()
    mse = (u8(x) - u8(y)).square().flatten(1).mean(dim=1)
    return 10 * torch.log10(255.0 ** 2 / mse.clamp(min=1e-10))


def match_clipping(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Clip generated pixels where the target is clipped (pure white/black in an 8-bit target).

    Generators overshoot [-1, 1] (white backgrounds often reach 1.2); the saved image clips them, so a
    pixel at 1.2 against a target of 255 is a perfect match and must not be pulled back. Elsewhere the
    values stay unclipped so their gradients keep flowing.
    """
    images = torch.where(targets >= 1, images.clamp(max=1), images)
    return torch.where(targets <= -1, images.clamp(min=-1), images)


# --- The projection loss ---------------------------------------------------------------------------

class ProjectionLoss(torch.nn.Module):
    """Weighted sum of distances to fixed targets: loss(images) -> (total [N], {term: [N]})."""

    def __init__(
        self,
        targets: torch.Tensor,                      # [N, 3, H, W] in [-1, 1], on the device to run on.
        weights: Optional[dict[str, float]] = None,  # Term -> weight (parse_loss_spec); None = defaults.
        vgg16_path: Union[str, os.PathLike, None] = None,    # NVlabs' vgg16.pt: replaces MobileNetV2.
        mobilenet_path: Union[str, os.PathLike, None] = None,  # None = the installed package's file.
        strict: bool = False,                       # Missing perceptual weights: error (True) or fall back.
        warn: bool = True,                          # Fallback: also warnings.warn (else only self.warning).
    ):
        super().__init__()
        weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        self.register_buffer("targets", targets.to(torch.float32))
        self.perceptual: Optional[torch.nn.Module] = None
        self.warning: Optional[str] = None
        if weights.get("perceptual", 0) > 0:
            try:
                self.perceptual = (VGG16Distance(vgg16_path, targets.device) if vgg16_path is not None else
                                   MobileNetDistance(load_mobilenet_v2(mobilenet_path, targets.device).fold_batchnorm(),
                                                     perceptual_resolution(targets.shape[-1])).to(targets.device))
            except MissingWeightsError as e:
                if strict:
                    raise
                self.warning = f"{e}; projecting with pixel + MS-SSIM distances only"
                if warn:
                    warnings.warn(self.warning, stacklevel=2)
                weights.pop("perceptual")
                for term, w in DEFAULT_WEIGHTS.items():
                    if term != "perceptual":
                        weights.setdefault(term, w)
        self.weights = {k: float(v) for k, v in weights.items() if v > 0}
        with torch.no_grad():
            self.target_feats = self.perceptual.features(self.targets) if self.perceptual is not None else []

    @property
    def perceptual_name(self) -> Optional[str]:
        if self.perceptual is None:
            return None
        return "vgg16" if isinstance(self.perceptual, VGG16Distance) else "mobilenet_v2"

    def perceptual_distance(self, images: torch.Tensor) -> Optional[torch.Tensor]:
        """The perceptual term alone, for reporting (None when no perceptual network is loaded)."""
        if self.perceptual is None:
            return None
        return self.perceptual.distance(self.perceptual.features(images), self.target_feats)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        images = match_clipping(images, self.targets)
        terms: dict[str, torch.Tensor] = {}
        if "perceptual" in self.weights:
            terms["perceptual"] = self.perceptual_distance(images)
        if "l2" in self.weights:
            terms["l2"] = (images - self.targets).square().flatten(1).mean(dim=1)
        if "l1" in self.weights:
            terms["l1"] = (images - self.targets).abs().flatten(1).mean(dim=1)
        if "msssim" in self.weights:
            terms["msssim"] = 1 - ms_ssim(images, self.targets)
        total = sum(self.weights[k] * v for k, v in terms.items())
        return total, terms
