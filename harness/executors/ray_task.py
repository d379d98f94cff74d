"""What a Ray worker does for one cell: rebuild the cell's inputs where it runs, then run it.

The driver ships a small :class:`RemoteCell` (the resolved spec, the plugin classes the
driver validated, the split's manifest hash), never images or networks: the worker
reads the data and writes the cell's folder through the shared filesystem, so both
must be at the same paths on every node. Nothing here imports Ray.
"""

from __future__ import annotations

import dataclasses
import math
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from dg2bench import __version__
from dg2bench.data.loading import load_split_images
from dg2bench.data.split import Split
from dg2bench.errors import BenchError, DataError
from dg2bench.metrics.quality import QualityScorer
from dg2bench.run.cell import CellInputs, run_cell
from dg2bench.runtime.device import prepare_device, resolve_device
from dg2bench.runtime.progress import ProgressCallback
from dg2bench.spec import PluginChoice, Spec
from dg2bench.store.results import CellId, ResultStore

SHARED_FS_HINT = ("every Ray node must see the data and the results folder at the same path (docs/running.md: "
                  "'On several GPUs or a cluster')")


@dataclasses.dataclass(frozen=True)
class RemoteCell:
    """A cell as shipped to a worker: picklable and small (images are reloaded there).

    Plugin classes travel by reference (module + name), so the worker imports the same
    code the driver validated; a third-party plugin must be installed on every node.
    """

    cell: CellId
    spec: Spec
    dataset_cls: type
    generator_cls: type | None
    generator_choice: PluginChoice | None
    classifier_classes: dict[str, type]
    provenance: dict[str, Any]
    manifest_hash: str
    results: str
    quality: bool

    @classmethod
    def from_inputs(cls, cell: CellId, inputs: CellInputs, store: ResultStore) -> "RemoteCell":
        """The remote form of a cell the runner prepared for ``store``."""
        return cls(cell, inputs.spec, type(inputs.split.dataset), inputs.generator_cls, inputs.generator_choice,
                   dict(inputs.classifier_classes), dict(inputs.provenance), inputs.split.manifest_hash,
                   str(store.root.resolve()), inputs.scorer is not None)


def worker_device(spec_device: str, gpu_ids: Sequence[Any]) -> torch.device:
    """The device of a cell on a worker that Ray gave ``gpu_ids``.

    Ray makes the GPUs it assigns visible as ``cuda:0...``, so any CUDA request means
    ``cuda``; with no GPU assigned, ``auto`` means CPU (Ray does not hide a node's
    GPUs from a task that asked for none, and using them would overbook them).
    """
    if spec_device == "cpu" or (not gpu_ids and spec_device == "auto"):
        return torch.device("cpu")
    if not gpu_ids:
        raise BenchError("gpus_per_cell", f"is 0 but the cell asks for device {spec_device!r}",
                         "set gpus_per_cell = 1 in [benchmark] (or --set gpus_per_cell=1)")
    return resolve_device("cuda")


def cell_threads(cpus_per_cell: float) -> int:
    """Torch threads of a cell that reserved ``cpus_per_cell`` cores (Ray's OMP rule)."""
    return max(1, math.floor(cpus_per_cell))


def run_remote_cell(remote: RemoteCell, device: torch.device, progress: ProgressCallback) -> dict[str, Any]:
    """Rebuild the inputs of ``remote`` on this node and run (or resume) the cell.

    :raises DataError: this node sees another split than the driver did (other data).
    :raises BenchError: this node runs another dg2bench version than the driver.
    """
    spec, cell = remote.spec, remote.cell
    if __version__ != remote.provenance.get("dg2bench", __version__):
        raise BenchError(f"node {platform.node()}", f"runs dg2bench {__version__}, the driver "
                         f"{remote.provenance['dg2bench']}", "install the same version on every Ray node")
    torch.set_num_threads(cell_threads(spec.benchmark.cpus_per_cell))
    prepare_device(device)
    choice = next(d for d in spec.datasets if d.label == cell.dataset)
    dataset = remote.dataset_cls(choice.options, choice.root)
    dataset.check_root()
    split = Split(dataset, dataset.build_split(spec.benchmark.split_seed))
    if split.manifest_hash != remote.manifest_hash:
        raise DataError(str(choice.root), f"gives another split on node {platform.node()} than on the driver",
                        SHARED_FS_HINT)
    store = ResultStore(remote.results)
    scorer = QualityScorer(device, Path(remote.results) / "cache" / "features", spec.metrics) \
        if remote.quality else None
    inputs = CellInputs(spec, split, load_split_images(split, spec.benchmark.image_size), remote.generator_cls,
                        remote.generator_choice, remote.classifier_classes, device, scorer, remote.provenance)
    return run_cell(inputs, cell, store, progress)
