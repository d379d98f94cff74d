"""Uncertainty and significance: seed-level tests, image-level tests, Holm, bootstrap.

Which uncertainty means what (the leaderboard's notes say the same):

* **Method-level tests** (two or more seeds): training randomness is the unit of
  replication. Seeds pair by seed number (seed ``s`` of both methods shares the classifier's
  initialisation), so a method comparison is a paired t-test over the per-seed
  differences (:func:`paired_t`): accuracy differences on the shared test images, FID
  or KID differences against the shared real images. Its error rate holds whatever the
  seed-to-seed spread (``benchmarks/stats/calibration.py`` measures it); with few seeds
  it has little power, which :func:`minimal_detectable_effect` makes explicit.
* **Model-level tests** (one seed, or per seed): about two trained models on the same
  test images, not about two methods. An exact McNemar test per seed
  (:func:`mcnemar_exact`) and a paired sign-flip test over test images on the
  seed-averaged per-image differences (:func:`paired_bootstrap`, exact at any size);
  for FID/KID one seed's difference is tested by a paired bootstrap that resamples the
  real images once for both methods (:func:`bootstrap_replicates`,
  :func:`replicate_difference`).
* **Across seeds**: a metric's mean over ``n`` seeds ± the half-width of a Student-t
  95 % interval (:func:`t_interval`).
* **From the test set**: a Wilson 95 % interval for a proportion measured on ``n``
  test images (``metrics.classification.wilson_interval``), never the pooled
  predictions of several seeds on the same images.
* :func:`holm` corrects the p-values of one family: the methods compared with one
  reference on one dataset, classifier and class; or the pairs of methods of one
  dataset for FID/KID.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import signal, stats


def _finite(values: Sequence[float | None]) -> np.ndarray:
    """``values`` without None and NaN, as floats."""
    return np.asarray([v for v in values if v is not None and not math.isnan(v)], float)


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, int]:
    """Mean, t-interval half-width and count of ``values`` (NaNs dropped; half-width NaN if n < 2)."""
    arr = _finite(values)
    n = int(arr.size)
    if n == 0:
        return float("nan"), float("nan"), 0
    if n == 1:
        return float(arr[0]), float("nan"), 1
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * arr.std(ddof=1) / math.sqrt(n))
    return float(arr.mean()), half, n


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value for two classifiers judged on the same images.

    Only the discordant images count: ``b`` where A is right and B wrong, ``c`` the
    reverse; under the null each discordant image goes either way with probability
    1/2, so ``p = binomtest(b, b + c, 0.5)``. 1.0 when there is no discordant image.
    """
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b.shape:
        raise ValueError("the two classifiers must be judged on the same images")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)


def sign_flip_p(per_image: np.ndarray, resamples: int = 10000, seed: int = 0, seeds: int | None = None) -> float:
    """Two-sided p of a paired sign-flip (randomisation) test of ``mean(per_image) = 0``.

    Under the null each image's difference is as likely to have the other sign. With
    ``seeds`` (the differences are seed averages of -1, 0, +1, so multiples of
    ``1 / seeds``) the null distribution is exact at any size (:func:`_sign_flip_exact`);
    otherwise exact up to 16 non-zero differences and Monte Carlo with the +1
    correction beyond. With one seed this is the exact McNemar test.
    """
    values = np.asarray(per_image, float)
    values = values[values != 0]
    if values.size == 0:
        return 1.0
    if seeds:
        steps = np.rint(values * seeds)
        if np.allclose(steps, values * seeds, atol=1e-6):
            steps = steps[steps != 0]
            return _sign_flip_exact(steps.astype(np.int64)) if steps.size else 1.0
    observed = abs(values.sum()) - 1e-9 * values.size
    if values.size <= 16:
        signs = ((np.arange(2 ** values.size)[:, None] >> np.arange(values.size)) & 1) * 2 - 1
        return float(np.mean(np.abs(signs @ values) >= observed))
    rng = np.random.default_rng(seed)
    flips = rng.choice((-1.0, 1.0), size=(resamples, values.size))
    return float((np.sum(np.abs(flips @ values) >= observed) + 1) / (resamples + 1))


def _sign_flip_exact(steps: np.ndarray) -> float:
    """Exact two-sided sign-flip p for integer differences ``steps``.

    The null distribution of ``sum(±|k_i|)`` is built by convolution: the ``c``
    differences of size ``v`` contribute ``v (2j - c)`` with binomial probability
    ``C(c, j) / 2^c``. Sums are integers, so the tail ``|T| >= |t|`` needs no tolerance.
    """
    observed = abs(int(steps.sum()))
    sizes, counts = np.unique(np.abs(steps), return_counts=True)
    total = int((sizes * counts).sum())
    distribution = np.ones(1)
    for size, count in zip(sizes.tolist(), counts.tolist()):
        kernel = np.zeros(2 * size * count + 1)
        kernel[::2 * size] = stats.binom.pmf(np.arange(count + 1), count, 0.5)
        distribution = signal.fftconvolve(distribution, kernel) if distribution.size * kernel.size > 4_000_000 \
            else np.convolve(distribution, kernel)
    sums = np.arange(distribution.size) - total
    return float(min(1.0, np.clip(distribution[np.abs(sums) >= observed], 0.0, None).sum()))


