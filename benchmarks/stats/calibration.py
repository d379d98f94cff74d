"""Calibrate dg2bench's comparisons on simulated data: error rate under the null, and power.

Drives the project's own code (``dg2bench.metrics.statistics``: ``paired_accuracy``,
the verdict of every classify-table Δ, and ``bootstrap_replicates`` /
``replicate_difference`` / ``paired_t``, the FID-table tests) on data whose truth is
known, and prints rejection rates at the nominal 5 % with their Monte-Carlo standard
errors ``sqrt(r (1 - r) / reps)``.

**Accuracy.** Per replicate, ``n`` defect test images with a difficulty each (per-image
probability of being found ~ Beta(7, 3), mean 0.7). Seed ``s`` of method ``m`` moves
every image's probability by ``u_ms = sd (sqrt(1/2) c_s + sqrt(1/2) e_ms)``: ``c_s``
is shared by both methods' seed ``s`` (they share the classifier's initialisation, so
seeds pair by index), ``e_ms`` is the method's own, and ``sd`` is the seed-to-seed
standard deviation of a method's accuracy. Each prediction is then a Bernoulli draw.
Null: both methods equal. Power: A is better by 10 points on every image (about 9.7
after clipping probabilities at 1). The seed spread of the *difference* is ``sd``
(correlation 1/2 between the two methods' seed ``s``), the model
``dg2bench.metrics.power.assumed_difference_sd`` assumes for ``bench estimate``. Printed:
the method-level test (paired t over seeds; none with one seed, where the table
marks the comparison as two models), and the image-level sign-flip test the
leaderboards used before (for contrast: it ignores the seeds' spread).

**FID/KID.** A Gaussian toy in the regime the harness runs in (fewer images than
feature dimensions): D = 512, 150 real and 300 fake rows per method, real ~ N(0, I),
method A ~ N(0, I), method B ~ N(delta, I) with ``delta`` per coordinate (``--fid-shift``).
Null: B = A in distribution. One seed: the paired bootstrap over a shared real
resample (``--resamples`` replicates, as ``[metrics] bootstrap``), normal test of the
difference over its bootstrap standard error. Three seeds: paired t over the seeds'
FID differences (each seed a fresh fake set from the same distribution, one real set:
no generator-to-generator spread, so this checks the test, not its behaviour when
trained generators differ from seed to seed).

Usage (2-core CPU: about 40 minutes at the defaults, shared with other work)::

    python benchmarks/stats/calibration.py
    python benchmarks/stats/calibration.py --reps 2000 --fid-reps 400   # tighter
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dg2bench.metrics.fid import fid_from_features
from dg2bench.metrics.kid import kid_from_features
from dg2bench.metrics.statistics import bootstrap_replicates, paired_accuracy, paired_t, replicate_difference

ALPHA = 0.05


def simulate_predictions(rng: np.random.Generator, images: int, seeds: int, seed_sd: float,
                         gain: float) -> tuple[np.ndarray, np.ndarray]:
    """Correct/incorrect ``(seeds, images)`` for methods A (``gain`` better) and B."""
    base = rng.beta(7, 3, images)
    shared = rng.normal(0, 1, seeds)
    probability = {}
    for method, shift in (("a", gain), ("b", 0.0)):
        own = rng.normal(0, 1, seeds)
        seed_effect = seed_sd * (math.sqrt(0.5) * shared + math.sqrt(0.5) * own)
        probability[method] = np.clip(base[None, :] + shift + seed_effect[:, None], 0, 1)
    return tuple(rng.random((seeds, images)) < probability[m] for m in ("a", "b"))  # type: ignore[return-value]


def rate(hits: int, reps: int) -> str:
    """``"5.1 ± 0.7"``: a rejection rate in percent with its Monte-Carlo standard error."""
    r = hits / reps
    return f"{100 * r:5.1f} ± {100 * math.sqrt(r * (1 - r) / reps):.1f}"


def accuracy_calibration(reps: int, seed: int) -> list[dict[str, object]]:
    """Rejection rates of the classify table's Δ test for every setting."""
    rng = np.random.default_rng(seed)
    rows = []
    for images in (60, 300):
        for seeds in (1, 2, 3, 5):
            for sd in (0.0, 0.05, 0.075):
                counts = {"null": 0, "power": 0, "null_images": 0, "power_images": 0}
                for _ in range(reps):
                    for case, gain in (("null", 0.0), ("power", 0.10)):
                        verdict = paired_accuracy(*simulate_predictions(rng, images, seeds, sd, gain))
                        counts[case] += bool(verdict["level"] == "seeds" and verdict["p"] < ALPHA)
                        counts[f"{case}_images"] += verdict["p_images"] < ALPHA
                rows.append({"images": images, "seeds": seeds, "sd": sd, **counts})
    return rows


