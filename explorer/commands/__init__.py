"""CLI subcommands; each module registers one (see explorer/cli.py)."""
from __future__ import annotations

import argparse

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def add_checkpoint_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", "--network", dest="checkpoint", default=None, metavar="PATH",
                   help="generator checkpoint: explorer .safetensors, NVlabs .pkl or rosinality .pt "
                        "(default: the bundled generator)")


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where to run (default: auto)")
