"""Several processes, one run: the little DistributedDataParallel plumbing the trainer needs.

Under ``torchrun`` (``studio train --gpus N``) every process runs the same :class:`Trainer` on its
share of each batch. Instead of wrapping the networks in ``DistributedDataParallel`` the trainer
and the losses call these helpers at the few points where the processes must agree: the first
weights (:func:`broadcast`), gradients after each phase (:func:`average_gradients`), statistics
that steer training (:func:`average_`, :func:`gather`), and a final check (:func:`in_sync`).

With one process (no process group) every helper is a no-op or the identity, so the same code
runs for ``studio train`` on one device.
"""

from __future__ import annotations

from typing import Iterable

import torch


def process_info() -> tuple[int, int]:
    """(this process's rank, number of processes): (0, 1) without a process group."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _world() -> int:
    return process_info()[1]


def broadcast(modules: Iterable[torch.nn.Module]) -> None:
    """Rank 0's parameters and buffers to every process."""
    if _world() == 1:
        return
    for module in modules:
        for t in list(module.parameters()) + list(module.buffers()):
            torch.distributed.broadcast(t.data, src=0)


def average_(tensor: torch.Tensor) -> torch.Tensor:
    """Replace ``tensor`` (in place) by its mean over the processes; returns it."""
    world = _world()
    if world > 1:
        torch.distributed.all_reduce(tensor)
        tensor /= world
    return tensor


def gather(tensor: torch.Tensor) -> torch.Tensor:
    """Every process's ``tensor`` concatenated along dim 0 (rank order)."""
    world = _world()
    if world == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world)]
    torch.distributed.all_gather(parts, tensor)
    return torch.cat(parts)


def average_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Average the gradients of ``params`` over the processes (one all-reduce; NaN/inf made finite)."""
    world = _world()
    if world == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.flatten() for g in grads])
    torch.distributed.all_reduce(flat)
    flat /= world
    torch.nan_to_num_(flat, nan=0, posinf=1e5, neginf=-1e5)
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def in_sync(modules: Iterable[torch.nn.Module]) -> bool:
    """True when every process holds the same parameters and buffers (always True for one process)."""
    world = _world()
    if world == 1:
        return True
    with torch.no_grad():
        sums = torch.stack([t.detach().double().sum() for m in modules
                            for t in list(m.parameters()) + list(m.buffers())])
        parts = [torch.empty_like(sums) for _ in range(world)]
        torch.distributed.all_gather(parts, sums)
    return all(torch.equal(parts[0], part) for part in parts[1:])


__all__ = ["process_info", "broadcast", "average_", "gather", "average_gradients", "in_sync"]
