"""The forward passes of a two-way translation step (CycleGAN, DG2GAN), joined into few.

A translation step needs up to six generator passes per step: ``G(n)``, ``F(d)``, the
reconstructions ``F(G(n))`` and ``G(F(d))``, and with an identity loss ``G(d)`` and
``F(n)``. Their generators (and PatchGAN discriminators) treat each sample alone:
instance norm without running statistics, no batch norm, no dropout. So a pass over
the concatenation of several batches gives, sample for sample, what separate passes
give, with fewer and larger kernel launches; :func:`cycle_passes` needs three passes
(``G``, ``F``, ``G``) where a plain step makes four or six. On a GPU at the paper's
small batches the step is launch-bound, so fewer passes is faster; on a CPU it is
about even. The numbers are the same up to the summation order a convolution kernel
picks for a batch size (exactly the same on the CPU in the tests).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


def joined_forward(net: nn.Module, *batches: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``net`` on each of ``batches``, in one pass over their concatenation.

    Only for nets that treat each sample alone (no batch statistics): the outputs
    then equal ``tuple(net(b) for b in batches)``.
    """
    if len(batches) == 1:
        return (net(batches[0]),)
    out = net(torch.cat(batches, 0))
    return out.split([b.shape[0] for b in batches], 0)


class CyclePasses(NamedTuple):
    """The outputs of one translation step's generator passes.

    ``fake_d = G(n)``, ``fake_n = F(d)``, ``rec_n = F(G(n))``, ``rec_d = G(F(d))``;
    ``idt_d = G(d)`` and ``idt_n = F(n)`` are ``None`` without an identity loss.
    """

    fake_d: torch.Tensor
    fake_n: torch.Tensor
    rec_n: torch.Tensor
    rec_d: torch.Tensor
    idt_d: torch.Tensor | None
    idt_n: torch.Tensor | None


def cycle_passes(G: nn.Module, F: nn.Module, n: torch.Tensor, d: torch.Tensor,
                 identity: bool = False) -> CyclePasses:
    """All generator outputs of a step in three passes: ``G``, then ``F``, then ``G``.

    :param G: the generator from defect-free images ``n`` to defect images ``d``.
    :param F: the generator from ``d`` back to ``n``.
    :param identity: also compute ``G(d)`` and ``F(n)`` (in the same passes).
    """
    if identity:
        fake_d, idt_d = joined_forward(G, n, d)
        fake_n, rec_n, idt_n = joined_forward(F, d, fake_d, n)
    else:
        (fake_d,), idt_d, idt_n = joined_forward(G, n), None, None
        fake_n, rec_n = joined_forward(F, d, fake_d)
    return CyclePasses(fake_d, fake_n, rec_n, G(fake_n), idt_d, idt_n)