def fid_realisation(rng: np.random.Generator, shift: float, resamples: int, seeds: int, dims: int,
                    n_real: int, n_fake: int, kid_subsets: int) -> dict[str, float]:
    """One toy benchmark: A vs B with one seed (bootstrap test) and with ``seeds`` (paired t)."""
    real = rng.normal(0, 1, (n_real, dims))
    fakes = {m: [rng.normal(mean, 1, (n_fake, dims)) for _ in range(seeds)] for m, mean in (("a", 0.0), ("b", shift))}

    def kid(r: np.ndarray, f: np.ndarray) -> float:
        return kid_from_features(r, f, subset_size=min(len(r), len(f)), n_subsets=kid_subsets).mean

    out = {}
    for key, statistic in (("fid", fid_from_features), ("kid", kid)):
        scores = {m: [statistic(real, f) for f in fakes[m]] for m in fakes}
        first = {m: bootstrap_replicates(statistic, real, fakes[m][0], resamples) for m in fakes}
        out[f"{key}_one_seed_p"] = replicate_difference(scores["b"][0], scores["a"][0], first["b"], first["a"])["p"]
        out[f"{key}_seeds_p"] = paired_t(np.subtract(scores["b"], scores["a"]))["p"]
        out[f"{key}_b_worse"] = scores["b"][0] > scores["a"][0]
        if key == "fid":
            # The per-method intervals the FID table used to read as "overlap".
            intervals = {m: np.percentile(first[m], [2.5, 97.5]) + scores[m][0] - np.median(first[m]) for m in fakes}
            out["fid_overlap"] = intervals["a"][0] <= intervals["b"][1] and intervals["b"][0] <= intervals["a"][1]
    return out


def fid_calibration(reps: int, seed: int, shift: float, resamples: int, kid_subsets: int) -> dict[str, dict[str, int]]:
    """Rejection counts of the FID/KID pair tests under the null and in the toy."""
    rng = np.random.default_rng(seed)
    counts: dict[str, dict[str, int]] = {}
    for case, delta in (("null", 0.0), ("toy", shift)):
        tally: dict[str, int] = {}
        for _ in range(reps):
            result = fid_realisation(rng, delta, resamples, 3, 512, 150, 300, kid_subsets)
            for key, value in result.items():
                hit = value < ALPHA if key.endswith("_p") else bool(value)
                tally[key] = tally.get(key, 0) + int(hit)
        counts[case] = tally
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000, help="replicates per accuracy setting")
    parser.add_argument("--fid-reps", type=int, default=100, help="realisations per FID case")
    parser.add_argument("--fid-shift", type=float, default=0.15, help="B's mean shift per coordinate (toy)")
    parser.add_argument("--resamples", type=int, default=100, help="bootstrap replicates per score ([metrics] bootstrap)")
    parser.add_argument("--kid-subsets", type=int, default=2, help="KID subsets per score (the spec default is 100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # One BLAS thread: the small SVDs and kernels here are slower on two (measured 3.5 ms
    # against 270 ms per 150 x 300 SVD on the 2-core machine under load).
    threadpool_limits(1)
    began = time.perf_counter()
    print(f"Accuracy Δ vs reference: rejection rate at {ALPHA:.0%} (%, ± Monte-Carlo SE), {args.reps} replicates each")
    print("method-level test: paired t over per-seed differences (none with 1 seed: the table marks it '1 seed: models')")
    print("image-level test: sign-flip over test images, the leaderboards' test before this version (ignores seeds)\n")
    header = f"{'images':>6} {'seeds':>5} {'seed sd':>7} | {'null: method-level':>18} {'power at +10 pp':>16} | " \
             f"{'null: image-level':>17} {'power':>12}"
    print(header)
    print("-" * len(header))
    for row in accuracy_calibration(args.reps, args.seed):
        no_test = row["seeds"] == 1
        null = "no test" if no_test else rate(row["null"], args.reps)
        power = "no test" if no_test else rate(row["power"], args.reps)
        print(f"{row['images']:>6} {row['seeds']:>5} {row['sd'] * 100:>5.1f}pp | {null:>18} {power:>16} | "
              f"{rate(row['null_images'], args.reps):>17} {rate(row['power_images'], args.reps):>12}")

    print(f"\nFID/KID pair test, Gaussian toy: D = 512, 150 real / 300 fake, B shifted {args.fid_shift} per "
          f"coordinate; {args.fid_reps} realisations per case, {args.resamples} bootstrap replicates, "
          f"KID on {args.kid_subsets} subsets")
    counts = fid_calibration(args.fid_reps, args.seed + 1, args.fid_shift, args.resamples, args.kid_subsets)
    n = args.fid_reps
    print(f"{'':40} {'null (B = A)':>14} {'toy (B worse)':>14}")
    lines = (("FID, 1 seed: paired bootstrap test", "fid_one_seed_p"), ("FID, 3 seeds: paired t", "fid_seeds_p"),
             ("KID, 1 seed: paired bootstrap test", "kid_one_seed_p"), ("KID, 3 seeds: paired t", "kid_seeds_p"),
             ("FID_B > FID_A (1 seed)", "fid_b_worse"),
             ("per-method FID intervals overlap (old)", "fid_overlap"))
    for label, key in lines:
        print(f"{label:40} {rate(counts['null'][key], n):>14} {rate(counts['toy'][key], n):>14}")
    print(f"\n{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
