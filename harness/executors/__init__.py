"""Executors: where the planned cells of a run execute.

The runner does the shared work (lock, run files, splits and manifests, the real-image
feature cache, per-cell config checks) and hands the cells still to run to an
executor as :class:`CellJob` s. ``local`` runs them one after another in this process;
``ray`` runs each as a Ray task (``dg2bench.executors.ray_cluster``, imported only when
asked for, so the core never needs Ray).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from dg2bench.errors import BenchError
from dg2bench.run.cell import CellInputs
from dg2bench.runtime.progress import ProgressCallback
from dg2bench.store.results import CellId, ResultStore

EXECUTORS = ("local", "ray")
#: Extra attempts Ray makes when a cell's worker process dies (``--max-retries``).
DEFAULT_MAX_RETRIES = 2


@dataclasses.dataclass(frozen=True)
class CellJob:
    """One cell to run and everything it reads (``inputs`` as the local run builds them)."""

    cell: CellId
    inputs: CellInputs


class Executor(Protocol):
    """Runs cell jobs and yields each job with its final record as the cells finish.

    Every yielded record has already been written to ``store`` (a record with
    ``status = "failed"`` and a ``reason`` for a cell that could not finish). An
    executor never takes the results lock: the runner holds it for the whole run.
    """

    def run(self, jobs: Sequence[CellJob], store: ResultStore,
            progress: ProgressCallback) -> Iterator[tuple[CellJob, dict[str, Any]]]:
        """Run ``jobs``; see the class docstring."""
        ...


def get_executor(name: str, address: str | None = None, max_retries: int = DEFAULT_MAX_RETRIES) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``).

    :param address: the Ray cluster to join (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``);
        ``None`` joins the local one or starts one.
    :param max_retries: extra attempts when a Ray worker dies.
    :raises BenchError: an unknown name, options that only Ray takes, or Ray not installed.
    """
    if name == "local":
        if address is not None:
            raise BenchError("--address", "only applies to --executor ray", "add --executor ray or drop --address")
        from dg2bench.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from dg2bench.executors.ray_cluster import RayExecutor

        return RayExecutor(address=address, max_retries=max_retries)
    raise BenchError("--executor", f"unknown executor {name!r}", f"use one of: {', '.join(EXECUTORS)}")