def paired_bootstrap(correct_a: np.ndarray, correct_b: np.ndarray, resamples: int = 2000,
                     seed: int = 0) -> dict[str, float]:
    """Accuracy difference A - B over seeds: a bootstrap interval and a sign-flip p-value.

    :param correct_a: bool ``(seeds, images)``: whether A got each image right, per seed.
    :param correct_b: the same for B (same seeds, same images, same order).
    :return: ``diff`` (mean over seeds of the accuracy difference), ``low``/``high``
        (95 % percentile interval from resampling test images, the same images for
        every seed) and ``p`` (:func:`sign_flip_p` on the seed-averaged per-image
        differences: a test under the null, which a bootstrap centred on the observed
        difference is not).
    """
    a, b = np.atleast_2d(np.asarray(correct_a, float)), np.atleast_2d(np.asarray(correct_b, float))
    if a.shape != b.shape or a.shape[1] == 0:
        raise ValueError("the two classifiers must be judged on the same, non-empty set of images")
    per_image = (a - b).mean(axis=0)            # averaged over seeds, per test image
    rng = np.random.default_rng(seed)
    index = rng.integers(0, per_image.size, (resamples, per_image.size))
    boot = per_image[index].mean(axis=1)
    return {"diff": float(per_image.mean()), "low": float(np.percentile(boot, 2.5)),
            "high": float(np.percentile(boot, 97.5)), "p": sign_flip_p(per_image, seed=seed, seeds=a.shape[0])}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaNs stay NaN and do not count as tests)."""
    p = np.asarray(pvalues, float)
    valid = np.flatnonzero(~np.isnan(p))
    out = np.full(p.shape, np.nan)
    m = valid.size
    running = 0.0
    for rank, k in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[k]))
        out[k] = running
    return out.tolist()


def paired_t(differences: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Paired t-test of ``mean(differences) = 0`` over seeds, with its t-interval.

    :param differences: one difference per seed (A - B), seeds paired by seed number.
    :return: ``diff`` (mean), ``low``/``high`` (Student-t interval), ``p`` (two-sided),
        ``seeds`` and ``per_seed`` (the differences). Fewer than two seeds, or seeds
        that agree exactly (no spread to test against: accuracy differences are
        multiples of 1/n, so two seeds tie often, and a p of 0 there rejected true nulls
        too often): no test, ``p``, ``low`` and ``high`` NaN.
    """
    d = _finite(differences)
    n = int(d.size)
    out: dict[str, Any] = {"diff": float(d.mean()) if n else float("nan"), "low": float("nan"),
                           "high": float("nan"), "p": float("nan"), "seeds": n, "per_seed": d.tolist()}
    if n < 2:
        return out
    sd = float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, float(np.abs(d).max())):
        return out
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))
    p = float(2 * stats.t.sf(abs(out["diff"]) / (sd / math.sqrt(n)), n - 1))
    return {**out, "low": out["diff"] - half, "high": out["diff"] + half, "p": p}


