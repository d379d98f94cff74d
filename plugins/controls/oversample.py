"""``oversample``: random copies of the real training defects (class re-balancing).

The control for "more defect samples, nothing new": the same number of extra defect
images as a generator adds, each a copy of a real training defect drawn uniformly with
replacement (torch's seeded global RNG). A method that does not beat it gains nothing
from its images that re-balancing the classes would not give.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from dg2bench import hookimpl
from dg2bench.plugins.controls.base import TrainingFreeControl


class Oversample(TrainingFreeControl):
    """Copies of real training defects, drawn with replacement."""

    name: ClassVar[str] = "oversample"
    summary: ClassVar[str] = "control: random copies of the real training defects (re-balancing)"
    kind: ClassVar[str] = "unconditional"

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` copies of randomly drawn real training defects."""
        return self.real_defects()[self.pick(n)]


@hookimpl
def register_generators(register) -> None:
    """Register :class:`Oversample`."""
    register(Oversample)
