"""Magnetic-Tile surface defects (Huang, Qiu, Yuan 2020), five defect types.

Layout (``benchmarks/data/magnetic-tile``, vendored with its README and SOURCE.md):
``MT_Free/Imgs/*.jpg`` are 952 defect-free tiles; ``MT_Blowhole``, ``MT_Break``,
``MT_Crack``, ``MT_Fray`` and ``MT_Uneven`` hold 392 defect tiles, each ``NAME.jpg``
with its 8-bit mask ``NAME.png`` beside it. The images are grey and of varying size
(about 103-632 x 222-403 px).

Groups: file names are ``exp<K>_num_<N>.jpg``; tiles of one capture run ``exp<K>``
may show the same part, so a run lies on one side of the split (see
``group_split.py``); with 7 runs, the test side takes whole runs and the images of
those runs beyond the test counts are used by neither side. Framing: ``fit =
"resize"`` by default (the tiles are long and narrow, so this squeezes them; nothing
is cut away and both classes are framed alike); ``fit = "crop"`` takes a square with
the defect in view (``image_files.py``).
"""

from __future__ import annotations

import dataclasses
import re
from functools import cached_property

from dg2bench import DataError, SplitItem, hookimpl, option
from dg2bench.plugins.datasets.group_split import FIT_MODES, Candidate, SplitCountOptions, build_group_split
from dg2bench.plugins.datasets.image_files import WholeImageDataset, make_candidate, require_images

DEFECT_TYPES = ("Blowhole", "Break", "Crack", "Fray", "Uneven")
_RUN = re.compile(r"^(exp\d+)_")


@dataclasses.dataclass(frozen=True)
class MagneticTileOptions(SplitCountOptions):
    """Options of the Magnetic-Tile split (counts: see :class:`SplitCountOptions`).

    :param fit: ``"resize"`` (squeeze, default) or ``"crop"`` (square keeping the defect in view).
    :param defect_types: the defect types to use (``MT_<type>`` folders).
    """

    fit: str = option("resize", choices=FIT_MODES)
    defect_types: tuple[str, ...] = DEFECT_TYPES

    def validate(self) -> None:
        """Defect types must exist in the dataset (counts and fit: field ranges)."""
        unknown = sorted(set(self.defect_types) - set(DEFECT_TYPES))
        if unknown or not self.defect_types:
            raise ValueError(f"defect_types must be a non-empty subset of {', '.join(DEFECT_TYPES)}")


class MagneticTile(WholeImageDataset):
    """Magnetic-Tile defects: run-disjoint split, every defect type on both sides."""

    name = "magnetic-tile"
    summary = "Magnetic-Tile surface defects (5 types), masks, capture-run-disjoint split"
    Options = MagneticTileOptions
    presets = {"tiny": {"train_defect_free": 60, "train_defect": 20, "test_defect_free": 40, "test_defect": 20},
               "paper": {}}

    def _folder(self, category: str):
        return self.root / f"MT_{category}" / "Imgs"

    def check_root(self) -> None:
        """Require ``MT_Free/Imgs`` and the chosen ``MT_<type>/Imgs`` folders."""
        for category in ("Free", *self.options.defect_types):
            if not self._folder(category).is_dir():
                raise DataError(str(self._folder(category)), "does not exist (not a Magnetic-Tile folder)",
                                "point `root` at the folder holding MT_Free/, MT_Crack/, ...")

    @cached_property
    def candidates(self) -> list[Candidate]:
        """Every checked image with its group, label, type and framing."""
        out = []
        fit = self.options.fit
        for category in ("Free", *self.options.defect_types):
            label = 0 if category == "Free" else 1
            for path in [p for p in require_images(self._folder(category)) if p.suffix.lower() == ".jpg"]:
                run = _RUN.match(path.name)
                mask = path.with_suffix(".png")
                out.append(make_candidate(self.root, path, group=run.group(1) if run else path.stem, label=label,
                                          fit=fit, defect_type=None if label == 0 else category,
                                          mask_path=mask if label and mask.exists() else None))
        return out

    def build_split(self, seed: int) -> list[SplitItem]:
        """Capture-run-disjoint split with the options' counts (``group_split.py``)."""
        return build_group_split(self.candidates, self.options.counts(), self.options.test_fraction, seed)


@hookimpl
def register_datasets(register):
    """Register the Magnetic-Tile dataset."""
    register(MagneticTile)
