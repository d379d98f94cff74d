"""The Ray executor: each cell is a Ray task with the spec's CPU/GPU needs.

The driver (``bench run --executor ray``) holds the results lock and has already done
the shared work; it submits one task per cell, forwards the progress events the tasks
send to a small actor to the same callback a local run uses, and collects the records.

A task whose worker dies (killed, out of memory, node lost) is retried by Ray up to
``max_retries`` times; each retry resumes the cell from its stage files and last
checkpoint. After the last attempt the driver writes a failed record with the reason,
so leaderboards show the cell as failed and ``--retry-failed`` reruns it. An exception
raised by the cell's code is not retried: run_cell already records the known ones, and
any other stops the run as it would locally.

Ray is imported here only, and only when this executor is asked for.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Sequence
from typing import Any

from dg2bench.errors import BenchError, SpecError
from dg2bench.executors import DEFAULT_MAX_RETRIES, CellJob
from dg2bench.executors.ray_task import RemoteCell, run_remote_cell, worker_device
from dg2bench.runtime.interrupt import raise_if_stopped
from dg2bench.runtime.progress import ProgressCallback, ProgressEvent
from dg2bench.settings import BenchmarkSettings
from dg2bench.store.results import ResultStore

INSTALL_HINT = "pip install -e '.[ray]'"
#: Seconds between two deliveries of progress events to the driver's callback.
POLL_SECONDS = 0.25


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise BenchError("--executor ray", "ray is not installed", INSTALL_HINT) from None
    return ray


class ProgressInbox:
    """A Ray actor that holds the progress events of every task until the driver drains them.

    A task's calls run in the order it made them (one caller, one thread), so a
    cell's events arrive in order.
    """

    def __init__(self) -> None:
        self._events: list[ProgressEvent] = []

    def put(self, event: ProgressEvent) -> None:
        """Keep ``event`` for the driver."""
        self._events.append(event)

    def drain(self) -> list[ProgressEvent]:
        """Every event kept since the last drain, oldest first."""
        events, self._events = self._events, []
        return events

    def flush(self) -> bool:
        """Returns once the caller's earlier ``put`` calls are kept."""
        return True


def run_cell_task(remote: RemoteCell, inbox: Any) -> dict[str, Any]:
    """The Ray task of one cell: run it on the GPUs Ray assigned, events to ``inbox``."""
    import ray

    def forward(event: ProgressEvent) -> None:
        inbox.put.remote(event)  # fire and forget: training never waits for the driver

    try:
        device = worker_device(remote.spec.benchmark.device, ray.get_gpu_ids())
        return run_remote_cell(remote, device, forward)
    finally:
        ray.get(inbox.flush.remote())


def died_record(job: CellJob, reason: str) -> dict[str, Any]:
    """The failed record of a cell whose task Ray gave up on (same header as run_cell's)."""
    inputs, cell = job.inputs, job.cell
    return {"cell": str(cell), "dataset": cell.dataset, "method": cell.method, "seed": cell.seed,
            "generator": inputs.generator_choice.resolved() if inputs.generator_choice else None,
            "split_manifest_sha256": inputs.split.manifest_hash, "split_counts": inputs.split.counts(),
            "provenance": inputs.provenance, "status": "failed", "reason": reason}


