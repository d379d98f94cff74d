"""Network blocks shared by the built-in generators, as plain ``nn.Module``s.

* :class:`ResnetGenerator` and :class:`PatchDiscriminator` follow the CycleGAN
  reference code (junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py``).
* :class:`DcganGenerator` and :class:`DcganCritic` follow DCGAN (Radford et al. 2016)
  as WGAN and D2GAN use it, with one up/down block per factor of two, so every
  power-of-two side from 32 up works (and sides like 48, 80, 96: see
  :func:`dcgan_resolutions`).
* :func:`init_normal` is the N(0, 0.02) initialisation all four methods use.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

NormKind = Literal["batch", "instance", "layer", "none"]


def _norm(norm: NormKind, channels: int) -> nn.Module:
    """A normalisation layer by name (``"layer"`` normalises over C, H, W per sample)."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        # CycleGAN's instance norm: no affine parameters, no running statistics.
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; use batch, instance, layer or none")


def init_normal(module: nn.Module, gain: float = 0.02) -> None:
    """Initialise conv weights with N(0, gain) and norm scales with N(1, gain), biases 0.

    The CycleGAN ("normal" init_type) and DCGAN papers both prescribe this.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def dcgan_resolutions(image_size: int) -> list[int]:
    """Feature-map sides of the DCGAN nets, smallest first: ``[b, 2b, ..., image_size]``.

    ``image_size`` must be ``b * 2^k`` with ``4 <= b <= 7`` and ``k >= 3``: every power
    of two from 32 and sizes such as 40, 48, 80, 96 or 160 (the DCGAN paper's 64 x 64
    net starts at ``b = 4``).
    """
    base, halvings = image_size, 0
    while base >= 8 and base % 2 == 0:
        base, halvings = base // 2, halvings + 1
    if not 4 <= base <= 7 or halvings < 3:
        raise ValueError(f"image_size must be b * 2^k with 4 <= b <= 7 and k >= 3 (32, 40, 48, "
                         f"64, 80, 96, 128, 256, ...), not {image_size}")
    return [base * 2 ** i for i in range(halvings + 1)]


def check_translation_size(image_size: int) -> None:
    """Raise ValueError unless the ResNet generator and PatchGAN can take ``image_size``.

    Two stride-2 convs and two transposed convs give back the input side only when
    it is a multiple of 4; the PatchGAN's five 4x4 convs need at least 32 pixels.
    """
    if image_size < 32 or image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 and >= 32, not {image_size}")


class ResidualBlock(nn.Module):
    """Two reflect-padded 3x3 convs with instance norm and a skip connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=True),
            _norm("instance", channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=True),
            _norm("instance", channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x + body(x)``."""
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's ResNet image-to-image generator.

    Reflect pad + 7x7 conv, two stride-2 downsamplings, ``n_blocks`` residual blocks
    (9 at 256 x 256 in the reference), two transposed convs back up, 7x7 conv, tanh.

    :param ngf: channels of the first layer (64 in the reference).
    :param n_blocks: number of residual blocks.
    """

    def __init__(self, ngf: int = 64, n_blocks: int = 9, in_channels: int = 3,
                 out_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7),
                                   _norm("instance", ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                       _norm("instance", ngf * mult * 2), nn.ReLU(True)]
        layers += [ResidualBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                          output_padding=1),
                       _norm("instance", ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate images ``(B, C, S, S)`` in [-1, 1] to images of the same shape."""
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """The 70 x 70 PatchGAN of pix2pix/CycleGAN: one real/fake score per image patch.

    4x4 convs, LeakyReLU 0.2, instance norm from the second layer on, ``n_layers``
    stride-2 convs, then two stride-1 convs. With padding 1 a 32 x 32 input still
    gives a 2 x 2 map (256 gives the reference's 30 x 30).

    The net is split into :attr:`trunk` (features) and :attr:`head` (last conv) so a
    subclass can read the features (DG2GAN's DJS head does).
    """

    def __init__(self, ndf: int = 64, n_layers: int = 3, in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1),
                       _norm("instance", ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1),
                   _norm("instance", ndf * mult), nn.LeakyReLU(0.2, True)]
        self.trunk = nn.Sequential(*layers)
        self.feature_channels = ndf * mult
        self.head = nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch logits ``(B, 1, h, w)`` (unbounded; the loss decides their meaning)."""
        return self.head(self.trunk(x))


def _dcgan_channels(base: int, image_size: int, resolution: int) -> int:
    """Channels at ``resolution``: ``base`` at image_size/2, doubling per halving, max 8x."""
    return base * min(image_size // (2 * resolution), 8)


class DcganGenerator(nn.Module):
    """DCGAN generator from noise ``(B, z_dim)`` to images ``(B, 3, S, S)`` in [-1, 1].

    A transposed conv from the noise to the smallest side ``b`` (4 for powers of two),
    then one stride-2 transposed conv per factor of two up to ``image_size``, batch
    norm + ReLU between, tanh at the end. Channels are ``ngf`` at S/2 and double per
    halving, capped at 8 ngf, so the 64 x 64 case is exactly the DCGAN paper's net.
    """

    def __init__(self, image_size: int, z_dim: int = 100, ngf: int = 64,
                 out_channels: int = 3) -> None:
        super().__init__()
        sides = dcgan_resolutions(image_size)
        self.z_dim = z_dim
        ch = _dcgan_channels(ngf, image_size, sides[0])
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, ch, sides[0], 1, 0, bias=False),
                                   nn.BatchNorm2d(ch), nn.ReLU(True)]
        for side in sides[1:-1]:
            nxt = _dcgan_channels(ngf, image_size, side)
            layers += [nn.ConvTranspose2d(ch, nxt, 4, 2, 1, bias=False), nn.BatchNorm2d(nxt),
                       nn.ReLU(True)]
            ch = nxt
        layers += [nn.ConvTranspose2d(ch, out_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map noise ``(B, z_dim)`` to images ``(B, 3, S, S)``."""
        return self.model(z.view(z.shape[0], self.z_dim, 1, 1))


class DcganCritic(nn.Module):
    """DCGAN discriminator/critic: images ``(B, 3, S, S)`` to one raw score each ``(B,)``.

    One stride-2 4x4 conv per factor of two down to the smallest side ``b``, LeakyReLU
    0.2, the chosen norm from the second conv on (batch for WGAN/D2GAN as in DCGAN;
    WGAN-GP must not use batch norm, Gulrajani et al. 2017 sec. 4, hence
    ``"layer"``/``"none"``), then a ``b x b`` valid conv to one number. No sigmoid:
    each method applies its own output map.
    """

    def __init__(self, image_size: int, ndf: int = 64, norm: NormKind = "batch",
                 in_channels: int = 3) -> None:
        super().__init__()
        sides = dcgan_resolutions(image_size)[::-1]   # largest first
        ch = _dcgan_channels(ndf, image_size, sides[1])
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ch, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]
        for side in sides[2:]:
            nxt = _dcgan_channels(ndf, image_size, side)
            layers += [nn.Conv2d(ch, nxt, 4, 2, 1, bias=False), _norm(norm, nxt),
                       nn.LeakyReLU(0.2, True)]
            ch = nxt
        layers += [nn.Conv2d(ch, 1, sides[-1], 1, 0, bias=False)]
        self.model = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One raw score per image, shape ``(B,)``."""
        return self.model(x).flatten()
