"""Cell records -> the leaderboard tables' rows: means over seeds, intervals and paired tests.

One function per table (:func:`time_rows`, :func:`quality_rows`, :func:`classify_rows`,
:func:`compare_rows`), each from typed records (:mod:`dg2bench.store.records`) to typed
rows (:mod:`dg2bench.report.table_rows`); :func:`build_table` and :func:`compare_table`
lay them out as the numeric tables. The statistics come from
``dg2bench.metrics.statistics``; what each interval and test means is in
:mod:`dg2bench.report.notes`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from dg2bench.metrics.classification import wilson_interval
from dg2bench.metrics.statistics import holm, paired_accuracy, t_interval
from dg2bench.report.quality_pairs import QUALITY_SCORES, order_established, score_difference
from dg2bench.report.table_names import REFERENCES, TableName
from dg2bench.report.table_rows import (
    ClassRow,
    CompareRow,
    DefectTypeRow,
    PairedDifference,
    QualityRow,
    ScoreInterval,
    Spread,
    TimeRow,
    frame,
)
from dg2bench.store.records import CellRecord, ClassifierResult

#: The classes of a classify table: the label they have in predictions, the name records give them.
CLASSES = ((1, "defect"), (0, "defect_free"))

#: ``(dataset, method) -> records``.
RecordGroups = dict[tuple[str, str], list[CellRecord]]
#: ``(dataset, method, classifier) -> {seed: that seed's result}``.
ResultsBySeed = dict[tuple[str, str, str], dict[int, ClassifierResult]]


def build_table(records: Sequence[CellRecord], table: TableName) -> pd.DataFrame:
    """The numeric leaderboard ``table`` from the complete cell records (failed ones are left out)."""
    complete = [r for r in records if r.complete]
    rows = {"time": time_rows, "fid": quality_rows, "classify": classify_rows}[table](complete)
    return frame(rows)


def compare_table(records: Sequence[CellRecord], a: str, b: str) -> pd.DataFrame:
    """Method ``a`` against method ``b``: accuracy per class, and FID/KID, as paired differences.

    One row per dataset × classifier × class (``score`` ``accuracy``), plus one per
    dataset for each of FID and KID when both methods were scored (``classifier`` and
    ``class`` empty). Each row: both means over the shared seeds (``<a> mean``,
    ``<b> mean``), the difference A - B, its 95 % interval and p (seed-level with two or
    more shared seeds, ``level``), the per-seed differences, and for accuracy the exact
    McNemar p per seed.
    """
    rows = compare_rows([r for r in records if r.complete], a, b)
    return frame(rows).rename(columns={"a": f"{a} mean", "b": f"{b} mean"})


def mean_sd(values: Sequence[float | None]) -> Spread:
    """Mean and sample sd of ``values``, None and NaN left out (sd NaN for fewer than two)."""
    arr = np.array([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))], float)
    if arr.size == 0:
        return Spread(math.nan, math.nan)
    return Spread(float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else math.nan)


def group_records(records: Sequence[CellRecord]) -> RecordGroups:
    """``(dataset, method) -> records``, in the order they first appear."""
    groups: RecordGroups = {}
    for record in records:
        groups.setdefault((record.dataset, record.method), []).append(record)
    return groups


def time_rows(records: Sequence[CellRecord]) -> list[TimeRow]:
    """Table 3's rows: one per dataset × generator that trained (means over seeds)."""
    rows = []
    for (dataset, method), group in group_records(records).items():
        trained = [r.training for r in group if r.training]
        if not trained:
            continue
        hours = mean_sd([t.train_seconds / 3600 for t in trained])
        rate = mean_sd([t.images_per_second for t in trained])
        first = trained[0]
        rows.append(TimeRow(dataset=dataset, method=method, seeds=len(trained), parameters_m=first.parameters / 1e6,
                            size_mb=first.size_mb, inference_size_mb=first.size_mb_inference, epochs=first.epochs,
                            data_volume=first.data_volume, images_seen=first.images_seen,
                            training_time_h=hours.mean, training_time_h_sd=hours.sd,
                            images_per_s=rate.mean, images_per_s_sd=rate.sd, device_peak_mb=first.peak_mb))
    return rows


