"""Leaderboards shaped like the paper's tables, built from complete cell records only.

* ``time`` — Table 3: parameters, size, epochs, data volume, training time, images/s.
* ``fid`` — Tables 4-6, plus KID and precision/recall/density/coverage with sample sizes
  and bootstrap intervals.
* ``classify`` — Tables 9-12: per-class accuracy (recall) and precision per method, and
  the recall per defect type where the dataset has types (``defect: <type>`` rows),
  with paired comparisons against the baseline and the ``oversample`` control.

:data:`CLASSIFY_NOTE` and :data:`FID_NOTE` say what every interval and test means
(``dg2bench.metrics.statistics`` computes them). Failed cells are left out here and
listed by the CLI and the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from dg2bench.metrics.classification import wilson_interval
from dg2bench.metrics.power import ALPHA, POWER, minimal_detectable_effect
from dg2bench.metrics.statistics import holm, paired_accuracy, t_interval
from dg2bench.report.quality_pairs import QUALITY_SCORES, order_established, quality_difference

TableName = Literal["time", "fid", "classify"]
TABLES: tuple[TableName, ...] = ("time", "fid", "classify")
TITLES: dict[TableName, str] = {"time": "Training cost (Table 3)",
                                "fid": "Image quality vs real training defects (Tables 4-6)",
                                "classify": "Recognition after augmentation (Tables 9-12)"}


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    arr = np.array([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))], float)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else float("nan")


def _group(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["dataset"], record["method"]), []).append(record)
    return groups


def time_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Table 3's shape: one row per dataset × generator (means over seeds)."""
    rows = []
    for (dataset, method), group in _group(records).items():
        trained = [r["training"] for r in group if r.get("training") and r["training"].get("needs_training", True)]
        if not trained:
            continue
        hours, hours_sd = _mean_sd([t["train_seconds"] / 3600 for t in trained])
        rate, rate_sd = _mean_sd([t["images_per_second"] for t in trained])
        rows.append({"dataset": dataset, "method": method, "seeds": len(trained),
                     "parameters_m": trained[0]["parameters"] / 1e6, "size_mb": trained[0]["size_mb"],
                     "inference_size_mb": trained[0]["size_mb_inference"], "epochs": trained[0]["epochs"],
                     "data_volume": trained[0]["data_volume"], "images_seen": trained[0]["images_seen"],
                     "training_time_h": hours, "training_time_h_sd": hours_sd,
                     "images_per_s": rate, "images_per_s_sd": rate_sd, "device_peak_mb": _peak(trained[0])})
    return pd.DataFrame(rows)


def _peak(training: dict[str, Any]) -> float:
    for key in ("cuda_peak_allocated_mb", "peak_rss_mb", "process_peak_rss_mb"):
        if key in training:
            return training[key]
    return float("nan")


def fid_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Tables 4-6's shape, plus KID, P/R/D/C and the sample sizes."""
    rows = []
    groups = _group(records)
    for (dataset, method), group in groups.items():
        scored = [r["quality"] for r in group if r.get("quality")]
        if not scored:
            continue
        row: dict[str, Any] = {"dataset": dataset, "method": method, "seeds": len(scored)}
        for key, get in (("fid", lambda q: q["fid"]), ("kid", lambda q: q["kid"]["mean"]),
                         ("precision", lambda q: q["prdc"]["precision"]), ("recall", lambda q: q["prdc"]["recall"]),
                         ("density", lambda q: q["prdc"]["density"]), ("coverage", lambda q: q["prdc"]["coverage"])):
            row[key], row[f"{key}_sd"] = _mean_sd([get(q) for q in scored])
        for key, get in (("fid", lambda q: q["fid"]), ("kid", lambda q: q["kid"]["mean"])):
            bounds = [q[f"{key}_ci"] for q in scored if q.get(f"{key}_ci")]
            row[f"{key}_image_ci_low"], _ = _mean_sd([b[0] for b in bounds])
            row[f"{key}_image_ci_high"], _ = _mean_sd([b[1] for b in bounds])
            mean, half, n = t_interval([get(q) for q in scored])
            # FID is never negative (KID, an unbiased estimate, can be).
            row[f"{key}_seed_ci_low"] = max(mean - half, 0.0) if key == "fid" else mean - half
            row[f"{key}_seed_ci_high"] = mean + half
            # With two or more seeds the interval must hold the seeds' spread (training
            # randomness and each seed's own fakes); with one, only the images can speak.
            source = "seed" if n >= 2 else "image"
            row[f"{key}_ci_low"] = row[f"{key}_{source}_ci_low"]
            row[f"{key}_ci_high"] = row[f"{key}_{source}_ci_high"]
            row[f"{key}_ci_over"] = f"{source}s"
        row["kid_subset_sd"] = scored[0]["kid"]["std"]
        row["n_fake"], row["n_real"] = scored[0]["n_fake"], scored[0]["n_real"]
        row["extractor"] = scored[0]["extractor"]
        row["warning"] = "; ".join(sorted({w for q in scored for w in q.get("warnings", [])}))
        rows.append(row)
    for dataset in dict.fromkeys(row["dataset"] for row in rows):
        order_established([row for row in rows if row["dataset"] == dataset], groups, dataset)
    return pd.DataFrame(rows)


