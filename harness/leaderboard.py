"""Leaderboards shaped like the paper's tables, built from cell records only.

* ``time`` — Table 3: parameters, size, epochs, data volume, training time, images/s.
* ``fid`` — Tables 4-6, plus KID and precision/recall/density/coverage with sample sizes.
* ``classify`` — Tables 9-12: per-class accuracy (recall) and precision per method, and
  the recall per defect type where the dataset has types (``defect: <type>`` rows).

With several seeds a value is the mean and the spread is the sample standard
deviation across seeds (``±``); per-class accuracy also gets a Wilson 95 % interval
from the pooled test counts, because one test image is 1.7 points on 60 defects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from dg2bench.metrics.classification import wilson_interval

TableName = Literal["time", "fid", "classify"]
TABLES: tuple[TableName, ...] = ("time", "fid", "classify")


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
        trained = [r["training"] for r in group if r.get("training")]
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
    return training.get("cuda_peak_allocated_mb", training.get("process_peak_rss_mb", float("nan")))


def fid_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Tables 4-6's shape, plus KID, P/R/D/C and the sample sizes."""
    rows = []
    for (dataset, method), group in _group(records).items():
        scored = [r["quality"] for r in group if r.get("quality")]
        if not scored:
            continue
        row: dict[str, Any] = {"dataset": dataset, "method": method, "seeds": len(scored)}
        for key, get in (("fid", lambda q: q["fid"]), ("kid", lambda q: q["kid"]["mean"]),
                         ("precision", lambda q: q["prdc"]["precision"]), ("recall", lambda q: q["prdc"]["recall"]),
                         ("density", lambda q: q["prdc"]["density"]), ("coverage", lambda q: q["prdc"]["coverage"])):
            row[key], row[f"{key}_sd"] = _mean_sd([get(q) for q in scored])
        row["kid_subset_sd"] = scored[0]["kid"]["std"]
        row["n_fake"], row["n_real"] = scored[0]["n_fake"], scored[0]["n_real"]
        row["extractor"] = scored[0]["extractor"]
        row["warning"] = "; ".join(sorted({w for q in scored for w in q.get("warnings", [])}))
        rows.append(row)
    return pd.DataFrame(rows)


def classify_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Tables 9-12's shape: one row per dataset × method × classifier × class."""
    rows = []
    for (dataset, method), group in _group(records).items():
        labels = sorted({c for r in group for c in r.get("classification", {})})
        for clf in labels:
            results = [r["classification"][clf] for r in group if clf in r.get("classification", {})]
            name = f"{clf}-only" if method == "baseline" else f"{method}+{clf}"
            for cls_name in ("defect", "defect_free"):
                per = [res["metrics"]["per_class"][cls_name] for res in results]
                hits_key = "tp" if cls_name == "defect" else "tn"
                acc, acc_sd = _mean_sd([p["accuracy"] for p in per])
                prec, prec_sd = _mean_sd([p["precision"] for p in per])
                f1, _ = _mean_sd([p["f1"] for p in per])
                hits = sum(res["metrics"][hits_key] for res in results)
                total = sum(p["support"] for p in per)
                low, high = wilson_interval(hits, total)
                rows.append({"dataset": dataset, "method": name, "class": cls_name.replace("_", "-"),
                             "seeds": len(results), "accuracy": acc, "accuracy_sd": acc_sd,
                             "accuracy_ci_low": low, "accuracy_ci_high": high, "precision": prec,
                             "precision_sd": prec_sd, "f1": f1, "test_images": total // max(len(results), 1)})
            bal, _ = _mean_sd([res["metrics"]["balanced_accuracy"] for res in results])
            rows[-1]["balanced_accuracy"] = rows[-2]["balanced_accuracy"] = bal
            rows.extend(_per_type_rows(dataset, name, results))
    return pd.DataFrame(rows)


def _per_type_rows(dataset: str, name: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recall per defect type ("defect: <type>" rows), for datasets that have types."""
    types = sorted({t for res in results for t in res.get("per_type_recall", {})})
    rows = []
    for defect_type in types:
        counts = [res["per_type_recall"][defect_type] for res in results if defect_type in res.get("per_type_recall", {})]
        acc, acc_sd = _mean_sd([c["correct"] / c["total"] for c in counts])
        low, high = wilson_interval(sum(c["correct"] for c in counts), sum(c["total"] for c in counts))
        rows.append({"dataset": dataset, "method": name, "class": f"defect: {defect_type}", "seeds": len(counts),
                     "accuracy": acc, "accuracy_sd": acc_sd, "accuracy_ci_low": low, "accuracy_ci_high": high,
                     "precision": float("nan"), "precision_sd": float("nan"), "f1": float("nan"),
                     "balanced_accuracy": float("nan"), "test_images": counts[0]["total"]})
    return rows


def build_table(records: list[dict[str, Any]], table: TableName) -> pd.DataFrame:
    """The numeric leaderboard ``table`` from cell records."""
    return {"time": time_table, "fid": fid_table, "classify": classify_table}[table](records)


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
            "n fake / real": [f"{a} / {b}" for a, b in zip(df["n_fake"], df["n_real"])], "Seeds": df["seeds"]})
    return pd.DataFrame({
        "Dataset": df["dataset"], "Method": df["method"], "Class": df["class"],
        "Accuracy (%)": [_fmt(v, s, 1, 100) for v, s in zip(df["accuracy"], df["accuracy_sd"])],
        "95% CI (%)": [f"{lo * 100:.1f}–{hi * 100:.1f}" for lo, hi in zip(df["accuracy_ci_low"], df["accuracy_ci_high"])],
        "Precision": [_fmt(v, s, 3) for v, s in zip(df["precision"], df["precision_sd"])],
        "F1": [_fmt(v, None, 3) for v in df["f1"]], "Balanced acc. (%)": [_fmt(v, None, 1, 100) for v in df["balanced_accuracy"]],
        "Test images": df["test_images"], "Seeds": df["seeds"]})


#: Per table, the columns shown per dataset by :func:`side_by_side`: (display, numeric).
HEADLINES: dict[TableName, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "time": (("Parameters (M)", "Training time"), ("parameters_m", "training_time_h")),
    "fid": (("FID ↓", "KID×10³ ↓"), ("fid", "kid")),
    "classify": (("Accuracy (%)", "Precision"), ("accuracy", "precision")),
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
    order = list(dict.fromkeys(tuple(row) for row in df[keys].itertuples(index=False)))
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


def to_latex(df: pd.DataFrame) -> str:
    """A booktabs LaTeX tabular (special characters escaped)."""
    def esc(text: Any) -> str:
        out = str(text)
        for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                     ("±", r"$\pm$"), ("↓", r"$\downarrow$"), ("↑", r"$\uparrow$"), ("×", r"$\times$"),
                     ("³", r"$^3$"), ("–", "--")):
            out = out.replace(a, b)
        return out

    lines = [r"\begin{tabular}{" + "l" * len(df.columns) + "}", r"\toprule",
             " & ".join(esc(c) for c in df.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(v) for v in row) + r" \\" for row in df.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
