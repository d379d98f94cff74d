"""``classic``: the real training defects under classic geometric and photometric jitter.

Each extra image is a randomly drawn real training defect, rotated by a random multiple
of 90 degrees, flipped left-right and up-down with probability 1/2 each, then a small
affine map (up to 10 degrees, 5 % shift, scale 0.95-1.05; uncovered corners filled
with the image's mean colour) and brightness/contrast jitter of 0.2
(torchvision transforms v2). Randomness from torch's seeded global RNG.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torchvision.transforms import v2

from dg2bench import hookimpl
from dg2bench.plugins.controls.base import TrainingFreeControl


def jitter(image: torch.Tensor) -> torch.Tensor:
    """One randomly transformed copy of a uint8 ``(3, S, S)`` image."""
    image = torch.rot90(image, int(torch.randint(0, 4, ())), dims=(1, 2))
    fill = [int(c) for c in image.float().mean(dim=(1, 2)).round()]
    transform = v2.Compose([
        v2.RandomHorizontalFlip(), v2.RandomVerticalFlip(),
        v2.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.95, 1.05), fill=fill),
        v2.ColorJitter(brightness=0.2, contrast=0.2),
    ])
    return transform(image)


class ClassicAugmentation(TrainingFreeControl):
    """Flips, 90-degree rotations, small affine and photometric jitter of real defects."""

    name: ClassVar[str] = "classic"
    summary: ClassVar[str] = "control: real defects under flips, rot90, small affine and photometric jitter"
    kind: ClassVar[str] = "unconditional"

    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` jittered copies of randomly drawn real training defects."""
        self.real_defects()   # raises a clear error without data
        images = [jitter(self.data.defect[k]) for k in self.pick(n).tolist()]
        if not images:
            return torch.empty(0, 3, self.image_size, self.image_size)
        return torch.stack(images).float() / 127.5 - 1.0


@hookimpl
def register_generators(register) -> None:
    """Register :class:`ClassicAugmentation`."""
    register(ClassicAugmentation)
