"""ResNet34 and ResNet50 defect classifiers, as the paper's Methods describe them.

"Without modifying the main network structure of ResNet, the input image size is kept
at 256 x 256 x 3. The modification involves reducing the number of neurons in each
layer of the fully connected layer [...]. The last layer outputs two categories [...]
the ADAM solver is employed [...] and dropout is used [...]. The learning rate is set to
0.0002, and the model is trained for 1000 epochs." The head widths, the dropout rate,
the batch size and whether ImageNet weights were used are not stated; the defaults
below are this benchmark's reading, each a hyperparameter.

Networks come from ``torchvision.models.resnet`` built with ``weights=None``: nothing
is ever downloaded. ImageNet (or any) weights can be given as a local file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from dg2bench import Classifier, DataError, TrainingState, TrainPlan, hookimpl, option

#: torchvision's ImageNet normalisation, for weights trained with it.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class ResNetHyperparameters:
    """Hyperparameters shared by both ResNet classifiers.

    :param batch_size: images per step; the paper does not say, 32 is a common choice.
    :param epochs: passes over the training set (paper: 1000).
    :param lr: Adam learning rate (paper: 2e-4).
    :param betas: Adam betas (paper: not given; PyTorch defaults).
    :param dropout: dropout probability before each fully connected layer of the head
        (paper: "dropout", rate not given).
    :param head_widths: hidden widths of the fully connected head, narrowing to the
        2 outputs (paper: "reducing the number of neurons in each layer"; widths not
        given). Default 2048 -> 512 -> 128 -> 2 for ResNet50; ResNet34's pooled
        features are 512-d, so it defaults to 512 -> 256 -> 64 -> 2.
    :param blocks_per_stage: residual blocks in each of the four stages; the paper
        keeps the main structure, so only the ``tiny`` preset changes it (for CPU tests).
    :param weights_path: a local ``state_dict`` file (e.g. torchvision's ImageNet
        ResNet weights) loaded into the backbone; ``fc.*`` keys that do not fit the
        new head are skipped. ``None``: random initialisation. Never downloaded.
    :param imagenet_normalize: map the ``[-1, 1]`` input to ImageNet normalisation
        first (wanted with ImageNet weights; off by default).
    """

    batch_size: int = option(32, minimum=1)
    epochs: int = option(1000, minimum=1)
    lr: float = 2e-4
    betas: tuple[float, ...] = option((0.9, 0.999), length=2)
    dropout: float = option(0.5, minimum=0.0, below=1.0)
    head_widths: tuple[int, ...] = option((512, 128), minimum=1)
    blocks_per_stage: tuple[int, ...] = option((3, 4, 6, 3), minimum=1, length=4)
    weights_path: str | None = None
    imagenet_normalize: bool = False


def narrowing_head(in_features: int, widths: tuple[int, ...], dropout: float) -> nn.Sequential:
    """Fully connected layers ``in_features -> widths... -> 2`` with dropout and ReLU between."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Dropout(dropout), nn.Linear(in_features, width), nn.ReLU(inplace=True)]
        in_features = width
    layers += [nn.Dropout(dropout), nn.Linear(in_features, 2)]
    return nn.Sequential(*layers)


