"""Numeric leaderboard tables -> the strings shown: means ± sd, intervals, differences, p-values.

:func:`display_table` for the tables of :func:`dg2bench.report.aggregate.build_table`,
:func:`display_compare` for :func:`~dg2bench.report.aggregate.compare_table`'s; the same
strings go to the terminal, Markdown, LaTeX and HTML.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from dg2bench.report.table_names import REFERENCES, TableName

#: Classify table headers: what the ± of each means is in the header itself.
ACCURACY = "Accuracy (%) ± t95"
PRECISION = "Precision ± sd"


def display_table(df: pd.DataFrame, table: TableName) -> pd.DataFrame:
    """Human-readable strings for rich / markdown / LaTeX (means ± sd, units in headers)."""
    if df.empty:
        return df
    if table == "time":
        return pd.DataFrame({
            "Dataset": df["dataset"], "Method": df["method"],
            "Parameters (M)": df["parameters_m"].map(lambda v: f"{v:.2f}"),
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


#: How each score of a ``--compare`` row is shown: label, scale, digits.
COMPARE_SCORES = {"accuracy": ("accuracy (%)", 100, 1), "fid": ("FID", 1, 1), "kid": ("KID×10³", 1e3, 2)}


def display_compare(df: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Readable strings for :func:`compare_table`."""
    rows = []
    for row in df.to_dict("records"):
        label, scale, digits = COMPARE_SCORES[row["score"]]
        interval = ("" if math.isnan(row["low"])
                    else f" [{row['low'] * scale:+.{digits}f}, {row['high'] * scale:+.{digits}f}]")
        level = "1 seed: models" if row["level"] == "models" else f"{row['seeds']} seeds"
        rows.append({"Dataset": row["dataset"],
                     "Score": " ".join(filter(None, (label, row["classifier"], row["class"]))),
                     a: _fmt(row[f"{a} mean"], None, digits, scale), b: _fmt(row[f"{b} mean"], None, digits, scale),
                     "Δ A - B [95% CI]": f"{row['diff'] * scale:+.{digits}f}{interval}",
                     "p": _p_value(row["p"]), "Test": level,
                     "Δ per seed": _per_seed(row["per_seed"], row["signs_disagree"], scale, digits),
                     "McNemar p per seed": ", ".join(_p_value(p) for p in row["mcnemar_p"] or []) or "–"})
    return pd.DataFrame(rows)