def quality_rows(records: Sequence[CellRecord]) -> list[QualityRow]:
    """Tables 4-6's rows, plus KID, P/R/D/C and the sample sizes; lettered per dataset by the pairwise tests."""
    rows = []
    groups = group_records(records)
    for (dataset, method), group in groups.items():
        scored = [r.quality for r in group if r.quality]
        if not scored:
            continue
        scores = {"fid": mean_sd([q.fid.value for q in scored]), "kid": mean_sd([q.kid.value for q in scored]),
                  **{key: mean_sd([getattr(q.prdc, key) for q in scored])
                     for key in ("precision", "recall", "density", "coverage")}}
        intervals = {}
        for key in QUALITY_SCORES:
            bounds = [q.score(key).interval for q in scored if q.score(key).interval]
            mean, half, n = t_interval([q.score(key).value for q in scored])
            # FID is never negative (KID, an unbiased estimate, can be).
            seed_low = max(mean - half, 0.0) if key == "fid" else mean - half
            image_low, image_high = mean_sd([b[0] for b in bounds]).mean, mean_sd([b[1] for b in bounds]).mean
            # With two or more seeds the interval must hold the seeds' spread (training
            # randomness and each seed's own fakes); with one, only the images can speak.
            over = "seeds" if n >= 2 else "images"
            intervals[key] = ScoreInterval(image_low=image_low, image_high=image_high, seed_low=seed_low,
                                           seed_high=mean + half, low=seed_low if n >= 2 else image_low,
                                           high=mean + half if n >= 2 else image_high, over=over)
        first = scored[0]
        rows.append(QualityRow(dataset=dataset, method=method, seeds=len(scored), scores=scores, intervals=intervals,
                               kid_subset_sd=first.kid_subset_sd, n_fake=first.n_fake, n_real=first.n_real,
                               extractor=first.extractor,
                               warning="; ".join(sorted({w for q in scored for w in q.warnings}))))
    orders = {}
    for dataset in dict.fromkeys(row.dataset for row in rows):
        means = {row.method: {key: row.scores[key].mean for key in QUALITY_SCORES}
                 for row in rows if row.dataset == dataset}
        orders.update({(dataset, method): order for method, order in
                       order_established(means, groups, dataset).items()})
    return [dataclasses.replace(row, order=orders[(row.dataset, row.method)]) for row in rows]


def _correct(result: ClassifierResult, label: int) -> dict[str, bool]:
    """Test image id -> whether the classifier got it right, for images of class ``label``."""
    return {p.id: p.label == p.pred for p in result.predictions if p.label == label}


def _paired(results: dict[int, ClassifierResult], reference: dict[int, ClassifierResult],
            label: int) -> PairedDifference:
    """Paired comparison of two methods' results (seeds paired by seed number) on the test images of ``label``.

    See :func:`dg2bench.metrics.statistics.paired_accuracy`: method-level (paired t over
    seeds) with two or more shared seeds, about two trained models with one. Untested
    when the two share no seed or no test image.
    """
    seeds = sorted(set(results) & set(reference))
    if not seeds:
        return PairedDifference()
    mine, theirs = [_correct(results[s], label) for s in seeds], [_correct(reference[s], label) for s in seeds]
    ids = sorted(set.intersection(*(set(m) for m in mine + theirs)))
    if not ids:
        return PairedDifference()
    a = np.array([[m[i] for i in ids] for m in mine])
    b = np.array([[t[i] for i in ids] for t in theirs])
    return PairedDifference.of_accuracy(paired_accuracy(a, b))


def _reference_methods(records: Sequence[CellRecord]) -> dict[str, str]:
    """The method label of each reference: ``baseline``, and the label whose plugin is ``oversample``."""
    out = {"baseline": "baseline"}
    for record in sorted(records, key=lambda r: r.method):
        plugin = record.generator_plugin
        if plugin in REFERENCES and plugin != "baseline":
            out.setdefault(plugin, record.method)
    return out


def _results_by_seed(records: Sequence[CellRecord]) -> ResultsBySeed:
    """``(dataset, method, classifier) -> {seed: classifier result}``."""
    by_seed: ResultsBySeed = {}
    for record in records:
        for clf, result in record.classification.items():
            by_seed.setdefault((record.dataset, record.method, clf), {})[record.seed] = result
    return by_seed


