"""The generator contract: what a defect-image generation method implements."""

from __future__ import annotations

import abc
import dataclasses
import math
from typing import ClassVar, Literal

import torch

from dg2bench.contracts.trainable import Trainable

GeneratorKind = Literal["translation", "unconditional"]


@dataclasses.dataclass(frozen=True)
class RealTrainingData:
    """The real training images a generator may look at besides its batches.

    :param defect_free: uint8 ``(N, 3, S, S)`` defect-free training images (CPU).
    :param defect: uint8 ``(M, 3, S, S)`` defect training images (CPU).
    :param defect_masks: bool ``(M, 1, S, S)`` defect masks, or None where the dataset
        has none; an all-False mask means that image has no mask.
    """

    defect_free: torch.Tensor
    defect: torch.Tensor
    defect_masks: torch.Tensor | None = None


class Generator(Trainable):
    """A method that learns to make defect images.

    Two kinds exist:

    * ``"translation"`` (DG2GAN, CycleGAN): trained on both defect-free and defect
      images; :meth:`generate` maps defect-free images to defect images.
    * ``"unconditional"`` (WGAN, D2GAN): trained on defect images only; :meth:`generate`
      samples from noise and ignores ``source``.

    A method with ``needs_training = False`` (the control baselines: oversampling,
    classic augmentation, cut-paste) takes the same path with zero training steps: it
    reads the real training images in :meth:`prepare` and makes its images in
    :meth:`generate` like any other method.

    Training batches (see :meth:`Trainable.train_step`) are mappings with
    ``"defect_free"`` and ``"defect"`` float tensors of shape ``(B, 3, S, S)`` in
    ``[-1, 1]`` on the plan's device (unconditional methods get only ``"defect"``).
    Batch sizes may differ between the two keys on the last wrap of a small domain.

    What a plugin can rely on in each method, on every path a cell takes: run fresh,
    resumed at any stage after a kill, or rerun with ``--retry-failed`` (each stage a
    process finds done is read back, not redone):

    * ``__init__(hparams, image_size)``: torch's global RNG is seeded with the cell's
      seed; nothing else has run. Build the networks here (on the CPU).
    * :meth:`prepare`: once per process, right after ``__init__``, on every path.
    * ``setup(plan)``: once per process, after :meth:`prepare`, with every network
      already on ``plan.device`` (memory format, compiled if asked); before the first
      ``train_step`` **and before** :meth:`generate`, also when training finished in an
      earlier process and this one runs no step (same plan: ``total_steps`` is the whole
      training's). Attributes set here (``self.device``, optimizers) exist in every
      later method.
    * ``load_state_dict``: after ``setup``: a checkpoint's state before ``train_step``
      resumes, or the trained weights before :meth:`generate`.
    * ``load_crop_flip``, ``train_step(batch, step)``: after ``setup`` (and a restored
      checkpoint); ``step`` goes on from the resumed step.
    * :meth:`generate`, :meth:`generate_defect_free`: after ``setup``, with the trained
      weights loaded; torch's global RNG seeded by the harness alike on every path, so a
      resumed cell makes the images an uninterrupted one does. State that only
      ``train_step`` sets is **not** there when the cell resumes after training: keep
      what generation needs in the networks, in the declared state or ``extra_state``, or
      set it in ``setup``.

    An exception from any of these methods fails the cell with one line naming the
    plugin and the method (the traceback goes to ``traceback.txt`` in the cell folder);
    the other cells go on.
    """

    kind: ClassVar[GeneratorKind]
    #: False for training-free methods: the harness runs zero training steps.
    needs_training: ClassVar[bool] = True
    #: True: every training batch also holds ``"defect_mask"``, float ``(B, 1, S, S)``, 1
    #: inside the defect, for the same images as ``"defect"`` and under the same
    #: load/crop/flip. A dataset without a mask for every defect training image fails
    #: the cell with that reason (the other cells go on).
    uses_masks: ClassVar[bool] = False
    #: Whether its batches hold ``"defect_free"`` images: None (default) as its kind says
    #: (translation methods yes, unconditional no); False for a translation method that
    #: trains on defect images alone (it still gets defect-free sources to generate from).
    trains_on_defect_free: ClassVar[bool | None] = None

    def training_banks(self) -> tuple[str, ...]:
        """The image banks its training batches hold: ``"defect"``, and ``"defect_free"``
        where :attr:`trains_on_defect_free` (or, when None, the kind) says so."""
        both = self.kind == "translation" if self.trains_on_defect_free is None else self.trains_on_defect_free
        return ("defect", "defect_free") if both else ("defect",)

    def prepare(self, data: RealTrainingData) -> None:
        """Called once per process with the real training images, before ``setup``, on
        every path (fresh, resumed, retried). The default ignores them; training-free
        methods keep them."""

    def steps_per_epoch(self, n_defect_free: int, n_defect: int) -> int:
        """Steps in one epoch; the default follows CycleGAN (the larger domain, once)."""
        n = max(n_defect_free, n_defect) if "defect_free" in self.training_banks() else n_defect
        return max(1, math.ceil(n / self.batch_size))

    @abc.abstractmethod
    @torch.no_grad()
    def generate(self, n: int, source: torch.Tensor | None) -> torch.Tensor:
        """Make ``n`` defect images, shape ``(n, 3, S, S)``, float in ``[-1, 1]``, on CPU.

        :param n: how many images.
        :param source: for ``"translation"`` methods, ``n`` defect-free images
            ``(n, 3, S, S)`` in ``[-1, 1]`` on the model's device; ``None`` for
            ``"unconditional"`` ones, which draw noise from torch's global RNG (the
            harness seeds it).
        """

    @torch.no_grad()
    def generate_with_masks(self, n: int, source: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`generate`'s images and, for a method that knows where it put the defect,
        its masks: bool ``(n, 1, S, S)`` on CPU, True inside the defect.

        The harness calls this one (the default returns ``(generate(n, source), None)``)
        and saves the masks beside the fakes (``fakes_masks/``), where the report shows
        them next to the images. A method that makes masks overrides it and lets
        :meth:`generate` return its first element.
        """
        return self.generate(n, source), None

    @torch.no_grad()
    def generate_defect_free(self, n: int, source: torch.Tensor) -> torch.Tensor | None:
        """Make ``n`` defect-free images from defect images ``source``, or None if the method cannot.

        Translation methods with a defect -> defect-free generator (CycleGAN's and
        DG2GAN's F) override this; the paper adds such fakes for MVTec (Table 8). The
        default, and every unconditional method (trained on defect images only),
        returns None: the cell then adds no defect-free fakes and records why.

        :param source: ``n`` defect images ``(n, 3, S, S)`` in ``[-1, 1]`` on the model's device.
        """
        return None
