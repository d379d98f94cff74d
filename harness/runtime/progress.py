"""Progress events: how training, generation and scoring report without printing.

The core calls a :data:`ProgressCallback`; the CLI renders the events with rich, and
tests collect them in a list. Nothing below the CLI prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class ProgressEvent:
    """One progress update.

    :param cell: the cell id (``"crackforest/dg2gan/seed0"``).
    :param stage: what runs (``"train"``, ``"generate"``, ``"score"``, ``"classify:resnet34"``).
    :param done: units done so far (steps or images).
    :param total: units in all.
    :param losses: mean losses since the previous event, when training.
    :param images_per_second: throughput since the previous event, when training.
    :param message: a short note (``"resumed from step 40"``, ``"complete"``).
    """

    cell: str
    stage: str
    done: int
    total: int
    losses: dict[str, float] | None = None
    images_per_second: float | None = None
    message: str | None = None


ProgressCallback = Callable[[ProgressEvent], None]


def ignore_progress(event: ProgressEvent) -> None:
    """A callback that drops every event (the default)."""


def resumed_at(progress: ProgressCallback, cell: str, stage: str, total: int) -> Callable[[int], None]:
    """An ``on_resume(step)`` for the training loop that reports ``resumed from step <step> of <total>``."""

    def report(step: int) -> None:
        progress(ProgressEvent(cell, stage, step, total, message=f"resumed from step {step} of {total} (checkpoint)"))

    return report
