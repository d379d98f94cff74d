"""StyleGAN2 building blocks in plain PyTorch, as DFMGAN uses them (``dfmgan.py``).

Karras et al., "Analyzing and Improving the Image Quality of StyleGAN" (CVPR 2020), in
the layout of NVlabs' stylegan2-ada-pytorch (``training/networks.py``), which DFMGAN
(Duan et al., AAAI 2023) extends: a mapping network (pixel-normalised z, fully
connected layers with a 0.01 learning-rate multiplier), a synthesis network of
modulated, demodulated 3x3 convolutions from a learned 4x4 constant, per-layer noise,
skip ToRGB outputs summed across resolutions, and a residual discriminator with a
minibatch standard-deviation layer. Every weight uses the equalised learning rate
(stored ~N(0, 1), scaled by ``1/sqrt(fan_in)`` at run time), so parameter counts equal
the official ones layer for layer.

The discriminator downsamples as the official ``conv2d_resample`` does: the [1, 3, 3, 1]
FIR filter, then a stride-2 3x3 convolution (bias and activation after it), and for the
1x1 skip the filter with decimation first (:func:`fir_downsample2x`).

Departures (the CPU-friendly subset): the generator's 2x upsampling is bilinear, which
is the [1, 3, 3, 1] filter inside the image but repeats the edge where the official
filter pads with zeros (a 1 px border), and it comes before the 3x3 convolution, where
the official up-conv is a transposed convolution followed by the filter: equal inside
the image up to a flip of the kernel (a re-parametrisation), different on a 2 px border
ring, so these change the function at the borders, not only the speed; no fp16 layers
or ``conv_clamp``; one w for every layer (no style mixing), hence no ``num_ws``
broadcast; no ``w_avg`` (generation uses truncation psi = 1, as DFMGAN's
``generate.py`` does).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: Leaky ReLU slope and the gain that keeps activations at unit variance (stylegan2-ada ``bias_act``).
LRELU_SLOPE, LRELU_GAIN = 0.2, math.sqrt(2.0)


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at ``resolution``: ``min(channel_base // resolution, channel_max)``."""
    return min(channel_base // resolution, channel_max)


def check_resolution(image_size: int) -> None:
    """StyleGAN2 networks double from 4x4: the image side must be a power of two >= 8."""
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"image_size {image_size} is not a power of two >= 8 (StyleGAN2 doubles from 4x4)")


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU times sqrt(2)."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Bilinear 2x upsampling (stylegan2-ada: transposed conv / FIR filter [1, 3, 3, 1])."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


#: The separable [1, 3, 3, 1] resampling filter of stylegan2-ada (``upfirdn2d.setup_filter``), summing to 1.
FIR_1331 = torch.tensor([1.0, 3.0, 3.0, 1.0]).outer(torch.tensor([1.0, 3.0, 3.0, 1.0])) / 64


def fir_filter(x: torch.Tensor, pad: int, down: int = 1) -> torch.Tensor:
    """Each channel zero-padded by ``pad`` on every side, filtered by :data:`FIR_1331`, and
    kept at every ``down``-th pixel (``upfirdn2d`` with ``up`` 1)."""
    channels = x.shape[1]
    kernel = FIR_1331.to(device=x.device, dtype=x.dtype).expand(channels, 1, 4, 4)
    return F.conv2d(F.pad(x, [pad] * 4), kernel, stride=down, groups=channels)