FID_NOTE = ("FID, KID, precision, recall, density, coverage: mean over seeds ± sd. 95 % CI '(seeds)', with two "
            "or more seeds: Student-t interval over the seeds' values; '(images)', with one seed: bootstrap over "
            "fake and real images, which knows nothing of training randomness. Group: every pair of methods is "
            "tested on the difference of their scores over the seeds both have (paired by seed number: paired t "
            "over the seeds; when no pair shares two seeds, one seed: paired bootstrap sharing each real resample, "
            "a test of two trained generators, not two methods, marked '(models)'), Holm-corrected over the "
            "dataset's pairs; methods with no letter in common differ (order established), "
            "methods sharing a letter do not, 'a' holds the best. The csv/json output names, per method, those it "
            "is established to beat. The oversample control's fakes are copies of the reference images, so its FID "
            "is low by construction.")


#: Classify table headers: what the ± of each means is in the header itself.
ACCURACY = "Accuracy (%) ± t95"
PRECISION = "Precision ± sd"

#: The note under a ``--by-dataset`` table (its headline columns keep their ±).
SIDE_BY_SIDE_NOTES: dict[TableName, str] = {
    "time": "mean over seeds ± sd",
    "fid": "mean over seeds ± sd; intervals and groups: the table without --by-dataset",
    "classify": "Accuracy: mean over seeds ± 95 % t-interval half-width; Precision: mean ± sd over the seeds where "
                "it is defined; tests: the table without --by-dataset",
}

#: References every method of a classify table is paired against (when present).
REFERENCES = ("baseline", "oversample")
#: Per reference, the paired comparison's numeric columns (``vs_<ref>_<key>``) and the others.
PAIRED_NUMBERS = ("diff", "low", "high", "p", "p_images", "seeds", "images")
PAIRED_OTHERS = ("level", "per_seed", "signs_disagree", "mcnemar_p")

CLASSIFY_NOTE = (
    "Accuracy: mean over seeds ± 95 % t-interval half-width (number of seeds). Precision: mean ± sd over the "
    "seeds where it is defined ('2 of 3': one seed never predicted the class). Test-set CI: Wilson 95 % "
    "interval for one evaluation on that many test images (seeds share the images, so they are not pooled). "
    "Δ: accuracy difference to the reference on the same test images, mean over the seeds both have (named when "
    "fewer than the row's), seeds paired by seed number; with two or more seeds a method-level test: [95 % t-interval "
    "over the per-seed differences, not adjusted for multiple comparisons] and p of a paired t-test over them, "
    "so training randomness counts; ns: not significant at 0.05 after Holm over the methods compared with that "
    "reference on that dataset, classifier and class. Δ per seed: each seed's difference; †: the seeds disagree "
    "in sign. With one seed Δ compares two trained models, not two methods ('1 seed: models': interval from "
    "test images, exact McNemar p) and nothing is marked. The csv/json output adds the image-level sign-flip p "
    "and an exact McNemar p per seed.")