class RayExecutor:
    """Runs cells as Ray tasks on the cluster at ``address`` (a local one when ``None``).

    :param max_retries: extra attempts when a task's worker process dies.
    """

    def __init__(self, address: str | None = None, max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        if max_retries < 0:
            raise BenchError("--max-retries", f"must be >= 0, not {max_retries}", "use 0 (no retry) or e.g. 2")
        self.ray = import_ray()
        self.address = address
        self.max_retries = max_retries
        _check_reachable(address)

    def run(self, jobs: Sequence[CellJob], store: ResultStore,
            progress: ProgressCallback) -> Iterator[tuple[CellJob, dict[str, Any]]]:
        """Submit every job, then yield each with its record as the tasks finish."""
        if not jobs:
            return
        ray, bench = self.ray, jobs[0].inputs.spec.benchmark
        _check_device(bench)
        started = self._connect()
        refs: dict[Any, CellJob] = {}
        try:
            self._check_resources(bench)
            inbox = ray.remote(num_cpus=0)(ProgressInbox).remote()
            task = ray.remote(run_cell_task).options(num_cpus=bench.cpus_per_cell,
                                                     num_gpus=bench.gpus_per_cell,
                                                     max_retries=self.max_retries, retry_exceptions=False)
            refs = {task.remote(RemoteCell.from_inputs(job.cell, job.inputs, store), inbox): job for job in jobs}
            pending = list(refs)
            while pending:
                # Ctrl-C / SIGTERM: the finally below cancels the tasks (killing their
                # workers); their cells resume from the last checkpoint on the next run.
                raise_if_stopped(f"{len(pending)} Ray task(s) cancelled at their last checkpoint")
                ready, pending = ray.wait(pending, num_returns=1, timeout=POLL_SECONDS)
                for event in ray.get(inbox.drain.remote()):
                    progress(event)
                for ref in ready:
                    job = refs.pop(ref)
                    yield job, self._outcome(ref, job, store, progress)
        finally:
            # Only on an early exit (an error, Ctrl-C): no task may write after the lock is released.
            for ref in refs:
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()

    def _connect(self) -> bool:
        """Join (or start) the cluster; True when this call started the connection."""
        ray = self.ray
        if ray.is_initialized():
            return False
        try:
            # Workers' output would tear the progress bars: it stays in Ray's logs
            # (/tmp/ray/session_latest/logs on each node).
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"--address {self.address}" if self.address else "--executor ray"
            raise BenchError(where, f"cannot join a Ray cluster ({str(exc).splitlines()[0]})",
                             "start one with `ray start --head` and pass its address, or omit --address") from None
        return True

    def _check_resources(self, bench: BenchmarkSettings) -> None:
        """Refuse a cell that no node of the cluster could ever run (Ray would wait forever)."""
        total = self.ray.cluster_resources()
        for key, resource in (("cpus_per_cell", "CPU"), ("gpus_per_cell", "GPU")):
            have = total.get(resource, 0.0)
            wanted = getattr(bench, key)
            if wanted > have:
                raise SpecError(f"benchmark.{key}", f"is {wanted:g} but the Ray cluster has {have:g} {resource}s",
                                f"lower it (--set {key}=...) or add nodes with more {resource}s")

    def _outcome(self, ref: Any, job: CellJob, store: ResultStore, progress: ProgressCallback) -> dict[str, Any]:
        """The record of a finished task; a failed record written here when Ray gave up on it."""
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BenchError):
                raise cause from None
            raise
        except ray.exceptions.RayError as exc:
            attempts = self.max_retries + 1
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reason = (f"worker died {attempts} time{'s' if attempts > 1 else ''} "
                      f"({type(exc).__name__}: {detail}); stage files and checkpoint are kept: "
                      f"`bench run --retry-failed` resumes it")
            record = died_record(job, reason)
            store.write_record(job.cell, record)
            progress(ProgressEvent(str(job.cell), "done", 1, 1, message="failed"))
            return record


def _check_device(bench: BenchmarkSettings) -> None:
    """A CUDA device with no GPU per cell cannot work on Ray: say so before submitting."""
    if bench.device.startswith("cuda") and bench.gpus_per_cell <= 0:
        raise SpecError("benchmark.gpus_per_cell", f"is 0 but device is {bench.device!r}, so Ray would give "
                        "each cell no GPU", "set gpus_per_cell = 1 (0.5 shares a GPU by two cells)")


#: Seconds to wait for a TCP answer from ``--address`` before giving up.
CONNECT_SECONDS = 5.0


def _check_reachable(address: str | None) -> None:
    """Refuse at once an explicit ``HOST:PORT`` (or ``ray://HOST:PORT``) that nothing answers on.

    Ray itself retries an unreachable address for minutes, printing warnings, and only
    after the driver's shared work; a plain TCP connection says it in seconds.
    """
    if not address or address in ("auto", "local"):
        return
    scheme, sep, rest = address.partition("://")
    if sep and scheme != "ray":
        return                                          # another client scheme: Ray's to resolve
    host, sep, port = (rest if sep else address).rstrip("/").rpartition(":")
    if not sep or not port.isdigit() or (":" in host and not host.startswith("[")):
        raise BenchError("--address", f"{address!r} is not HOST:PORT",
                         "pass e.g. 10.0.0.5:6379, [::1]:6379, ray://HOST:10001 or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise BenchError(f"--address {address}", f"cannot join a Ray cluster (nothing answers there: "
                         f"{exc.strerror or exc})", "start one with `ray start --head` and pass the address it "
                         "prints, or omit --address for a local cluster") from None
