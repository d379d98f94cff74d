"""A one-parameter generator for tests that need a real plugin but no real training.

It learns a scalar towards the mean defect pixel and generates constant images of it.
Tests subclass it to break one thing (a NaN loss, a killed worker, a faulty output).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from dg2bench import Generator, TrainingState


@dataclasses.dataclass(frozen=True)
class ScalarHyperparameters:
    """Batch and epochs only; subclasses add their switches."""

    batch_size: int = 2
    epochs: int = 3


class ScalarGenerator(Generator):
    """Learns one scalar with SGD; ``generate`` returns constant images of ``tanh`` of it."""

    name = "scalar"
    summary = "test generator"
    kind = "unconditional"
    Hyperparameters = ScalarHyperparameters
    presets = {"tiny": {}, "paper": {}}
    lr = 0.1

    def __init__(self, hparams, image_size):
        super().__init__(hparams, image_size)
        self.net = nn.Linear(1, 1)

    def networks(self):
        return {"net": self.net}

    def setup(self, plan):
        self.opt = torch.optim.SGD(self.net.parameters(), lr=self.lr)
        return TrainingState(optimizers={"opt": self.opt})

    def loss(self, batch, step):
        """The step's loss (override to break it)."""
        return ((self.net.bias - batch["defect"].mean()) ** 2).sum()

    def train_step(self, batch, step):
        loss = self.loss(batch, step)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach()}

    @torch.no_grad()
    def generate(self, n, source):
        return torch.full((n, 3, self.image_size, self.image_size), torch.tanh(self.net.bias).item())