#: A ``--compare`` table's note.
COMPARE_NOTE = (
    "Δ: A - B on the same test images (accuracy) or against the same real images (FID, KID), over the seeds "
    "both have, paired by seed number. With two or more seeds: mean of the per-seed differences [95 % t-interval] and the paired t-test's p "
    "(a method-level test); with one seed, about two trained models: accuracy [bootstrap over test images] and "
    "exact McNemar p; FID/KID [paired bootstrap sharing each real resample] and a normal test of the "
    "difference over its bootstrap standard error. Not corrected for multiple comparisons. †: the seeds "
    "disagree in sign.")


def classify_notes(table: pd.DataFrame) -> str:
    """:data:`CLASSIFY_NOTE` and, below it, the smallest difference the table's seeds can detect.

    Per dataset, classifier, class and reference: the minimal detectable effect of the
    paired t-test at 80 % power and Holm's first level (0.05 / m for a family of m
    methods, the bar the most significant method must clear), with the value at 0.05
    beside it; the spread is an estimate, the per-seed differences' variances pooled
    over the methods compared (``sum (n_i - 1) s_i^2 / sum (n_i - 1)``).
    """
    lines = [CLASSIFY_NOTE]
    if table.empty:
        return CLASSIFY_NOTE
    found, single = [], False
    for ref in REFERENCES:
        if f"vs_{ref}_level" not in table:
            continue
        for (dataset, clf, cls), group in table.groupby(["dataset", "classifier", "class"], sort=False):
            compared = group[group[f"vs_{ref}_level"].notna()]
            single = single or bool((compared[f"vs_{ref}_level"] == "models").any())
            spreads = [(len(v) - 1, float(np.var(v, ddof=1))) for v in compared[f"vs_{ref}_per_seed"]
                       if isinstance(v, list) and len(v) > 1]
            if not spreads or not sum(df for df, _ in spreads):
                continue
            pooled = math.sqrt(sum(df * var for df, var in spreads) / sum(df for df, _ in spreads))
            if pooled < 1e-9:           # no spread (or rounding of none): nothing to say
                continue
            seeds = int(compared[f"vs_{ref}_seeds"].max())
            family = int((compared[f"vs_{ref}_level"] == "seeds").sum())
            mde = minimal_detectable_effect(pooled * 100, seeds, alpha=ALPHA / max(family, 1))
            plain = minimal_detectable_effect(pooled * 100, seeds)
            found.append(f"{dataset} {clf} {cls} vs {ref}: {mde:.1f} pp ({seeds} seeds, {family} methods; "
                         f"{plain:.1f} pp at 0.05)")
    if found:
        lines.append(f"Smallest difference detectable at {POWER * 100:.0f} % power (paired t over seeds at Holm's "
                     "first level, 0.05 / methods; the spread estimated from the per-seed differences pooled over "
                     "the methods): " + "; ".join(found) + ". 'ns' means smaller than about this, or no difference; "
                     "not 'no effect'.")
    if single:
        lines.append("Rows marked '1 seed: models' compare two trained models, not two methods; no method-level "
                     "finding is made there (run two or more seeds, e.g. --seeds 3).")
    return "\n".join(lines)


def table_note(table: TableName, data: pd.DataFrame) -> str:
    """What every interval and test of ``table`` means (and, for classify, the smallest detectable effect)."""
    if table == "classify":
        return classify_notes(data)
    return FID_NOTE if table == "fid" else ""


def _correct(result: dict[str, Any], label: int) -> dict[str, bool]:
    """Test image id -> whether the classifier got it right, for images of class ``label``."""
    return {p["id"]: p["label"] == p["pred"] for p in result.get("predictions", []) if p["label"] == label}


