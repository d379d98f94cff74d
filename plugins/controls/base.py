"""What the training-free controls share: hyperparameters, no networks, no training."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from dg2bench import Generator, RealTrainingData, TrainPlan, option


@dataclasses.dataclass(frozen=True)
class ControlHyperparameters:
    """A control trains nothing.

    :ivar batch_size: images made per ``generate`` chunk.
    :ivar epochs: always 0 (kept for the common contract).
    """

    batch_size: int = option(64, minimum=1)
    epochs: int = 0


class TrainingFreeControl(Generator):
    """Base of the controls: keeps the real training data, has no networks, never steps."""

    needs_training: ClassVar[bool] = False
    Hyperparameters: ClassVar[type] = ControlHyperparameters
    presets: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {}, "small": {}, "paper": {}}

    def __init__(self, hparams: ControlHyperparameters, image_size: int) -> None:
        super().__init__(hparams, image_size)
        self.data: RealTrainingData | None = None

    def prepare(self, data: RealTrainingData) -> None:
        """Keep the real training images (the control draws from them)."""
        self.data = data

    def networks(self) -> dict[str, nn.Module]:
        """None: nothing is learned."""
        return {}

    def setup(self, plan: TrainPlan) -> None:
        """Nothing to set up, nothing to declare."""

    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """Never called (``needs_training`` is False)."""
        raise RuntimeError(f"{self.name} trains nothing")

    def real_defects(self) -> torch.Tensor:
        """The real training defects as float ``[-1, 1]``; raises if :meth:`prepare` was not called."""
        if self.data is None or len(self.data.defect) == 0:
            raise ValueError(f"{self.name} needs the real training defects (prepare was not called)")
        return self.data.defect.float() / 127.5 - 1.0

    def pick(self, n: int) -> torch.Tensor:
        """``n`` random indices into the real training defects (torch's seeded global RNG)."""
        return torch.randint(0, len(self.data.defect), (n,))