def classify_rows(records: Sequence[CellRecord]) -> list[ClassRow | DefectTypeRow]:
    """Tables 9-12's rows: one per dataset × method × classifier × class, and per defect type.

    See :data:`dg2bench.report.notes.CLASSIFY_NOTE` for what each interval and test means.
    """
    rows: list[ClassRow | DefectTypeRow] = []
    by_seed = _results_by_seed(records)
    references = _reference_methods(records)
    for (dataset, method, clf), results in by_seed.items():
        name = f"{clf}-only" if method == "baseline" else f"{method}+{clf}"
        ordered = [results[s] for s in sorted(results)]
        for label, cls_name in CLASSES:
            per = [res.per_class[cls_name] for res in ordered]
            acc, half, n = t_interval([p.accuracy for p in per])
            precision = mean_sd([p.precision for p in per])
            images = per[0].support
            low, high = wilson_interval(acc * images, images) if images else (math.nan, math.nan)
            versus = {}
            for ref in REFERENCES:
                ref_method = references.get(ref)
                reference = by_seed.get((dataset, ref_method, clf)) if ref_method else None
                # The baseline is compared with nothing; a control not with itself.
                compared = reference and method not in (ref_method, "baseline")
                versus[ref] = _paired(results, reference, label) if compared else PairedDifference()
            rows.append(ClassRow(
                dataset=dataset, method=name, classifier=clf, class_name=cls_name.replace("_", "-"), seeds=n,
                accuracy=acc, accuracy_sd=mean_sd([p.accuracy for p in per]).sd, accuracy_t_half=half,
                accuracy_ci_low=low, accuracy_ci_high=high, precision=precision.mean, precision_sd=precision.sd,
                # A seed that never predicts the class has no precision: counted apart, not hidden.
                precision_seeds=sum(p.precision is not None and p.precision == p.precision for p in per),
                f1=mean_sd([p.f1 for p in per]).mean, test_images=images,
                balanced_accuracy=mean_sd([res.balanced_accuracy for res in ordered]).mean, versus=versus))
        rows.extend(_defect_type_rows(dataset, name, clf, ordered))
    return _holm_per_family(rows)


def _holm_per_family(rows: list[ClassRow | DefectTypeRow]) -> list[ClassRow | DefectTypeRow]:
    """``rows`` with each reference's p after Holm over the method-level tests of a dataset, classifier and class.

    A one-seed (``models``) p is not one of those tests; defect-type rows have none.
    """
    families: dict[tuple[str, str, str], list[tuple[int, ClassRow]]] = {}
    for i, row in enumerate(rows):
        if isinstance(row, ClassRow):
            families.setdefault((row.dataset, row.classifier, row.class_name), []).append((i, row))
    adjusted: dict[int, dict[str, float]] = {}
    for members in families.values():
        for ref in REFERENCES:
            tests = [row.versus[ref] for _, row in members]
            for (i, _), p in zip(members, holm([t.p if t.level == "seeds" else math.nan for t in tests])):
                adjusted.setdefault(i, {})[ref] = p
    return [dataclasses.replace(row, p_holm=adjusted[i]) if isinstance(row, ClassRow) else row
            for i, row in enumerate(rows)]


def _defect_type_rows(dataset: str, name: str, clf: str, results: list[ClassifierResult]) -> list[DefectTypeRow]:
    """Recall per defect type ("defect: <type>" rows), for datasets that have types."""
    types = sorted({t for res in results for t in res.per_type_recall})
    rows = []
    for defect_type in types:
        counts = [res.per_type_recall[defect_type] for res in results if defect_type in res.per_type_recall]
        accuracy = mean_sd([c.correct / c.total for c in counts])
        total = counts[0].total
        low, high = wilson_interval(accuracy.mean * total, total)
        rows.append(DefectTypeRow(dataset=dataset, method=name, classifier=clf, defect_type=defect_type,
                                  seeds=len(counts), accuracy=accuracy.mean, accuracy_sd=accuracy.sd,
                                  accuracy_ci_low=low, accuracy_ci_high=high, test_images=total,
                                  accuracy_t_half=t_interval([c.correct / c.total for c in counts])[1]))
    return rows


def compare_rows(records: Sequence[CellRecord], a: str, b: str) -> list[CompareRow]:
    """:func:`compare_table`'s rows: accuracy per classifier and class, then FID and KID per dataset."""
    by_seed = _results_by_seed(records)
    rows = []
    for (dataset, method, clf), results in by_seed.items():
        other = by_seed.get((dataset, b, clf))
        if method != a or other is None:
            continue
        for label, cls_name in CLASSES:
            test = _paired(results, other, label)
            if test.level is None:
                continue
            seeds = sorted(set(results) & set(other))
            test = dataclasses.replace(test, a_mean=float(np.mean([results[s].per_class[cls_name].accuracy
                                                                   for s in seeds])),
                                       b_mean=float(np.mean([other[s].per_class[cls_name].accuracy for s in seeds])))
            rows.append(CompareRow(dataset=dataset, score="accuracy", classifier=clf,
                                   class_name=cls_name.replace("_", "-"), test=test))
    groups = group_records(records)
    for dataset in dict.fromkeys(r.dataset for r in records):
        for key in QUALITY_SCORES:
            test = score_difference(groups.get((dataset, a), []), groups.get((dataset, b), []), key)
            if test is not None:
                rows.append(CompareRow(dataset=dataset, score=key, classifier="", class_name="", test=test))
    return rows
