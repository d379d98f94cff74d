"""Leaderboards laid out for a 100-120 column terminal, and the best-first sort order.

The full tables (markdown, LaTeX, csv, json, ``--wide``) hold every column; a terminal
gets the headline ones: the classify table splits into the accuracies and a long table
of paired differences (one row per method, class and reference), so intervals and
per-seed differences stay on one line; a dataset or classifier shared by every row
moves into the title.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from dg2bench.report.formatting import ACCURACY, PRECISION, display_table
from dg2bench.report.table_names import REFERENCES, TableName

SortOrder = Literal["best", "spec"]
SORT_ORDERS: tuple[SortOrder, ...] = ("best", "spec")

#: Per table, the columns a terminal shows by default (of :func:`display_table`'s).
COMPACT: dict[TableName, tuple[str, ...]] = {
    "time": ("Dataset", "Method", "Parameters (M)", "Epochs", "Training time", "Images/s", "Seeds"),
    "fid": ("Dataset", "Method", "FID ↓", "KID×10³ ↓", "FID 95% CI", "FID group", "KID group", "Seeds"),
    "classify": ("Dataset", "Method", "Class", ACCURACY, "Test-set 95% CI (%)", PRECISION, "F1"),
}


def sort_best(df: pd.DataFrame, table: TableName) -> pd.DataFrame:
    """Methods best first within each dataset: lowest FID, highest defect accuracy, shortest training.

    A method's rows stay together (classify: its defect-free and per-type rows follow
    its defect row); ties and unscored methods keep the spec's order.
    """
    if df.empty:
        return df
    if table == "classify":
        defect = df[df["class"] == "defect"].set_index(["dataset", "classifier", "method"])["accuracy"]
        key = [-_number(defect.get((d, c, m)), float("-inf"))
               for d, c, m in zip(df["dataset"], df["classifier"], df["method"])]
        groups = ["dataset", "classifier"]
    else:
        column = "fid" if table == "fid" else "training_time_h"
        key = [_number(v, float("inf")) for v in df[column]]
        groups = ["dataset"]
    # Datasets and classifiers keep the order they first appear in (the spec's).
    ranks = [{name: rank for rank, name in enumerate(dict.fromkeys(df[g]))} for g in groups]
    order = sorted(range(len(df)), key=lambda i: (*(r[df[g].iloc[i]] for r, g in zip(ranks, groups)), key[i]))
    return df.iloc[order].reset_index(drop=True)


def _number(value: object, missing: float) -> float:
    """``value`` as a float sort key; ``missing`` for None or NaN (sorted last)."""
    return missing if value is None or value != value else float(value)  # type: ignore[arg-type]


def compact_tables(df: pd.DataFrame, table: TableName, title: str) -> list[tuple[str, pd.DataFrame]]:
    """``[(title, shown)]`` for a terminal: headline columns, shared values moved into the title."""
    shown = display_table(df, table)
    if shown.empty:
        return [(title, shown)]
    columns = [c for c in COMPACT[table] if c in shown.columns]
    if table == "fid":
        # One interval kind for every row: say it once, in the header.
        kinds = set(df["fid_ci_over"])
        if len(kinds) == 1:
            shown["FID 95% CI"] = shown["FID 95% CI"].str.replace(f" ({kinds.pop()})", "", regex=False)
            shown = shown.rename(columns={"FID 95% CI": f"FID 95% CI ({df['fid_ci_over'].iloc[0]})"})
            columns = [f"FID 95% CI ({df['fid_ci_over'].iloc[0]})" if c == "FID 95% CI" else c for c in columns]
    out, suffix = shown[columns], []
    if out["Dataset"].nunique() == 1:
        suffix.append(str(out["Dataset"].iloc[0]))
        out = out.drop(columns="Dataset")
    if table == "classify" and df["classifier"].nunique() == 1:
        classifier = str(df["classifier"].iloc[0])
        suffix.append(classifier)
        out = out.assign(Method=[_method_only(m, classifier) for m in out["Method"]])
    named = f"{title} – {', '.join(suffix)}" if suffix else title
    tables = [(named, out)]
    if table == "classify":
        paired = _paired_long(df, shown, out)
        if not paired.empty:
            tables.append((f"{named}: differences to the references", paired))
    return tables


def _method_only(name: str, classifier: str) -> str:
    """``"dg2gan"`` for ``"dg2gan+resnet34"``, ``"baseline"`` for ``"resnet34-only"``."""
    if name == f"{classifier}-only":
        return "baseline"
    return name.removesuffix(f"+{classifier}")


def _paired_long(df: pd.DataFrame, shown: pd.DataFrame, compact: pd.DataFrame) -> pd.DataFrame:
    """One row per method, class and reference: Δ [CI] (ns), the per-seed Δs, p after Holm."""
    rows = []
    keep = [c for c in ("Dataset", "Method", "Class") if c in compact.columns]
    for i in range(len(df)):
        for ref in REFERENCES:
            column = f"Δ vs {ref} (pp)"
            if column not in shown.columns or shown[column].iloc[i] == "–":
                continue
            rows.append({**{c: compact[c].iloc[i] for c in keep}, "vs": ref, "Δ (pp) [95% CI]": shown[column].iloc[i],
                         "Δ per seed (pp)": shown[f"Δ per seed vs {ref} (pp)"].iloc[i].replace(" / ", "/"),
                         "p (Holm)": shown[f"p vs {ref} (Holm)"].iloc[i]})
    return pd.DataFrame(rows)


def compact_compare(shown: pd.DataFrame, title: str) -> list[tuple[str, pd.DataFrame]]:
    """A ``--compare`` table for a terminal: shared dataset, classifier and test level in the title, no McNemar column."""
    out = shown.drop(columns=["McNemar p per seed"])
    suffix = []
    if out["Dataset"].nunique() == 1:
        suffix.append(str(out["Dataset"].iloc[0]))
        out = out.drop(columns="Dataset")
    classifiers = {s.split(" ")[2] for s in out["Score"] if s.startswith("accuracy (%) ")}
    if len(classifiers) == 1:
        classifier = classifiers.pop()
        suffix.append(classifier)
        out = out.assign(Score=[s.replace(f" {classifier} ", " ") for s in out["Score"]])
    if out["Test"].nunique() == 1:
        suffix.append(str(out["Test"].iloc[0]))
        out = out.drop(columns="Test")
    out = out.assign(**{"Δ per seed": [v.replace(" / ", "/") for v in out["Δ per seed"]]})
    return [(f"{title} – {', '.join(suffix)}" if suffix else title, out)]
