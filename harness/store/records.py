"""Cell records, typed: what the reports read from a cell's ``record.json``.

:func:`cell_record` builds a :class:`CellRecord` from the JSON object a cell wrote
(``dg2bench.run.cell.run_cell``); :func:`cell_records` does it for every record a
:class:`~dg2bench.store.results.ResultStore` holds. Keys that records of older
versions lack get the defaults the reports always gave them (seed 0, no status read as
complete, no per-type recall, no bootstrap replicates, ...); a key the reports need that
is missing, or of the wrong kind, is a :class:`~dg2bench.errors.DataError` naming the
file and the key. A failed cell's record is read for who it is only: its stages are
left out of every table, so whatever they hold is not read.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dg2bench.errors import DataError

#: The two classes every classifier result scores, as records name them.
CLASS_NAMES = ("defect", "defect_free")
#: Where a training's peak memory is recorded, first found wins: on CUDA, then the process's since the reset,
#: then the process's since it started (``dg2bench.runtime.device.peak_memory_mb``).
PEAK_MEMORY_KEYS = ("cuda_peak_allocated_mb", "peak_rss_mb", "process_peak_rss_mb")


@dataclasses.dataclass(frozen=True)
class Training:
    """What training a cell's generator cost (records of training-free methods have none)."""

    parameters: int
    size_mb: float
    size_mb_inference: float
    epochs: float
    data_volume: int
    images_seen: int
    train_seconds: float
    images_per_second: float
    #: Peak device memory in MB (see :data:`PEAK_MEMORY_KEYS`); NaN when not recorded.
    peak_mb: float


@dataclasses.dataclass(frozen=True)
class Score:
    """FID or KID of a cell's fakes: the value, its image bootstrap and the bootstrap replicates."""

    value: float
    #: 95 % bootstrap interval over fake and real images; None when not recorded.
    interval: tuple[float, float] | None
    #: The bootstrap replicates (paired with other cells' by index); empty when not kept.
    replicates: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class Prdc:
    """Precision, recall, density and coverage of a cell's fakes."""

    precision: float
    recall: float
    density: float
    coverage: float


@dataclasses.dataclass(frozen=True)
class Quality:
    """How close a cell's fakes are to the real training defects."""

    fid: Score
    kid: Score
    #: The spread of KID over its subsets.
    kid_subset_sd: float
    prdc: Prdc
    n_fake: int
    n_real: int
    #: The feature extractor the scores come from.
    extractor: str
    warnings: tuple[str, ...]

    def score(self, key: str) -> Score:
        """The :class:`Score` named ``key``: ``fid`` or ``kid``."""
        return {"fid": self.fid, "kid": self.kid}[key]


@dataclasses.dataclass(frozen=True)
class ClassMetrics:
    """One class's scores on the test set (undefined ones, as for a class never predicted: None or NaN)."""

    support: int
    accuracy: float | None
    precision: float | None
    f1: float | None


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One test image's label and the classifier's prediction (1 = defect, 0 = defect-free)."""

    id: str
    label: int
    pred: int


@dataclasses.dataclass(frozen=True)
class TypeRecall:
    """Defect images of one type and how many of them the classifier found."""

    correct: int
    total: int


@dataclasses.dataclass(frozen=True)
class ClassifierResult:
    """One classifier's result in a cell."""

    #: Per class (:data:`CLASS_NAMES`): support, accuracy (recall), precision, F1.
    per_class: Mapping[str, ClassMetrics]
    balanced_accuracy: float | None
    #: Every test image's prediction; empty in records that did not keep them.
    predictions: tuple[Prediction, ...]
    #: Recall per defect type, for datasets that have types; empty otherwise.
    per_type_recall: Mapping[str, TypeRecall]