def paired_accuracy(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """Accuracy of A - B on the same images, row s of each is one seed number: the leaderboard's verdict.

    :param correct_a: bool ``(seeds, images)``: whether A got each image right, per seed.
    :param correct_b: the same for B (seed ``s`` of B paired with seed ``s`` of A).
    :return: ``diff``, ``low``/``high`` (95 %), ``p``, ``level`` and the details. Two or
        more seeds: ``level`` ``"seeds"``, a method-level test: :func:`paired_t` over the
        per-seed accuracy differences, so training randomness counts. One seed:
        ``"models"``, a test of two trained models on these images (bootstrap interval
        over test images, exact McNemar p). Always: ``per_seed``, ``signs_disagree``,
        ``p_images`` (the image-level sign-flip test on the seed-averaged differences)
        and ``mcnemar_p`` per seed.
    """
    a, b = np.atleast_2d(np.asarray(correct_a, bool)), np.atleast_2d(np.asarray(correct_b, bool))
    if a.shape != b.shape or a.shape[1] == 0:
        raise ValueError("the two classifiers must be judged on the same, non-empty set of images")
    per_seed = (a.mean(axis=1) - b.mean(axis=1)).tolist()
    seeds = a.shape[0]
    verdict = paired_t(per_seed) if seeds > 1 else paired_bootstrap(a, b)
    # With one seed the verdict's p is this image-level test already.
    p_images = verdict["p"] if seeds == 1 else sign_flip_p((a.astype(float) - b).mean(axis=0), seeds=seeds)
    return {"diff": verdict["diff"], "low": verdict["low"], "high": verdict["high"], "p": verdict["p"],
            "level": "seeds" if seeds > 1 else "models", "per_seed": per_seed,
            "signs_disagree": signs_disagree(per_seed), "p_images": p_images,
            "mcnemar_p": [mcnemar_exact(x, y) for x, y in zip(a, b)], "seeds": seeds, "images": a.shape[1]}


def signs_disagree(differences: Sequence[float]) -> bool:
    """Whether some seeds favour A and others B (zeros favour neither)."""
    d = _finite(differences)
    return bool((d > 0).any() and (d < 0).any())


def bootstrap_replicates(statistic: Callable[[np.ndarray, np.ndarray], float], real: np.ndarray, fake: np.ndarray,
                         resamples: int, real_seed: int = 0, fake_seed: int = 1) -> np.ndarray:
    """``statistic`` on ``resamples`` bootstrap resamples of the real and the fake rows.

    The real rows of resample ``b`` come from their own random stream (``real_seed``),
    so every cell scored against the same real features draws the same real resample
    ``b``: two methods' replicates pair by index, and their difference is a paired
    bootstrap of the difference with the real set's sampling noise shared, not
    doubled (:func:`replicate_difference`).
    """
    return bootstrap_index_replicates(lambda r, f: statistic(real[r], fake[f]), len(real), len(fake), resamples,
                                      real_seed, fake_seed)


def bootstrap_index_replicates(statistic: Callable[[np.ndarray, np.ndarray], float], n_real: int, n_fake: int,
                               resamples: int, real_seed: int = 0, fake_seed: int = 1) -> np.ndarray:
    """:func:`bootstrap_replicates` with ``statistic`` given the resampled row *indices*
    (the same draws): for statistics that read precomputed pairwise values by index."""
    real_rng, fake_rng = np.random.default_rng(real_seed), np.random.default_rng(fake_seed)
    real_index = real_rng.integers(0, n_real, (resamples, n_real))
    fake_index = fake_rng.integers(0, n_fake, (resamples, n_fake))
    return np.array([statistic(r, f) for r, f in zip(real_index, fake_index)], float)


def centred_interval(estimate: float, replicates: np.ndarray,
                     lower_bound: float | None = None) -> tuple[float, float]:
    """95 % bootstrap interval from ``replicates``, centred on ``estimate``.

    Resampling with replacement duplicates rows, which shifts FID (and KID) up: with
    60 images in 256 dimensions the resampled FIDs all lay above the estimate, so a
    percentile interval missed it, and the reflected "basic" interval too. The spread
    of the resampled values is kept and their shift removed: ``[q_2.5, q_97.5] + (t -
    median)`` with ``t`` the estimate. ``lower_bound`` clips it (0 for FID).
    """
    shift = estimate - float(np.median(replicates))
    low, high = float(np.percentile(replicates, 2.5)) + shift, float(np.percentile(replicates, 97.5)) + shift
    if lower_bound is not None:
        low, high = max(low, lower_bound), max(high, lower_bound)
    return low, high


def bootstrap_interval(statistic: Callable[[np.ndarray, np.ndarray], float], real: np.ndarray, fake: np.ndarray,
                       resamples: int = 100, seed: int = 0, lower_bound: float | None = None) -> tuple[float, float]:
    """95 % bootstrap interval of ``statistic(real, fake)`` (:func:`centred_interval`)."""
    replicates = bootstrap_replicates(statistic, real, fake, resamples, real_seed=seed, fake_seed=seed + 1)
    return centred_interval(statistic(real, fake), replicates, lower_bound)


def replicate_difference(estimate_a: float, estimate_b: float, replicates_a: Sequence[float],
                         replicates_b: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """A - B of one score from paired bootstrap replicates (same real resample at each index).

    The standard error is the spread of the paired replicate differences; the interval
    is ``diff ± z se`` and ``p`` the two-sided normal test of ``diff = 0``. A normal
    test rather than a replicate count, because a count cannot go below ``1 / (B + 1)``
    and Holm over many pairs would then reject nothing. NaN when a side has no
    replicates, or their counts differ (scored with different ``bootstrap`` settings).
    """
    a, b = np.asarray(replicates_a, float), np.asarray(replicates_b, float)
    diff = float(estimate_a - estimate_b)
    out: dict[str, Any] = {"diff": diff, "low": float("nan"), "high": float("nan"), "p": float("nan"),
                           "se": float("nan")}
    if a.size < 2 or a.shape != b.shape:
        return out
    se = float((a - b).std(ddof=1))
    if se == 0:
        return {**out, "se": 0.0}          # no spread to test against (see paired_t)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return {**out, "low": diff - z * se, "high": diff + z * se, "se": se, "p": float(2 * stats.norm.sf(abs(diff) / se))}
