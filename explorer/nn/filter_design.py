"""The low-pass filters of StyleGAN3 (Karras et al. 2021), designed from their cutoff and transition band.

Only a freshly built generator needs these: a loaded one reads its filters from the checkpoint's
`up_filter` / `down_filter` buffers. The design is the textbook Kaiser-window method (what
scipy.signal.firwin does), written out here so that the engine does not depend on scipy.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch


def kaiser_beta(attenuation_db: float) -> float:
    """Kaiser's empirical window shape parameter for a stopband attenuation in dB."""
    a = attenuation_db
    if a > 50:
        return 0.1102 * (a - 8.7)
    if a > 21:
        return 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    return 0.0


def kaiser_attenuation(numtaps: int, width: float) -> float:
    """The attenuation (dB) a Kaiser-windowed filter of `numtaps` reaches for a transition `width`
    given as a fraction of the Nyquist frequency."""
    return 2.285 * (numtaps - 1) * math.pi * width + 7.95


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                          radial: bool = False) -> Optional[torch.Tensor]:
    """A low-pass FIR filter normalised to unit DC gain; None for a single tap (the identity).

    Separable: 1-D windowed sinc [numtaps], applied along x and y. Radial: the 2-D jinc (the circular
    ideal low-pass) times an outer product of the window [numtaps, numtaps], which does not separate.
    """
    if numtaps < 1:
        raise ValueError(f"numtaps must be >= 1, got {numtaps}")
    if numtaps == 1:
        return None
    nyquist = fs / 2
    window = np.kaiser(numtaps, kaiser_beta(kaiser_attenuation(numtaps, width / nyquist)))
    t = np.arange(numtaps) - (numtaps - 1) / 2
    if not radial:
        c = cutoff / nyquist
        f = c * np.sinc(c * t) * window
    else:
        x = t / fs
        r = torch.from_numpy(np.hypot(*np.meshgrid(x, x)))
        f = (torch.special.bessel_j1(2 * math.pi * cutoff * r) / (math.pi * r)).numpy()
        f = f * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)