@dataclasses.dataclass(frozen=True)
class CellRecord:
    """The final record of one cell (dataset × method × seed), as the reports read it."""

    dataset: str
    method: str
    seed: int
    #: ``complete`` or ``failed`` as recorded; None in records of older versions that name none.
    status: str | None
    #: The generator's plugin name; records that name none: the method's label (None for the baseline).
    generator_plugin: str | None
    #: None without a generator, for a training-free one, or in a failed cell.
    training: Training | None
    #: None when the cell's fakes were not scored, or in a failed cell.
    quality: Quality | None
    #: Per classifier label, in the spec's order; empty in a failed cell.
    classification: Mapping[str, ClassifierResult]

    @property
    def complete(self) -> bool:
        """Whether the cell finished (a record naming no status did); failed cells are left out of every table."""
        return self.status in (None, "complete")


def cell_record(data: Mapping[str, Any], source: str) -> CellRecord:
    """The typed record of ``data``, a cell's ``record.json`` as loaded.

    :param data: the JSON object.
    :param source: where it came from (its path), named in the error.
    :raises DataError: when a key the reports need is missing or of the wrong kind.
    """
    try:
        return _cell_record(_JsonObject(data, ""))
    except _Malformed as exc:
        raise DataError(source, f"is not a cell record the reports can read ({exc})",
                        "delete that cell's folder and rerun `bench run` to redo the cell") from None


def cell_records(files: Iterable[tuple[Path | str, Mapping[str, Any]]]) -> list[CellRecord]:
    """The typed records of ``(path, record)`` pairs, as :meth:`ResultStore.record_files` reads them."""
    return [cell_record(data, str(path)) for path, data in files]


class _Malformed(ValueError):
    """A key is missing or of the wrong kind (the message names it)."""


_NUMBER = (int, float)


