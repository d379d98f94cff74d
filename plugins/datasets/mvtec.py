"""MVTec AD categories (Bergmann et al. 2019), the paper's leather and wood (Table 2).

Layout: ``<root>/<category>/train/good/*.png`` (defect-free), ``test/good/*.png``,
``test/<defect type>/*.png`` and ``ground_truth/<defect type>/<name>_mask.png``. MVTec
AD cannot be shipped (licence CC BY-NC-SA 4.0, 4.9 GB): give its folder as the spec's
``root`` or in the ``DG2BENCH_MVTEC_ROOT`` environment variable, and the category as
the ``category`` option.

Defect images exist only under ``test/``, so the split (``group_split.py``) moves a
deterministic share of them into training: each image is its own group, the
official ``test/good`` images are taken for the test side first, and defect images
are taken in round-robin order over the defect types (seeded), so both sides hold
every type. The ``paper`` preset asks for Table 2's counts (train 227 defect-free /
65 defect, test 50 / 15); a category that cannot supply them (wood has 266 good and
60 defect images) is a one-line error saying so. Masks may be missing for some defect
images (trees in the wild have that): such an image is framed on its centre.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

from dg2bench import DataError, SplitItem, hookimpl, option
from dg2bench.plugins.datasets.group_split import FIT_MODES, Candidate, SplitCountOptions, build_group_split
from dg2bench.plugins.datasets.image_files import (WholeImageDataset, check_relative, image_files, make_candidate,
                                                   require_folder, require_images)

WHERE_TO_GET = "download MVTec AD from https://www.mvtec.com/company/research/datasets/mvtec-ad (free, " \
               "CC BY-NC-SA 4.0); the data folder is the one holding its categories (leather/, wood/, ...)"


@dataclasses.dataclass(frozen=True)
class MvtecOptions(SplitCountOptions):
    """Options of an MVTec AD category split (counts: see :class:`SplitCountOptions`).

    :param category: the category folder, e.g. ``"leather"`` or ``"wood"`` (required).
    :param fit: ``"resize"`` (default; MVTec images are square) or ``"crop"``.
    """

    category: str = ""
    fit: str = option("resize", choices=FIT_MODES)

    def validate(self) -> None:
        """A category must be named (counts and fit: field ranges)."""
        if not self.category:
            raise ValueError("category is required (e.g. category = \"leather\")")
        check_relative(self.category, "category")


class MvtecAd(WholeImageDataset):
    """One MVTec AD category as defect-free vs defect images, defect types kept."""

    name = "mvtec"
    summary = "MVTec AD layout (one category): test defects moved into training, types kept"
    Options = MvtecOptions
    presets = {"paper": {"train_defect_free": 227, "train_defect": 65, "test_defect_free": 50, "test_defect": 15}}
    root_env = "DG2BENCH_MVTEC_ROOT"
    data_hint = WHERE_TO_GET

    @property
    def category_root(self):
        """``<root>/<category>``."""
        return self.root / self.options.category

    def check_root(self) -> None:
        """Require the category with ``train/good`` and ``test/``."""
        if not self.category_root.is_dir():
            known = sorted(p.name for p in self.root.iterdir() if (p / "train" / "good").is_dir()) \
                if self.root.is_dir() else []
            raise DataError(str(self.category_root), "category folder does not exist",
                            f"categories here: {', '.join(known)}" if known else WHERE_TO_GET)
        for sub in ("train/good", "test"):
            require_folder(self.category_root / sub, sub, "this is not an MVTec AD category (" + WHERE_TO_GET + ")")

    @cached_property
    def candidates(self) -> list[Candidate]:
        """Every checked image: train/good, test/good, and test/<type> with masks."""
        root, fit, out = self.category_root, self.options.fit, []
        for sub, prefer_test in (("train/good", False), ("test/good", True)):
            for path in image_files(root / sub) if prefer_test else require_images(root / sub):
                out.append(make_candidate(self.root, path, group=path.relative_to(self.root).as_posix(), label=0,
                                          fit=fit, prefer_test=prefer_test))
        for folder in sorted(p for p in (root / "test").iterdir() if p.is_dir() and p.name != "good"):
            truth = root / "ground_truth" / folder.name
            masks = {m.stem: m for m in image_files(truth)} if truth.is_dir() else {}
            for path in require_images(folder):
                out.append(make_candidate(self.root, path, group=path.relative_to(self.root).as_posix(), label=1,
                                          fit=fit, defect_type=folder.name, mask_path=masks.get(f"{path.stem}_mask")))
        return out

    def build_split(self, seed: int) -> list[SplitItem]:
        """Image-disjoint split with the options' counts (``group_split.py``)."""
        return build_group_split(self.candidates, self.options.counts(), self.options.test_fraction, seed)


@hookimpl
def register_datasets(register):
    """Register the MVTec AD dataset."""
    register(MvtecAd)
