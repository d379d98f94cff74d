"""What every trainable plugin (generator or classifier) shares with the training loop.

The harness owns the loop (:mod:`dg2bench.run.training`): it draws batches, calls
``train_step`` once per step, checkpoints, detects non-finite losses and reports
progress. A plugin only says how one step updates its networks. Keeping the loop in
one place is what makes every method resumable and comparable in the same way.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from dg2bench.runtime.load_crop_flip import LoadCropFlip


@dataclasses.dataclass(frozen=True)
class TrainPlan:
    """Everything a plugin needs to set itself up for training.

    :param image_size: side of the square images, in pixels.
    :param total_steps: number of ``train_step`` calls the loop will make.
    :param steps_per_epoch: steps that make one pass over the training data.
    :param epochs: ``total_steps / steps_per_epoch`` (LR schedules use it).
    :param batch_size: images per domain per step.
    :param device: where the networks and the batches live.
    :param amp_dtype: autocast dtype on CUDA (``torch.bfloat16``) or ``None`` for fp32.
    :param channels_last: networks and batches use the channels-last memory format
        (the loop converts both; plugins need do nothing).
    :param compile_mode: ``torch.compile`` mode the loop compiles every network with
        (in place, so state dicts keep their keys), or ``None`` for eager.
    :param inference_batch_size: images per forward pass when predicting or generating.
    """

    image_size: int
    total_steps: int
    steps_per_epoch: int
    epochs: float
    batch_size: int
    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    compile_mode: str | None = None
    inference_batch_size: int = 64

    @property
    def memory_format(self) -> torch.memory_format:
        """``torch.channels_last`` or ``torch.contiguous_format``."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def adam(self, params: Any, **options: Any) -> torch.optim.Adam:
        """``torch.optim.Adam(params, **options)``, fused on CUDA (one kernel for all parameters).

        The update is the same algorithm; on CPU the default implementation is kept so
        that CPU runs stay bit-identical to earlier ones.
        """
        if self.device.type == "cuda":
            options.setdefault("fused", True)
        return torch.optim.Adam(params, **options)

    def autocast(self) -> torch.autocast:
        """An autocast context for forward passes (disabled where ``amp_dtype`` is None)."""
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype or torch.float32,
                              enabled=self.amp_dtype is not None)


@dataclasses.dataclass
class TrainingState:
    """What :meth:`Trainable.setup` declares; the harness owns it from then on.

    The harness saves and restores every entry in checkpoints (by name, so names are
    unique across the three), and steps each epoch scheduler once after the last step
    of every epoch (``plan.steps_per_epoch``), after ``train_step``. A plugin only
    creates them; an optimiser or scheduler it keeps without declaring it breaks the
    contract's rule ``optimizers`` (it would be lost on resume).

    :param optimizers: ``torch.optim.Optimizer`` objects, by name.
    :param epoch_schedulers: ``torch.optim.lr_scheduler.LRScheduler`` objects the harness
        steps once per epoch, by name. A scheduler stepped otherwise (per step, on a
        metric) belongs in ``stateful``, and the plugin steps it.
    :param stateful: other objects with ``state_dict``/``load_state_dict`` (image pools),
        by name; their states must be plain data (rule ``state``).
    """

    optimizers: dict[str, torch.optim.Optimizer] = dataclasses.field(default_factory=dict)
    epoch_schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = dataclasses.field(default_factory=dict)
    stateful: dict[str, Any] = dataclasses.field(default_factory=dict)

    def objects(self) -> dict[str, Any]:
        """Every declared object by name (what checkpoints hold)."""
        return {**self.optimizers, **self.epoch_schedulers, **self.stateful}


