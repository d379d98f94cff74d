"""Your own images: one folder of defect-free images, one of defect images.

Layout under the spec's ``root``::

    <defect_free_dir>/**/*.png|jpg|jpeg|bmp|tif|tiff    defect-free images (any depth)
    <defect_dir>/*.png ...                               defect images of no particular type
    <defect_dir>/<type>/*.png ...                        defect images of type <type>
    <masks_dir>/<same relative path, any image suffix>   optional defect masks (non-zero = defect)

Images may be 8-bit grey, RGB or RGBA (alpha is dropped); 16-bit, float and palette
images are refused with the file's name. A mask may also be named ``<stem>_mask``.
Each image is its own group unless ``group_pattern`` (a regular expression) is given:
images whose names give the same first match (e.g. ``^(part\\d+)_`` for
``part17_a.png``, ``part17_b.png``) share a source and stay on one side of the split.
Split rule and counts: ``group_split.py``.
"""

from __future__ import annotations

import dataclasses
import re
from functools import cached_property
from pathlib import Path

from dg2bench import DataError, SplitItem, hookimpl, option
from dg2bench.plugins.datasets.group_split import FIT_MODES, Candidate, SplitCountOptions, build_group_split
from dg2bench.plugins.datasets.image_files import (IMAGE_SUFFIXES, WholeImageDataset, check_relative, image_files,
                                                   make_candidate, require_folder)


@dataclasses.dataclass(frozen=True)
class FolderOptions(SplitCountOptions):
    """Options of a folder dataset (counts: see :class:`SplitCountOptions`).

    :param defect_free_dir: folder of defect-free images, relative to the root.
    :param defect_dir: folder of defect images (subfolders = defect types).
    :param masks_dir: optional folder of masks mirroring ``defect_dir`` ("" = none).
    :param fit: ``"resize"`` (squeeze to a square, default) or ``"crop"`` (mask-guided square).
    :param group_pattern: regex whose first group names an image's source ("" = each image alone).
    """

    defect_free_dir: str = "good"
    defect_dir: str = "defect"
    masks_dir: str = ""
    fit: str = option("resize", choices=FIT_MODES)
    group_pattern: str = ""

    def validate(self) -> None:
        """The group pattern must compile; the folders must be separate (counts and fit: field ranges)."""
        try:
            re.compile(self.group_pattern)
        except re.error as exc:
            raise ValueError(f"group_pattern is not a regular expression ({exc})") from None
        folders = {"defect_free_dir": self.defect_free_dir, "defect_dir": self.defect_dir}
        if self.masks_dir:
            folders["masks_dir"] = self.masks_dir
        for key, value in folders.items():
            check_relative(value, key)
        paths = [Path(v) for v in folders.values()]
        for a in paths:
            for b in paths:
                if a is not b and (a == b or a in b.parents or a == Path(".")):
                    raise ValueError("defect_free_dir, defect_dir and masks_dir must be separate folders, "
                                     "none inside another")


class ImageFolder(WholeImageDataset):
    """Defect-free and defect images from two folders (a user's own line)."""

    name = "folder"
    summary = "your own images: <root>/good and <root>/defect[/<type>], optional masks"
    Options = FolderOptions
    presets = {"tiny": {"train_defect_free": 12, "train_defect": 8, "test_defect_free": 6, "test_defect": 4}}

    def check_root(self) -> None:
        """Require both image folders (and the masks folder, when named)."""
        o = self.options
        hint = "set defect_free_dir / defect_dir to folders under root"
        require_folder(self.root / o.defect_free_dir, "the defect-free", hint)
        require_folder(self.root / o.defect_dir, "the defect", hint)
        if o.masks_dir:
            require_folder(self.root / o.masks_dir, "the masks", "fix masks_dir or set it to \"\"")

    def _group(self, path: Path) -> str:
        match = re.search(self.options.group_pattern, path.name) if self.options.group_pattern else None
        if match is None:
            return path.relative_to(self.root).as_posix()
        return (match.group(1) if match.groups() else None) or match.group(0) or path.relative_to(self.root).as_posix()

    @cached_property
    def _mask_files(self) -> dict[str, Path]:
        """Mask files by their path relative to the masks folder, without suffix (lower case)."""
        if not self.options.masks_dir:
            return {}
        folder = self.root / self.options.masks_dir
        return {p.relative_to(folder).with_suffix("").as_posix().lower(): p for p in sorted(folder.rglob("*"))
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}

    def _mask(self, path: Path) -> Path | None:
        relative = path.relative_to(self.root / self.options.defect_dir).with_suffix("").as_posix().lower()
        return self._mask_files.get(relative) or self._mask_files.get(f"{relative}_mask")

    @cached_property
    def candidates(self) -> list[Candidate]:
        """Every checked image, labelled by its folder."""
        o, out = self.options, []
        free = sorted(p for p in (self.root / o.defect_free_dir).rglob("*")
                      if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        for path in free:
            out.append(make_candidate(self.root, path, group=self._group(path), label=0, fit=o.fit))
        defect_root = self.root / o.defect_dir
        folders = [(defect_root, None)] + [(p, p.name) for p in sorted(defect_root.iterdir()) if p.is_dir()]
        for folder, defect_type in folders:
            for path in [p for p in image_files(folder) if not p.stem.lower().endswith("_mask")]:
                out.append(make_candidate(self.root, path, group=self._group(path), label=1, fit=o.fit,
                                          defect_type=defect_type, mask_path=self._mask(path)))
        for label, folder in ((0, o.defect_free_dir), (1, o.defect_dir)):
            if not any(c.label == label for c in out):
                raise DataError(str(self.root / folder), "holds no image (png, jpg, jpeg, bmp, tif, tiff)",
                                "put the images there or fix the folder option")
        return out

    def build_split(self, seed: int) -> list[SplitItem]:
        """Group-disjoint split with the options' counts (``group_split.py``)."""
        return build_group_split(self.candidates, self.options.counts(), self.options.test_fraction, seed)


@hookimpl
def register_datasets(register):
    """Register the folder dataset."""
    register(ImageFolder)
