"""StyleGAN2's objective: non-saturating logistic loss, lazy R1 on D, lazy path-length regularisation on G,
and style-mixing regularisation (Karras et al. 2020, section 3 and appendix B)."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

from ..nn.discriminator import Discriminator
from ..nn.generator import Generator
from .augment import diff_augment


class StyleGAN2Loss:
    def __init__(
        self,
        G: Generator,
        D: Discriminator,
        r1_gamma: float,                 # R1 weight (gamma); the penalty is gamma/2 * |grad D(real)|^2.
        style_mixing_prob: float = 0.9,  # Probability of mixing two ws at a random crossover index.
        pl_weight: float = 2.0,          # Path-length regulariser weight (0 = off).
        pl_batch_shrink: int = 2,        # Use a smaller batch for the path-length pass.
        pl_decay: float = 0.01,          # Decay of the running mean path length.
        autocast_dtype: Optional[torch.dtype] = None,  # bf16/fp16 autocast on GPU (None = fp32).
        channels_last: bool = True,      # NHWC activations (faster in fp32 and bf16, on CPUs and GPUs).
        augment: bool = False,           # DiffAugment every image D sees (reals and fakes alike).
    ):
        self.G, self.D = G, D
        self.r1_gamma, self.style_mixing_prob = r1_gamma, style_mixing_prob
        self.pl_weight, self.pl_batch_shrink, self.pl_decay = pl_weight, pl_batch_shrink, pl_decay
        self.pl_mean = torch.zeros([], device=G.device)
        self.autocast_dtype = autocast_dtype
        self.channels_last = channels_last
        self.augment = augment

    def _autocast(self):
        dev = self.G.device.type
        return torch.autocast(dev, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None)

    def run_G(self, z: torch.Tensor, c: Optional[torch.Tensor], update_emas: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        ws = self.G.mapping(z, c, update_emas=update_emas)
        if self.style_mixing_prob > 0:
            # With probability p, ws from a second z take over from a random crossover index on.
            cutoff = torch.randint(1, ws.shape[1], [], device=ws.device)
            cutoff = torch.where(torch.rand([], device=ws.device) < self.style_mixing_prob, cutoff,
                                 torch.full_like(cutoff, ws.shape[1]))
            ws2 = self.G.mapping(torch.randn_like(z), c)
            take2 = (torch.arange(ws.shape[1], device=ws.device) >= cutoff).reshape(1, -1, 1)
            ws = torch.where(take2, ws2, ws)
        with self._autocast():
            img = self.G.synthesis(ws, noise_mode="random", channels_last=self.channels_last)
        return img.float(), ws

    def run_D(self, img: torch.Tensor, c: Optional[torch.Tensor]) -> torch.Tensor:
        if self.augment:
            img = diff_augment(img)
        if self.channels_last:
            img = img.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            return self.D(img, c).float()

    # --- phases (each returns the scalar it backpropagated, for logging) -------------------------------
    def generator_main(self, z: torch.Tensor, c: Optional[torch.Tensor], gain: float = 1.0) -> torch.Tensor:
        img, _ = self.run_G(z, c, update_emas=True)
        loss = F.softplus(-self.run_D(img, c)).mean()          # -log(sigmoid(D(G(z))))
        (loss * gain).backward()
        return loss.detach()

    def generator_path_length(self, z: torch.Tensor, c: Optional[torch.Tensor], gain: float) -> torch.Tensor:
        """Penalise deviation of |J_w^T y| from its running mean: a fixed-size step in W moves the image a
        fixed amount, which makes W smoother and better for interpolation and projection."""
        n = max(z.shape[0] // self.pl_batch_shrink, 1)
        img, ws = self.run_G(z[:n], None if c is None else c[:n])
        # randn in NCHW order whatever img's layout: the same seed draws the same noise in every memory format
        pl_noise = torch.randn(img.shape, device=img.device) / math.sqrt(img.shape[2] * img.shape[3])
        (grads,) = torch.autograd.grad((img * pl_noise).sum(), ws, create_graph=True)
        pl_lengths = grads.square().sum(2).mean(1).sqrt()
        pl_mean = self.pl_mean.lerp(pl_lengths.mean().detach(), self.pl_decay)
        self.pl_mean.copy_(pl_mean)
        penalty = (pl_lengths - pl_mean).square()
        ((img[:, 0, 0, 0] * 0 + penalty * self.pl_weight).mean() * gain).backward()
        return penalty.mean().detach()

    def discriminator_main(self, real: torch.Tensor, c_real: Optional[torch.Tensor], z: torch.Tensor,
                           c_gen: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            fake, _ = self.run_G(z, c_gen)
        logits_fake = self.run_D(fake, c_gen)
        logits_real = self.run_D(real, c_real)
        loss = F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()
        loss.backward()
        return loss.detach(), logits_real.mean().detach(), logits_fake.mean().detach()

    def discriminator_r1(self, real: torch.Tensor, c: Optional[torch.Tensor], gain: float) -> torch.Tensor:
        real = real.detach().requires_grad_(True)
        logits = self.run_D(real, c)
        (grads,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        penalty = grads.square().sum([1, 2, 3])
        ((logits * 0).squeeze(1) + penalty * (self.r1_gamma / 2)).mean().mul(gain).backward()
        return penalty.mean().detach()
