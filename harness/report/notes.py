"""The notes under the leaderboard tables: what every interval and test means.

The statistics themselves are computed in ``dg2bench.metrics.statistics`` and
:mod:`dg2bench.report.aggregate`; :func:`classify_notes` adds the smallest difference a
classify table's seeds can detect (``dg2bench.metrics.power``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dg2bench.metrics.power import ALPHA, POWER, minimal_detectable_effect
from dg2bench.report.table_names import REFERENCES, TableName

#: The note under the fid table.
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


#: The note under a ``--by-dataset`` table (its headline columns keep their ±).
SIDE_BY_SIDE_NOTES: dict[TableName, str] = {
    "time": "mean over seeds ± sd",
    "fid": "mean over seeds ± sd; intervals and groups: the table without --by-dataset",
    "classify": "Accuracy: mean over seeds ± 95 % t-interval half-width; Precision: mean ± sd over the seeds where "
                "it is defined; tests: the table without --by-dataset",
}

#: The note under the classify table (:func:`classify_notes` adds what its seeds can detect).
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
    "both have, paired by seed number. With two or more seeds: mean of the per-seed differences "
    "[95 % t-interval] and the paired t-test's p (a method-level test); with one seed, about two trained "
    "models: accuracy [bootstrap over test images] and exact McNemar p; FID/KID [paired bootstrap sharing "
    "each real resample] and a normal test of the difference over its bootstrap standard error. Not "
    "corrected for multiple comparisons. †: the seeds disagree in sign.")


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
