"""Compose a benchmark run: splits, cells (dataset × method × seed), the baseline.

The runner knows no method by name: generators, classifiers and datasets come from
the registry the spec was validated against.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from dg2bench import __version__
from dg2bench.contracts.plugin_manager import Registry
from dg2bench.data.image_folders import save_png_folder
from dg2bench.data.loading import build_split, load_split_images
from dg2bench.errors import SpecError, UnsafeCheckpointError
from dg2bench.executors import CellJob, Executor
from dg2bench.executors.local import LocalExecutor
from dg2bench.metrics.quality import QualityScorer
from dg2bench.run.cell import BASELINE, CellInputs
from dg2bench.runtime.device import prepare_device, resolve_device
from dg2bench.runtime.progress import ProgressCallback, ignore_progress
from dg2bench.settings import settings_as_dict
from dg2bench.spec import DatasetChoice, PluginChoice, Spec
from dg2bench.store.atomic import write_json_atomic, write_text_atomic
from dg2bench.store.cell_config import (
    CONFIG_NAME,
    config_digest,
    describe_changes,
    same_work,
    without_location,
)
from dg2bench.store.checkpoints import check_folder_checkpoints
from dg2bench.store.results import CellId, ResultStore


@dataclasses.dataclass(frozen=True)
class PlannedCell:
    """A cell to run and the generator it trains (``None`` for the baseline)."""

    cell: CellId
    dataset: DatasetChoice
    generator: PluginChoice | None


@dataclasses.dataclass
class RunSummary:
    """What one ``bench run`` did."""

    results: Path
    ran: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    skipped_failed: list[str] = dataclasses.field(default_factory=list)  # of skipped: failed in an earlier run
    failed: list[str] = dataclasses.field(default_factory=list)
    #: Why each cell of ``failed`` and ``skipped_failed`` failed (its record's one-line reason).
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)


#: Real training defects saved per dataset for reports (beside the fakes they are compared with).
SAMPLE_IMAGES = 16


def plan_cells(spec: Spec, only: Sequence[str] = ()) -> list[PlannedCell]:
    """Every cell of ``spec``; ``only`` keeps the named generators (and ``baseline``)."""
    known = {g.label for g in spec.generators} | ({BASELINE} if spec.benchmark.baseline else set())
    unknown = sorted(set(only) - known)
    if unknown:
        raise SpecError("--only", f"no method named {', '.join(unknown)} in {spec.path.name}",
                        f"choose from: {', '.join(sorted(known))}")
    methods: list[PluginChoice | None] = [None] if spec.benchmark.baseline else []
    methods += list(spec.generators)
    cells = []
    for dataset in spec.datasets:
        for method in methods:
            label = BASELINE if method is None else method.label
            if only and label not in only:
                continue
            for seed in spec.seeds:
                cells.append(PlannedCell(CellId(dataset.label, label, seed), dataset, method))
    return cells


def cell_config(spec: Spec, planned: PlannedCell, split_hash: str, code: dict[str, str]) -> dict[str, Any]:
    """The configuration a cell's results depend on (not seeds count, not device).

    :param split_hash: the split's manifest hash (a changed labelling rule changes it
        even when no option does).
    :param code: versions of dg2bench and of the plugins the cell uses.
    """
    return {"image_size": spec.benchmark.image_size, "split_seed": spec.benchmark.split_seed,
            "split_manifest_sha256": split_hash, "code": code,
            "dataset": planned.dataset.resolved(),
            "generator": planned.generator.resolved() if planned.generator else None,
            "classifiers": {c.label: c.resolved() for c in spec.classifiers},
            "augmentation": augmentation_config(settings_as_dict(spec.augmentation)),
            "metrics": settings_as_dict(spec.metrics)}


def augmentation_config(augmentation: dict[str, Any]) -> dict[str, Any]:
    """``[augmentation]`` as a cell's configuration holds it.

    The default classifier schedule (``epochs``, the only one before it became an
    option) is left out, so cells run before it existed still match their config.
    """
    if augmentation.get("classifier_schedule", "epochs") == "epochs":
        return {key: value for key, value in augmentation.items() if key != "classifier_schedule"}
    return dict(augmentation)


ON_CHANGE = ("refuse", "restart")


def check_cell_config(store: ResultStore, planned: PlannedCell, config: dict[str, Any],
                      on_change: str = "refuse") -> str | None:
    """Make sure ``planned``'s folder holds work of exactly ``config`` (or nothing yet).

    A cell folder (with its checkpoints, stages and record) made under another
    configuration or plugin version is never reused silently: ``on_change="refuse"``
    raises naming what changed; ``"restart"`` moves the old folder below
    ``superseded/`` (nothing is deleted) and returns a note saying so.
    """
    folder = store.cell_dir(planned.cell)
    path = folder / CONFIG_NAME
    digest = config_digest(config)
    note = None
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if old.get("sha256") == digest or same_work(old.get("config") or {}, config):
            return None     # a moved data folder (another clone) is the same work: the file stays as made
        changes = describe_changes(without_location(old.get("config") or {}), without_location(config))
        if on_change == "refuse":
            raise SpecError(str(path), f"cell {planned.cell} was run with a different configuration ({changes})",
                            "rerun with --on-change restart to move the old cell aside and start it afresh, "
                            "or use a fresh --results folder")
        moved = store.supersede(planned.cell)
        note = f"{planned.cell}: configuration changed ({changes}); old cell moved to {moved}, starting afresh"
        store.cell_dir(planned.cell)
    write_json_atomic(path, {"sha256": digest, "config": config})
    return note


def check_cell_checkpoints(store: ResultStore, planned: PlannedCell, on_change: str = "refuse") -> str | None:
    """Make sure every ``.pt`` file in ``planned``'s folder loads without a full pickle load.

    Checked before any cell runs, like the configuration, so that a refusal stops the run
    before it starts and ``--on-change restart`` (the refusal's advice) can act on it:
    ``"refuse"`` raises :class:`~dg2bench.errors.UnsafeCheckpointError`; ``"restart"``
    moves the folder below ``superseded/`` (nothing is deleted, nothing unpickled) and
    returns a note saying so. Call it before :func:`check_cell_config`, which then writes
    the new folder's ``config.json``.
    """
    folder = store.cell_dir(planned.cell)
    try:
        check_folder_checkpoints(folder)
    except UnsafeCheckpointError as exc:
        if on_change == "refuse":
            raise
        moved = store.supersede(planned.cell)
        store.cell_dir(planned.cell)
        refused = Path(exc.path).relative_to(folder).as_posix()
        return f"{planned.cell}: {refused} needs pickle to load; old cell moved to {moved}, starting afresh"
    return None


def will_run(store: ResultStore, cell: CellId, retry_failed: bool) -> bool:
    """True unless ``cell`` is complete (and not a failed one that ``retry_failed`` reruns)."""
    if not store.is_complete(cell):
        return True
    return retry_failed and store.read_record(cell).get("status") == "failed"


def _provenance(registry: Registry, spec: Spec, planned: PlannedCell) -> dict[str, Any]:
    """Which package (and version) provided each plugin a cell uses."""
    used = [("dataset", planned.dataset.plugin)] + [("classifier", c.plugin) for c in spec.classifiers]
    if planned.generator is not None:
        used.append(("generator", planned.generator.plugin))
    out = {"dg2bench": __version__, "torch": torch.__version__}
    for kind, name in used:
        info = registry.get(kind, name)
        out[f"{kind}:{name}"] = f"{info.package} {info.version}"
    return out


def environment_info(registry: Registry, device: torch.device) -> dict[str, Any]:
    """Versions, device and loaded plugins, recorded with every run."""
    info = {"dg2bench": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "platform": platform.platform(), "device": str(device),
            "plugins": [{"kind": p.kind, "name": p.name, "package": p.package, "version": p.version,
                         "builtin": p.builtin} for p in registry.all()]}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def write_run_files(spec: Spec, store: ResultStore, registry: Registry, device: torch.device) -> None:
    """Write the resolved spec (TOML) and the environment record next to the results.

    ``specs/<name>.toml`` and ``specs/<name>.run.json`` keep every spec run into this
    folder (two datasets' specs may share one); ``spec.resolved.toml`` and
    ``run.json`` are the last run's.
    """
    text = spec.resolved_toml()
    environment = {"spec": str(spec.path), **environment_info(registry, device)}
    specs = store.root / "specs"
    for spec_path, run_path in ((store.root / "spec.resolved.toml", store.root / "run.json"),
                                (specs / f"{spec.name}.toml", specs / f"{spec.name}.run.json")):
        write_text_atomic(spec_path, text)
        write_json_atomic(run_path, environment)


def run_benchmark(spec: Spec, registry: Registry, store: ResultStore, only: Sequence[str] = (),
                  progress: ProgressCallback = ignore_progress, retry_failed: bool = False,
                  on_change: str = "refuse", on_note: Callable[[str], None] = lambda note: None,
                  executor: Executor | None = None) -> RunSummary:
    """Run every incomplete cell of ``spec`` into ``store`` (holding its lock).

    The shared work (run files, splits and manifests, real-image features, config
    checks) is done here, once; then ``executor`` runs the cells (in this process by
    default). Every cell's configuration, and every checkpoint a cell to run would load,
    is checked before any cell runs (see :func:`check_cell_config` and
    :func:`check_cell_checkpoints`), so a refused change or checkpoint stops the run
    before it starts.

    :param retry_failed: also rerun cells whose record says they failed (their stage
        files are kept, so finished stages are reused).
    :param on_change: ``refuse`` or ``restart`` a cell whose folder holds another configuration
        or a checkpoint that needs a full pickle load.
    :param on_note: called with one-line notes (a stale lock taken over, a cell restarted).
    :raises RunInterrupted: on SIGINT/SIGTERM, naming the cell and what was saved.
    """
    device = resolve_device(spec.benchmark.device, spec.device_source)
    prepare_device(device)
    planned = plan_cells(spec, only)
    summary = RunSummary(store.root)
    with store.lock() as stale:
        if stale:
            on_note(f"took over the lock of a run that was killed (pid {stale.get('pid')} on {stale.get('host')}, "
                    f"started {stale.get('started')}); its finished cells and checkpoints are kept")
        write_run_files(spec, store, registry, device)
        scorer = QualityScorer(device, store.root / "cache" / "features", spec.metrics) \
            if spec.metrics.quality else None
        classifiers = {c.label: registry.get("classifier", c.plugin).cls for c in spec.classifiers}
        splits = {d.label: build_split(d, registry, spec.benchmark.split_seed, spec.path)
                  for d in spec.datasets if any(item.dataset is d for item in planned)}
        images: dict[str, dict[str, torch.Tensor]] = {}
        provenances = {}
        jobs: list[CellJob] = []
        for item in planned:
            split, provenances[item.cell] = splits[item.dataset.label], _provenance(registry, spec, item)
            code = {k: v for k, v in provenances[item.cell].items() if k != "torch"}
            notes = []
            if will_run(store, item.cell, retry_failed):   # a skipped cell loads none of its files
                notes.append(check_cell_checkpoints(store, item, on_change))
            notes.append(check_cell_config(store, item, cell_config(spec, item, split.manifest_hash, code), on_change))
            for note in filter(None, notes):
                on_note(note)
        for item in planned:
            split, provenance = splits[item.dataset.label], provenances[item.cell]
            if store.is_complete(item.cell):
                failed_before = store.read_record(item.cell).get("status") == "failed"
                if not (retry_failed and failed_before):
                    summary.skipped.append(str(item.cell))
                    if failed_before:
                        summary.skipped_failed.append(str(item.cell))
                        summary.reasons[str(item.cell)] = _reason(store.read_record(item.cell))
                    continue
            if item.dataset.label not in images:
                split.write_manifest(store.root / "splits" / f"{item.dataset.label}.csv")
                images[item.dataset.label] = load_split_images(split, spec.benchmark.image_size)
                save_png_folder(images[item.dataset.label]["train_defect"][:SAMPLE_IMAGES],
                                store.root / "samples" / item.dataset.label / "real_defects")
            gen_cls = registry.get("generator", item.generator.plugin).cls if item.generator else None
            inputs = CellInputs(spec, split, images[item.dataset.label], gen_cls, item.generator, classifiers,
                                device, scorer, provenance)
            store.remove_stale_temporaries(item.cell)
            jobs.append(CellJob(item.cell, inputs))
        if scorer is not None:
            cache_real_features(scorer, jobs, progress)
        for job, record in (executor or LocalExecutor()).run(jobs, store, progress):
            (summary.failed if record["status"] != "complete" else summary.ran).append(str(job.cell))
            if record["status"] != "complete":
                summary.reasons[str(job.cell)] = _reason(record)
    return summary


def _reason(record: dict[str, Any]) -> str:
    """A failed record's reason as one line (records of older versions may lack one)."""
    lines = str(record.get("reason") or "no reason recorded").strip().splitlines()
    return lines[0] if lines else "no reason recorded"


def cache_real_features(scorer: QualityScorer, jobs: Sequence[CellJob], progress: ProgressCallback) -> None:
    """Compute the real-image features every scored cell compares with, once per split.

    Done before any cell runs, so that cells (possibly on other nodes) only read the
    cache and no two of them write one file.
    """
    done: set[str] = set()
    for job in jobs:
        split, images = job.inputs.split, job.inputs.images
        if job.inputs.generator_cls is None or split.manifest_hash in done:
            continue
        done.add(split.manifest_hash)
        # The key run_cell's QualityScorer.score_cell uses for the same images.
        scorer.real_features(images["train_defect"], f"{split.manifest_hash}|train_defect", job.cell.dataset,
                             progress)
