"""The classifier contract: the defect recogniser trained on real + generated images."""

from __future__ import annotations

import abc
import math

import torch

from dg2bench.contracts.trainable import Trainable

#: Class indices used everywhere: 0 = defect-free, 1 = defect.
DEFECT_FREE, DEFECT = 0, 1


class Classifier(Trainable):
    """A two-class image classifier (0 = defect-free, 1 = defect).

    Training batches are mappings with ``"images"`` (float ``(B, 3, S, S)`` in
    ``[-1, 1]``) and ``"labels"`` (int64 ``(B,)``) on the plan's device.
    """

    def steps_per_epoch(self, n_images: int) -> int:
        """Steps in one pass over ``n_images`` training images."""
        return max(1, math.ceil(n_images / self.batch_size))

    @abc.abstractmethod
    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(N, 2)`` on CPU for float images ``(N, 3, S, S)`` in ``[-1, 1]``."""
