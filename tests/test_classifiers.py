"""The ResNet classifier plugins: build, train on a toy problem, predict, round-trip."""

from __future__ import annotations

import pytest
import torch

from dg2bench.run.training import set_up
from dg2bench import Classifier, DataError, SpecError, TrainPlan
from dg2bench.contracts.hyperparameters import resolve_hyperparameters
from dg2bench.contracts.plugin_manager import Registry, get_plugin_manager
from dg2bench.plugins.classifiers import resnet

CLASSES = [resnet.ResNet34Classifier, resnet.ResNet50Classifier]
#: The same code with ResNet-50's bottleneck blocks: its training runs (a CPU second each) are
#: left to the full suite; the fast loop trains ResNet-34.
TRAINED = [resnet.ResNet34Classifier, pytest.param(resnet.ResNet50Classifier, marks=pytest.mark.slow)]
SIZE = 32


def build(cls: type, **overrides) -> Classifier:
    hparams = resolve_hyperparameters(cls.Hyperparameters, cls.presets, "tiny", overrides, f"test.{cls.name}")
    return cls(hparams, SIZE)


def plan(clf: Classifier, steps: int = 10) -> TrainPlan:
    return TrainPlan(image_size=SIZE, total_steps=steps, steps_per_epoch=1, epochs=float(steps),
                     batch_size=clf.batch_size, device=torch.device("cpu"))


def toy_batch(n: int, seed: int) -> dict[str, torch.Tensor]:
    # Separable: defect images are bright, defect-free ones dark, plus noise.
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = (labels.float() * 1.0 - 0.5).view(n, 1, 1, 1) + 0.3 * torch.randn(n, 3, SIZE, SIZE, generator=g)
    return {"images": images.clamp(-1, 1), "labels": labels.long()}


def test_registered_through_the_hook():
    pm = get_plugin_manager(load_entry_points=False, extra_plugins=[resnet])
    names = Registry(pm).names("classifier")
    assert {"resnet34", "resnet50"} <= set(names)


@pytest.mark.parametrize("cls", CLASSES)
def test_presets_resolve_and_paper_keeps_the_main_structure(cls):
    paper = resolve_hyperparameters(cls.Hyperparameters, cls.presets, "paper", {}, "test")
    assert paper.blocks_per_stage == (3, 4, 6, 3) and paper.epochs == 1000 and paper.lr == 2e-4
    assert paper.weights_path is None
    tiny = build(cls)
    assert tiny.hparams.blocks_per_stage == (1, 1, 1, 1)
    with pytest.raises(SpecError):
        resolve_hyperparameters(cls.Hyperparameters, cls.presets, "tiny", {"dropout": 1.5}, "test")


@pytest.mark.slow
def test_paper_heads_narrow_to_two_outputs():
    for cls, widths in ((resnet.ResNet34Classifier, [512, 256, 64, 2]), (resnet.ResNet50Classifier, [2048, 512, 128, 2])):
        net = resnet.ResNetWithHead(cls.block, cls.Hyperparameters())
        linears = [m for m in net.resnet.fc if isinstance(m, torch.nn.Linear)]
        assert [linears[0].in_features] + [m.out_features for m in linears] == widths
        assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in net.resnet.fc)


@pytest.mark.parametrize("cls", TRAINED)
def test_trains_on_a_separable_toy_problem(cls):
    torch.manual_seed(0)
    clf = build(cls, dropout=0.0, lr=1e-3)
    set_up(clf, plan(clf))
    batch = toy_batch(16, seed=1)
    losses = [clf.train_step(batch, step)["loss"] for step in range(8)]
    assert all(loss.ndim == 0 and loss.requires_grad is False for loss in losses)
    assert losses[-1].item() < 0.5 * losses[0].item()
    probs = clf.predict_proba(toy_batch(10, seed=2)["images"])
    assert probs.shape == (10, 2) and probs.device.type == "cpu"
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(10))
    assert (probs.argmax(1) == toy_batch(10, seed=2)["labels"]).float().mean() >= 0.8


@pytest.mark.parametrize("cls", TRAINED)
def test_state_dict_round_trip_restores_predictions_and_optimizer(cls):
    torch.manual_seed(0)
    clf = build(cls)
    set_up(clf, plan(clf))
    clf.train_step(toy_batch(8, seed=3), 0)
    state = clf.state_dict()
    assert "optimizer" in state["extra"]
    other = build(cls)
    set_up(other, plan(other))
    other.load_state_dict(state)
    images = toy_batch(4, seed=4)["images"]
    torch.testing.assert_close(other.predict_proba(images), clf.predict_proba(images))
    assert other.optimizer.state_dict()["state"].keys() == clf.optimizer.state_dict()["state"].keys()


def test_local_weights_path_loads_backbone_and_skips_the_old_fc(tmp_path):
    # A torchvision-style state_dict with a 1000-class fc, as ImageNet weights have.
    donor = resnet.ResNetWithHead(resnet.BasicBlock, build(resnet.ResNet34Classifier).hparams).resnet
    state = {k: v for k, v in donor.state_dict().items() if not k.startswith("fc.")}
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    clf = build(resnet.ResNet34Classifier, weights_path=str(path))
    torch.testing.assert_close(clf.net.resnet.conv1.weight, donor.conv1.weight)
    with pytest.raises(DataError, match="do not fit"):
        build(resnet.ResNet50Classifier, weights_path=str(path))


def test_never_downloads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    for cls in CLASSES:
        build(cls)


def test_unreadable_weights_path_is_a_clear_error(tmp_path):
    bad = tmp_path / "not-weights.pth"
    bad.write_text("hello")
    for path in (bad, tmp_path / "missing.pth"):
        with pytest.raises(DataError, match="cannot read"):
            build(resnet.ResNet34Classifier, weights_path=str(path))


@pytest.mark.slow      # 2-3 CPU s each; the kit itself runs in the fast loop on generators and CrackForest
@pytest.mark.parametrize("cls", CLASSES)
def test_passes_the_contract_test_kit(cls):
    from dg2bench.testing import check_classifier

    check_classifier(cls)
