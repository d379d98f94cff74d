"""The local executor: every cell in this process, one after another (the default)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dg2bench.executors import CellJob
from dg2bench.run.cell import run_cell
from dg2bench.runtime.interrupt import RunInterrupted, raise_if_stopped
from dg2bench.runtime.progress import ProgressCallback
from dg2bench.store.results import ResultStore


class LocalExecutor:
    """Runs each job with :func:`dg2bench.run.cell.run_cell` on the inputs the runner built."""

    def run(self, jobs: Sequence[CellJob], store: ResultStore,
            progress: ProgressCallback) -> Iterator[tuple[CellJob, dict[str, Any]]]:
        """Run ``jobs`` in order; an unexpected error stops the run (the cell stays partial).

        :raises RunInterrupted: on SIGINT/SIGTERM, naming the cell and what was saved.
        """
        for job in jobs:
            raise_if_stopped(f"stopped before {job.cell}")
            try:
                record = run_cell(job.inputs, job.cell, store, progress)
            except RunInterrupted as exc:
                raise RunInterrupted(exc.signum, f"{job.cell}: {exc.where}") from None
            yield job, record
