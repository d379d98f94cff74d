"""How small a difference a protocol can detect: the minimal detectable effect.

A method comparison is a paired t-test over seeds (:func:`dg2bench.metrics.statistics.paired_t`).
Its power depends on the number of seeds and on the spread of the per-seed differences,
which has two sources: training randomness (a method's accuracy moves by a few points
from seed to seed) and the finite test set (two classifiers judged on ``n`` images
disagree on some of them). "ns" in a leaderboard then means "smaller than about this,
or not there", never "no effect".
"""

from __future__ import annotations

import math

from scipy import optimize, stats

#: The power a minimal detectable effect is quoted at, and the test's level.
POWER = 0.80
ALPHA = 0.05


def paired_t_power(effect: float, sd: float, seeds: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test over ``seeds`` differences of spread ``sd``."""
    if seeds < 2 or sd <= 0:
        return float("nan")
    df = seeds - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    shift = effect * math.sqrt(seeds) / sd
    # The far tail is negligible when the shift is large, and scipy's nct.cdf returns
    # NaN there: count it as 0.
    far = float(stats.nct.cdf(-critical, df, shift))
    return float(stats.nct.sf(critical, df, shift)) + (0.0 if math.isnan(far) else far)


def minimal_detectable_effect(sd: float, seeds: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true difference the paired t-test finds with probability ``power``.

    :param sd: the standard deviation of one per-seed difference (same unit as the result).
    :param seeds: paired seeds. Fewer than two: NaN (no method-level test exists).
    """
    if seeds < 2 or not sd > 0:
        return float("nan")
    upper = sd
    while paired_t_power(upper, sd, seeds, alpha) < power:
        upper *= 2
    return float(optimize.brentq(lambda e: paired_t_power(e, sd, seeds, alpha) - power, 0.0, upper, xtol=1e-9 * sd))


#: Correlation of two methods' accuracies at one seed number (they share the classifier's
#: initialisation); ``benchmarks/stats/calibration.py`` simulates the same.
SEED_CORRELATION = 0.5


def assumed_difference_sd(test_images: int, seed_sd: float, accuracy: float = 0.75) -> float:
    """Spread of one seed's accuracy difference before any result exists (for ``bench estimate``).

    Each method's accuracy moves by ``seed_sd`` from seed to seed, the two methods' seed
    ``s`` correlated by :data:`SEED_CORRELATION`, and the two classifiers' errors on
    ``test_images`` images taken as independent at ``accuracy``:
    ``sqrt(2 (1 - rho) seed_sd^2 + 2 p (1 - p) / n)`` (with rho 1/2: ``seed_sd^2 + ...``).
    """
    if test_images < 1:
        return float("nan")
    return math.sqrt(2 * (1 - SEED_CORRELATION) * seed_sd ** 2 + 2 * accuracy * (1 - accuracy) / test_images)


#: The seed-to-seed standard deviation of a classifier's accuracy ``bench estimate`` assumes
#: by default (``--seed-sd``): the review that introduced seed-level tests measured 5-7 pp.
DEFAULT_SEED_SD = 0.05


def detectable_differences(test_counts: dict[str, int], seeds: int, seed_sd: float = DEFAULT_SEED_SD,
                           methods: int = 1) -> dict[str, float]:
    """Per class (``defect``, ``defect_free``), the minimal detectable accuracy difference of a spec.

    :param test_counts: the split's test images per class (``Split.counts()["test"]``).
    :param seeds: seeds per cell; fewer than two give NaN (no method-level test).
    :param methods: the methods compared with one reference (the Holm family): the
        effect is quoted at Holm's first level, ``0.05 / methods``.
    """
    return {cls: minimal_detectable_effect(assumed_difference_sd(n, seed_sd), seeds, alpha=ALPHA / max(methods, 1))
            for cls, n in test_counts.items()}
