"""Latent-space explorer for StyleGAN-family generators: engine (this package) and Dear PyGui app (widgets/)."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import CheckpointError, ExplorerError, ImageInputError, OutputError  # noqa: E402
from .io import load_generator, save_generator  # noqa: E402
from .nn.config import GeneratorConfig  # noqa: E402
from .nn.generator import Generator  # noqa: E402

__all__ = ["load_generator", "save_generator", "Generator", "GeneratorConfig", "CheckpointError",
           "ExplorerError", "ImageInputError", "OutputError", "__version__"]
