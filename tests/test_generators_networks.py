"""The shared networks accept every supported image side and keep the shapes they promise."""

from __future__ import annotations

import pytest
import torch

from dg2bench.plugins.generators.networks import (DcganCritic, DcganGenerator, PatchDiscriminator,
                                                   ResnetGenerator, check_translation_size,
                                                   dcgan_resolutions)


@pytest.mark.parametrize("size", [32, 48, 64, 80, 128, 256])
def test_dcgan_nets_scale_with_image_size(size):
    gen, critic = DcganGenerator(size, z_dim=8, ngf=4), DcganCritic(size, ndf=4, norm="layer")
    images = gen(torch.randn(2, 8))
    assert images.shape == (2, 3, size, size) and images.abs().max() <= 1
    assert critic(images).shape == (2,)


def test_dcgan_64_is_the_dcgan_paper_generator():
    assert dcgan_resolutions(64) == [4, 8, 16, 32, 64]
    assert sum(p.numel() for p in DcganGenerator(64, 100, 64).parameters()) == 3_576_704


@pytest.mark.parametrize("size", [16, 36, 100])
def test_dcgan_rejects_unsupported_sides(size):
    with pytest.raises(ValueError):
        dcgan_resolutions(size)


@pytest.mark.parametrize("size", [32, 80, 256])
def test_translation_nets_keep_the_image_side(size):
    check_translation_size(size)
    out = ResnetGenerator(ngf=4, n_blocks=1)(torch.rand(1, 3, size, size) * 2 - 1)
    assert out.shape == (1, 3, size, size)
    patches = PatchDiscriminator(ndf=4)(out)
    assert patches.shape[:2] == (1, 1) and patches.shape[-1] == size // 8 - 2


def test_translation_size_check():
    for bad in (30, 34):
        with pytest.raises(ValueError):
            check_translation_size(bad)
