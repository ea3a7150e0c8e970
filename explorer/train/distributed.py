"""Several processes (torchrun) without DistributedDataParallel's reducer.

DDP's reducer cannot follow the double backward that R1 and path-length regularisation need, so we do what
it would do by hand: broadcast rank 0's weights once, then average gradients with one all_reduce of one
flat buffer per optimiser step. Single-process runs skip all of it.
"""
from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as tdist

from ..io import resolve_device


def setup(device: str) -> tuple[int, int, torch.device]:
    """(rank, world_size, device); initialises the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, resolve_device(device)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    dev = resolve_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    if not tdist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        tdist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=10))
    return rank, world, dev


def is_distributed() -> bool:
    return tdist.is_available() and tdist.is_initialized() and tdist.get_world_size() > 1


def broadcast_module(module: torch.nn.Module) -> None:
    if not is_distributed():
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            tdist.broadcast(t.data, src=0)


def all_reduce_mean(t: torch.Tensor) -> None:
    """Average a tensor over all ranks in place (no-op in a single process)."""
    if is_distributed():
        tdist.all_reduce(t)
        t /= tdist.get_world_size()


def average_buffer(t: torch.Tensor) -> None:
    """Tracked statistics (w_avg) are averaged too, so every rank holds the same model."""
    if is_distributed():
        tdist.all_reduce(t.data)
        t.data /= tdist.get_world_size()


def any_rank(flag: bool) -> bool:
    """True on every rank if it is true on any (so all ranks stop at the same step)."""
    if not is_distributed():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device="cuda" if tdist.get_backend() == "nccl" else "cpu")
    tdist.all_reduce(t)
    return bool(t.item() > 0)


def barrier() -> None:
    if is_distributed():
        tdist.barrier()
