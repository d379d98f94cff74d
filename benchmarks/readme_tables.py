"""The two tables of the README's "Results", made from a published results folder.

    python benchmarks/readme_tables.py benchmarks/results/crackforest-cpu

Prints Markdown: defect recognition (the defect class of every method's ResNet34, with
its paired differences against the baseline and against ``oversample``) and image
quality (FID, KID, precision, recall, groups), both read from ``bench leaderboard
RESULTS --format json``, so every number in them is one the leaderboard prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.store.records import cell_records
from dg2bench.store.results import ResultStore

#: The paper's own method, printed in bold.
PAPERS_METHOD = "dg2gan"


def leaderboard(results: Path, table: str) -> list[dict]:
    """``bench leaderboard RESULTS --table TABLE --format json``, parsed."""
    out = subprocess.run([sys.executable, "-c", "from dg2bench.cli import main; main()", "leaderboard", str(results),
                          "--table", table, "--format", "json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def controls(results: Path) -> set[str]:
    """Labels of the methods whose plugin trains nothing (the controls)."""
    registry = get_registry()
    return {r.method for r in cell_records(ResultStore(results).record_files())
            if r.generator_plugin and not registry.get("generator", r.generator_plugin).cls.needs_training}


def _label(method: str, control: set[str], baseline: str = "baseline (ResNet34 only)") -> str:
    if method == "baseline":
        return baseline
    if method == PAPERS_METHOD:
        return f"**{method}**"
    return f"{method} (control)" if method in control else method


def _difference(row: dict, reference: str) -> tuple[str, str]:
    if row.get(f"{reference}_diff") is None:
        return "–", "–"
    diff, low, high = (100 * row[f"{reference}_{key}"] for key in ("diff", "low", "high"))
    return f"{diff:+.1f} [{low:+.1f}, {high:+.1f}]", f"{row[f'{reference}_p_holm']:.3f}"


def classify_table(results: Path) -> str:
    """Defect accuracy (mean ± 95 % t half-width), precision (mean ± sd), Δ and Holm p against both references."""
    control = controls(results)
    lines = ["| method | defect accuracy (%) | defect precision | Δ vs baseline (pp) [95 % CI] | p (Holm) "
             "| Δ vs oversample (pp) [95 % CI] | p (Holm) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in leaderboard(results, "classify"):
        if row["class"] != "defect":
            continue
        only = row["method"] == f"{row['classifier']}-only"   # the baseline: the classifier on real images alone
        method = "baseline" if only else row["method"].removesuffix(f"+{row['classifier']}")
        base, over = _difference(row, "vs_baseline"), _difference(row, "vs_oversample")
        lines.append(f"| {_label(method, control)} | {100 * row['accuracy']:.1f} ± {100 * row['accuracy_t_half']:.1f} "
                     f"| {row['precision']:.3f} ± {row['precision_sd']:.3f} | {base[0]} | {base[1]} "
                     f"| {over[0]} | {over[1]} |")
    return "\n".join(lines)


def quality_table(results: Path) -> str:
    """FID and KID (mean ± sd over seeds), precision and recall, and the Holm groups."""
    lines = ["| method | FID | KID ×10³ | precision | recall | group (FID / KID) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in leaderboard(results, "fid"):
        method = row["method"]
        label = f"{method} (copies)" if method == "oversample" else method
        lines.append(f"| {label} | {row['fid']:.1f} ± {row['fid_sd']:.1f} | {1e3 * row['kid']:.2f} ± "
                     f"{1e3 * row['kid_sd']:.2f} | {row['precision']:.3f} | {row['recall']:.3f} "
                     f"| {row['fid_group']} / {row['kid_group']} |")
    return "\n".join(lines)


def main() -> None:
    results = Path(sys.argv[1])
    print(classify_table(results), "", quality_table(results), sep="\n")


if __name__ == "__main__":
    main()
