"""The image history buffer of CycleGAN (Shrivastava et al. 2017; CycleGAN sec. 4).

Discriminators are updated with a mix of the newest fakes and fakes from earlier
steps, which damps oscillation. This is ``util/image_pool.py`` of the CycleGAN
reference code, plus a state for checkpoints so a resumed run draws the same mix.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import torch


class ImagePool:
    """A buffer of up to ``size`` earlier generated images (``size`` 0 disables it).

    Draws from Python's global :mod:`random`, whose state the harness checkpoints.
    """

    def __init__(self, size: int = 50) -> None:
        if size < 0:
            raise ValueError(f"pool size must be >= 0, not {size}")
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch the size of ``images``, drawn as the reference code draws it.

        While the pool fills, each image is stored and returned; once full, each image
        is returned as is with probability 1/2, or else swapped with a random stored
        image, which is returned instead. The result is detached.
        """
        images = images.detach()
        if self.size == 0:
            return images
        if self.images and self.images[0].device != images.device:
            # A checkpoint may have been loaded onto another device than training uses.
            self.images = [img.to(images.device) for img in self.images]
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                idx = random.randint(0, self.size - 1)
                out.append(self.images[idx].clone())
                self.images[idx] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        """The stored images (one ``(N, C, H, W)`` tensor) for a checkpoint."""
        stored = torch.cat(self.images, 0) if self.images else torch.empty(0)
        return {"size": self.size, "images": stored.clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        if int(state["size"]) != self.size:
            raise ValueError(f"checkpoint pool size {state['size']} != configured {self.size}")
        stored = state["images"]
        self.images = [img.unsqueeze(0).clone() for img in stored] if stored.numel() else []