def _paired(results: dict[int, dict[str, Any]], reference: dict[int, dict[str, Any]], label: int) -> dict[str, Any]:
    """Paired comparison of two methods' results (seeds paired by seed number) on the test images of ``label``.

    See :func:`dg2bench.metrics.statistics.paired_accuracy`: method-level (paired t over
    seeds) with two or more shared seeds, about two trained models with one.
    """
    seeds = sorted(set(results) & set(reference))
    if not seeds:
        return {}
    mine, theirs = [_correct(results[s], label) for s in seeds], [_correct(reference[s], label) for s in seeds]
    ids = sorted(set.intersection(*(set(m) for m in mine + theirs)))
    if not ids:
        return {}
    a = np.array([[m[i] for i in ids] for m in mine])
    b = np.array([[t[i] for i in ids] for t in theirs])
    return paired_accuracy(a, b)


def _reference_methods(records: list[dict[str, Any]]) -> dict[str, str]:
    """The method label of each reference: ``baseline``, and the label whose plugin is ``oversample``."""
    out = {"baseline": "baseline"}
    for record in sorted(records, key=lambda r: r["method"]):
        plugin = (record.get("generator") or {}).get("plugin", record["method"] if record["method"] != "baseline"
                                                     else None)
        if plugin in REFERENCES and plugin != "baseline":
            out.setdefault(plugin, record["method"])
    return out


def _results_by_seed(records: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[int, dict[str, Any]]]:
    """``(dataset, method, classifier) -> {seed: classifier result}``."""
    by_seed: dict[tuple[str, str, str], dict[int, dict[str, Any]]] = {}
    for record in records:
        for clf, result in record.get("classification", {}).items():
            by_seed.setdefault((record["dataset"], record["method"], clf), {})[record.get("seed", 0)] = result
    return by_seed


def classify_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Tables 9-12's shape: one row per dataset × method × classifier × class.

    See :data:`CLASSIFY_NOTE` for what each interval and test means.
    """
    rows = []
    by_seed = _results_by_seed(records)
    references = _reference_methods(records)
    for (dataset, method, clf), results in by_seed.items():
        name = f"{clf}-only" if method == "baseline" else f"{method}+{clf}"
        ordered = [results[s] for s in sorted(results)]
        for label, cls_name in ((1, "defect"), (0, "defect_free")):
            per = [res["metrics"]["per_class"][cls_name] for res in ordered]
            acc, half, n = t_interval([p["accuracy"] for p in per])
            _, acc_sd = _mean_sd([p["accuracy"] for p in per])
            prec, prec_sd = _mean_sd([p["precision"] for p in per])
            # A seed that never predicts the class has no precision: counted apart, not hidden.
            prec_seeds = sum(p["precision"] is not None and p["precision"] == p["precision"] for p in per)
            f1, _ = _mean_sd([p["f1"] for p in per])
            images = per[0]["support"]
            low, high = wilson_interval(acc * images, images) if images else (float("nan"), float("nan"))
            row = {"dataset": dataset, "method": name, "classifier": clf, "class": cls_name.replace("_", "-"),
                   "seeds": n,
                   "accuracy": acc, "accuracy_sd": acc_sd, "accuracy_t_half": half,
                   "accuracy_ci_low": low, "accuracy_ci_high": high, "precision": prec,
                   "precision_sd": prec_sd, "precision_seeds": prec_seeds, "f1": f1, "test_images": images,
                   "balanced_accuracy": _mean_sd([res["metrics"]["balanced_accuracy"] for res in ordered])[0]}
            for ref in REFERENCES:
                ref_method = references.get(ref)
                reference = by_seed.get((dataset, ref_method, clf)) if ref_method else None
                # The baseline is compared with nothing; a control not with itself.
                compared = reference and method not in (ref_method, "baseline")
                paired = _paired(results, reference, label) if compared else {}
                for key in PAIRED_NUMBERS:
                    row[f"vs_{ref}_{key}"] = paired.get(key, float("nan"))
                for key in PAIRED_OTHERS:
                    row[f"vs_{ref}_{key}"] = paired.get(key)
            rows.append(row)
        rows.extend(_per_type_rows(dataset, name, clf, ordered))
    table = pd.DataFrame(rows)
    for ref in REFERENCES:
        if table.empty:
            break
        table[f"vs_{ref}_p_holm"] = float("nan")
        for _, group in table.groupby(["dataset", "classifier", "class"]):
            # The family is the method-level tests; a one-seed (models) p is not one of them.
            method_level = group[f"vs_{ref}_p"].where(group[f"vs_{ref}_level"] == "seeds")
            table.loc[group.index, f"vs_{ref}_p_holm"] = holm(method_level.tolist())
    return table


def _per_type_rows(dataset: str, name: str, clf: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recall per defect type ("defect: <type>" rows), for datasets that have types."""
    types = sorted({t for res in results for t in res.get("per_type_recall", {})})
    rows = []
    for defect_type in types:
        counts = [res["per_type_recall"][defect_type] for res in results if defect_type in res.get("per_type_recall", {})]
        acc, acc_sd = _mean_sd([c["correct"] / c["total"] for c in counts])
        total = counts[0]["total"]
        low, high = wilson_interval(acc * total, total)
        rows.append({"dataset": dataset, "method": name, "classifier": clf, "class": f"defect: {defect_type}",
                     "seeds": len(counts),
                     "accuracy": acc, "accuracy_sd": acc_sd, "accuracy_ci_low": low, "accuracy_ci_high": high,
                     "precision": float("nan"), "precision_sd": float("nan"), "precision_seeds": 0,
                     "f1": float("nan"),
                     "balanced_accuracy": float("nan"), "test_images": counts[0]["total"],
                     "accuracy_t_half": t_interval([c["correct"] / c["total"] for c in counts])[1]})
    return rows


