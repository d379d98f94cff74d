"""``cutpaste``: defect regions cut from real defect images by their masks, pasted on
defect-free training images.

A mask-driven synthetic-defect control in the spirit of CutPaste (Li et al. 2021,
which cuts a patch of an image and pastes it elsewhere in the same image) and of the
synthetic anomalies of anomalib's DRAEM-style generators, but with real defects: for
each defect-free source image, a randomly drawn real training defect that has a mask
is rotated by a random multiple of 90 degrees and maybe flipped (image and mask
together); the bounding box of its mask is placed at a uniformly random position
inside the source, and the masked pixels replace the source's pixels there (a hard
paste: no blending, so nothing but real defect pixels is added). A dataset without
masks cannot drive it: the cell stops with a one-line error saying so.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch

from dg2bench import DataError, RealTrainingData, hookimpl
from dg2bench.plugins.controls.base import TrainingFreeControl


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a real defect region goes: its orientation, its mask's bounding box once
    oriented (``top, bottom, left, right``) and the corner ``(y, x)`` it is moved to."""

    turns: int
    flipped: bool
    box: tuple[int, int, int, int]
    corner: tuple[int, int]

    def orient(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` (``(..., S, S)``) turned by ``turns`` quarter turns, then maybe flipped."""
        out = torch.rot90(image, self.turns, dims=(-2, -1))
        return out.flip(-1) if self.flipped else out

    def region(self, image: torch.Tensor) -> torch.Tensor:
        """The oriented ``image`` inside the bounding box."""
        top, bottom, left, right = self.box
        return self.orient(image)[..., top:bottom, left:right]

    def moved_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """Bool ``(S, S)``: the oriented mask's region at ``corner``, False elsewhere."""
        region = self.region(mask)
        (y, x), (height, width) = self.corner, region.shape[-2:]
        out = torch.zeros_like(mask)
        out[y:y + height, x:x + width] = region
        return out


def random_placement(mask: torch.Tensor) -> Placement:
    """A random quarter turn, a flip with probability 1/2 and a uniformly random corner
    that keeps the bounding box of ``mask`` (bool ``(S, S)``, not empty) inside the image.

    Draws from torch's global RNG, in this order: turns, flip, row, column.
    """
    turns = int(torch.randint(0, 4, ()))
    flipped = bool(torch.rand(()) < 0.5)
    oriented = torch.rot90(mask, turns, dims=(0, 1))
    oriented = oriented.flip(-1) if flipped else oriented
    rows, cols = torch.nonzero(oriented, as_tuple=True)
    top, bottom, left, right = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    size = mask.shape[-1]
    y = int(torch.randint(0, size - (bottom - top) + 1, ()))
    x = int(torch.randint(0, size - (right - left) + 1, ()))
    return Placement(turns, flipped, (top, bottom, left, right), (y, x))


def paste(target: torch.Tensor, defect: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Paste ``defect``'s masked pixels, its mask's bounding box at a random place of ``target``.

    :param target: float ``(3, S, S)``; ``defect``: float ``(3, S, S)``; ``mask``: bool ``(S, S)``.
    """
    placement = random_placement(mask)
    region, pixels = placement.region(mask), placement.region(defect)
    (y, x), (height, width) = placement.corner, region.shape
    out = target.clone()
    window = out[:, y:y + height, x:x + width]
    window[:, region] = pixels[:, region]
    return out


class CutPaste(TrainingFreeControl):
    """Real defect regions (by mask) pasted on defect-free training images."""

    name: ClassVar[str] = "cutpaste"
    summary: ClassVar[str] = "control: real defect regions (by their masks) pasted on defect-free images"
    kind: ClassVar[str] = "translation"

    def prepare(self, data: RealTrainingData) -> None:
        """Keep the defects that have a non-empty mask; none is a one-line error."""
        masks = data.defect_masks
        usable = masks.flatten(1).any(dim=1) if masks is not None else torch.zeros(0, dtype=torch.bool)
        if masks is None or not bool(usable.any()):
            raise DataError("generators.cutpaste", "the dataset gives no defect masks to cut regions by",
                            "use a dataset with masks (crackforest, magnetic-tile, mvtec, folder with "
                            "masks_dir) or leave cutpaste out")
        super().prepare(data)
        self.usable = torch.nonzero(usable).flatten()

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None) -> torch.Tensor:
        """Paste a random real defect region onto each of the ``n`` defect-free ``source`` images."""
        if source is None or source.shape[0] < n:
            raise ValueError("cutpaste pastes onto images: pass n defect-free images as source")
        defects, masks = self.real_defects(), self.data.defect_masks[:, 0]
        picks = self.usable[torch.randint(0, len(self.usable), (n,))].tolist()
        out = [paste(source[i].float().cpu(), defects[k], masks[k]) for i, k in enumerate(picks)]
        return torch.stack(out) if out else torch.empty(0, 3, self.image_size, self.image_size)


@hookimpl
def register_generators(register) -> None:
    """Register :class:`CutPaste`."""
    register(CutPaste)
