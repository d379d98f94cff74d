"""The rows of the leaderboard tables, typed, and the numeric frames made of them.

:mod:`dg2bench.report.aggregate` builds the rows from cell records; :func:`frame`
lays them out as the numeric table (one column per field, in the order the csv and
json outputs have always had); :mod:`dg2bench.report.formatting` turns that into
strings.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pandas as pd

NAN = math.nan


class Row(Protocol):
    """A table row: its numeric columns, by name, in the table's order."""

    def columns(self) -> dict[str, Any]:
        """Column name -> value."""


def frame(rows: Sequence[Row]) -> pd.DataFrame:
    """The numeric table of ``rows`` (empty for none)."""
    return pd.DataFrame([row.columns() for row in rows])


@dataclasses.dataclass(frozen=True)
class TimeRow:
    """Table 3: one dataset × generator, means over the seeds that trained it."""

    dataset: str
    method: str
    seeds: int
    parameters_m: float
    size_mb: float
    inference_size_mb: float
    epochs: float
    data_volume: int
    images_seen: int
    training_time_h: float
    training_time_h_sd: float
    images_per_s: float
    images_per_s_sd: float
    device_peak_mb: float

    def columns(self) -> dict[str, Any]:
        """Every field, by its name."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True)
class Spread:
    """Mean and standard deviation over seeds (NaN where undefined)."""

    mean: float
    sd: float


@dataclasses.dataclass(frozen=True)
class ScoreInterval:
    """A quality score's 95 % intervals: the image bootstrap's (means of the seeds' bounds), the seeds' Student-t,
    and the one shown (``over`` ``"seeds"`` with two or more seeds, else ``"images"``)."""

    image_low: float
    image_high: float
    seed_low: float
    seed_high: float
    low: float
    high: float
    over: str


@dataclasses.dataclass(frozen=True)
class ScoreOrder:
    """What the pairwise tests of a dataset's methods established for one score (see ``quality_pairs``)."""

    #: Letters: no letter in common, order established; ``–`` untested.
    group: str
    #: The methods this one is established to beat, comma-separated.
    lower_than: str
    #: ``seeds``, ``models`` or ``–``.
    pairs_level: str


@dataclasses.dataclass(frozen=True)
class QualityRow:
    """Tables 4-6: one dataset × generator, means over the seeds whose fakes were scored."""

    dataset: str
    method: str
    seeds: int
    #: fid, kid, precision, recall, density, coverage.
    scores: Mapping[str, Spread]
    #: fid, kid.
    intervals: Mapping[str, ScoreInterval]
    kid_subset_sd: float
    n_fake: int
    n_real: int
    extractor: str
    #: Every seed's warnings, sorted, joined by ``"; "``.
    warning: str
    #: fid, kid; filled in once every method of the dataset has its row.
    order: Mapping[str, ScoreOrder] = dataclasses.field(default_factory=dict)

    def columns(self) -> dict[str, Any]:
        """``fid``, ``fid_sd``, ..., ``fid_image_ci_low``, ..., ``fid_group``, ...: flat, in the table's order."""
        out: dict[str, Any] = {"dataset": self.dataset, "method": self.method, "seeds": self.seeds}
        for key, spread in self.scores.items():
            out[key], out[f"{key}_sd"] = spread.mean, spread.sd
        for key, interval in self.intervals.items():
            out.update({f"{key}_image_ci_low": interval.image_low, f"{key}_image_ci_high": interval.image_high,
                        f"{key}_seed_ci_low": interval.seed_low, f"{key}_seed_ci_high": interval.seed_high,
                        f"{key}_ci_low": interval.low, f"{key}_ci_high": interval.high,
                        f"{key}_ci_over": interval.over})
        out.update({"kid_subset_sd": self.kid_subset_sd, "n_fake": self.n_fake, "n_real": self.n_real,
                    "extractor": self.extractor, "warning": self.warning})
        for key, order in self.order.items():
            out.update({f"{key}_group": order.group, f"{key}_lower_than": order.lower_than,
                        f"{key}_pairs_level": order.pairs_level})
        return out


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """A - B over the seeds both methods have, paired by seed number (defaults: untested).

    See :func:`dg2bench.metrics.statistics.paired_accuracy` (accuracy) and
    :func:`dg2bench.report.quality_pairs.score_difference` (FID, KID).
    """

    diff: float = NAN
    low: float = NAN
    high: float = NAN
    p: float = NAN
    #: ``seeds`` (a method-level test), ``models`` (one seed: two trained models), or None (untested).
    level: str | None = None
    seeds: float = NAN
    per_seed: list[float] | None = None
    signs_disagree: bool | None = None
    #: Accuracy only: the image-level sign-flip p, the images compared, the exact McNemar p per seed.
    p_images: float = NAN
    images: float = NAN
    mcnemar_p: list[float] | None = None
    #: Each method's mean over the shared seeds (FID, KID).
    a_mean: float = NAN
    b_mean: float = NAN

    @classmethod
    def of_accuracy(cls, test: Mapping[str, Any]) -> PairedDifference:
        """From :func:`~dg2bench.metrics.statistics.paired_accuracy`'s dict (``{}``: untested)."""
        return cls(**{field.name: test[field.name] for field in dataclasses.fields(cls) if field.name in test})


#: A classify row's columns per reference (``vs_<reference>_<field>``), in the table's order.
PAIRED_COLUMNS = ("diff", "low", "high", "p", "p_images", "seeds", "images", "level", "per_seed",
                  "signs_disagree", "mcnemar_p")


@dataclasses.dataclass(frozen=True)
class ClassRow:
    """Tables 9-12: one dataset × method × classifier × class, over the seeds."""

    dataset: str
    method: str
    classifier: str
    #: ``defect`` or ``defect-free``.
    class_name: str
    seeds: int
    accuracy: float
    accuracy_sd: float
    #: Half-width of the 95 % Student-t interval over the seeds.
    accuracy_t_half: float
    #: Wilson 95 % interval of one evaluation on the test images.
    accuracy_ci_low: float
    accuracy_ci_high: float
    precision: float
    precision_sd: float
    #: The seeds where precision is defined (the class was predicted).
    precision_seeds: int
    f1: float
    test_images: int
    balanced_accuracy: float
    #: Per reference (``baseline``, ``oversample``): the paired comparison, untested when none.
    versus: Mapping[str, PairedDifference]
    #: Per reference: p after Holm over the method-level tests of the row's dataset, classifier and class.
    p_holm: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def columns(self) -> dict[str, Any]:
        """The row's fields, then ``vs_<reference>_<key>`` per reference, then ``vs_<reference>_p_holm``."""
        out = {"dataset": self.dataset, "method": self.method, "classifier": self.classifier,
               "class": self.class_name, "seeds": self.seeds, "accuracy": self.accuracy,
               "accuracy_sd": self.accuracy_sd, "accuracy_t_half": self.accuracy_t_half,
               "accuracy_ci_low": self.accuracy_ci_low, "accuracy_ci_high": self.accuracy_ci_high,
               "precision": self.precision, "precision_sd": self.precision_sd,
               "precision_seeds": self.precision_seeds, "f1": self.f1, "test_images": self.test_images,
               "balanced_accuracy": self.balanced_accuracy}
        for ref, test in self.versus.items():
            out.update({f"vs_{ref}_{key}": getattr(test, key) for key in PAIRED_COLUMNS})
        out.update({f"vs_{ref}_p_holm": p for ref, p in self.p_holm.items()})
        return out


@dataclasses.dataclass(frozen=True)
class DefectTypeRow:
    """Recall of one defect type (``class`` ``"defect: <type>"``) for one method × classifier, over the seeds."""

    dataset: str
    method: str
    classifier: str
    defect_type: str
    seeds: int
    accuracy: float
    accuracy_sd: float
    accuracy_ci_low: float
    accuracy_ci_high: float
    test_images: int
    accuracy_t_half: float

    def columns(self) -> dict[str, Any]:
        """A classify row's columns; precision, F1 and balanced accuracy are undefined for one type."""
        return {"dataset": self.dataset, "method": self.method, "classifier": self.classifier,
                "class": f"defect: {self.defect_type}", "seeds": self.seeds,
                "accuracy": self.accuracy, "accuracy_sd": self.accuracy_sd, "accuracy_ci_low": self.accuracy_ci_low,
                "accuracy_ci_high": self.accuracy_ci_high, "precision": NAN, "precision_sd": NAN,
                "precision_seeds": 0, "f1": NAN, "balanced_accuracy": NAN, "test_images": self.test_images,
                "accuracy_t_half": self.accuracy_t_half}


@dataclasses.dataclass(frozen=True)
class CompareRow:
    """A ``--compare`` row: method A against B on one score (accuracy of a classifier and class, FID or KID)."""

    dataset: str
    #: ``accuracy``, ``fid`` or ``kid``.
    score: str
    #: Empty for FID and KID.
    classifier: str
    class_name: str
    test: PairedDifference

    def columns(self) -> dict[str, Any]:
        """``a`` and ``b`` are each method's mean over the shared seeds (the caller names them)."""
        test = self.test
        return {"dataset": self.dataset, "score": self.score, "classifier": self.classifier,
                "class": self.class_name, "a": test.a_mean, "b": test.b_mean, "diff": test.diff, "low": test.low,
                "high": test.high, "p": test.p, "level": test.level, "seeds": test.seeds,
                "per_seed": test.per_seed, "signs_disagree": test.signs_disagree, "mcnemar_p": test.mcnemar_p}