class ResNetWithHead(nn.Module):
    """A torchvision ResNet whose ``fc`` is the paper's narrowing head (input in ``[-1, 1]``)."""

    def __init__(self, block: type[nn.Module], hp: ResNetHyperparameters) -> None:
        super().__init__()
        self.resnet = ResNet(block, list(hp.blocks_per_stage))
        self.resnet.fc = narrowing_head(self.resnet.fc.in_features, hp.head_widths, hp.dropout)
        self.imagenet_normalize = hp.imagenet_normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 2)``."""
        if self.imagenet_normalize:
            images = ((images + 1) / 2 - self.mean) / self.std
        return self.resnet(images)


def load_backbone_weights(net: ResNetWithHead, path: str) -> None:
    """Load a local ResNet ``state_dict`` (torchvision key names) into ``net.resnet``.

    Keys of the original 1000-class ``fc`` are skipped when they do not fit the new
    head; every other key must match, or a :class:`DataError` names the mismatch.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch.load raises KeyError, EOFError, ... on a bad file
        raise DataError(path, f"cannot read the weights file ({exc})", "give a torch state_dict file") from None
    if not isinstance(state, Mapping):
        raise DataError(path, f"holds a {type(state).__name__}, not a state_dict", "save model.state_dict()")
    own = net.resnet.state_dict()
    # The original 1000-class fc never fits the new head; skip it rather than fail.
    state = {k: v for k, v in state.items()
             if not (k.startswith("fc.") and (k not in own or own[k].shape != v.shape))}
    missing = [k for k in own if k not in state and not k.startswith("fc.")]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in state if k in own and own[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        raise DataError(path, f"weights do not fit this ResNet (missing {missing[:3]}, unexpected "
                        f"{unexpected[:3]}, wrong shape {wrong[:3]})",
                        "use the weights of the same ResNet depth and blocks_per_stage")
    net.resnet.load_state_dict(state, strict=False)


class ResNetClassifier(Classifier):
    """Base of the ResNet classifiers; subclasses fix ``name`` and the block type."""

    block: ClassVar[type[nn.Module]]
    Hyperparameters = ResNetHyperparameters

    def __init__(self, hparams: ResNetHyperparameters, image_size: int) -> None:
        super().__init__(hparams, image_size)
        self.net = ResNetWithHead(self.block, hparams)
        if hparams.weights_path is not None:
            load_backbone_weights(self.net, hparams.weights_path)
        self.optimizer: torch.optim.Optimizer | None = None
        self.plan: TrainPlan | None = None

    def networks(self) -> dict[str, nn.Module]:
        """The single network, ``{"classifier": ...}``."""
        return {"classifier": self.net}

    def setup(self, plan: TrainPlan) -> TrainingState:
        """Adam over all parameters (paper: lr 2e-4, constant)."""
        self.plan = plan
        self.optimizer = plan.adam(self.net.parameters(), lr=self.hparams.lr,
                                          betas=tuple(self.hparams.betas))
        return TrainingState(optimizers={"optimizer": self.optimizer})

    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """One cross-entropy step on ``batch["images"]`` / ``batch["labels"]``."""
        if self.optimizer is None or self.plan is None:
            raise RuntimeError("call setup(plan) before train_step")
        self.net.train()
        with self.plan.autocast():
            logits = self.net(batch["images"])
        loss = F.cross_entropy(logits.float(), batch["labels"])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach()}

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities ``(N, 2)`` on CPU, in eval mode (dropout off), in batches."""
        self.net.eval()
        device = next(self.net.parameters()).device
        out = []
        step = self.plan.inference_batch_size if self.plan is not None else self.batch_size
        for start in range(0, images.shape[0], step):
            chunk = images[start:start + step].to(device, torch.float32)
            if self.plan is not None:
                with self.plan.autocast():
                    logits = self.net(chunk)
            else:
                logits = self.net(chunk)
            out.append(torch.softmax(logits.float(), dim=1).cpu())
        return torch.cat(out) if out else torch.empty(0, 2)


_TINY = {"batch_size": 8, "epochs": 2, "head_widths": [32, 16], "blocks_per_stage": [1, 1, 1, 1]}
# benchmarks/crackforest-cpu.toml: the paper's head and optimiser, one block per stage
# (a quarter of ResNet34's blocks, the same four stages and widths), 5 epochs.
_SMALL = {"batch_size": 32, "epochs": 5, "lr": 2e-4, "dropout": 0.5, "blocks_per_stage": [1, 1, 1, 1]}


@dataclasses.dataclass(frozen=True)
class ResNet34Hyperparameters(ResNetHyperparameters):
    """As :class:`ResNetHyperparameters`, with a head that narrows from 512 features."""

    head_widths: tuple[int, ...] = option((256, 64), minimum=1)


class ResNet34Classifier(ResNetClassifier):
    """ResNet34 (BasicBlock, 3-4-6-3) with a narrowing FC head (Tables 9, 11, 12)."""

    name = "resnet34"
    Hyperparameters = ResNet34Hyperparameters
    summary = "ResNet34, FC head narrowing to 2 classes with dropout, Adam 2e-4 (paper's classifier)"
    block = BasicBlock
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"batch_size": 32, "epochs": 1000, "lr": 2e-4, "dropout": 0.5,
                  "head_widths": [256, 64], "blocks_per_stage": [3, 4, 6, 3]},
        "small": {**_SMALL, "head_widths": [256, 64]},
        "tiny": _TINY,
    }


class ResNet50Classifier(ResNetClassifier):
    """ResNet50 (Bottleneck, 3-4-6-3) with a narrowing FC head (Table 10)."""

    name = "resnet50"
    summary = "ResNet50, FC head narrowing to 2 classes with dropout, Adam 2e-4 (paper's classifier)"
    block = Bottleneck
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"batch_size": 32, "epochs": 1000, "lr": 2e-4, "dropout": 0.5,
                  "head_widths": [512, 128], "blocks_per_stage": [3, 4, 6, 3]},
        "small": {**_SMALL, "head_widths": [512, 128]},
        "tiny": _TINY,
    }


@hookimpl
def register_classifiers(register: Callable[[type], None]) -> None:
    """Register the ResNet34 and ResNet50 classifiers."""
    register(ResNet34Classifier)
    register(ResNet50Classifier)
