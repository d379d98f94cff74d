"""Leaderboards refuse to compare cells that were run under different settings."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from dg2bench.errors import DataError
from dg2bench.metrics.classification import report_from_counts
from dg2bench.report.comparable import check_comparable
from dg2bench.store.cell_config import config_digest
from dg2bench.store.results import ResultStore

CONFIG = {"image_size": 32, "split_seed": 0, "split_manifest_sha256": "abc", "dataset": {"plugin": "crackforest"},
          "code": {"dg2bench": "0.2", "classifier:resnet34": "dg2bench 0.2", "generator:gan": "dg2bench 0.2"},
          "generator": {"plugin": "gan", "lr": 0.0002}, "classifiers": {"resnet34": {"epochs": 10}},
          "augmentation": {"fakes": 8}, "metrics": {"quality": False}}


def _cell(root: Path, method: str, seed: int, config: dict | None, dataset: str = "crackforest",
          device: str = "cpu", precision: str = "fp32") -> None:
    folder = root / "cells" / dataset / method / f"seed{seed}"
    folder.mkdir(parents=True)
    record = {"cell": f"{dataset}/{method}/seed{seed}", "dataset": dataset, "method": method, "seed": seed,
              "status": "complete", "device": device, "training": {"precision": precision},
              "classification": {"resnet34": {"metrics": report_from_counts(5, 1, 9, 1).as_dict(),
                                              "precision": "fp32"}}}
    (folder / "record.json").write_text(json.dumps(record))
    if config is not None:
        (folder / "config.json").write_text(json.dumps({"sha256": config_digest(config), "config": config}))


def _edited(**changes) -> dict:
    config = copy.deepcopy(CONFIG)
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        table = config
        for parent in parents:
            table = table[parent]
        table[key] = value
    return config


def _check(root: Path) -> None:
    store = ResultStore(root)
    check_comparable(store, store.records())


def test_cells_of_one_configuration_pass_and_generators_may_differ(tmp_path):
    for seed in (0, 1):
        _cell(tmp_path, "gan", seed, CONFIG)
        _cell(tmp_path, "other", seed, _edited(generator={"plugin": "other"},
                                                      code={**CONFIG["code"], "generator:other": "pkg 1.0"}))
        _cell(tmp_path, "hand-written", seed, None)          # no config.json: not checked
    _cell(tmp_path, "gan", 0, _edited(augmentation__fakes=6), dataset="magnetic-tile")   # another dataset
    _check(tmp_path)


def test_a_method_run_under_other_shared_settings_is_named(tmp_path):
    for seed in (0, 1):
        _cell(tmp_path, "baseline", seed, _edited(generator=None))
        _cell(tmp_path, "gan", seed, _edited(augmentation__fakes=6, classifiers__resnet34__epochs=20))
    _cell(tmp_path, "oversample", 0, _edited(generator={"plugin": "oversample"}))
    with pytest.raises(DataError) as caught:
        _check(tmp_path)
    message = str(caught.value)
    assert "crackforest/gan/seed0 differs from the rest of crackforest (augmentation.fakes: 8 -> 6;" in message
    assert "crackforest/gan/seed1 differs" in message and "baseline" not in message.split("compare:")[1]
    assert "--on-change restart" in message


def test_seeds_of_one_method_under_two_configurations_are_named(tmp_path):
    _cell(tmp_path, "gan", 0, CONFIG)
    _cell(tmp_path, "gan", 1, CONFIG)
    _cell(tmp_path, "gan", 2, _edited(generator__lr=0.0001))
    with pytest.raises(DataError, match=r"crackforest/gan/seed2 differs from its other seeds "
                                        r"\(generator.lr: 0.0002 -> 0.0001\)"):
        _check(tmp_path)


def test_failed_cells_are_not_checked(tmp_path):
    _cell(tmp_path, "gan", 0, CONFIG)
    _cell(tmp_path, "gan", 1, _edited(generator__lr=0.0001))
    record_path = tmp_path / "cells" / "crackforest" / "gan" / "seed1" / "record.json"
    record_path.write_text(json.dumps({**json.loads(record_path.read_text()), "status": "failed", "reason": "x"}))
    _check(tmp_path)


def test_leaderboard_and_report_refuse_in_one_line(bench, tmp_path):
    _cell(tmp_path, "gan", 0, CONFIG)
    _cell(tmp_path, "gan", 1, _edited(generator__lr=0.0001))
    for command in (("leaderboard", str(tmp_path)), ("leaderboard", str(tmp_path), "--compare", "gan", "x"),
                    ("report", str(tmp_path))):
        code, _, err = bench(*command)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert "crackforest/gan/seed1 differs from its other seeds" in err


def test_the_data_folder_may_move_but_device_and_precision_may_not_change(tmp_path):
    _cell(tmp_path / "moved", "gan", 0, _edited(dataset={"plugin": "crackforest", "root": "/mnt/a"}))
    _cell(tmp_path / "moved", "gan", 1, _edited(dataset={"plugin": "crackforest", "root": "/home/me/data"}))
    _check(tmp_path / "moved")                        # the split's hash pins the data, wherever it lies
    _cell(tmp_path / "device", "gan", 0, CONFIG)
    _cell(tmp_path / "device", "baseline", 0, _edited(generator=None), device="cuda")
    _cell(tmp_path / "device", "other", 0, _edited(generator={"plugin": "other"}))
    with pytest.raises(DataError, match=r"crackforest/baseline/seed0 differs from the rest of crackforest "
                                        r"\(ran.device: cpu -> cuda\)"):
        _check(tmp_path / "device")
    for seed, precision in ((0, "fp32"), (1, "fp32"), (2, "bf16")):   # "auto": bf16 on a GPU, fp32 on a CPU
        _cell(tmp_path / "precision", "gan", seed, CONFIG, precision=precision)
    with pytest.raises(DataError, match=r"seed2 differs from its other seeds "
                                        r"\(ran.generator.precision: fp32 -> bf16\)"):
        _check(tmp_path / "precision")


def test_a_cell_is_named_once(tmp_path):
    _cell(tmp_path, "baseline", 0, _edited(generator=None))
    _cell(tmp_path, "baseline", 1, _edited(generator=None))
    for seed in (0, 1):
        _cell(tmp_path, "gan", seed, CONFIG)
    _cell(tmp_path, "gan", 2, _edited(augmentation__fakes=6, generator__lr=0.0001))
    with pytest.raises(DataError) as caught:
        _check(tmp_path)
    assert str(caught.value).count("crackforest/gan/seed2") == 1 and "more" not in str(caught.value)


def test_records_of_an_older_version_without_the_device_are_not_refused(tmp_path):
    for seed in (0, 1):
        _cell(tmp_path, "baseline", seed, _edited(generator=None))
        _cell(tmp_path, "gan", seed, CONFIG)
    for folder in (tmp_path / "cells" / "crackforest").glob("*/seed*"):   # recorded before `device` was
        path = folder / "record.json"
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "device"}))
    _cell(tmp_path, "baseline", 2, _edited(generator=None))                # a new seed, recorded with it
    _cell(tmp_path, "gan", 2, CONFIG)
    _check(tmp_path)
    _cell(tmp_path, "gan", 3, CONFIG, device="cuda")                       # but recorded devices must agree
    with pytest.raises(DataError, match=r"crackforest/gan/seed3 differs from the rest of crackforest "
                                        r"\(ran.device: cpu -> cuda\)"):
        _check(tmp_path)


def test_cells_trained_under_another_classifier_schedule_are_refused(tmp_path):
    _cell(tmp_path, "baseline", 0, _edited(generator=None, augmentation__classifier_schedule="steps"))
    _cell(tmp_path, "gan", 0, CONFIG)                     # before the option: the epochs schedule
    with pytest.raises(DataError) as caught:
        _check(tmp_path)
    assert "augmentation.classifier_schedule: <absent> -> steps" in str(caught.value) \
        or "augmentation.classifier_schedule: steps -> <absent>" in str(caught.value)