def build_table(records: list[dict[str, Any]], table: TableName) -> pd.DataFrame:
    """The numeric leaderboard ``table`` from the complete cell records (failed ones are left out)."""
    complete = [r for r in records if r.get("status", "complete") == "complete"]
    return {"time": time_table, "fid": fid_table, "classify": classify_table}[table](complete)


def _duration(hours: float, sd: float) -> str:
    """Hours as in Table 3, or seconds for the short runs of smoke specs."""
    if hours >= 0.1:
        return _fmt(hours, sd, 2, suffix=" h")
    return _fmt(hours, sd, 0, 3600, " s")


def _fmt(value: Any, sd: Any = None, digits: int = 3, scale: float = 1.0, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value * scale:.{digits}f}"
    if sd is not None and not (isinstance(sd, float) and math.isnan(sd)):
        text += f" ± {sd * scale:.{digits}f}"
    return text + suffix


def display_table(df: pd.DataFrame, table: TableName) -> pd.DataFrame:
    """Human-readable strings for rich / markdown / LaTeX (means ± sd, units in headers)."""
    if df.empty:
        return df
    if table == "time":
        return pd.DataFrame({
            "Dataset": df["dataset"], "Method": df["method"], "Parameters (M)": df["parameters_m"].map(lambda v: f"{v:.2f}"),
            "Size (MB)": df["size_mb"].map(lambda v: f"{v:.2f}"),
            "Inference (MB)": df["inference_size_mb"].map(lambda v: f"{v:.2f}"),
            "Epochs": df["epochs"].map(lambda v: f"{v:g}" if v >= 10 else f"{v:.2f}"), "Data volume": df["data_volume"],
            "Training time": [_duration(v, s) for v, s in zip(df["training_time_h"], df["training_time_h_sd"])],
            "Images/s": [_fmt(v, s, 1) for v, s in zip(df["images_per_s"], df["images_per_s_sd"])],
            "Seeds": df["seeds"]})
    if table == "fid":
        return pd.DataFrame({
            "Dataset": df["dataset"], "Method": df["method"],
            "FID ↓": [_fmt(v, s, 1) for v, s in zip(df["fid"], df["fid_sd"])],
            "KID×10³ ↓": [_fmt(v, s, 2, 1e3) for v, s in zip(df["kid"], df["kid_sd"])],
            "Precision ↑": [_fmt(v, s, 3) for v, s in zip(df["precision"], df["precision_sd"])],
            "Recall ↑": [_fmt(v, s, 3) for v, s in zip(df["recall"], df["recall_sd"])],
            "Density": [_fmt(v, s, 3) for v, s in zip(df["density"], df["density_sd"])],
            "Coverage ↑": [_fmt(v, s, 3) for v, s in zip(df["coverage"], df["coverage_sd"])],
            "FID 95% CI": [_bracket(lo, hi, 1, over)
                           for lo, hi, over in zip(df["fid_ci_low"], df["fid_ci_high"], df["fid_ci_over"])],
            "KID×10³ 95% CI": [_bracket(lo * 1e3, hi * 1e3, 2, over)
                               for lo, hi, over in zip(df["kid_ci_low"], df["kid_ci_high"], df["kid_ci_over"])],
            "FID group": [_group_cell(g, lvl) for g, lvl in zip(df["fid_group"], df["fid_pairs_level"])],
            "KID group": [_group_cell(g, lvl) for g, lvl in zip(df["kid_group"], df["kid_pairs_level"])],
            "n fake / real": [f"{a} / {b}" for a, b in zip(df["n_fake"], df["n_real"])], "Seeds": df["seeds"]})
    shown = pd.DataFrame({
        "Dataset": df["dataset"], "Method": df["method"], "Class": df["class"],
        ACCURACY: [_seed_interval(v, h, n) for v, h, n in zip(df["accuracy"], df["accuracy_t_half"], df["seeds"])],
        "Test-set 95% CI (%)": [f"{lo * 100:.1f}–{hi * 100:.1f}"
                                for lo, hi in zip(df["accuracy_ci_low"], df["accuracy_ci_high"])],
        PRECISION: [_fmt(v, s, 3) + (f" ({k} of {n})" if k < n and v == v else "")
                    for v, s, k, n in zip(df["precision"], df["precision_sd"], df["precision_seeds"], df["seeds"])],
        "F1": [_fmt(v, None, 3) for v in df["f1"]],
        "Balanced acc. (%)": [_fmt(v, None, 1, 100) for v in df["balanced_accuracy"]],
        "Test images": df["test_images"]})
    for ref in REFERENCES:
        if f"vs_{ref}_diff" in df and df[f"vs_{ref}_diff"].notna().any():
            shown[f"Δ vs {ref} (pp)"] = [_difference(*values) for values in zip(
                df[f"vs_{ref}_diff"], df[f"vs_{ref}_low"], df[f"vs_{ref}_high"], df[f"vs_{ref}_p_holm"],
                df[f"vs_{ref}_level"], df[f"vs_{ref}_seeds"], df["seeds"])]
            shown[f"Δ per seed vs {ref} (pp)"] = [_per_seed(values, flag) for values, flag in zip(
                df[f"vs_{ref}_per_seed"], df[f"vs_{ref}_signs_disagree"])]
            shown[f"p vs {ref} (Holm)"] = [_p_value(p) if level != "models" else f"{_p_value(raw)} (models)"
                                           for p, raw, level in zip(df[f"vs_{ref}_p_holm"], df[f"vs_{ref}_p"],
                                                                    df[f"vs_{ref}_level"])]
    return shown


