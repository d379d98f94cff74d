"""Running a trained generator network in bounded-memory chunks, for ``generate``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


@torch.no_grad()
def generate_in_chunks(net: nn.Module, n: int, chunk: int, image_size: int,
                       make_input: Callable[[int, int, torch.device], torch.Tensor]) -> torch.Tensor:
    """Run ``net`` on ``n`` inputs, ``chunk`` at a time, in eval mode; return CPU float.

    :param make_input: ``(start, count, device) -> input batch`` for the chunk that
        begins at index ``start``.
    :return: ``(n, 3, S, S)`` float32 on CPU, clamped to [-1, 1].
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()  # batch-norm nets must use their running statistics, not the chunk's
    try:
        outs = [net(make_input(start, min(chunk, n - start), device)).float().clamp(-1, 1).cpu()
                for start in range(0, n, max(1, chunk))]
    finally:
        net.train(was_training)
    if not outs:
        return torch.empty(0, 3, image_size, image_size)
    return torch.cat(outs, 0)


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    """Switch gradients of ``nets`` on or off (off while the other player steps; saves work)."""
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)
