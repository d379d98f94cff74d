"""The plugin contract as a test kit: one call per plugin class, for a plugin package's own CI.

::

    from dg2bench.testing import check_generator

    def test_my_gan_honours_the_contract():
        check_generator(MyGan)

Each check builds the plugin from its ``tiny`` preset on synthetic images, on the CPU,
and runs what the harness will run: the registration rules (``bench plugins`` would
disable a class that breaks one), training through the harness's own loop (``setup``'s
:class:`~dg2bench.TrainingState`, losses, plain-data checkpoints), generation or
prediction, a ``state_dict`` round trip, and a run interrupted half way and resumed in a
fresh object, which must end with the same weights as an uninterrupted one. A broken
rule raises :class:`~dg2bench.errors.PluginContractError` (the line ``bench run``
would print); a broken promise raises ``AssertionError`` saying which. The built-in
plugins run the same checks (``tests/test_generator_contract.py``,
``tests/test_classifiers.py``, ``tests/test_crackforest.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from dg2bench.contracts.classifier import Classifier
from dg2bench.contracts.contract import check_generated, class_violations, contract_error
from dg2bench.contracts.dataset import Dataset
from dg2bench.contracts.generator import Generator, RealTrainingData
from dg2bench.contracts.hyperparameters import resolve_hyperparameters
from dg2bench.contracts.trainable import Trainable, TrainPlan
from dg2bench.run.generation import generate_fakes
from dg2bench.run.training import ImageBanks, seed_everything, set_up, train

#: Side of the synthetic images (the smallest size every built-in network takes).
IMAGE_SIZE = 32
#: Training steps of the interrupted-and-resumed run (interrupted after half).
STEPS = 6


def check_generator(cls: type[Generator], preset: str = "tiny", image_size: int = IMAGE_SIZE) -> None:
    """Check a generator class against the contract (registration, training, generation, resume)."""
    _check_registration("generator", cls, preset)
    seed_everything(0)
    generator = _build(cls, preset, image_size)
    _prepare(generator, image_size)
    steps = STEPS if generator.needs_training else 0    # the harness trains a training-free method 0 steps
    outcome = train(generator, _generator_banks(generator, image_size), _plan(generator, steps, image_size),
                    seed=0, log_every=2)
    assert outcome.steps == steps, f"{cls.__name__}: trained {outcome.steps} steps of {steps}"
    source = torch.randint(0, 256, (5, 3, image_size, image_size), dtype=torch.uint8)
    fakes = generate_fakes(generator, 7, source, torch.device("cpu"), chunk=3)   # checks every chunk
    assert fakes.shape == (7, 3, image_size, image_size) and fakes.dtype == torch.uint8
    raw = generator.generate(3, source[:3].float() / 127.5 - 1 if generator.kind == "translation" else None)
    check_generated(generator, raw, 3, image_size)
    assert all(net.training for net in generator.networks().values()), \
        f"{cls.__name__}.generate() left a network in eval mode: put it back in train mode"
    if generator.needs_training:
        _check_round_trip(cls, generator, preset, image_size)
        _check_resume(cls, preset, image_size, lambda model: _generator_banks(model, image_size))


def check_classifier(cls: type[Classifier], preset: str = "tiny", image_size: int = IMAGE_SIZE) -> None:
    """Check a classifier class against the contract (registration, training, prediction, resume)."""
    _check_registration("classifier", cls, preset)
    seed_everything(0)
    classifier = _build(cls, preset, image_size)
    train(classifier, _classifier_banks(image_size), _plan(classifier, STEPS, image_size), seed=0, log_every=2)
    images = _classifier_banks(image_size, seed=1).images["images"][:5].float() / 127.5 - 1
    probabilities = classifier.predict_proba(images)
    assert tuple(probabilities.shape) == (5, 2) and probabilities.device.type == "cpu", \
        f"{cls.__name__}.predict_proba returned {tuple(probabilities.shape)} on {probabilities.device}: want (5, 2) on cpu"
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(5), atol=1e-4), \
        f"{cls.__name__}.predict_proba rows do not sum to 1"
    _check_round_trip(cls, classifier, preset, image_size)
    _check_resume(cls, preset, image_size, lambda model: _classifier_banks(image_size))


def check_dataset(cls: type[Dataset], root: str | Path, options: dict[str, Any] | None = None,
                  preset: str | None = "tiny", split_seed: int = 0, image_size: int = IMAGE_SIZE) -> None:
    """Check a dataset class on the data under ``root``: a split that is the same every time, one
    id per item, items on one side only, and images that load as uint8 ``(N, 3, S, S)``."""
    from dg2bench.data.split import Split

    _check_registration("dataset", cls, preset)
    values = resolve_hyperparameters(cls.Options, cls.presets, preset, options or {}, cls.__name__)
    dataset = cls(values, Path(root))
    dataset.check_root()
    first, again = Split(dataset, dataset.build_split(split_seed)), Split(dataset, dataset.build_split(split_seed))
    assert first.manifest_hash == again.manifest_hash, f"{cls.__name__}: the same seed gave two different splits"
    ids = [item.id for item in first.items]
    assert len(ids) == len(set(ids)), f"{cls.__name__}: an item id is used twice"
    for side in ("train", "test"):
        for label in (0, 1):
            chosen = first.select(side, label)
            assert chosen, f"{cls.__name__}: no {side} item with label {label}"
            images = first.load_uint8(chosen[:2], image_size)
            assert images.dtype == torch.uint8 and tuple(images.shape[1:]) == (3, image_size, image_size), \
                f"{cls.__name__}: {side} images load as {images.dtype} {tuple(images.shape)}"


def _check_registration(kind: str, cls: type, preset: str | None) -> None:
    """The rules ``bench plugins`` applies when the class registers, and the presets the kit uses."""
    broken = class_violations(kind, cls)
    if broken:
        raise contract_error(cls, broken[0])
    if preset is not None:
        assert preset in cls.presets, f"{cls.__name__}.presets has no {preset!r} preset (the tests' size)"


def _build(cls: type[Trainable], preset: str, image_size: int) -> Any:
    return cls(resolve_hyperparameters(cls.Hyperparameters, cls.presets, preset, {}, cls.__name__), image_size)


def _plan(model: Trainable, steps: int, image_size: int) -> TrainPlan:
    return TrainPlan(image_size=image_size, total_steps=steps, steps_per_epoch=2, epochs=steps / 2,
                     batch_size=model.batch_size, device=torch.device("cpu"))


def _prepare(generator: Generator, image_size: int) -> None:
    """Real training data, masks included, as the harness hands it before training."""
    g = torch.Generator().manual_seed(2)
    masks = _masks(6, image_size)
    generator.prepare(RealTrainingData(
        torch.randint(0, 256, (10, 3, image_size, image_size), dtype=torch.uint8, generator=g),
        torch.randint(0, 256, (6, 3, image_size, image_size), dtype=torch.uint8, generator=g), masks))


def _generator_banks(generator: Generator, image_size: int) -> ImageBanks:
    g = torch.Generator().manual_seed(0)
    counts = {"defect": 6, "defect_free": 10}
    images = {bank: torch.randint(0, 256, (counts[bank], 3, image_size, image_size), dtype=torch.uint8, generator=g)
              for bank in generator.training_banks()}
    return ImageBanks(images, masks={"defect": _masks(6, image_size)} if generator.uses_masks else {})


def _masks(count: int, image_size: int) -> torch.Tensor:
    """Bool ``(count, 1, S, S)`` defect masks: one rectangle each."""
    masks = torch.zeros(count, 1, image_size, image_size, dtype=torch.bool)
    masks[:, :, image_size // 4:image_size // 2, image_size // 8:image_size // 3] = True
    return masks


def _classifier_banks(image_size: int, seed: int = 0) -> ImageBanks:
    """Dark defect-free and bright defect images: separable, so training has something to learn."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(16) % 2
    base = (labels * 120 + 60).view(16, 1, 1, 1)
    noise = torch.randint(-40, 40, (16, 3, image_size, image_size), generator=g)
    return ImageBanks({"images": (base + noise).clamp(0, 255).to(torch.uint8)}, {"images": labels})