def _group_cell(letters: str, level: str) -> str:
    """``"ab"``, or ``"ab (models)"`` when the pairs were tested on one seed each."""
    return f"{letters} (models)" if level == "models" and letters != "–" else letters


def _bracket(low: float, high: float, digits: int, over: str = "") -> str:
    """``"[55.2, 67.9] (seeds)"``, or ``"–"`` when unknown."""
    if math.isnan(low) or math.isnan(high):
        return "–"
    return f"[{low:.{digits}f}, {high:.{digits}f}]" + (f" ({over})" if over else "")


def _seed_interval(mean: float, half: float, n: int) -> str:
    """``"86.7 ± 3.1 (3)"``: mean ± t half-width (seeds), in percent."""
    if isinstance(mean, float) and math.isnan(mean):
        return "–"
    text = f"{mean * 100:.1f}"
    if not (isinstance(half, float) and math.isnan(half)):
        text += f" ± {half * 100:.1f}"
    return f"{text} ({n})"


def _difference(diff: float, low: float, high: float, p_holm: float, level: str | None = "seeds",
                seeds: float | None = None, row_seeds: int | None = None) -> str:
    """``"+6.7 [+1.7, +11.7]"`` in points, with ``ns`` when not significant after Holm.

    A one-seed comparison (``level`` ``"models"``) is about two trained models, so it
    gets no method-level mark: ``" (1 seed: models)"`` instead. ``" (2 seeds)"`` follows
    when the pair shares fewer seeds (``seeds``) than the row averages (``row_seeds``):
    then Δ is not the difference of the two accuracies shown.
    """
    if diff is None or math.isnan(diff):
        return "–"
    interval = f" [{low * 100:+.1f}, {high * 100:+.1f}]" if not math.isnan(low) else ""
    if level == "models":
        return f"{diff * 100:+.1f}{interval} (1 seed: models)"
    if math.isnan(low):
        return f"{diff * 100:+.1f} (no spread: untested)"
    mark = "" if p_holm < 0.05 else " ns"
    fewer = f" ({seeds:g} seeds)" if seeds is not None and row_seeds is not None and seeds < row_seeds else ""
    return f"{diff * 100:+.1f}{interval}{mark}{fewer}"


