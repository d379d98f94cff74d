"""CycleGAN's random load / crop / flip of training batches (``load_crop_flip``).

The CycleGAN reference trains on images loaded at 286 px, randomly cropped to 256 px
and randomly flipped left-right (``--preprocess resize_and_crop``, ``--load_size 286
--crop_size 256``, flips on by default). :class:`LoadCropFlip` does the same at any
image size (``load = round(S * 286 / 256)``), on the batch's device (one resize per batch,
then a crop and flip per image). Its randomness
comes from the loop's stateless sampler (one RNG per bank and step), so a resumed run
draws exactly the crops of an uninterrupted one.

A plugin asks for it by returning an instance from :meth:`Trainable.load_crop_flip`.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class LoadCropFlip:
    """Resize to ``load_scale`` times the image side, crop a random square back, maybe flip.

    :param load_scale: load side over crop side (CycleGAN: 286 / 256).
    :param flip: flip each image left-right with probability 1/2.
    """

    load_scale: float = 286 / 256
    flip: bool = True

    def __post_init__(self) -> None:
        if self.load_scale < 1.0:
            raise ValueError(f"load_scale must be >= 1, not {self.load_scale}")

    def load_size(self, image_size: int) -> int:
        """The side the images are resized to before cropping."""
        return max(image_size, round(image_size * self.load_scale))

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Jitter float images ``(B, C, S, S)`` in [-1, 1]; ``generator`` is a CPU RNG."""
        count, _, size, _ = images.shape
        load = self.load_size(size)
        offsets = torch.randint(0, load - size + 1, (count, 2), generator=generator).tolist()
        flips = (torch.rand(count, generator=generator) < 0.5).tolist() if self.flip else [False] * count
        if load != size:
            # Bicubic as the reference's PIL load; upsampling, so no antialiasing is needed.
            images = F.interpolate(images, size=(load, load), mode="bicubic",
                                   align_corners=False).clamp_(-1.0, 1.0)
        crops = [images[k, :, top:top + size, left:left + size] for k, (top, left) in enumerate(offsets)]
        return torch.stack([c.flip(-1) if flip else c for c, flip in zip(crops, flips)])
