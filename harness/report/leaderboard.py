"""Leaderboards shaped like the paper's tables, built from complete cell records only.

* ``time`` — Table 3: parameters, size, epochs, data volume, training time, images/s.
* ``fid`` — Tables 4-6, plus KID and precision/recall/density/coverage with sample sizes
  and bootstrap intervals.
* ``classify`` — Tables 9-12: per-class accuracy (recall) and precision per method, and
  the recall per defect type where the dataset has types (``defect: <type>`` rows),
  with paired comparisons against the baseline and the ``oversample`` control.

This module is the public face of the leaderboards; the work is done one step per
module: typed records (:mod:`dg2bench.store.records`) -> typed rows with their
statistics (:mod:`dg2bench.report.aggregate`, :mod:`dg2bench.report.quality_pairs`,
:mod:`dg2bench.report.table_rows`) -> display strings
(:mod:`dg2bench.report.formatting`) -> output formats (:mod:`dg2bench.report.formats`),
with the notes under the tables in :mod:`dg2bench.report.notes`. The functions here
take records typed or as dicts (as loaded from ``record.json``). Failed cells are left
out here and listed by the CLI and the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from dg2bench.report import aggregate, quality_pairs
from dg2bench.report.formats import HEADLINES, LATEX_ESCAPES, side_by_side, to_latex, to_markdown
from dg2bench.report.formatting import ACCURACY, COMPARE_SCORES, PRECISION, display_compare, display_table
from dg2bench.report.notes import (
    CLASSIFY_NOTE,
    COMPARE_NOTE,
    FID_NOTE,
    SIDE_BY_SIDE_NOTES,
    classify_notes,
    table_note,
)
from dg2bench.report.table_names import REFERENCES, TABLES, TITLES, TableName
from dg2bench.store.records import CellRecord, cell_record

__all__ = ["ACCURACY", "CLASSIFY_NOTE", "COMPARE_NOTE", "COMPARE_SCORES", "FID_NOTE", "HEADLINES", "LATEX_ESCAPES",
           "PRECISION", "REFERENCES", "SIDE_BY_SIDE_NOTES", "TABLES", "TITLES", "TableName",
           "build_table", "classify_notes", "compare_table", "display_compare", "display_table", "quality_difference",
           "side_by_side", "table_note", "to_latex", "to_markdown", "typed_records"]

#: A cell record, typed or as loaded from its ``record.json``.
AnyRecord = CellRecord | Mapping[str, Any]


def typed_records(records: Iterable[AnyRecord]) -> list[CellRecord]:
    """``records`` as :class:`~dg2bench.store.records.CellRecord` (dicts read by
    :func:`~dg2bench.store.records.cell_record`, named by their ``cell`` in an error)."""
    return [r if isinstance(r, CellRecord) else cell_record(r, str(r.get("cell", "a cell record"))) for r in records]


def build_table(records: Sequence[AnyRecord], table: TableName) -> pd.DataFrame:
    """The numeric leaderboard ``table`` from the complete cell records (failed ones are left out).

    See :func:`dg2bench.report.aggregate.build_table`.
    """
    return aggregate.build_table(typed_records(records), table)


def compare_table(records: Sequence[AnyRecord], a: str, b: str) -> pd.DataFrame:
    """Method ``a`` against method ``b``: accuracy per class, and FID/KID, as paired differences.

    See :func:`dg2bench.report.aggregate.compare_table`.
    """
    return aggregate.compare_table(typed_records(records), a, b)


def quality_difference(a: Sequence[AnyRecord], b: Sequence[AnyRecord], key: str) -> dict[str, Any]:
    """``key`` (fid or kid) of method A minus B over the seeds both have, as a dict (``{}``: no shared seed).

    See :func:`dg2bench.report.quality_pairs.score_difference`; the keys: ``diff``,
    ``low``, ``high``, ``p``, ``level``, ``seeds``, ``per_seed``, ``signs_disagree``,
    ``a_mean``, ``b_mean``.
    """
    test = quality_pairs.score_difference(typed_records(a), typed_records(b), key)
    if test is None:
        return {}
    keys = ("diff", "low", "high", "p", "level", "seeds", "per_seed", "signs_disagree", "a_mean", "b_mean")
    return {key: getattr(test, key) for key in keys}
