"""Leaderboards from synthetic records: aggregation over seeds, intervals, formats."""

from __future__ import annotations

import pytest

from dg2bench.leaderboard import build_table, display_table, to_latex, to_markdown
from dg2bench.metrics.classification import report_from_counts


def _record(method: str, seed: int, tp: int, fn: int, tn: int, fp: int, fid: float | None = None) -> dict:
    record = {"dataset": "crackforest", "method": method, "seed": seed, "status": "complete",
              "classification": {"resnet34": {"metrics": report_from_counts(tp, fn, tn, fp).as_dict()}}}
    if fid is not None:
        record["quality"] = {"fid": fid, "kid": {"mean": fid / 1000, "std": 0.001}, "n_fake": 600, "n_real": 300,
                             "prdc": {"precision": 0.5, "recall": 0.4, "density": 0.9, "coverage": 0.6},
                             "extractor": "x", "warnings": ["small"]}
        record["training"] = {"parameters": 2_000_000, "size_mb": 8.0, "size_mb_inference": 4.0, "epochs": 200,
                              "data_volume": 1300, "images_seen": 10, "train_seconds": 3600.0 * (1 + seed),
                              "images_per_second": 10.0 + seed}
    return record


RECORDS = [_record("baseline", 0, 52, 8, 292, 38), _record("baseline", 1, 50, 10, 290, 40),
           _record("dg2gan", 0, 56, 4, 307, 23, fid=60.0), _record("dg2gan", 1, 54, 6, 305, 25, fid=62.0)]


def test_classify_table_reproduces_table_9_and_pools_seeds():
    single = build_table(RECORDS[:1], "classify")
    defect = single[single["class"] == "defect"].iloc[0]
    assert defect["method"] == "resnet34-only"
    assert round(defect["accuracy"] * 100, 1) == 86.7 and round(defect["precision"], 3) == 0.578
    free = single[single["class"] == "defect-free"].iloc[0]
    assert round(free["accuracy"] * 100, 1) == 88.5 and round(free["precision"], 3) == 0.973

    pooled = build_table(RECORDS, "classify")
    row = pooled[(pooled["method"] == "dg2gan+resnet34") & (pooled["class"] == "defect")].iloc[0]
    assert row["seeds"] == 2
    assert row["accuracy"] == pytest.approx((56 / 60 + 54 / 60) / 2)
    assert row["accuracy_sd"] == pytest.approx(abs(56 / 60 - 54 / 60) / 2 ** 0.5)
    # Wilson interval of the pooled counts, 110 of 120
    assert row["accuracy_ci_low"] < 110 / 120 < row["accuracy_ci_high"]
    assert row["test_images"] == 60


def test_fid_and_time_tables_average_over_seeds():
    fid = build_table(RECORDS, "fid")
    assert list(fid["method"]) == ["dg2gan"]
    assert fid.iloc[0]["fid"] == pytest.approx(61.0) and fid.iloc[0]["fid_sd"] == pytest.approx(2 ** 0.5)
    time = build_table(RECORDS, "time")
    assert time.iloc[0]["training_time_h"] == pytest.approx(1.5)
    assert time.iloc[0]["parameters_m"] == pytest.approx(2.0)


def test_display_formats():
    shown = display_table(build_table(RECORDS, "fid"), "fid")
    assert shown.iloc[0]["FID ↓"] == "61.0 ± 1.4"
    markdown = to_markdown(shown)
    assert markdown.splitlines()[0].startswith("| Dataset | Method | FID ↓")
    latex = to_latex(display_table(build_table(RECORDS, "time"), "time"))
    assert "\\toprule" in latex and "1.50 ± 0.71 h" in latex.replace("$\\pm$", "±")
