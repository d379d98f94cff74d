"""Typed cell records: one loader from ``record.json`` to what the reports read."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

from dg2bench.errors import DataError
from dg2bench.store.records import (
    CellRecord,
    ClassifierResult,
    ClassMetrics,
    Prdc,
    Prediction,
    Quality,
    Score,
    Training,
    TypeRecall,
    cell_record,
    cell_records,
)
from dg2bench.store.results import CellId, ResultStore

PUBLISHED = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "crackforest-cpu"


def _per_class(support: int, accuracy: float, precision: float | None, f1: float | None) -> dict:
    return {"support": support, "accuracy": accuracy, "accuracy_ci95": [0.0, 1.0], "precision": precision,
            "precision_ci95": [0.0, 1.0], "f1": f1}


def _record() -> dict:
    """A complete record of this version, shaped as ``run_cell`` writes it (fewer predictions)."""
    return {
        "cell": "mt/dg2gan/seed2", "dataset": "mt", "method": "dg2gan", "seed": 2,
        "generator": {"plugin": "dg2gan", "preset": "small", "epochs": 2},
        "device": "cuda", "status": "complete",
        "training": {"kind": "translation", "needs_training": True, "parameters": 1285132, "size_mb": 5.14,
                     "size_mb_inference": 1.09, "epochs": 2.0, "data_volume": 1300, "images_seen": 4000,
                     "train_seconds": 386.5, "images_per_second": 10.3, "precision": "bf16",
                     "cuda_peak_allocated_mb": 812.5},
        "quality": {"fid": 276.9, "fid_ci": [269.0, 283.7], "fid_replicates": [286.9, 285.7],
                    "kid": {"mean": 0.356, "std": 0.002, "subset_size": 300}, "kid_ci": [0.34, 0.37],
                    "kid_replicates": [0.359, 0.356], "n_fake": 300, "n_real": 280,
                    "prdc": {"precision": 0.01, "recall": 0.0, "density": 0.002, "coverage": 0.03, "nearest_k": 5},
                    "extractor": "tf-inception", "warnings": ["FID on 300 images is biased upwards"]},
        "classification": {"resnet34": {
            "metrics": {"tp": 1, "fn": 1, "tn": 1, "fp": 0, "accuracy": 0.75, "balanced_accuracy": 0.75,
                        "per_class": {"defect": _per_class(2, 0.5, 1.0, 0.667),
                                      "defect_free": _per_class(2, 1.0, None, None)}},
            "predictions": [{"id": "a.jpg@0,0", "label": 1, "pred": 1, "p_defect": 0.9},
                            {"id": "b.jpg@0,0", "label": 1, "pred": 0, "p_defect": 0.2}],
            "per_type_recall": {"crack": {"correct": 1, "total": 2}},
            "loss_history": [{"step": 25, "loss": 0.6}]}},
    }


def test_a_record_reads_into_typed_fields():
    record = cell_record(_record(), "cells/mt/dg2gan/seed2/record.json")
    assert (record.dataset, record.method, record.seed, record.status) == ("mt", "dg2gan", 2, "complete")
    assert record.complete and record.generator_plugin == "dg2gan"
    assert record.training == Training(parameters=1285132, size_mb=5.14, size_mb_inference=1.09, epochs=2.0,
                                       data_volume=1300, images_seen=4000, train_seconds=386.5,
                                       images_per_second=10.3, peak_mb=812.5)
    assert record.quality == Quality(
        fid=Score(276.9, (269.0, 283.7), (286.9, 285.7)), kid=Score(0.356, (0.34, 0.37), (0.359, 0.356)),
        kid_subset_sd=0.002, prdc=Prdc(precision=0.01, recall=0.0, density=0.002, coverage=0.03),
        n_fake=300, n_real=280, extractor="tf-inception", warnings=("FID on 300 images is biased upwards",))
    assert record.quality.score("kid") is record.quality.kid
    assert record.classification == {"resnet34": ClassifierResult(
        per_class={"defect": ClassMetrics(2, 0.5, 1.0, 0.667), "defect_free": ClassMetrics(2, 1.0, None, None)},
        balanced_accuracy=0.75,
        predictions=(Prediction("a.jpg@0,0", 1, 1), Prediction("b.jpg@0,0", 1, 0)),
        per_type_recall={"crack": TypeRecall(correct=1, total=2)})}


def test_an_older_record_gets_the_defaults_the_reports_always_gave():
    data = _record()
    for key in ("seed", "status", "cell"):
        del data[key]
    data["generator"] = {"epochs": 2}                      # names no plugin: the method's label stands in
    for key in ("needs_training", "cuda_peak_allocated_mb"):
        del data["training"][key]
    for key in ("fid_ci", "fid_replicates", "kid_ci", "kid_replicates", "warnings"):
        del data["quality"][key]
    for key in ("predictions", "per_type_recall"):
        del data["classification"]["resnet34"][key]
    record = cell_record(data, "record.json")
    assert (record.seed, record.status, record.complete, record.generator_plugin) == (0, None, True, "dg2gan")
    assert record.training is not None and math.isnan(record.training.peak_mb)
    assert record.quality.fid == Score(276.9, None, ()) and record.quality.warnings == ()
    result = record.classification["resnet34"]
    assert result.predictions == () and result.per_type_recall == {}
    # Peak memory under the older names, first found wins.
    data["training"].update(process_peak_rss_mb=900.0, peak_rss_mb=700.0)
    assert cell_record(data, "record.json").training.peak_mb == 700.0


def test_what_leaves_a_section_out():
    data = _record()
    data["training"]["needs_training"] = False             # a training-free control: no training cost
    data["quality"] = {}
    del data["classification"]
    record = cell_record(data, "record.json")
    assert record.training is None and record.quality is None and record.classification == {}
    baseline = cell_record({"dataset": "mt", "method": "baseline", "generator": None}, "record.json")
    assert baseline.generator_plugin is None and baseline.training is None


def test_a_failed_record_is_read_for_who_it_is_only():
    data = {"cell": "mt/gan/seed0", "dataset": "mt", "method": "gan", "seed": 0, "status": "failed",
            "reason": "CUDA out of memory", "training": {"parameters": "half written"}}
    record = cell_record(data, "record.json")
    assert not record.complete and record.status == "failed"
    assert record.training is None and record.quality is None and record.classification == {}


@pytest.mark.parametrize(("edit", "named"), [
    (lambda d: d["quality"]["kid"].pop("mean"), "quality.kid.mean is missing"),
    (lambda d: d["training"].update(train_seconds="6 min"), "training.train_seconds is a str, not a number"),
    (lambda d: d["classification"]["resnet34"]["metrics"]["per_class"].pop("defect_free"),
     "classification.resnet34.metrics.per_class.defect_free is missing"),
    (lambda d: d["classification"]["resnet34"]["predictions"][1].pop("pred"),
     "classification.resnet34.predictions[1].pred is missing"),
    (lambda d: d["quality"].update(fid_ci=[1.0]), "quality.fid_ci has 1 values, not 2"),
    (lambda d: d.pop("dataset"), "dataset is missing"),
])
def test_a_malformed_record_names_the_file_and_the_key(edit, named):
    data = copy.deepcopy(_record())
    edit(data)
    with pytest.raises(DataError) as caught:
        cell_record(data, "results/cells/mt/dg2gan/seed2/record.json")
    message = str(caught.value)
    assert message.startswith("results/cells/mt/dg2gan/seed2/record.json: is not a cell record the reports can read")
    assert named in message and "rerun `bench run`" in message and "\n" not in message


def test_the_store_reads_each_record_once_for_both_views(tmp_path):
    store = ResultStore(tmp_path)
    good, bad = CellId("mt", "dg2gan", 2), CellId("mt", "dg2gan", 3)
    store.write_record(good, _record())
    files = store.record_files()
    assert files == [(store.record_path(good), _record())] and store.records() == [_record()]
    assert cell_records(files)[0] == cell_record(_record(), "x")
    broken = _record()
    del broken["quality"]["fid"]
    store.write_record(bad, broken)
    with pytest.raises(DataError) as caught:
        cell_records(store.record_files())
    assert caught.value.where == str(store.record_path(bad)) and "quality.fid is missing" in caught.value.problem


def test_every_published_record_loads():
    records = cell_records(ResultStore(PUBLISHED).record_files())
    # The paper's 11 methods x 5 seeds, and the cells of the methods beyond the paper finished so far.
    assert len(records) == len(list(PUBLISHED.glob("cells/*/*/*/record.json"))) >= 55
    assert all(isinstance(r, CellRecord) and r.complete for r in records)
    generated = [r for r in records if r.method != "baseline"]
    assert len(generated) == len(records) - 5 and all(r.quality and r.generator_plugin for r in generated)
    assert all(len(result.predictions) == 2100 for r in records for result in r.classification.values())
