"""Classification scores as the paper's Tables 9-12 report them, plus their uncertainty.

The tables give, per class, an "accuracy" that is the class's recall
(TP / (TP + FN); Table 9's ResNet-only row is reproduced exactly by TP=52, FN=8,
TN=292, FP=38 on 60 defect / 330 defect-free test images) and a precision.
With 60 defect images one image moves the defect accuracy by 1.7 points, so each
proportion also gets a Wilson 95 % interval.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from dg2bench.contracts.classifier import DEFECT, DEFECT_FREE

CLASS_NAMES = {DEFECT_FREE: "defect_free", DEFECT: "defect"}
#: Two-sided 95 % normal quantile, norm.ppf(0.975).
Z_95 = 1.959963984540054


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval (default 95 %) of the proportion ``successes / total``.

    Unlike the normal approximation it stays inside ``[0, 1]`` and behaves near 0 and
    1, where the per-class accuracies of Tables 9-12 lie. ``(nan, nan)`` if ``total`` is 0.
    """
    if total < 0 or not 0 <= successes <= total:
        raise ValueError(f"need 0 <= successes <= total, got {successes} of {total}")
    if total == 0:
        return (math.nan, math.nan)
    p = successes / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z / (1 + z2 / total) * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return (max(0.0, centre - half), min(1.0, centre + half))


def _json_float(value: float) -> float | None:
    # NaN is not valid JSON; an undefined score is reported as null.
    return None if value is None or math.isnan(value) else float(value)


@dataclasses.dataclass(frozen=True)
class ClassScores:
    """Scores of one class.

    ``precision`` is NaN when the class is never predicted; ``f1`` is ``2TP / (2TP + FP +
    FN)``, so it is 0 for a class that occurs but is never predicted, and NaN only when
    the class neither occurs nor is predicted.
    """

    name: str
    support: int
    accuracy: float  # recall, the tables' per-class "accuracy"
    accuracy_ci95: tuple[float, float]
    precision: float
    precision_ci95: tuple[float, float]
    f1: float


@dataclasses.dataclass(frozen=True)
class ClassificationReport:
    """Confusion matrix and scores of a two-class (0 defect-free, 1 defect) test.

    ``confusion[i][j]`` counts images of true class ``i`` predicted as ``j``.
    """

    confusion: tuple[tuple[int, int], tuple[int, int]]
    per_class: dict[str, ClassScores]
    accuracy: float
    balanced_accuracy: float
    n: int

    @property
    def tp(self) -> int:
        """Defect images recognised as defect."""
        return self.confusion[DEFECT][DEFECT]

    @property
    def fn(self) -> int:
        """Defect images missed."""
        return self.confusion[DEFECT][DEFECT_FREE]

    @property
    def tn(self) -> int:
        """Defect-free images recognised as defect-free."""
        return self.confusion[DEFECT_FREE][DEFECT_FREE]

    @property
    def fp(self) -> int:
        """Defect-free images flagged as defect."""
        return self.confusion[DEFECT_FREE][DEFECT]

    def as_dict(self) -> dict:
        """A JSON-friendly dict; undefined scores (NaN) become ``None``."""
        per_class = {}
        for key, s in self.per_class.items():
            per_class[key] = {
                "support": s.support, "accuracy": _json_float(s.accuracy),
                "accuracy_ci95": [_json_float(v) for v in s.accuracy_ci95],
                "precision": _json_float(s.precision),
                "precision_ci95": [_json_float(v) for v in s.precision_ci95],
                "f1": _json_float(s.f1),
            }
        return {"confusion": [list(row) for row in self.confusion],
                "tp": self.tp, "fn": self.fn, "tn": self.tn, "fp": self.fp,
                "per_class": per_class, "accuracy": _json_float(self.accuracy),
                "balanced_accuracy": _json_float(self.balanced_accuracy), "n": self.n}


def classification_report(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray
                          ) -> ClassificationReport:
    """Score predictions ``y_pred`` against labels ``y_true`` (0 = defect-free, 1 = defect)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"need two equal, non-empty 1-d label arrays, got {y_true.shape} and {y_pred.shape}")
    labels = [DEFECT_FREE, DEFECT]
    if not np.isin(y_true, labels).all() or not np.isin(y_pred, labels).all():
        raise ValueError("labels must be 0 (defect-free) or 1 (defect)")
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=np.nan)
    per_class = {}
    for c in labels:
        predicted = int(cm[:, c].sum())
        per_class[CLASS_NAMES[c]] = ClassScores(
            name=CLASS_NAMES[c], support=int(support[c]), accuracy=float(recall[c]),
            accuracy_ci95=wilson_interval(int(cm[c, c]), int(support[c])),
            precision=float(precision[c]), precision_ci95=wilson_interval(int(cm[c, c]), predicted),
            f1=float(f1[c]))
    # Balanced accuracy is the mean per-class recall; sklearn's balanced_accuracy_score
    # silently averages only the classes present, which would hide a one-class test set.
    balanced = float(np.mean(recall))
    return ClassificationReport(
        confusion=((int(cm[0, 0]), int(cm[0, 1])), (int(cm[1, 0]), int(cm[1, 1]))),
        per_class=per_class, accuracy=float(np.trace(cm) / cm.sum()), balanced_accuracy=balanced,
        n=int(cm.sum()))


def report_from_counts(tp: int, fn: int, tn: int, fp: int) -> ClassificationReport:
    """The report of a confusion matrix given as counts (e.g. read off a paper's table)."""
    y_true = [DEFECT] * (tp + fn) + [DEFECT_FREE] * (tn + fp)
    y_pred = [DEFECT] * tp + [DEFECT_FREE] * fn + [DEFECT_FREE] * tn + [DEFECT] * fp
    return classification_report(y_true, y_pred)
