"""A deterministic, group-disjoint train/test split of whole images, stratified by defect type.

The rule, shared by the ``mvtec``, ``magnetic-tile`` and ``folder`` plugins:

1. Every candidate image belongs to a *group*: images that share a source (one
   capture run, one photographed part) share a group, and a group lies on one side
   only. Where nothing is shared, each image is its own group.
2. Groups are ordered by a seeded shuffle (``random.Random(seed)``, the same on every
   platform), then interleaved round-robin over their defect types, those holding an
   image the data itself marks as test (MVTec's ``test/good``) first. Groups go to the
   test side while it still lacks images of a class; all later groups go to training.
   Images of a test-side group beyond the test counts are used by neither side (with
   large groups, such as Magnetic-Tile's capture runs, that can be many).
3. On each side and for each class, images are taken in round-robin order over the
   defect types (each type shuffled with the seed), so a small test set holds every
   type; defect-free images are one "type".
4. Counts: an option of 0 means automatic: the test side gets ``test_fraction`` of
   each class (rounded, at least one), the training side everything left on it.
   A requested count the data cannot supply is a one-line :class:`DataError`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from dg2bench import DataError, SplitItem, option

SIDES = ("train", "test")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """An image that may enter the split.

    :param source: path relative to the dataset root (also the item id).
    :param group: images of one group stay on one side.
    :param label: 0 defect-free, 1 defect.
    :param defect_type: the defect type (None for defect-free images).
    :param box: crop of the source, or None for the whole image.
    :param prefer_test: the data marks it as a test image (taken for test first).
    :param mask: path of its defect mask relative to the dataset root, if any.
    """

    source: str
    group: str
    label: int
    defect_type: str | None = None
    box: tuple[int, int, int, int] | None = None
    prefer_test: bool = False
    mask: str | None = None


def _round_robin(items: list[Candidate], rng: random.Random) -> list[Candidate]:
    by_type: dict[str, list[Candidate]] = {}
    for item in sorted(items, key=lambda c: c.source):
        by_type.setdefault(item.defect_type or "", []).append(item)
    queues = []
    for key in sorted(by_type):
        queue = by_type[key]
        rng.shuffle(queue)
        queues.append(queue)
    out = []
    for rank in range(max((len(q) for q in queues), default=0)):
        out.extend(q[rank] for q in queues if rank < len(q))
    return out


def _interleave_by_type(groups: dict[str, list[Candidate]], rng: random.Random) -> list[str]:
    """Group names shuffled, then taken round-robin over their defect types.

    So the test side, filled in this order, holds every type before it holds a second
    image of any (a group's type is that of its first defect image, "" if it has none).
    """
    names = sorted(groups)
    rng.shuffle(names)
    buckets: dict[str, list[str]] = {}
    for name in names:
        types = sorted({c.defect_type or "" for c in groups[name] if c.label == 1})
        buckets.setdefault(types[0] if types else "", []).append(name)
    queues = [buckets[key] for key in sorted(buckets)]
    return [q[rank] for rank in range(max(map(len, queues), default=0)) for q in queues if rank < len(q)]


def build_group_split(candidates: Sequence[Candidate], counts: dict[tuple[str, int], int], test_fraction: float,
                      seed: int) -> list[SplitItem]:
    """Split ``candidates`` by the module's rule.

    :param counts: ``{("train" | "test", label): n}``, 0 = automatic.
    :raises DataError: naming the count option at fault (``train_defect``), or ``""``
        when the images themselves fall short; ``bench`` adds the spec file and table.
    """
    rng = random.Random(seed)
    totals = {label: sum(c.label == label for c in candidates) for label in (0, 1)}
    for label, total in totals.items():
        if total == 0:
            raise DataError("", f"the data holds no {'defect' if label else 'defect-free'} image",
                            "check the data folder and its options")
    test_wanted = {label: counts[("test", label)] or max(1, round(test_fraction * totals[label]))
                   for label in (0, 1)}
    groups: dict[str, list[Candidate]] = {}
    for candidate in sorted(candidates, key=lambda c: c.source):
        groups.setdefault(candidate.group, []).append(candidate)
    names = _interleave_by_type(groups, rng)
    names.sort(key=lambda g: not any(c.prefer_test for c in groups[g]))   # stable: keeps the order
    pools: dict[tuple[str, int], list[Candidate]] = {(s, label): [] for s in SIDES for label in (0, 1)}
    for name in names:
        short = any(len(pools[("test", label)]) < test_wanted[label] for label in (0, 1))
        useful = any(len(pools[("test", c.label)]) < test_wanted[c.label] for c in groups[name])
        side = "test" if short and useful else "train"
        for candidate in groups[name]:
            pools[(side, candidate.label)].append(candidate)
    chosen: dict[tuple[str, int], list[Candidate]] = {}
    for side in ("test", "train"):   # a short test side is the first thing to report
        for label in (0, 1):
            pool = _round_robin(pools[(side, label)], rng)
            wanted = test_wanted[label] if side == "test" else counts[(side, label)] or len(pool)
            class_name = "defect" if label else "defect_free"
            if wanted == 0:
                raise DataError(f"{side}_{class_name}", f"no image is left for the {side} side "
                                f"({totals[label]} in all)", "add images or lower the test counts")
            if len(pool) < wanted:
                raise DataError(f"{side}_{class_name}",
                                f"asks for {wanted} images but the {side} side can hold {len(pool)} "
                                f"({totals[label]} in all)", "lower the count (0 = automatic)")
            chosen[(side, label)] = sorted(pool[:wanted], key=lambda c: c.source)
    return [SplitItem(id=c.source, source=c.source, box=c.box, label=label, side=side, defect_type=c.defect_type)
            for side in SIDES for label in (0, 1) for c in chosen[(side, label)]]


FIT_MODES = ("resize", "crop")


@dataclasses.dataclass(frozen=True)
class SplitCountOptions:
    """Split counts shared by the whole-image datasets (0 = automatic, see the module).

    :param train_defect_free: defect-free training images (0: all left on that side).
    :param train_defect: defect training images (0: all left on that side).
    :param test_defect_free: defect-free test images (0: ``test_fraction`` of them).
    :param test_defect: defect test images (0: ``test_fraction`` of them).
    :param test_fraction: share of each class for the test side when its count is 0.
    """

    train_defect_free: int = option(0, minimum=0)
    train_defect: int = option(0, minimum=0)
    test_defect_free: int = option(0, minimum=0)
    test_defect: int = option(0, minimum=0)
    test_fraction: float = option(0.2, above=0.0, below=1.0)

    def counts(self) -> dict[tuple[str, int], int]:
        """The four counts keyed as :func:`build_group_split` wants them."""
        return {("train", 0): self.train_defect_free, ("train", 1): self.train_defect,
                ("test", 0): self.test_defect_free, ("test", 1): self.test_defect}

