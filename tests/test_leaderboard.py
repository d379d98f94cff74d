"""Leaderboards from synthetic records: aggregation over seeds, intervals, formats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dg2bench.metrics.classification import report_from_counts
from dg2bench.report.leaderboard import build_table, display_table, to_latex, to_markdown


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
    # Test-set interval: Wilson for one evaluation on 60 images (55 of 60 on average),
    # not the 120 pooled predictions of two seeds on the same images.
    from dg2bench.metrics.classification import wilson_interval
    assert (row["accuracy_ci_low"], row["accuracy_ci_high"]) == pytest.approx(wilson_interval(55, 60))
    assert row["accuracy_ci_high"] - row["accuracy_ci_low"] > \
        wilson_interval(110, 120)[1] - wilson_interval(110, 120)[0]
    # Across seeds: t_{0.975, 1} * sd / sqrt(2) = 12.706 * |56 - 54| / 60 / sqrt(2) / sqrt(2)
    assert row["accuracy_t_half"] == pytest.approx(12.7062 * (2 / 60) / 2 ** 0.5 / 2 ** 0.5, rel=1e-4)
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


def _with_predictions(method: str, seed: int, wrong_defects: set[int], n: int = 20) -> dict:
    """A record whose classifier misses the defect test images in ``wrong_defects``."""
    predictions = [{"id": f"d{i}", "label": 1, "pred": 0 if i in wrong_defects else 1} for i in range(n)]
    predictions += [{"id": f"f{i}", "label": 0, "pred": 0} for i in range(n)]
    tp = n - len(wrong_defects)
    record = _record(method, seed, tp, n - tp, n, 0)
    record["classification"]["resnet34"]["predictions"] = predictions
    return record


def test_paired_comparisons_against_baseline_and_oversample_with_holm():
    records = [_with_predictions("baseline", s, set(range(10))) for s in (0, 1)]
    records += [_with_predictions("oversample", s, set(range(9))) for s in (0, 1)]
    records += [_with_predictions("good", s, set(range(s))) for s in (0, 1)]        # +50, +45 pp
    records += [_with_predictions("same", s, set(range(10))) for s in (0, 1)]
    table = build_table(records, "classify").set_index(["method", "class"])
    good = table.loc[("good+resnet34", "defect")]
    assert good["vs_baseline_diff"] == pytest.approx(0.475)
    assert good["vs_baseline_mcnemar_p"] == pytest.approx([2 * 0.5 ** 10, 2 * 0.5 ** 9])   # discordant, one way
    assert good["vs_baseline_p_holm"] < 0.05          # the only method-level test of the family: the others tie
    same = table.loc[("same+resnet34", "defect")]
    assert same["vs_baseline_diff"] == 0 and math.isnan(same["vs_baseline_p_holm"])     # no spread: untested
    # The baseline is compared with nothing (its comparison with oversample is the
    # oversample row's, once, in one Holm family); a control not with itself.
    baseline = table.loc[("resnet34-only", "defect")]
    assert math.isnan(baseline["vs_baseline_diff"]) and math.isnan(baseline["vs_oversample_diff"])
    oversample = table.loc[("oversample+resnet34", "defect")]
    assert math.isnan(oversample["vs_oversample_diff"]) and oversample["vs_baseline_diff"] == pytest.approx(0.05)
    assert good["vs_baseline_seeds"] == 2 and good["vs_baseline_images"] == 20
    shown = display_table(build_table(records, "classify"), "classify")
    same_row = shown[(shown["Method"] == "same+resnet34") & (shown["Class"] == "defect")].iloc[0]
    assert same_row["Δ vs baseline (pp)"] == "+0.0 (no spread: untested)"
    assert shown[(shown["Method"] == "good+resnet34") & (shown["Class"] == "defect")].iloc[0][
        "Δ vs baseline (pp)"].startswith("+47.5 [")


def _scored(method: str, seed: int, fid: float, ci: tuple[float, float]) -> dict:
    record = _record(method, seed, 50, 10, 290, 40, fid=fid)
    record["quality"]["fid_ci"] = list(ci)
    return record


def test_fid_interval_holds_the_seeds_spread_and_one_seed_falls_back_to_images():
    # A's seeds disagree (40 vs 70) though each seed's image bootstrap is narrow;
    # averaging those bootstrap bounds gave [52, 58], apart from B's [60, 66].
    records = [_scored("a", 0, 40.0, (37.0, 43.0)), _scored("a", 1, 70.0, (67.0, 73.0)),
               _scored("b", 0, 62.0, (59.0, 65.0)), _scored("b", 1, 64.0, (61.0, 67.0)),
               _scored("c", 0, 90.0, (85.0, 95.0))]
    table = build_table(records, "fid").set_index("method")
    half = 12.706204736 * (450 ** 0.5) / 2 ** 0.5          # t(0.975, 1) * sd / sqrt(2), sd = sqrt(450)
    assert table.loc["a", "fid_ci_over"] == "seeds"
    assert 55 - half < 0 and table.loc["a", "fid_ci_low"] == 0.0          # FID is never negative: clipped
    assert table.loc["a", "fid_ci_high"] == pytest.approx(55 + half)
    assert table.loc["a", "kid_ci_low"] == pytest.approx(0.055 - half / 1000)  # KID (unbiased) is not clipped
    assert (table.loc["a", "fid_image_ci_low"], table.loc["a", "fid_image_ci_high"]) == (52.0, 58.0)
    assert table.loc["a", "fid_group"] == table.loc["b", "fid_group"] == "a"   # seeds -22 / +6: not established
    assert table.loc["c", "fid_group"] == "–"                                   # one seed, no replicates: untested
    assert table.loc["c", "fid_ci_over"] == "images" and table.loc["c", "fid_ci_low"] == 85.0
    shown = display_table(build_table(records, "fid"), "fid").set_index("Method")
    assert shown.loc["a", "FID 95% CI"].endswith("(seeds)") and shown.loc["c", "FID 95% CI"] == "[85.0, 95.0] (images)"


def test_precision_names_its_own_seed_count_and_small_p_is_not_zero():
    # Seed 2 never predicts "defect": no precision there, and the display says 2 of 3.
    records = [_record("gan", 0, 9, 1, 9, 1), _record("gan", 1, 10, 0, 10, 0), _record("gan", 2, 0, 10, 10, 0)]
    row = build_table(records, "classify").set_index("class").loc["defect"]
    assert row["precision_seeds"] == 2 and row["precision"] == pytest.approx(0.95)
    shown = display_table(build_table(records, "classify"), "classify").set_index("Class").loc["defect"]
    assert shown["Precision ± sd"] == "0.950 ± 0.071 (2 of 3)"
    records = [_with_predictions("baseline", s, set(range(20))) for s in (0, 1, 2)]
    records += [_with_predictions("good", s, set(range(s % 2))) for s in (0, 1, 2, 3)]   # +100, +95, +100
    shown = display_table(build_table(records, "classify"), "classify")
    good = shown[(shown["Method"] == "good+resnet34") & (shown["Class"] == "defect")].iloc[0]
    assert good["p vs baseline (Holm)"] == "<0.001"                  # 0.0003, not "0.000"
    assert good["Δ vs baseline (pp)"].endswith("(3 seeds)")           # the row averages 4


def _missing(method: str, seed: int, missed: int, n: int = 100) -> dict:
    """A record whose classifier misses the first ``missed`` of ``n`` defect test images."""
    return _with_predictions(method, seed, set(range(missed)), n=n)


def _defect_row(records: list[dict], method: str = "gan+resnet34"):
    table = build_table(records, "classify")
    return table[(table["method"] == method) & (table["class"] == "defect")].iloc[0]


def test_seeds_that_disagree_in_sign_are_not_significant_and_are_shown():
    # Per-seed differences +20, +16, -8 pp on 100 defect images: the image-level test
    # called this p 0.0014; over seeds (paired t, 2 df) it is nowhere near.
    records = [_missing("baseline", s, 40) for s in range(3)]
    records += [_missing("gan", s, m) for s, m in enumerate((20, 24, 48))]
    row = _defect_row(records)
    assert row["vs_baseline_per_seed"] == pytest.approx([0.20, 0.16, -0.08])
    assert row["vs_baseline_signs_disagree"]
    assert row["vs_baseline_level"] == "seeds"
    from scipy import stats
    assert row["vs_baseline_p"] == pytest.approx(stats.ttest_1samp([0.20, 0.16, -0.08], 0).pvalue)   # 0.398
    assert row["vs_baseline_p_holm"] > 0.05
    for fmt in ("rich", "markdown"):
        shown = display_table(build_table(records, "classify"), "classify")
        cell = shown[(shown["Method"] == "gan+resnet34") & (shown["Class"] == "defect")].iloc[0]
        assert "+20.0 / +16.0 / -8.0" in cell["Δ per seed vs baseline (pp)"]
        assert "†" in cell["Δ per seed vs baseline (pp)"]                     # the seeds disagree in sign
        assert cell["Δ vs baseline (pp)"].endswith(" ns")


def test_seeds_that_agree_are_significant():
    records = [_missing("baseline", s, 40) for s in range(3)]
    records += [_missing("gan", s, m) for s, m in enumerate((10, 12, 14))]     # +30, +28, +26
    row = _defect_row(records)
    assert row["vs_baseline_diff"] == pytest.approx(0.28)
    assert row["vs_baseline_p_holm"] < 0.05 and not row["vs_baseline_signs_disagree"]
    half = 4.302653 * 0.02 / 3 ** 0.5                                          # t(0.975, 2) * sd / sqrt(3)
    assert (row["vs_baseline_low"], row["vs_baseline_high"]) == pytest.approx((0.28 - half, 0.28 + half), rel=1e-5)
    shown = display_table(build_table(records, "classify"), "classify")
    cell = shown[(shown["Method"] == "gan+resnet34") & (shown["Class"] == "defect")].iloc[0]
    assert not cell["Δ vs baseline (pp)"].endswith("ns") and "†" not in cell["Δ per seed vs baseline (pp)"]


def test_one_seed_compares_two_models_not_two_methods():
    records = [_missing("baseline", 0, 40), _missing("gan", 0, 10)]
    row = _defect_row(records)
    assert row["vs_baseline_level"] == "models"
    assert row["vs_baseline_p"] < 1e-6                                          # exact McNemar, 30 vs 0
    shown = display_table(build_table(records, "classify"), "classify")
    cell = shown[(shown["Method"] == "gan+resnet34") & (shown["Class"] == "defect")].iloc[0]
    assert "1 seed" in cell["Δ vs baseline (pp)"] and "ns" not in cell["Δ vs baseline (pp)"]


def test_classify_notes_name_the_minimal_detectable_effect():
    from dg2bench.metrics.power import minimal_detectable_effect
    from dg2bench.report.leaderboard import classify_notes

    records = [_missing("baseline", s, 40) for s in range(3)]
    records += [_missing("gan", s, m) for s, m in enumerate((20, 24, 48))]
    records += [_missing("other", s, m) for s, m in enumerate((38, 40, 42))]
    note = classify_notes(build_table(records, "classify"))
    # Pooled sd of the per-seed differences: gan's (20, 16, -8) and other's (2, 0, -2).
    pooled = ((np.var([20, 16, -8], ddof=1) + np.var([2, 0, -2], ddof=1)) / 2) ** 0.5
    mde, holm_level = minimal_detectable_effect(pooled, 3), minimal_detectable_effect(pooled, 3, alpha=0.025)
    assert f"defect vs baseline: {holm_level:.1f} pp (3 seeds, 2 methods; {mde:.1f} pp at 0.05)" in note
    assert "80 % power" in note
    assert "defect-free vs baseline" not in note               # no spread there: nothing to say


def test_fid_groups_come_from_paired_tests_over_seeds_with_holm():
    records = [_scored(m, s, fid, (0.0, 1.0)) for m, fids in
               (("x", (50, 52, 51)), ("y", (60, 61, 63)), ("z", (61, 60, 62))) for s, fid in enumerate(fids)]
    table = build_table(records, "fid").set_index("method")
    assert table.loc["x", "fid_group"] == "a" and table.loc["y", "fid_group"] == table.loc["z", "fid_group"] == "b"
    assert sorted(table.loc["x", "fid_lower_than"].split(", ")) == ["y", "z"]
    assert table.loc["y", "fid_lower_than"] == "" and table.loc["x", "fid_pairs_level"] == "seeds"
    shown = display_table(build_table(records, "fid"), "fid")
    assert not any("Overlap" in column for column in shown.columns)


def test_fid_with_one_seed_tests_the_paired_bootstrap_replicates():
    from dg2bench.report.leaderboard import quality_difference

    a, b = _scored("a", 0, 50.0, (45.0, 55.0)), _scored("b", 0, 60.0, (55.0, 65.0))
    # Shared real resamples move both FIDs together: their difference is steady.
    shared = np.random.default_rng(0).normal(0, 5, 200)
    a["quality"]["fid_replicates"] = (52 + shared).tolist()
    b["quality"]["fid_replicates"] = (62 + shared + np.random.default_rng(1).normal(0, 1, 200)).tolist()
    test = quality_difference([a], [b], "fid")
    assert test["level"] == "models" and test["diff"] == -10.0 and test["p"] < 1e-6
    table = build_table([a, b], "fid").set_index("method")
    assert table.loc["a", "fid_group"] == "a" and table.loc["b", "fid_group"] == "b"
    assert table.loc["a", "fid_pairs_level"] == "models"


def test_a_one_seed_comparison_stays_out_of_the_method_level_holm_family():
    records = [_missing("baseline", s, 40) for s in range(3)]
    records += [_missing("gan", s, m) for s, m in enumerate((20, 24, 48))]      # 3 seeds: p 0.398
    records += [_missing("single", 0, 0)]                                       # 1 seed: McNemar p ~1e-12
    table = build_table(records, "classify")
    rows = table[table["class"] == "defect"].set_index("method")
    assert math.isnan(rows.loc["single+resnet34", "vs_baseline_p_holm"])
    assert rows.loc["gan+resnet34", "vs_baseline_p_holm"] == pytest.approx(rows.loc["gan+resnet34", "vs_baseline_p"])
    shown = display_table(table, "classify").set_index(["Method", "Class"])
    assert shown.loc[("single+resnet34", "defect"), "p vs baseline (Holm)"] == "<0.001 (models)"


def test_fid_direction_comes_from_the_tested_difference_and_compare_uses_shared_seeds():
    from dg2bench.report.leaderboard import compare_table

    # x has a fourth seed with a huge FID: its all-seed mean is above y's, but on the
    # three shared seeds x is lower every time.
    records = [_scored("x", s, f, (0.0, 1.0)) for s, f in enumerate((50, 52, 51, 400))]
    records += [_scored("y", s, f, (0.0, 1.0)) for s, f in enumerate((60, 61, 63))]
    table = build_table(records, "fid").set_index("method")
    assert table.loc["x", "fid"] > table.loc["y", "fid"]
    assert table.loc["x", "fid_lower_than"] == "y" and table.loc["y", "fid_lower_than"] == ""
    row = compare_table(records, "x", "y").set_index("score").loc["fid"]
    assert (row["x mean"], row["y mean"]) == pytest.approx((51.0, 184 / 3))
    assert row["diff"] == pytest.approx(row["x mean"] - row["y mean"]) and row["level"] == "seeds"


def test_letters_never_repeat_past_the_alphabet():
    from dg2bench.report.letters import letter_groups

    methods = [f"m{i}" for i in range(30)]
    letters = letter_groups(methods, [(a, b) for i, a in enumerate(methods) for b in methods[i + 1:]])
    assert len(set(letters.values())) == 30 and letters["m26"] == "A"


def test_best_first_keeps_the_spec_order_of_classifiers_and_puts_unscored_methods_last():
    from dg2bench.report.terminal import sort_best

    records = [_record("good", 0, 55, 5, 300, 30), _record("bad", 0, 20, 40, 300, 30)]
    for record in records:                       # a second classifier, first in the spec
        record["classification"] = {"zzz": record["classification"]["resnet34"], **record["classification"]}
    table = sort_best(build_table(records, "classify"), "classify")
    defect = table[table["class"] == "defect"]
    assert list(defect["classifier"]) == ["zzz", "zzz", "resnet34", "resnet34"]
    assert list(defect["method"])[:2] == ["good+zzz", "bad+zzz"]
    fid = build_table([_record("a", 0, 5, 1, 9, 1, fid=60.0), _record("b", 0, 5, 1, 9, 1, fid=50.0)], "fid")
    fid.loc[fid["method"] == "b", "fid"] = float("nan")
    assert list(sort_best(fid, "fid")["method"]) == ["a", "b"]
