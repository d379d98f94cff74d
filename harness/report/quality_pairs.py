"""FID and KID compared pairwise: which method's images are closer to the real defects.

Two intervals that overlap, or not, are no test of a difference (in the calibration's
toy they overlapped in every realisation while the paired test found the difference in
95-100 %). So every pair of a dataset's methods is tested on the difference of its
scores (:func:`quality_difference`), Holm-corrected over the pairs, and the result is
lettered (:func:`dg2bench.report.letters.letter_groups`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from dg2bench.metrics.statistics import holm, paired_t, replicate_difference, signs_disagree
from dg2bench.report.letters import letter_groups

#: The two quality scores tested pairwise, and how each reads from a record's ``quality``.
QUALITY_SCORES: dict[str, Callable[[dict[str, Any]], float]] = {
    "fid": lambda q: q["fid"], "kid": lambda q: q["kid"]["mean"]}


def quality_difference(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """``key`` (fid or kid) of method A minus B over the seeds both have (by seed number).

    Two or more shared seeds: a paired t over the per-seed differences (each seed
    trained its own generator, so training randomness counts; ``level`` ``"seeds"``).
    One: a paired bootstrap of that seed's two scores (``"models"``), when both kept
    their bootstrap replicates; otherwise no test (``p`` NaN). ``a_mean``/``b_mean``:
    each method's mean over the shared seeds, so ``diff = a_mean - b_mean``.
    """
    get = QUALITY_SCORES[key]
    mine = {r.get("seed", 0): r["quality"] for r in a if r.get("quality")}
    theirs = {r.get("seed", 0): r["quality"] for r in b if r.get("quality")}
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return {}
    per_seed = [get(mine[s]) - get(theirs[s]) for s in seeds]
    if len(seeds) > 1:
        out, level = paired_t(per_seed), "seeds"
    else:
        qa, qb = mine[seeds[0]], theirs[seeds[0]]
        out = replicate_difference(get(qa), get(qb), qa.get(f"{key}_replicates", []), qb.get(f"{key}_replicates", []))
        level = "models"
    return {"diff": out["diff"], "low": out["low"], "high": out["high"], "p": out["p"], "level": level,
            "seeds": len(seeds), "per_seed": per_seed, "signs_disagree": signs_disagree(per_seed),
            "a_mean": sum(get(mine[s]) for s in seeds) / len(seeds),
            "b_mean": sum(get(theirs[s]) for s in seeds) / len(seeds)}


def order_established(rows: list[dict[str, Any]], groups: dict[tuple[str, str], list[dict[str, Any]]],
                      dataset: str) -> None:
    """Per score, test every pair of one dataset's methods (Holm over the pairs) and letter them.

    One level per dataset: when any pair shares two or more seeds only such pairs are
    tested (seed level); pairs of one shared seed are left untested rather than mixed
    into the family. Adds to each row ``<key>_group`` (letters: no letter in common,
    order established; ``–`` untested), ``<key>_lower_than`` (the methods this one is
    established to beat, by the sign of the tested difference) and
    ``<key>_pairs_level`` (``seeds``, ``models`` or ``–``).
    """
    for key in QUALITY_SCORES:
        methods = [row["method"] for row in sorted(rows, key=lambda r: r[key])]
        pairs = [(a, b) for i, a in enumerate(methods) for b in methods[i + 1:]]
        tests = [quality_difference(groups[(dataset, a)], groups[(dataset, b)], key) for a, b in pairs]
        tested = [bool(t) and not math.isnan(t["p"]) for t in tests]
        level = "seeds" if any(t and t["level"] == "seeds" for t, ok in zip(tests, tested) if ok) else \
            ("models" if any(tested) else "–")
        pvalues = [t["p"] if ok and t["level"] == level else float("nan") for t, ok in zip(tests, tested)]
        adjusted = holm(pvalues)
        different = [(pair, test) for pair, test, p in zip(pairs, tests, adjusted) if p < 0.05]
        letters = letter_groups(methods, [pair for pair, _ in different])
        in_family = {m for pair, p in zip(pairs, pvalues) if not math.isnan(p) for m in pair}
        for row in rows:
            name = row["method"]
            row[f"{key}_group"] = letters[name] if name in in_family else "–"
            # The lower score of a pair is A when A - B < 0.
            row[f"{key}_lower_than"] = ", ".join(
                (b if a == name else a) for (a, b), test in different
                if name in (a, b) and (test["diff"] < 0) == (a == name))
            row[f"{key}_pairs_level"] = level
