"""The augmentation protocol's classifier stage (the paper's Tables 7-12).

Real training images (defect-free label 0, defect label 1) plus the cell's fake
defect images (label 1) train the classifier; the real test split tests it. The
baseline cell ("<classifier>-only") adds no fakes. Per-image predictions are kept so
later statistics can pair methods on the same test images.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from dg2bench.contracts.classifier import DEFECT, DEFECT_FREE, Classifier
from dg2bench.contracts.trainable import TrainPlan
from dg2bench.data.image_folders import save_png_folder
from dg2bench.data.split import to_unit_range
from dg2bench.metrics.classification import classification_report
from dg2bench.run.training import ImageBanks, seed_everything, speed_record, train
from dg2bench.runtime.device import plan_speed_options, precision_name
from dg2bench.runtime.fault_points import fault_point
from dg2bench.runtime.progress import ProgressCallback, ProgressEvent, resumed_at
from dg2bench.settings import AugmentationSettings
from dg2bench.store.atomic import write_json_atomic
from dg2bench.store.results import CellId

if TYPE_CHECKING:
    from dg2bench.run.cell import CellInputs
    from dg2bench.spec import PluginChoice


#: Misclassified test images saved per classifier result (``misclassified/``), for reports.
MISCLASSIFIED_SAMPLES = 16


def augmented_training_set(images: dict[str, torch.Tensor], fakes: torch.Tensor | None,
                           fakes_defect_free: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Real training images plus fake defects (and fake defect-free images): uint8 images, int64 labels."""
    parts = [images["train_defect_free"], images["train_defect"]]
    labels = [torch.full((len(parts[0]),), DEFECT_FREE), torch.full((len(parts[1]),), DEFECT)]
    for extra, label in ((fakes, DEFECT), (fakes_defect_free, DEFECT_FREE)):
        if extra is not None and len(extra):
            parts.append(extra)
            labels.append(torch.full((len(extra),), label))
    return torch.cat(parts), torch.cat(labels).long()


def schedule_images(real: int, added: int, augmentation: AugmentationSettings) -> int:
    """The training-set size a classifier cell's ``epochs`` are counted over.

    ``classifier_schedule = "epochs"`` (the paper): the cell's own images, so a cell with
    fakes trains more optimiser steps than the baseline. ``"steps"``: an augmented cell's
    (``real`` + ``fakes`` + ``fakes_defect_free``) for every cell, baseline included, so
    every cell of a dataset trains the same number of steps and a gain cannot come from
    training longer.
    """
    if augmentation.classifier_schedule == "steps":
        return real + augmentation.fakes + augmentation.fakes_defect_free
    return real + added


def per_type_recall(items: list, predictions: list[int]) -> dict[str, dict[str, int]]:
    """Defect test images found per defect type: ``{type: {"correct": k, "total": n}}``.

    Empty when the dataset has no defect types (CrackForest); where only some defect
    images have a type, the others count as ``"(untyped)"``.
    """
    out: dict[str, dict[str, int]] = {}
    if not any(item.defect_type for item in items):
        return out
    for item, pred in zip(items, predictions):
        row = out.setdefault(item.defect_type or "(untyped)", {"correct": 0, "total": 0})
        row["total"] += 1
        row["correct"] += int(pred == DEFECT)
    return dict(sorted(out.items()))


def run_classifier(cls: type[Classifier], choice: "PluginChoice", inputs: "CellInputs", fakes: torch.Tensor | None,
                   cell: CellId, folder: Path, progress: ProgressCallback,
                   fakes_defect_free: torch.Tensor | None = None) -> dict[str, Any]:
    """Train ``cls`` on real (+ fake) training images, test on the real test split."""
    sub = folder / f"classify-{choice.label}"
    done_path = sub / "result.json"
    if done_path.exists():
        return json.loads(done_path.read_text())
    sub.mkdir(parents=True, exist_ok=True)
    fault_point("classify")
    size = inputs.spec.benchmark.image_size
    seed_everything(20_000 + cell.seed)
    classifier = cls(choice.hparams, size)
    train_images, train_labels = augmented_training_set(inputs.images, fakes, fakes_defect_free)
    spe = classifier.steps_per_epoch(len(train_images))
    real = len(inputs.images["train_defect_free"]) + len(inputs.images["train_defect"])
    schedule = inputs.spec.augmentation.classifier_schedule
    steps, _ = choice.training_length(classifier.steps_per_epoch(
        schedule_images(real, len(train_images) - real, inputs.spec.augmentation)))
    epochs = steps / spe     # passes over this cell's own images
    plan = TrainPlan(image_size=size, total_steps=steps, steps_per_epoch=spe, epochs=epochs,
                     batch_size=classifier.batch_size, device=inputs.device,
                     **plan_speed_options(inputs.device, inputs.spec.benchmark, choice.precision))
    stage = f"classify:{choice.label}"

    def on_log(step: int, losses: dict[str, float], rate: float) -> None:
        progress(ProgressEvent(str(cell), stage, step, steps, losses=losses, images_per_second=rate))

    outcome = train(classifier, ImageBanks({"images": train_images}, {"images": train_labels}), plan,
                    seed=cell.seed, checkpoint_path=sub / "checkpoint.pt",
                    checkpoint_every=inputs.spec.benchmark.checkpoint_every,
                    log_every=inputs.spec.benchmark.log_every, on_log=on_log, label=f"classify-{choice.label}",
                    on_resume=resumed_at(progress, str(cell), stage, steps))
    began = time.perf_counter()
    test_free, test_defect = inputs.split.select("test", DEFECT_FREE), inputs.split.select("test", DEFECT)
    test_images = torch.cat([inputs.images["test_defect_free"], inputs.images["test_defect"]])
    y_true = [DEFECT_FREE] * len(test_free) + [DEFECT] * len(test_defect)
    proba = classifier.predict_proba(to_unit_range(test_images).to(inputs.device))
    y_pred = proba.argmax(dim=1).tolist()
    ids = [item.id for item in test_free + test_defect]
    result = {
        "classifier": choice.resolved(),
        "train_images": {"real_defect_free": len(inputs.images["train_defect_free"]),
                         "real_defect": len(inputs.images["train_defect"]),
                         "fake_defect": 0 if fakes is None else len(fakes),
                         "fake_defect_free": 0 if fakes_defect_free is None else len(fakes_defect_free)},
        "schedule": schedule, "steps": outcome.steps, "epochs": epochs, "train_seconds": outcome.wall_seconds,
        "precision": precision_name(plan.amp_dtype), **speed_record(plan, outcome),
        "test_seconds": time.perf_counter() - began,
        "metrics": classification_report(y_true, y_pred).as_dict(),
        "per_type_recall": per_type_recall(test_defect, y_pred[len(test_free):]),
        "misclassified": [i for i, t, p in zip(ids, y_true, y_pred) if t != p],
        "predictions": [{"id": i, "label": t, "pred": p, "p_defect": round(float(q[DEFECT]), 6)}
                        for i, t, p, q in zip(ids, y_true, y_pred, proba)],
        "loss_history": outcome.history,
    }
    wrong = [k for k, (t, p) in enumerate(zip(y_true, y_pred)) if t != p][:MISCLASSIFIED_SAMPLES]
    save_png_folder(test_images[wrong], sub / "misclassified")   # the first ones of result["misclassified"]
    write_json_atomic(done_path, result)
    (sub / "checkpoint.pt").unlink(missing_ok=True)
    return result
