"""FID and KID compared pairwise: which method's images are closer to the real defects.

Two intervals that overlap, or not, are no test of a difference (in the calibration's
toy they overlapped in every realisation while the paired test found the difference in
95-100 %). So every pair of a dataset's methods is tested on the difference of its
scores (:func:`score_difference`), Holm-corrected over the pairs, and the result is
lettered (:func:`dg2bench.report.letters.letter_groups`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from dg2bench.metrics.statistics import holm, paired_t, replicate_difference, signs_disagree
from dg2bench.report.letters import letter_groups
from dg2bench.report.table_rows import PairedDifference, ScoreOrder
from dg2bench.store.records import CellRecord

#: The two quality scores tested pairwise (:meth:`dg2bench.store.records.Quality.score`).
QUALITY_SCORES = ("fid", "kid")


def score_difference(a: Sequence[CellRecord], b: Sequence[CellRecord], key: str) -> PairedDifference | None:
    """``key`` (fid or kid) of method A minus B over the seeds both have (by seed number).

    Two or more shared seeds: a paired t over the per-seed differences (each seed
    trained its own generator, so training randomness counts; ``level`` ``"seeds"``).
    One: a paired bootstrap of that seed's two scores (``"models"``), when both kept
    their bootstrap replicates; otherwise no test (``p`` NaN). ``a_mean``/``b_mean``:
    each method's mean over the shared seeds, so ``diff = a_mean - b_mean``. None when
    the two share no scored seed.
    """
    mine = {r.seed: r.quality.score(key) for r in a if r.quality}
    theirs = {r.seed: r.quality.score(key) for r in b if r.quality}
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return None
    per_seed = [mine[s].value - theirs[s].value for s in seeds]
    if len(seeds) > 1:
        out, level = paired_t(per_seed), "seeds"
    else:
        sa, sb = mine[seeds[0]], theirs[seeds[0]]
        out = replicate_difference(sa.value, sb.value, list(sa.replicates), list(sb.replicates))
        level = "models"
    return PairedDifference(diff=out["diff"], low=out["low"], high=out["high"], p=out["p"], level=level,
                            seeds=len(seeds), per_seed=per_seed, signs_disagree=signs_disagree(per_seed),
                            a_mean=sum(mine[s].value for s in seeds) / len(seeds),
                            b_mean=sum(theirs[s].value for s in seeds) / len(seeds))


def order_established(means: Mapping[str, Mapping[str, float]], groups: Mapping[tuple[str, str], list[CellRecord]],
                      dataset: str) -> dict[str, dict[str, ScoreOrder]]:
    """Per score, test every pair of one dataset's methods (Holm over the pairs) and letter them.

    One level per dataset: when any pair shares two or more seeds only such pairs are
    tested (seed level); pairs of one shared seed are left untested rather than mixed
    into the family.

    :param means: per method of ``dataset`` (in the table's order), each score's mean over its seeds.
    :param groups: ``(dataset, method) -> records``.
    :return: per method, per score (:data:`QUALITY_SCORES`): its letters (no letter in
        common, order established; ``–`` untested), the methods it is established to
        beat (by the sign of the tested difference) and the level of the pairs'
        tests (``seeds``, ``models`` or ``–``).
    """
    orders: dict[str, dict[str, ScoreOrder]] = {method: {} for method in means}
    for key in QUALITY_SCORES:
        methods = sorted(means, key=lambda method: means[method][key])
        pairs = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1:]]
        tests = [score_difference(groups[(dataset, a)], groups[(dataset, b)], key) for a, b in pairs]
        tested = [t is not None and not math.isnan(t.p) for t in tests]
        level = "seeds" if any(t.level == "seeds" for t, ok in zip(tests, tested) if ok) else \
            ("models" if any(tested) else "–")
        pvalues = [t.p if ok and t.level == level else math.nan for t, ok in zip(tests, tested)]
        adjusted = holm(pvalues)
        different = [(pair, test) for pair, test, p in zip(pairs, tests, adjusted) if p < 0.05]
        letters = letter_groups(methods, [pair for pair, _ in different])
        in_family = {m for pair, p in zip(pairs, pvalues) if not math.isnan(p) for m in pair}
        for name in means:
            # The lower score of a pair is A when A - B < 0.
            lower_than = ", ".join((b if a == name else a) for (a, b), test in different
                                   if name in (a, b) and (test.diff < 0) == (a == name))
            orders[name][key] = ScoreOrder(group=letters[name] if name in in_family else "–", lower_than=lower_than,
                                           pairs_level=level)
    return orders
