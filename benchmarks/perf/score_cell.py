"""Time the scoring of one cell's fakes on one CPU thread (a Ray cell's share of a 2-core machine).

    python benchmarks/perf/score_cell.py [--fakes 300] [--real 300] [--bootstrap 100]

Inception features are not computed (random 2048-d features stand in): this times what
follows them, FID, KID, PRDC and their bootstrap replicates, as `QualityScorer.score`
runs them, and KID's kernel matrices computed once against once per subset and resample.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch  # noqa: F401 - imported as in a cell: torch brings its own BLAS threads
from threadpoolctl import threadpool_limits

from dg2bench.metrics.kid import kid_from_features
from dg2bench.metrics.quality import QualityScorer
from dg2bench.settings import MetricsSettings
from dg2bench.metrics.statistics import bootstrap_replicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fakes", type=int, default=300)
    parser.add_argument("--real", type=int, default=300)
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--old-resamples", type=int, default=5, help="resamples timed the old way (then scaled)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(args.real, 2048)), rng.normal(size=(args.fakes, 2048)) + 0.05
    metrics = MetricsSettings(kid_subset_size=1000, kid_subsets=100, prdc_k=5, bootstrap=args.bootstrap)
    scorer = QualityScorer.__new__(QualityScorer)          # no Inception: the features are given
    scorer.metrics = metrics
    scorer._extractor = type("Named", (), {"name": "random features"})()
    with threadpool_limits(1):
        began = time.perf_counter()
        scorer.score(fake, real)
        now = time.perf_counter() - began
        began = time.perf_counter()
        bootstrap_replicates(lambda r, f: kid_from_features(r, f, 1000, 100).mean, real, fake, args.old_resamples)
        old = (time.perf_counter() - began) / args.old_resamples * args.bootstrap
    print(f"{args.fakes} fakes vs {args.real} real, {args.bootstrap} resamples, one thread: score() {now:.1f} s; "
          f"KID resamples recomputing the kernel per subset (before): about {old:.0f} s")


if __name__ == "__main__":
    main()