def _weights(model: Trainable) -> dict[str, torch.Tensor]:
    return {f"{name}.{key}": value.clone() for name, net in model.networks().items()
            for key, value in net.state_dict().items()}


def _check_round_trip(cls: type[Trainable], trained: Trainable, preset: str, image_size: int) -> None:
    """A fresh object set up and loaded with ``state_dict()`` holds the same weights."""
    fresh = _build(cls, preset, image_size)
    if isinstance(fresh, Generator):
        _prepare(fresh, image_size)
    set_up(fresh, _plan(fresh, STEPS, image_size))
    fresh.load_state_dict(trained.state_dict())
    before, after = _weights(trained), _weights(fresh)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before), \
        f"{cls.__name__}: load_state_dict(state_dict()) did not restore every network weight"


def _check_resume(cls: type[Trainable], preset: str, image_size: int, banks) -> None:
    """Stopped after half the steps and resumed in a fresh object (another RNG state): the
    same weights as one uninterrupted run. Fails where state is missing from checkpoints
    (an undeclared optimiser, a counter outside ``extra_state``)."""
    def fresh() -> Trainable:
        model = _build(cls, preset, image_size)
        if isinstance(model, Generator):
            _prepare(model, image_size)
        return model

    seed_everything(1)
    straight = fresh()
    train(straight, banks(straight), _plan(straight, STEPS, image_size), seed=1, log_every=1)
    with tempfile.TemporaryDirectory(prefix="dg2bench-check-") as folder:
        checkpoint = Path(folder) / "checkpoint.pt"
        seed_everything(1)
        first = fresh()
        train(first, banks(first), _plan(first, STEPS, image_size), seed=1, log_every=1,
              checkpoint_path=checkpoint, stop_after=STEPS // 2)
        seed_everything(1)           # what the harness does in the new process before it builds the model
        second = fresh()
        outcome = train(second, banks(second), _plan(second, STEPS, image_size), seed=1, log_every=1,
                        checkpoint_path=checkpoint)
    assert outcome.resumed_from_step == STEPS // 2
    expected, got = _weights(straight), _weights(second)
    different = [key for key in expected if not torch.equal(expected[key], got[key])]
    assert not different, f"{cls.__name__}: weights differ after an interrupted run resumed: {different[:3]}"
