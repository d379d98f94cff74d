"""The report's figures as a list, and as PNG files (``bench figures``).

:func:`report_figures` is the one list of figures, in the report's order: the HTML report
embeds it and ``bench figures`` writes it to files, so the two never disagree.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dg2bench.report import figures
from dg2bench.store.atomic import write_atomic

Record = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Figure:
    """One figure: the file name it is written to, its alt text in the report, its PNG bytes."""

    name: str
    alt: str
    png: bytes


def _slug(text: str) -> str:
    # Labels come from a spec's table names; anything outside a safe file name becomes "_".
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def report_figures(results: Path, records: list[Record], dataset: str) -> Iterator[Figure]:
    """The figures of ``dataset`` drawn from ``results`` and its complete ``records`` (none
    for what the results hold nothing to draw): fakes vs real, each translation method's
    sources and fakes, per classifier the confusion matrices and misclassified images,
    loss curves, quality vs diversity.
    """
    slug = _slug(dataset)
    drawn: list[tuple[str, str, bytes | None]] = [
        (f"{slug}-fakes-vs-real", f"{dataset} fakes vs real", figures.fakes_vs_real(results, dataset, records))]
    for record in figures.first_seeds(records):
        fakes = record.get("fakes", {}) if record["dataset"] == dataset else {}
        if fakes.get("sources") or fakes.get("masks_folder"):
            what = "sources-vs-fakes" if fakes.get("sources") else "fakes-and-masks"
            drawn.append((f"{slug}-{_slug(record['method'])}-{what}",
                          f"{dataset} {record['method']} "
                          + ("sources and fakes" if fakes.get("sources") else "fakes and masks"),
                          figures.sources_vs_fakes(results, record)))
    for classifier in sorted({c for r in records for c in r.get("classification", {})}):
        drawn.append((f"{slug}-confusion-{_slug(classifier)}", f"{dataset} confusion matrices {classifier}",
                      figures.confusion_matrices(records, dataset, classifier)))
        drawn.append((f"{slug}-misclassified-{_slug(classifier)}", f"{dataset} misclassified {classifier}",
                      figures.misclassified(results, records, dataset, classifier)))
    drawn.append((f"{slug}-loss-curves", f"{dataset} loss curves", figures.loss_curves(results, records, dataset)))
    drawn.append((f"{slug}-quality-vs-diversity", f"{dataset} quality vs diversity",
                  figures.quality_scatter(records, dataset)))
    for name, alt, png in drawn:
        if png is not None:
            yield Figure(f"{name}.png", alt, png)


def write_figures(results: Path | str, out: Path | str) -> list[Path]:
    """Write every figure of the report on ``results`` to ``out`` as PNG files; returns their paths.

    :raises BenchError: ``results`` holds no cell, or cells run under different settings.
    """
    from dg2bench.errors import BenchError
    from dg2bench.report.comparable import check_comparable
    from dg2bench.store.results import ResultStore

    results, out = Path(results), Path(out)
    if not results.is_dir():
        raise BenchError(str(results), "no such results folder", "pass the folder given to `bench run --results`")
    store = ResultStore(results)
    records = store.records()
    if not records:
        raise BenchError(str(results), "holds no complete cell record", "run `bench run SPEC --results DIR` first")
    check_comparable(store, records)   # confusion matrices average seeds: as the report, refuse mixed settings
    complete = [r for r in records if r.get("status") == "complete"]
    if out.exists() and not out.is_dir():
        raise BenchError("--out", f"{out} is a file, not a folder", "pass a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in sorted({r["dataset"] for r in complete}):
        for figure in report_figures(results, complete, dataset):
            path = write_atomic(out / figure.name, lambda handle, png=figure.png: handle.write(png))
            path.chmod(0o644)   # files to share, not private temp files
            written.append(path)
    return written