def _per_seed(values: list[float] | None, disagree: bool | None, scale: float = 100, digits: int = 1) -> str:
    """``"+15.0 / +11.7 / -5.0 †"``: each seed's difference, † when their signs disagree."""
    if not isinstance(values, list) or not values:
        return "–"
    return " / ".join(f"{v * scale:+.{digits}f}" for v in values) + (" †" if disagree else "")


def _p_value(p: float) -> str:
    """``"0.012"``, ``"<0.001"`` (never a rounded ``"0.000"``), or ``"–"``."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return "<0.001" if p < 0.0005 else f"{p:.3f}"


def compare_table(records: list[dict[str, Any]], a: str, b: str) -> pd.DataFrame:
    """Method ``a`` against method ``b``: accuracy per class, and FID/KID, as paired differences.

    One row per dataset × classifier × class (``score`` ``accuracy``), plus one per
    dataset for each of FID and KID when both methods were scored (``classifier`` and
    ``class`` empty). Each row: both means over the shared seeds, the difference A - B,
    its 95 % interval and p (seed-level with two or more shared seeds, ``level``), the
    per-seed differences, and for accuracy the exact McNemar p per seed.
    """
    complete = [r for r in records if r.get("status", "complete") == "complete"]
    by_seed = _results_by_seed(complete)
    rows = []
    for (dataset, method, clf), results in by_seed.items():
        other = by_seed.get((dataset, b, clf))
        if method != a or other is None:
            continue
        for label, cls_name in ((1, "defect"), (0, "defect-free")):
            paired = _paired(results, other, label)
            if not paired:
                continue
            seeds = sorted(set(results) & set(other))
            key = cls_name.replace("-", "_")
            rows.append({"dataset": dataset, "score": "accuracy", "classifier": clf, "class": cls_name,
                         "a": float(np.mean([results[s]["metrics"]["per_class"][key]["accuracy"] for s in seeds])),
                         "b": float(np.mean([other[s]["metrics"]["per_class"][key]["accuracy"] for s in seeds])),
                         **{k: paired[k] for k in ("diff", "low", "high", "p", "level", "seeds", "per_seed",
                                                    "signs_disagree", "mcnemar_p")}})
    groups = _group(complete)
    for dataset in dict.fromkeys(r["dataset"] for r in complete):
        for key in QUALITY_SCORES:
            test = quality_difference(groups.get((dataset, a), []), groups.get((dataset, b), []), key)
            if not test:
                continue
            rows.append({"dataset": dataset, "score": key, "classifier": "", "class": "", "a": test.pop("a_mean"),
                         "b": test.pop("b_mean"), **test, "mcnemar_p": None})
    return pd.DataFrame(rows).rename(columns={"a": f"{a} mean", "b": f"{b} mean"})


#: How each score of a ``--compare`` row is shown: label, scale, digits.
COMPARE_SCORES = {"accuracy": ("accuracy (%)", 100, 1), "fid": ("FID", 1, 1), "kid": ("KID×10³", 1e3, 2)}


def display_compare(df: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Readable strings for :func:`compare_table`."""
    rows = []
    for row in df.to_dict("records"):
        label, scale, digits = COMPARE_SCORES[row["score"]]
        interval = "" if math.isnan(row["low"]) else f" [{row['low'] * scale:+.{digits}f}, {row['high'] * scale:+.{digits}f}]"
        level = "1 seed: models" if row["level"] == "models" else f"{row['seeds']} seeds"
        rows.append({"Dataset": row["dataset"], "Score": " ".join(filter(None, (label, row["classifier"], row["class"]))),
                     a: _fmt(row[f"{a} mean"], None, digits, scale), b: _fmt(row[f"{b} mean"], None, digits, scale),
                     "Δ A - B [95% CI]": f"{row['diff'] * scale:+.{digits}f}{interval}",
                     "p": _p_value(row["p"]), "Test": level,
                     "Δ per seed": _per_seed(row["per_seed"], row["signs_disagree"], scale, digits),
                     "McNemar p per seed": ", ".join(_p_value(p) for p in row["mcnemar_p"] or []) or "–"})
    return pd.DataFrame(rows)