def fir_downsample2x(x: torch.Tensor) -> torch.Tensor:
    """Filter and halve (stylegan2-ada ``downsample2d``; the 1x1 skip's "downsample, then convolve")."""
    return fir_filter(x, pad=1, down=2)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pixel norm of the latent: ``x / sqrt(mean(x^2) + eps)`` over features."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class FullyConnected(nn.Module):
    """Equalised-lr linear layer: weight ``~N(0, 1) / lr_multiplier``, times ``lr_multiplier / sqrt(in)``."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0,
                 lr_multiplier: float = 1.0, activation: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain, self.bias_gain = lr_multiplier / math.sqrt(in_features), lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.activation else x


class MappingNetwork(nn.Module):
    """z -> w: pixel-normalised z through ``layers`` leaky-ReLU FC layers (lr multiplier 0.01)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_multiplier: float = 0.01) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.fcs = nn.ModuleList(FullyConnected(i, o, lr_multiplier=lr_multiplier, activation=True)
                                 for i, o in zip(dims[:-1], dims[1:]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = normalize_2nd_moment(z)
        for fc in self.fcs:
            x = fc(x)
        return x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     demodulate: bool = True) -> torch.Tensor:
    """StyleGAN2's weight modulation (and demodulation) as one grouped convolution.

    ``weight (O, I, k, k)`` is scaled per sample by ``styles (B, I)``; demodulation
    rescales each output channel to unit expected norm (Karras et al. 2020, eq. 3).
    """
    batch, in_channels, height, width = x.shape
    out_channels, _, k, _ = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, in_channels, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
    out = F.conv2d(x.reshape(1, batch * in_channels, height, width),
                   w.reshape(batch * out_channels, in_channels, k, k).to(x.dtype), padding=k // 2, groups=batch)
    return out.reshape(batch, out_channels, height, width)


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally after 2x upsampling), per-pixel noise, bias, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False) -> None:
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.up = up

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        if self.up:
            x = upsample2x(x)
        x = modulated_conv2d(x, self.weight, self.affine(w))
        if noise_mode == "random":
            x = x + torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype) \
                * self.noise_strength
        else:
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        return lrelu(x + self.bias.to(x.dtype).view(1, -1, 1, 1))


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation to ``out_channels`` (3: RGB; 1: DFMGAN's mask)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
        return x + self.bias.to(x.dtype).view(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """One resolution: from the 4x4 constant (first block) or 2x up from the block below,
    then a second conv; ``to_rgb`` adds this resolution's image to the upsampled sum."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 image_channels: int | None = 3) -> None:
        super().__init__()
        self.first = in_channels == 0
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution)
        self.to_rgb = ToRGB(out_channels, image_channels, w_dim) if image_channels else None

    def features(self, x: torch.Tensor | None, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        """The block's feature maps (before any image output)."""
        if self.first:
            # A copy, not an expand(): a view of a parameter made under no_grad breaks autograd hooks
            # (FlopCounterMode's, in `bench estimate`).
            x = self.const.unsqueeze(0).repeat(w.shape[0], 1, 1, 1)
        else:
            x = self.conv0(x, w, noise_mode)
        return self.conv1(x, w, noise_mode)


class ResidualDiscriminator(nn.Module):
    """StyleGAN2's ``resnet`` discriminator: 1x1 fromRGB at the top resolution, residual
    blocks halving the resolution down to 4x4, minibatch std, conv, FC, one logit.

    ``image_channels`` 4 makes DFMGAN's defect-matching discriminator (image + mask).
    """

    def __init__(self, image_size: int, channel_base: int, channel_max: int, image_channels: int = 3,
                 mbstd_group: int = 4) -> None:
        super().__init__()
        check_resolution(image_size)
        self.from_rgb = nn.Conv2d(image_channels, channels_at(image_size, channel_base, channel_max), 1)
        self.blocks = nn.ModuleList()
        res = image_size
        while res > 4:   # one block per resolution, S -> S/2, down to 4x4
            cin, cout = channels_at(res, channel_base, channel_max), channels_at(res // 2, channel_base, channel_max)
            self.blocks.append(nn.ModuleDict({"conv0": nn.Conv2d(cin, cin, 3, padding=1),
                                              "conv1": nn.Conv2d(cin, cout, 3, padding=1),
                                              "skip": nn.Conv2d(cin, cout, 1, bias=False)}))
            res //= 2
        c4 = channels_at(4, channel_base, channel_max)
        self.mbstd_group = mbstd_group
        self.conv = nn.Conv2d(c4 + 1, c4, 3, padding=1)
        self.fc = nn.Linear(c4 * 16, c4)
        self.out = nn.Linear(c4, 1)
        for module in self.modules():   # equalised learning rate: weights N(0, 1), scaled in forward
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    @staticmethod
    def _equalized(layer: nn.Conv2d | nn.Linear, x: torch.Tensor, stride: int = 1,
                   padding: int | None = None) -> torch.Tensor:
        gain = 1 / math.sqrt(layer.weight[0].numel())
        weight = layer.weight * gain
        if isinstance(layer, nn.Linear):
            return F.linear(x, weight, layer.bias)
        return F.conv2d(x, weight, layer.bias, stride=stride,
                        padding=layer.padding if padding is None else padding)

    def block(self, block: nn.ModuleDict, x: torch.Tensor) -> torch.Tensor:
        """One residual block, S -> S/2, in the official order: the skip filters and halves,
        then its 1x1 conv; conv1 filters (padded by 2), convolves at stride 2, then adds its
        bias and activates; both paths times sqrt(1/2)."""
        skip = self._equalized(block["skip"], fir_downsample2x(x))
        x = lrelu(self._equalized(block["conv0"], x))
        x = lrelu(self._equalized(block["conv1"], fir_filter(x, pad=2), stride=2, padding=0))
        return (skip + x) * math.sqrt(0.5)

    def minibatch_std(self, x: torch.Tensor) -> torch.Tensor:
        """Append the std over groups of samples, averaged over features and pixels, as one channel."""
        n, c, h, w = x.shape
        group = max(g for g in range(1, min(self.mbstd_group, n) + 1) if n % g == 0)
        y = x.float().reshape(group, -1, c, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt().mean(dim=(1, 2, 3))
        y = y.reshape(-1, 1, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, y.to(x.dtype)], dim=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = lrelu(self._equalized(self.from_rgb, image))
        for block in self.blocks:
            x = self.block(block, x)
        x = lrelu(self._equalized(self.conv, self.minibatch_std(x)))
        x = lrelu(self._equalized(self.fc, x.flatten(1)))
        return self._equalized(self.out, x).squeeze(1)


class SynthesisNetwork(nn.Module):
    """w -> image: one :class:`SynthesisBlock` per resolution 4, 8, ..., S (skip architecture)."""

    def __init__(self, image_size: int, w_dim: int, channel_base: int, channel_max: int) -> None:
        super().__init__()
        check_resolution(image_size)
        self.resolutions = [2 ** k for k in range(2, int(math.log2(image_size)) + 1)]
        self.blocks = nn.ModuleDict()
        for res in self.resolutions:
            cin = 0 if res == 4 else channels_at(res // 2, channel_base, channel_max)
            self.blocks[f"b{res}"] = SynthesisBlock(cin, channels_at(res, channel_base, channel_max), w_dim, res)

    def forward(self, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        x = image = None
        for res in self.resolutions:
            block = self.blocks[f"b{res}"]
            x = block.features(x, w, noise_mode)
            rgb = block.to_rgb(x, w)
            image = rgb if image is None else upsample2x(image) + rgb
        return image
