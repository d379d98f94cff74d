"""The "constant, then linear decay to zero" learning-rate schedule of CycleGAN.

The DG2GAN paper trains DG2GAN and CycleGAN with lr constant for 100 epochs, then
linearly decayed to zero over 100 epochs: the ``linear`` policy of the CycleGAN
reference code (``models/networks.py: get_scheduler``), stepped once per epoch.
"""

from __future__ import annotations

import math

import torch


class LinearDecay:
    """LR multiplier per epoch: 1 for ``n_constant`` epochs, then down by ``1/(n_decay+1)``.

    ``factor(e) = 1 - max(0, e + 1 - n_constant) / (n_decay + 1)``, the reference
    formula with ``epoch_count = 1``. A callable object (not a lambda) so the scheduler
    state stays picklable.
    """

    def __init__(self, n_constant: int, n_decay: int) -> None:
        self.n_constant = n_constant
        self.n_decay = n_decay

    def __call__(self, epoch: int) -> float:
        """The multiplier for ``epoch`` (0-based), never below 0."""
        return max(0.0, 1.0 - max(0, epoch + 1 - self.n_constant) / float(self.n_decay + 1))


def linear_decay_scheduler(optimizer: torch.optim.Optimizer, epochs: float,
                           decay_fraction: float) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-epoch scheduler that decays over the last ``decay_fraction`` of ``epochs``.

    ``decay_fraction = 0.5`` with 200 epochs gives the paper's 100 + 100.
    """
    if not 0.0 <= decay_fraction <= 1.0:
        raise ValueError(f"decay_fraction must be in [0, 1], not {decay_fraction}")
    total = max(1, math.ceil(epochs))
    n_decay = round(total * decay_fraction)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, LinearDecay(total - n_decay, n_decay))


def steps_epoch_end(step: int, steps_per_epoch: int) -> bool:
    """Whether ``step`` (0-based) is the last step of an epoch, when schedulers step."""
    return (step + 1) % max(1, steps_per_epoch) == 0
