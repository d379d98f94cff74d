"""Run one cell: train a generator, generate and score fakes, train and test classifiers.

Each stage leaves a done-file in the cell folder; a rerun skips finished stages and
resumes an interrupted training from its checkpoint. The final ``record.json`` is
written last. A cell whose losses turn non-finite, whose plugin hands back output that breaks the
plugin contract, or whose plugin raises, records the reason (one line) and stops; the
runner goes on with the other cells.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from pathlib import Path
from typing import Any

import torch
from dg2bench.contracts.classifier import DEFECT, DEFECT_FREE
from dg2bench.contracts.contract import TRACEBACK_NAME, check_state, plugin_raised
from dg2bench.contracts.generator import Generator, RealTrainingData
from dg2bench.contracts.trainable import TrainPlan
from dg2bench.data.image_folders import load_png_folder, save_png_folder
from dg2bench.data.split import Split, to_unit_range
from dg2bench.errors import DataError, PluginContractError
from dg2bench.metrics.quality import QualityScorer
from dg2bench.run.classify import run_classifier
from dg2bench.run.generation import fake_source_order, generate_fakes, generate_fakes_and_masks
from dg2bench.run.training import (
    ImageBanks,
    NonFiniteLossError,
    place_model,
    seed_everything,
    set_up,
    speed_record,
    train,
)
from dg2bench.runtime.device import (
    peak_memory_mb,
    plan_speed_options,
    precision_name,
    reset_peak_memory,
)
from dg2bench.runtime.fault_points import fault_point
from dg2bench.runtime.interrupt import RunInterrupted, raise_if_stopped
from dg2bench.runtime.progress import (
    ProgressCallback,
    ProgressEvent,
    ignore_progress,
    resumed_at,
)
from dg2bench.spec import PluginChoice, Spec
from dg2bench.store.atomic import (
    torch_save_atomic,
    write_json_atomic,
    write_text_atomic,
)
from dg2bench.store.checkpoints import load_checkpoint
from dg2bench.store.results import CellId, ResultStore

BASELINE = "baseline"
#: Source images saved beside the first translated fakes (``fakes_sources/``), for reports.
SOURCE_SAMPLES = 8


@dataclasses.dataclass
class CellInputs:
    """What a cell reads: the spec, its split (images loaded once per dataset) and plugins."""

    spec: Spec
    split: Split
    images: dict[str, torch.Tensor]  # "train_defect_free", "train_defect", "test_defect_free", "test_defect"
    generator_cls: type | None
    generator_choice: PluginChoice | None
    classifier_classes: dict[str, type]
    device: torch.device
    scorer: QualityScorer | None
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)


def _write_losses_csv(path: Path, history: list[dict[str, float]]) -> None:
    keys = sorted({k for row in history for k in row if k != "step"})
    lines = [",".join(["step", *keys])]
    lines += [",".join([str(int(row["step"])), *(f"{row.get(k, float('nan')):.6g}" for k in keys)]) for row in history]
    write_text_atomic(path, "\n".join(lines) + "\n")


def _as_after_training(generator: Generator, plan: TrainPlan) -> None:
    """Give a generator whose training finished in an earlier process the state ``train`` leaves.

    The contract promises a plugin ``prepare``, then ``setup(plan)`` with its networks on
    the plan's device, before ``generate``, whether the cell runs fresh, resumes at any
    stage or is retried (the example of docs/plugins/tutorial.md keeps its device from
    ``setup``). The trained weights (and optimizer state, into what ``setup`` made) load after this.
    """
    place_model(generator, plan)
    set_up(generator, plan)


def training_masks(generator: Generator, images: dict[str, torch.Tensor], dataset: str) -> torch.Tensor | None:
    """The defect masks a generator that ``uses_masks`` trains with; None for the others.

    :raises DataError: when a defect training image has no mask (an all-False one): the
        cell fails with that reason, the others go on.
    """
    if not generator.uses_masks:
        return None
    masks, total = images.get("train_defect_mask"), len(images["train_defect"])
    have = 0 if masks is None else int(masks.flatten(1).any(1).sum())
    if have < total:
        raise DataError(f"datasets.{dataset}", f"generator {generator.name!r} trains on defect masks, but "
                        f"{total - have} of the {total} defect training images have none",
                        "use a dataset with masks (crackforest, magnetic-tile, mvtec, folder with masks_dir) "
                        "or leave this generator out for it")
    return masks


def _train_generator(inputs: CellInputs, cell: CellId, folder: Path, progress: ProgressCallback) -> tuple[Generator, dict]:
    choice, spec = inputs.generator_choice, inputs.spec
    size = spec.benchmark.image_size
    seed_everything(cell.seed)
    generator: Generator = inputs.generator_cls(choice.hparams, size)
    generator.prepare(RealTrainingData(inputs.images["train_defect_free"], inputs.images["train_defect"],
                                       inputs.images.get("train_defect_mask")))
    banks = {bank: inputs.images[f"train_{bank}"] for bank in generator.training_banks()}
    masks = training_masks(generator, inputs.images, cell.dataset)
    spe = generator.steps_per_epoch(len(inputs.images["train_defect_free"]), len(inputs.images["train_defect"]))
    steps, epochs = choice.training_length(spe) if generator.needs_training else (0, 0.0)
    plan = TrainPlan(image_size=size, total_steps=steps, steps_per_epoch=spe, epochs=epochs,
                     batch_size=generator.batch_size, device=inputs.device,
                     **plan_speed_options(inputs.device, spec.benchmark, choice.precision))
    done_path = folder / "train.json"
    weights_path = folder / "generator.pt"
    if done_path.exists():
        progress(ProgressEvent(str(cell), "train", steps, steps, message="finished in an earlier run; "
                               "loading generator.pt"))
        _as_after_training(generator, plan)   # trained in an earlier process: set up as train() leaves it
        generator.load_state_dict(load_checkpoint(weights_path, inputs.device))
        return generator, json.loads(done_path.read_text())
    reset_peak_memory(inputs.device)

    def on_log(step: int, losses: dict[str, float], rate: float) -> None:
        progress(ProgressEvent(str(cell), "train", step, steps, losses=losses, images_per_second=rate))

    outcome = train(generator, ImageBanks(banks, masks={} if masks is None else {"defect": masks}), plan, seed=cell.seed, checkpoint_path=folder / "checkpoint.pt",
                    checkpoint_every=spec.benchmark.checkpoint_every, log_every=spec.benchmark.log_every,
                    on_log=on_log, on_resume=resumed_at(progress, str(cell), "train", steps))
    weights = generator.state_dict()
    check_state(generator, weights)
    torch_save_atomic(weights_path, weights)
    _write_losses_csv(folder / "losses.csv", outcome.history)
    data_volume = sum(len(v) for v in banks.values())
    report = {
        "kind": generator.kind, "needs_training": generator.needs_training,
        "parameters": generator.parameter_count(),
        "parameters_inference": generator.parameter_count(inference_only=True),
        "size_mb": generator.parameter_megabytes(),
        "size_mb_inference": generator.parameter_megabytes(inference_only=True),
        "steps": outcome.steps, "steps_per_epoch": spe, "epochs": epochs, "batch_size": generator.batch_size,
        "data_volume": data_volume, "images_seen": outcome.images_seen,
        "train_seconds": outcome.wall_seconds, "images_per_second": outcome.images_per_second,
        "resumed_from_step": outcome.resumed_from_step, "amp_dtype": str(plan.amp_dtype),
        "precision": precision_name(plan.amp_dtype), **speed_record(plan, outcome),
        "final_losses": {k: v for k, v in (outcome.history[-1] if outcome.history else {}).items() if k != "step"},
        **peak_memory_mb(inputs.device),
    }
    write_json_atomic(done_path, report)
    (folder / "checkpoint.pt").unlink(missing_ok=True)
    return generator, report


#: Where a cell keeps the masks of a generator that makes them, one per fake, same names.
MASKS_FOLDER = "fakes_masks"


def _fakes(inputs: CellInputs, cell: CellId, generator: Generator, folder: Path,
           progress: ProgressCallback) -> tuple[torch.Tensor, dict]:
    # Scoring wants at least as many fakes as real images it compares them with; the
    # classifier gets exactly the spec's number (the first ones).
    n = max(inputs.spec.augmentation.fakes, len(inputs.images["train_defect"]))
    done_path, fake_dir = folder / "fakes.json", folder / "fakes"
    if done_path.exists():
        return load_png_folder(fake_dir), json.loads(done_path.read_text())
    fault_point("generate")
    seed_everything(10_000 + cell.seed)
    began = time.perf_counter()
    pool = inputs.images["train_defect_free"]
    order = fake_source_order(len(pool), n, cell.seed) if generator.kind == "translation" else None
    fakes, masks = generate_fakes_and_masks(generator, n, pool, inputs.device, cell=str(cell), progress=progress,
                                            source_order=order)
    save_png_folder(fakes, fake_dir)
    info = {"count": n, "for_training": inputs.spec.augmentation.fakes, "folder": "fakes",
            "seconds": time.perf_counter() - began,
            "source": "train defect-free images" if generator.kind == "translation" else "noise"}
    if masks is not None:   # fakes_masks/000000.png (white: defect) goes with fakes/000000.png
        save_png_folder(masks.expand(-1, 3, -1, -1).to(torch.uint8) * 255, folder / MASKS_FOLDER)
        info["masks_folder"] = MASKS_FOLDER
        info["mask_area"] = float(masks.float().mean())
    if order is not None:
        save_png_folder(pool[order[:SOURCE_SAMPLES]], folder / "fakes_sources")   # for reports: source beside fake
        # fakes/000000.png was translated from sources[0], and so on.
        items = inputs.split.select("train", DEFECT_FREE)
        info["sources"] = [items[k].id for k in order.tolist()]
        training = order[:inputs.spec.augmentation.fakes].tolist()
        info["source_images_used"] = {"all": len({items[k].source for k in order.tolist()}),
                                      "for_training": len({items[k].source for k in training})}
    write_json_atomic(done_path, info)
    return fakes, info


def _fakes_defect_free(inputs: CellInputs, cell: CellId, generator: Generator, folder: Path,
                       progress: ProgressCallback) -> tuple[torch.Tensor | None, dict]:
    """Table 8's fake defect-free images, made from the defect training images (or none)."""
    n = inputs.spec.augmentation.fakes_defect_free
    done_path, fake_dir = folder / "fakes_defect_free.json", folder / "fakes_defect_free"
    if done_path.exists():
        info = json.loads(done_path.read_text())
        if not info["count"]:
            return None, info
        fakes = load_png_folder(fake_dir) if fake_dir.is_dir() else torch.empty(0)
        if len(fakes) != info["count"]:
            raise DataError(str(fake_dir), f"holds {len(fakes)} images but {done_path.name} records {info['count']}",
                            f"delete {done_path} to make them again")
        return fakes, info
    pool = inputs.images["train_defect"]
    probe = generator.generate_defect_free(1, to_unit_range(pool[:1]).to(inputs.device))
    if probe is None:
        info = {"count": 0, "requested": n, "reason": f"{generator.kind} method: it cannot make defect-free "
                f"images (no defect -> defect-free generator), so it adds none"}
        write_json_atomic(done_path, info)
        return None, info
    seed_everything(30_000 + cell.seed)
    order = fake_source_order(len(pool), n, cell.seed, key="fake-defect-free-sources")
    fakes = generate_fakes(generator, n, pool, inputs.device, cell=str(cell), progress=progress,
                           source_order=order, defect_free=True)
    save_png_folder(fakes, fake_dir)
    items = inputs.split.select("train", DEFECT)
    info = {"count": n, "requested": n, "folder": "fakes_defect_free", "source": "train defect images",
            "sources": [items[k].id for k in order.tolist()]}
    write_json_atomic(done_path, info)
    return fakes, info


