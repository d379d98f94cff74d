"""The contract every registered generator honours, run over all of them.

A third-party generator that passes this suite works with every part of the harness:
build from defaults, train through the harness loop, generate, checkpoint, resume.
"""

from __future__ import annotations

import pytest
import torch

from dg2bench.run.training import set_up
from dg2bench import RealTrainingData
from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.contracts.trainable import TrainPlan
from dg2bench.run.generation import generate_fakes
from dg2bench.run.training import ImageBanks, seed_everything, train

SIZE = 32
GENERATORS = get_registry().names("generator")
TRAINED = [n for n in GENERATORS if get_registry().get("generator", n).cls.needs_training]


def _build(name: str):
    cls = get_registry().get("generator", name).cls
    return cls(cls.Hyperparameters(**cls.presets["tiny"]), SIZE)


def _prepare(generator) -> None:
    """Hand the generator real training data, masks included (what the harness does)."""
    g = torch.Generator().manual_seed(2)
    masks = torch.zeros(6, 1, SIZE, SIZE, dtype=torch.bool)
    masks[:, :, 10:20, 5:12] = True
    generator.prepare(RealTrainingData(torch.randint(0, 256, (10, 3, SIZE, SIZE), dtype=torch.uint8, generator=g),
                                       torch.randint(0, 256, (6, 3, SIZE, SIZE), dtype=torch.uint8, generator=g),
                                       masks))


def _banks(generator) -> ImageBanks:
    g = torch.Generator().manual_seed(0)
    images = {"defect": torch.randint(0, 256, (6, 3, SIZE, SIZE), dtype=torch.uint8, generator=g)}
    if generator.kind == "translation":
        images["defect_free"] = torch.randint(0, 256, (10, 3, SIZE, SIZE), dtype=torch.uint8, generator=g)
    return ImageBanks(images)


def _plan(generator, steps: int) -> TrainPlan:
    return TrainPlan(image_size=SIZE, total_steps=steps, steps_per_epoch=2, epochs=steps / 2,
                     batch_size=generator.batch_size, device=torch.device("cpu"))


def _weights(generator) -> dict[str, torch.Tensor]:
    return {f"{net}.{k}": v.clone() for net, module in generator.networks().items()
            for k, v in module.state_dict().items()}


def test_all_five_methods_and_the_controls_are_registered():
    assert {"dg2gan", "dg2gan-no-djs", "cyclegan", "wgan", "d2gan"} <= set(TRAINED)
    assert {"oversample", "classic", "cutpaste"} <= set(GENERATORS) - set(TRAINED)


@pytest.mark.parametrize("name", GENERATORS)
def test_declares_its_contract(name):
    cls = get_registry().get("generator", name).cls
    assert cls.kind in ("translation", "unconditional")
    assert cls.summary and {"tiny", "paper"} <= set(cls.presets)
    for preset in ("tiny", "paper"):
        hparams = cls.Hyperparameters(**cls.presets[preset])
        assert hparams.batch_size >= 1 and (hparams.epochs > 0) == cls.needs_training


@pytest.mark.parametrize("name", GENERATORS)
def test_trains_generates_and_reports(name):
    seed_everything(0)
    generator = _build(name)
    _prepare(generator)
    if generator.needs_training:
        outcome = train(generator, _banks(generator), _plan(generator, 4), seed=0, log_every=2)
        assert outcome.steps == 4 and len(outcome.history) == 2
        assert generator.parameter_count() > generator.parameter_count(inference_only=True) > 0
    else:
        outcome = train(generator, _banks(generator), _plan(generator, 0), seed=0, log_every=2)
        assert outcome.steps == 0 and generator.parameter_count() == 0
    assert generator.parameter_megabytes() == pytest.approx(generator.parameter_count() * 4 / 1e6)
    source = torch.randint(0, 256, (5, 3, SIZE, SIZE), dtype=torch.uint8)
    fakes = generate_fakes(generator, 7, source, torch.device("cpu"), chunk=3)
    assert fakes.shape == (7, 3, SIZE, SIZE) and fakes.dtype == torch.uint8
    raw = generator.generate(3, (source[:3].float() / 127.5 - 1) if generator.kind == "translation" else None)
    assert raw.shape == (3, 3, SIZE, SIZE) and raw.device.type == "cpu"
    assert raw.min() >= -1 and raw.max() <= 1 and torch.isfinite(raw).all()
    assert all(module.training for module in generator.networks().values()), "generate() must restore train mode"


@pytest.mark.parametrize("name", TRAINED)
def test_state_dict_round_trips(name):
    seed_everything(0)
    trained = _build(name)
    train(trained, _banks(trained), _plan(trained, 2), seed=0, log_every=1)
    fresh = _build(name)
    set_up(fresh, _plan(fresh, 2))
    fresh.load_state_dict(trained.state_dict())
    after, before = _weights(fresh), _weights(trained)
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)


@pytest.mark.parametrize("name", TRAINED)
def test_resumed_training_ends_with_the_same_weights(name, tmp_path):
    """Interrupted after 3 of 6 steps and resumed in a fresh object == uninterrupted."""
    seed_everything(1)
    straight = _build(name)
    train(straight, _banks(straight), _plan(straight, 6), seed=1, log_every=1)

    checkpoint = tmp_path / "checkpoint.pt"
    seed_everything(1)
    first = _build(name)
    train(first, _banks(first), _plan(first, 6), seed=1, log_every=1, checkpoint_path=checkpoint, stop_after=3)
    assert checkpoint.exists()
    torch.manual_seed(12345)  # the resumed process starts with other RNG state
    seed_everything(1)
    second = _build(name)
    outcome = train(second, _banks(second), _plan(second, 6), seed=1, log_every=1, checkpoint_path=checkpoint)
    assert outcome.resumed_from_step == 3
    expected, got = _weights(straight), _weights(second)
    different = [k for k in expected if not torch.equal(expected[k], got[k])]
    assert not different, f"weights differ after resume: {different[:5]}"