class Trainable(abc.ABC):
    """Base of :class:`Generator` and :class:`Classifier`.

    Subclasses set the class attributes, build their networks in ``__init__`` (from
    typed hyperparameters and the image size) and optimizers in :meth:`setup`.
    """

    #: Unique name used in specs and leaderboards, e.g. ``"dg2gan"``.
    name: ClassVar[str]
    #: One line shown by ``bench plugins``.
    summary: ClassVar[str]
    #: A frozen dataclass holding every hyperparameter with its default.
    Hyperparameters: ClassVar[type]
    #: Named overrides of ``Hyperparameters``; every plugin ships ``tiny`` and ``paper``.
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, hparams: Any, image_size: int) -> None:
        self.hparams = hparams
        self.image_size = image_size
        #: What :meth:`setup` declared (set by the harness, which checkpoints it and
        #: steps its epoch schedulers); empty before setup.
        self.training_state = TrainingState()

    @abc.abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """Every network, by name (``{"G": ..., "F": ..., "D1d": ...}``)."""

    def inference_networks(self) -> list[str]:
        """Names of the networks needed after training (default: all)."""
        return list(self.networks())

    def to(self, device: torch.device) -> "Trainable":
        """Move every network to ``device``."""
        for net in self.networks().values():
            net.to(device)
        return self

    @property
    def batch_size(self) -> int:
        """Images per domain per training step (``hparams.batch_size``)."""
        return int(self.hparams.batch_size)

    @abc.abstractmethod
    def setup(self, plan: TrainPlan) -> TrainingState | None:
        """Create optimizers and LR schedules for ``plan`` and declare them.

        Return a :class:`TrainingState` naming every optimiser, epoch scheduler and other
        stateful object (``None``: nothing to optimise, as the training-free controls).
        The harness checkpoints them and steps the epoch schedulers; the plugin steps only
        its optimisers, in ``train_step``.

        Called once per process, with the networks already on ``plan.device``, before the
        first ``train_step`` and before a generator's ``generate`` (also when its training
        finished in an earlier process), and before ``load_state_dict``.
        """

    @abc.abstractmethod
    def train_step(self, batch: Mapping[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """Run one optimisation step on ``batch`` and return its losses as 0-d tensors.

        Return tensors, not floats: the loop syncs with the device only when it logs,
        so a step must not call ``.item()``.
        """

    def load_crop_flip(self) -> LoadCropFlip | None:
        """Random load/crop/flip the loop applies to every training batch (default: none).

        Translation methods that follow CycleGAN's recipe return ``LoadCropFlip()``
        when their ``load_crop_flip`` hyperparameter is on (see
        :mod:`dg2bench.runtime.load_crop_flip`). The harness asks through
        :func:`batch_load_crop_flip`, which also hears ``input_jitter()``, this method's
        earlier name.
        """
        return None

    def extra_state(self) -> dict[str, Any]:
        """Training state besides network weights: every object :meth:`setup` declared.

        Override (calling ``super()``) to add plain values such as step counters.
        Everything here must be plain data: tensors, numbers, strings, bools, None, and
        lists, tuples and dicts of them (a numpy array as ``torch.from_numpy(a)``, an
        object as a dict of its fields). Checkpoints load with ``torch.load(...,
        weights_only=True)``, which refuses anything else (a results folder is data, not
        code), so the harness checks it before every checkpoint: other values break the
        contract's rule ``state`` and fail the cell.
        """
        return {key: obj.state_dict() for key, obj in self.training_state.objects().items()}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned (after :meth:`setup`)."""
        for key, obj in self.training_state.objects().items():
            obj.load_state_dict(state[key])

    def state_dict(self) -> dict[str, Any]:
        """Weights of every network plus :meth:`extra_state`; enough to resume training."""
        return {"networks": {k: v.state_dict() for k, v in self.networks().items()},
                "extra": self.extra_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (call :meth:`setup` first to resume)."""
        nets = self.networks()
        missing = set(nets) ^ set(state["networks"])
        if missing:
            raise KeyError(f"state_dict networks differ: {sorted(missing)}")
        for key, net in nets.items():
            net.load_state_dict(state["networks"][key])
        self.load_extra_state(state.get("extra", {}))

    def averaged_networks(self) -> list[str]:
        """Names in :meth:`networks` that are moving averages (EMA) of other networks:
        checkpointed and moved like the rest, left out of the parameter counts of all
        networks (they add no parameters to train). Default: none."""
        return []

    def _counted_networks(self, inference_only: bool) -> list[nn.Module]:
        names = set(self.inference_networks()) if inference_only else set(self.networks()) - set(
            self.averaged_networks())
        return [net for name, net in self.networks().items() if name in names]

    def parameter_count(self, inference_only: bool = False) -> int:
        """Number of parameters of all networks but averaged copies (or of the inference networks)."""
        return sum(p.numel() for net in self._counted_networks(inference_only) for p in net.parameters())

    def parameter_megabytes(self, inference_only: bool = False) -> float:
        """Size of the parameters in MB (10^6 bytes), as Table 3's "variable size"."""
        return sum(p.numel() * p.element_size() for net in self._counted_networks(inference_only)
                   for p in net.parameters()) / 1e6


def batch_load_crop_flip(model: Trainable) -> LoadCropFlip | None:
    """The load/crop/flip the training loop applies to ``model``'s batches.

    ``model.load_crop_flip()``, unless the model's class defines ``input_jitter()`` (the
    method's name before 0.2) below the class that defines ``load_crop_flip``: a plugin
    written for 0.1, or one that subclasses a built-in and overrides only the old name,
    keeps its crops.
    """
    def owner(name: str) -> int:
        mro = type(model).__mro__
        return next((k for k, cls in enumerate(mro) if name in vars(cls)), len(mro))

    if owner("input_jitter") < owner("load_crop_flip"):
        return model.input_jitter()   # type: ignore[attr-defined]
    return model.load_crop_flip()