#: Per table, the columns shown per dataset by :func:`side_by_side`: (display, numeric).
HEADLINES: dict[TableName, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "time": (("Parameters (M)", "Training time"), ("parameters_m", "training_time_h")),
    "fid": (("FID ↓", "KID×10³ ↓"), ("fid", "kid")),
    "classify": ((ACCURACY, PRECISION), ("accuracy", "precision")),
}


def side_by_side(df: pd.DataFrame, table: TableName, numeric: bool) -> pd.DataFrame:
    """Datasets as column groups, as the paper's Tables 4-6 sit side by side.

    One row per method (and class); per dataset the table's headline columns
    (:data:`HEADLINES`), named ``"<dataset> <column>"``. ``numeric`` says whether ``df``
    is a :func:`build_table` frame or a :func:`display_table` one.
    """
    names = ("dataset", "method", "class") if numeric else ("Dataset", "Method", "Class")
    keys = [k for k in names[1:] if k in df.columns]
    values = list(HEADLINES[table][1 if numeric else 0])
    seen = list(dict.fromkeys(tuple(row) for row in df[keys].itertuples(index=False)))
    methods = list(dict.fromkeys(key[0] for key in seen))
    order = sorted(seen, key=lambda key: methods.index(key[0]))   # a method's rows together, stable otherwise
    wide = df.set_index([*keys, names[0]])[values].unstack(names[0])
    wide = wide.reindex(pd.MultiIndex.from_tuples(order, names=keys) if len(keys) > 1 else [o[0] for o in order])
    datasets = list(dict.fromkeys(df[names[0]]))
    columns = [(value, dataset) for dataset in datasets for value in values]
    wide = wide[columns]
    wide.columns = [f"{dataset} {value}" for value, dataset in columns]
    wide = wide.reset_index()
    return wide if numeric else wide.fillna("–")


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table."""
    header = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


#: One pass, character by character, so no replacement is escaped again.
LATEX_ESCAPES = str.maketrans({
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "Δ": r"$\Delta$", "±": r"$\pm$", "↓": r"$\downarrow$",
    "↑": r"$\uparrow$", "×": r"$\times$", "³": r"$^3$", "–": "--"})


def to_latex(df: pd.DataFrame) -> str:
    """A booktabs LaTeX tabular (special characters escaped)."""
    def esc(text: Any) -> str:
        return str(text).translate(LATEX_ESCAPES)

    lines = [r"\begin{tabular}{" + "l" * len(df.columns) + "}", r"\toprule",
             " & ".join(esc(c) for c in df.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(v) for v in row) + r" \\" for row in df.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