class _JsonObject:
    """One JSON object of a record, read key by key; an error names the key's path in the record."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise _Malformed(f"{path or 'the record'} is {_kind(data)}, not an object")
        self.data = data
        self.path = path

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        """Whether ``key`` is present and not null."""
        return self.data.get(key) is not None

    def get(self, key: str, kinds: tuple[type, ...], default: Any = ..., nullable: bool = False) -> Any:
        """The value of ``key``, one of ``kinds``; ``default`` when absent (required when not given)."""
        if key not in self.data:
            if default is ...:
                raise _Malformed(f"{self._where(key)} is missing")
            return default
        value = self.data[key]
        if value is None and nullable:
            return None
        if not isinstance(value, kinds):
            raise _Malformed(f"{self._where(key)} is {_kind(value)}, not {_kind_names(kinds)}")
        return value

    def object(self, key: str) -> _JsonObject:
        """The object at ``key`` (required)."""
        return _JsonObject(self.get(key, (Mapping,)), self._where(key))

    def numbers(self, key: str) -> tuple[float, ...]:
        """The list of numbers at ``key``; empty when absent or null."""
        values = self.get(key, (list,), [], nullable=True) or []
        for i, value in enumerate(values):
            if not isinstance(value, _NUMBER):
                raise _Malformed(f"{self._where(key)}[{i}] is {_kind(value)}, not a number")
        return tuple(values)


def _kind(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {int: "a number", float: "a number", str: "a string", bool: "true or false", list: "a list"}
    return " or ".join(dict.fromkeys(names.get(kind, "an object") for kind in kinds))


def _cell_record(record: _JsonObject) -> CellRecord:
    dataset, method = record.get("dataset", (str,)), record.get("method", (str,))
    status = record.get("status", (str,), None)
    generator = record.get("generator", (Mapping,), None, nullable=True) or {}
    complete = status in (None, "complete")
    return CellRecord(dataset=dataset, method=method, seed=record.get("seed", (int,), 0), status=status,
                      generator_plugin=generator.get("plugin", method if method != "baseline" else None),
                      training=_training(record.object("training")) if complete and record.has("training") else None,
                      quality=_quality(record.object("quality")) if complete and record.has("quality") else None,
                      classification=_classification(record) if complete else {})


def _classification(record: _JsonObject) -> dict[str, ClassifierResult]:
    if "classification" not in record.data:
        return {}
    results = record.object("classification")
    return {label: _classifier_result(results.object(label)) for label in results.data}


def _training(training: _JsonObject) -> Training | None:
    if not training.data or not training.get("needs_training", (bool,), True):
        return None
    peak = next((training.get(key, _NUMBER, nullable=True) for key in PEAK_MEMORY_KEYS if key in training.data),
                math.nan)
    return Training(parameters=training.get("parameters", _NUMBER), size_mb=training.get("size_mb", _NUMBER),
                    size_mb_inference=training.get("size_mb_inference", _NUMBER),
                    epochs=training.get("epochs", _NUMBER), data_volume=training.get("data_volume", _NUMBER),
                    images_seen=training.get("images_seen", _NUMBER),
                    train_seconds=training.get("train_seconds", _NUMBER),
                    images_per_second=training.get("images_per_second", _NUMBER), peak_mb=peak)


def _quality(quality: _JsonObject) -> Quality | None:
    if not quality.data:
        return None
    kid, prdc = quality.object("kid"), quality.object("prdc")
    return Quality(fid=_score(quality, "fid", quality.get("fid", _NUMBER)),
                   kid=_score(quality, "kid", kid.get("mean", _NUMBER)), kid_subset_sd=kid.get("std", _NUMBER),
                   prdc=Prdc(**{key: prdc.get(key, _NUMBER) for key in ("precision", "recall", "density", "coverage")}),
                   n_fake=quality.get("n_fake", _NUMBER), n_real=quality.get("n_real", _NUMBER),
                   extractor=quality.get("extractor", (str,)),
                   warnings=tuple(quality.get("warnings", (list,), [])))


def _score(quality: _JsonObject, key: str, value: float) -> Score:
    interval = quality.numbers(f"{key}_ci")
    if interval and len(interval) != 2:
        raise _Malformed(f"{quality.path}.{key}_ci has {len(interval)} values, not 2")
    return Score(value=value, interval=(interval[0], interval[1]) if interval else None,
                 replicates=quality.numbers(f"{key}_replicates"))


def _classifier_result(result: _JsonObject) -> ClassifierResult:
    metrics = result.object("metrics")
    per_class = metrics.object("per_class")
    recall = result.object("per_type_recall") if "per_type_recall" in result.data else None
    return ClassifierResult(
        per_class={name: _class_metrics(per_class.object(name)) for name in CLASS_NAMES},
        balanced_accuracy=metrics.get("balanced_accuracy", _NUMBER, nullable=True),
        predictions=_predictions(result),
        per_type_recall={} if recall is None else {name: _type_recall(recall.object(name)) for name in recall.data})


def _predictions(result: _JsonObject) -> tuple[Prediction, ...]:
    """Every prediction of ``result`` (thousands per classifier: read in one go, checked one by one on failure)."""
    values = result.get("predictions", (list,), [])
    try:
        return tuple(Prediction(p["id"], p["label"], p["pred"]) for p in values)
    except (KeyError, TypeError):
        for i, value in enumerate(values):
            _prediction(_JsonObject(value, f"{result.path}.predictions[{i}]"))
        raise


def _class_metrics(metrics: _JsonObject) -> ClassMetrics:
    return ClassMetrics(support=metrics.get("support", _NUMBER),
                        **{key: metrics.get(key, _NUMBER, nullable=True) for key in ("accuracy", "precision", "f1")})


def _prediction(prediction: _JsonObject) -> Prediction:
    return Prediction(id=prediction.get("id", (str,)), label=prediction.get("label", (int,)),
                      pred=prediction.get("pred", (int,)))


def _type_recall(recall: _JsonObject) -> TypeRecall:
    return TypeRecall(correct=recall.get("correct", _NUMBER), total=recall.get("total", _NUMBER))