def run_cell(inputs: CellInputs, cell: CellId, store: ResultStore,
             progress: ProgressCallback = ignore_progress) -> dict[str, Any]:
    """Run (or resume) ``cell`` and write its final record; returns the record."""
    folder = store.cell_dir(cell)
    began = time.perf_counter()
    record: dict[str, Any] = {"cell": str(cell), "dataset": cell.dataset, "method": cell.method, "seed": cell.seed,
                              "generator": None, "split_manifest_sha256": inputs.split.manifest_hash,
                              "split_counts": inputs.split.counts(), "provenance": inputs.provenance,
                              "device": inputs.device.type, "status": "complete"}
    fakes = fakes_free = None
    (folder / TRACEBACK_NAME).unlink(missing_ok=True)   # an earlier try's, now retried
    try:
        if inputs.generator_choice is not None:
            record["generator"] = inputs.generator_choice.resolved()
            generator, record["training"] = _train_generator(inputs, cell, folder, progress)
            raise_if_stopped("generator trained and saved")
            fakes, record["fakes"] = _fakes(inputs, cell, generator, folder, progress)
            raise_if_stopped("fakes saved")
            if inputs.spec.augmentation.fakes_defect_free:
                fakes_free, record["fakes_defect_free"] = _fakes_defect_free(inputs, cell, generator, folder,
                                                                              progress)
            del generator
            if inputs.scorer is not None:
                fault_point("score")
                record["quality"] = inputs.scorer.score_cell(fakes, inputs.images["train_defect"],
                                                            inputs.split.manifest_hash, folder, str(cell), progress)
        record["classification"] = {}
        for label, cls in inputs.classifier_classes.items():
            choice = next(c for c in inputs.spec.classifiers if c.label == label)
            training_fakes = None if fakes is None else fakes[:inputs.spec.augmentation.fakes]
            raise_if_stopped("finished stages saved")
            record["classification"][label] = run_classifier(cls, choice, inputs, training_fakes, cell, folder,
                                                             progress, fakes_defect_free=fakes_free)
    except (NonFiniteLossError, DataError, PluginContractError) as exc:
        # DataError here is a plugin refusing this cell's data (cutpaste on a dataset
        # without masks), PluginContractError a plugin's output breaking the contract:
        # the cell fails with the reason, the other cells go on.
        record["status"] = "failed"
        record["reason"] = str(exc)
    except torch.cuda.OutOfMemoryError as exc:
        record["status"] = "failed"
        record["reason"] = f"CUDA out of memory ({str(exc).splitlines()[0]}); lower batch_size or image_size"
    except RunInterrupted:
        raise
    except Exception as exc:
        # A plugin's own code raised (any method, any stage, fresh or resumed): the cell
        # fails with one line naming it, the other cells go on. The harness's own errors
        # still end the run with their traceback.
        failure = plugin_raised(exc, [inputs.generator_cls, *inputs.classifier_classes.values()])
        if failure is None:
            raise
        write_text_atomic(folder / TRACEBACK_NAME, "".join(traceback.format_exception(exc)))
        record["status"] = "failed"
        record["reason"] = str(failure)
    record["wall_seconds_this_run"] = time.perf_counter() - began
    store.write_record(cell, record)
    progress(ProgressEvent(str(cell), "done", 1, 1, message=record["status"]))
    return record
