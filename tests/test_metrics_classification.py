"""Per-class accuracy (recall) and precision as in the paper's Tables 9-12."""

from __future__ import annotations

import json
import math

import pytest

from dg2bench.metrics.classification import classification_report, report_from_counts, wilson_interval


@pytest.mark.parametrize(
    ("counts", "defect", "defect_free"),
    [
        # Table 9, ResNet-only: 86.7 % / 0.578 and 88.5 % / 0.973.
        ((52, 8, 292, 38), (86.7, 0.578), (88.5, 0.973)),
        # Table 9, DG2GAN + ResNet34: 93.3 % / 0.709 and 93.0 % / 0.987.
        ((56, 4, 307, 23), (93.3, 0.709), (93.0, 0.987)),
    ],
)
def test_reproduces_table_9(counts, defect, defect_free):
    report = report_from_counts(*counts)
    for key, (accuracy, precision) in (("defect", defect), ("defect_free", defect_free)):
        scores = report.per_class[key]
        assert round(100 * scores.accuracy, 1) == accuracy
        assert round(scores.precision, 3) == precision
    assert (report.tp, report.fn, report.tn, report.fp) == counts
    assert report.per_class["defect"].support == 60 and report.per_class["defect_free"].support == 330


def test_overall_and_balanced_accuracy_and_f1():
    report = report_from_counts(52, 8, 292, 38)
    assert report.accuracy == pytest.approx((52 + 292) / 390)
    assert report.balanced_accuracy == pytest.approx((52 / 60 + 292 / 330) / 2)
    assert report.per_class["defect"].f1 == pytest.approx(2 * 52 / (2 * 52 + 38 + 8))
    assert report.confusion == ((292, 38), (8, 52))


def test_precision_of_a_never_predicted_class_is_undefined_not_a_crash():
    report = classification_report([0, 0, 1, 1], [0, 0, 0, 0])
    assert math.isnan(report.per_class["defect"].precision)
    assert report.per_class["defect"].accuracy == 0.0
    data = report.as_dict()
    assert data["per_class"]["defect"]["precision"] is None
    json.dumps(data, allow_nan=False)  # strictly valid JSON


def test_rejects_bad_labels():
    with pytest.raises(ValueError, match="0 \\(defect-free\\) or 1"):
        classification_report([0, 2], [0, 1])
    with pytest.raises(ValueError, match="equal"):
        classification_report([0, 1], [0])


def test_wilson_interval():
    # By hand: p = 52/60, z^2 = 3.8415; centre = (p + z^2/120) / (1 + z^2/60) = 0.84461,
    # half width = z / (1 + z^2/60) * sqrt(p (1 - p) / 60 + z^2 / 14400) = 0.08626.
    low, high = wilson_interval(52, 60)
    assert low == pytest.approx(0.75835, abs=1e-4) and high == pytest.approx(0.93086, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
