"""Output formats of a displayed table: datasets side by side, Markdown, LaTeX.

The terminal's layouts are :mod:`dg2bench.report.terminal`'s; csv and json are the
numeric tables as pandas writes them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dg2bench.report.formatting import ACCURACY, PRECISION
from dg2bench.report.table_names import TableName

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
