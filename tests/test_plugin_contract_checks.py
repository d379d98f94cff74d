"""Faulty plugins, tried as a new plugin author would write them.

Each breaks one rule of the plugin contract (``dg2bench.contracts.contract``). A plugin that
breaks a rule when it registers is disabled with one warning line naming it, its
package and the rule; the other plugins and commands keep working. A plugin whose
output breaks a rule during a run fails its cell with that reason; the other cells go on.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import warnings

import pytest
import torch

from dg2bench import Classifier, Dataset, Generator, hookimpl
from dg2bench.contracts.contract import RULES, check_generated, check_generated_masks, check_losses
from dg2bench.contracts.trainable import TrainPlan
from dg2bench.contracts.plugin_manager import PluginLoadWarning, get_registry
from dg2bench.errors import PluginContractError
from dg2bench.runner import run_benchmark
from dg2bench.spec import load_spec
from dg2bench.store.results import ResultStore

from scalar_generator import ScalarGenerator, ScalarHyperparameters
from third_party import THIRD_PARTY_WGAN, install_distribution as _dist, minimal_generator_source

from helpers import REPO

RULE_IDS = {rule.id for rule in RULES}


@dataclasses.dataclass(frozen=True)
class _Hp(ScalarHyperparameters):
    epochs: int = 1
    output: str = "ok"


class GoodGenerator(ScalarGenerator):
    """A tiny working generator; ``hparams.output`` makes its ``generate`` break a rule."""

    name = "goodgan"
    Hyperparameters = _Hp
    lr = 0.01

    @torch.no_grad()
    def generate(self, n, source):
        images = torch.rand(n, 3, self.image_size, self.image_size) * 2 - 1
        output = self.hparams.output
        if output == "unit":
            return (images + 1) / 2
        if output == "bytes":
            return (images + 1) * 127.5
        if output == "nan":
            images[0, 0, 0, 0] = float("nan")
        if output == "short":
            return images[:-1]
        if output == "size":
            return images[:, :, :-1, :-1]
        if output == "int":
            return images.round().to(torch.int64)
        return images


def _variant(plugin_name: str | None, base: type = GoodGenerator, **attributes) -> type:
    return type(f"Variant_{(plugin_name or 'noname').replace('-', '_')}", (base,), {"name": plugin_name, **attributes})


class _Register:
    """An in-process plugin that registers ``classes`` through the hook of ``kind``."""

    def __init__(self, *classes, kind: str = "generators"):
        self.classes, self.kind = classes, kind

    @hookimpl
    def register_generators(self, register):
        for cls in self.classes if self.kind == "generators" else ():
            register(cls)

    @hookimpl
    def register_classifiers(self, register):
        for cls in self.classes if self.kind == "classifiers" else ():
            register(cls)

    @hookimpl
    def register_datasets(self, register):
        for cls in self.classes if self.kind == "datasets" else ():
            register(cls)


def _registry_with(*plugins):
    """The registry with the built-ins plus ``plugins``, and the warning lines it issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginLoadWarning)
        registry = get_registry(extra_plugins=plugins)
    lines = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    return registry, lines


@dataclasses.dataclass
class NotADataclass:
    pass


class _PlainHp:
    batch_size = 2
    epochs = 1


@dataclasses.dataclass(frozen=True)
class _NoBatchHp:
    epochs: int = 1


@dataclasses.dataclass(frozen=True)
class _NoDefaultHp:
    batch_size: int
    epochs: int = 1


FAULTY_CLASSES = {
    "no kind": (_variant("nokind", kind=None), "kind"),
    "misspelt kind": (_variant("typokind", kind="unconditonal"), "kind"),
    "no Hyperparameters": (_variant("nohp", Hyperparameters=None), "hyperparameters"),
    "non-dataclass Hyperparameters": (_variant("plainhp", Hyperparameters=_PlainHp), "hyperparameters"),
    "Hyperparameters field without default": (_variant("nodefault", Hyperparameters=_NoDefaultHp), "hyperparameters"),
    "preset key the dataclass lacks": (_variant("badpreset", presets={"tiny": {"batch_sise": 2}}), "presets"),
    "preset value of the wrong type": (_variant("badvalue", presets={"tiny": {"batch_size": "two"}}), "presets"),
    "no batch_size": (_variant("nobatch", Hyperparameters=_NoBatchHp, presets={}), "batch-size-epochs"),
    "no name": (_variant(None), "name"),
    "no summary": (_variant("nosummary", summary=""), "summary"),
    "abstract method left": (type("Abstract", (Generator,), {"name": "abstract", "summary": "x",
                                                            "kind": "unconditional", "Hyperparameters": _Hp}),
                             "abstract"),
    "not a Generator": (int, "subclass"),
}


@pytest.mark.parametrize("case", sorted(FAULTY_CLASSES))
def test_faulty_class_is_disabled_with_one_warning_and_the_rest_work(case):
    cls, rule = FAULTY_CLASSES[case]
    registry, lines = _registry_with(_Register(cls, GoodGenerator))
    assert len(lines) == 1, lines
    assert f"rule {rule}:" in lines[0] and "disabled" in lines[0] and "\n" not in lines[0]
    assert re.search(r"\(package [^)]+\)", lines[0]), lines[0]
    assert "goodgan" in registry.names("generator") and "wgan" in registry.names("generator")
    assert [d.rule for d in registry.disabled()] == [rule]


def test_every_rule_of_a_registration_check_is_a_known_rule():
    assert {rule for _, rule in FAULTY_CLASSES.values()} <= RULE_IDS


def test_faulty_classifier_and_dataset_are_disabled():
    class NoHpClassifier(Classifier):
        name, summary = "noclassifier", "x"

        def networks(self): return {}
        def setup(self, plan): pass
        def train_step(self, batch, step): return {}
        def predict_proba(self, images): return images

    class NoOptionsDataset(Dataset):
        name, summary = "nodata", "x"

        def check_root(self): pass
        def build_split(self, seed): return []
        def load_image(self, item): return None

    registry, lines = _registry_with(_Register(NoHpClassifier, kind="classifiers"),
                                     _Register(NoOptionsDataset, kind="datasets"))
    assert len(lines) == 2 and all("rule hyperparameters:" in line for line in lines), lines
    assert "resnet34" in registry.names("classifier") and "crackforest" in registry.names("dataset")


def test_name_of_a_builtin_is_kept_by_the_builtin():
    registry, lines = _registry_with(_Register(_variant("wgan")))
    assert len(lines) == 1 and "rule unique-name:" in lines[0] and "built-in" in lines[0], lines
    assert registry.get("generator", "wgan").builtin


def test_two_third_party_plugins_with_one_name_are_both_disabled():
    registry, lines = _registry_with(_Register(_variant("twin")), _Register(_variant("twin")))
    assert len(lines) == 2 and all("rule unique-name:" in line for line in lines), lines
    assert "twin" not in registry.names("generator") and "goodgan" not in registry.names("generator")


def test_forgotten_hookimpl_warns():
    class Forgot:
        def register_generators(self, register):  # no @hookimpl
            register(GoodGenerator)

    registry, lines = _registry_with(Forgot())
    assert len(lines) == 1 and "rule hooks:" in lines[0] and "@dg2bench.hookimpl" in lines[0], lines
    assert "dg2gan" in registry.names("generator")


def test_misspelt_hook_disables_its_plugin_only():
    class Misspelt:
        @hookimpl
        def register_generator(self, register):  # missing "s"
            pass

    registry, lines = _registry_with(Misspelt())
    assert len(lines) == 1 and "register_generator" in lines[0] and "rule hooks:" in lines[0], lines
    assert "dg2gan" in registry.names("generator")


def test_third_party_entry_point_named_like_a_builtin_hides_nothing(tmp_path, monkeypatch):
    _dist(tmp_path, "aaa-plugin", "aaa_wgan_module", "wgan", THIRD_PARTY_WGAN)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry, lines = _registry_with()
        assert lines == []
        assert registry.get("generator", "wgan").builtin
        assert registry.get("generator", "othergan").package == "aaa-plugin"
    finally:
        sys.modules.pop("aaa_wgan_module", None)


def test_import_failure_warns_once_when_a_distribution_is_listed_twice(tmp_path, monkeypatch):
    import importlib.metadata

    _dist(tmp_path, "twiceplug", "twiceplug_module", "twice", "raise ImportError('needs libfoo')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    listed = list(importlib.metadata.distributions())
    twice = [d for d in listed if d.metadata["Name"] == "twiceplug"]
    assert len(twice) == 1
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [*listed, *twice])
    registry, lines = _registry_with()
    assert len(lines) == 1 and "twiceplug" in lines[0] and "needs libfoo" in lines[0], lines
    assert "dg2gan" in registry.names("generator")


def test_entry_point_module_without_hookimpl_warns(tmp_path, monkeypatch):
    source = THIRD_PARTY_WGAN.replace("    @hookimpl\n", "")
    _dist(tmp_path, "forgetful", "forgetful_module", "forgetful", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry, lines = _registry_with()
        assert len(lines) == 1 and "forgetful" in lines[0] and "@dg2bench.hookimpl" in lines[0], lines
        assert "othergan" not in registry.names("generator") and "wgan" in registry.names("generator")
    finally:
        sys.modules.pop("forgetful_module", None)


# --- boundary checks -------------------------------------------------------------------


def _generator(output: str = "ok") -> GoodGenerator:
    return GoodGenerator(_Hp(output=output), 8)


@pytest.mark.parametrize("losses, fragment", [
    ({"loss": 0.5}, "float"),
    ({"loss": torch.tensor([0.5, 0.2])}, "shape"),
    ({"loss": torch.tensor(1)}, "dtype"),
    ([torch.tensor(0.5)], "mapping"),
    ({}, "no loss"),
])
def test_check_losses_names_the_rule(losses, fragment):
    with pytest.raises(PluginContractError, match=r"generator 'goodgan' \(.*\): breaks rule losses: .*" + fragment):
        check_losses(_generator(), losses)


def test_check_losses_accepts_0d_float_tensors():
    check_losses(_generator(), {"d": torch.tensor(0.5), "g": torch.tensor(1.0, dtype=torch.bfloat16)})


@pytest.mark.parametrize("output, rule, hint", [
    ("unit", "generate-range", "[0, 1]"),
    ("bytes", "generate-range", "[0, 255]"),
    ("nan", "generate-finite", "NaN"),
    ("short", "generate-count", "5 images, not 6"),
    ("size", "generate-shape", "(6, 3, 8, 8)"),
    ("int", "generate-dtype", "int64"),
])
def test_check_generated_names_the_rule(output, rule, hint):
    generator = _generator(output)
    reference = torch.randint(0, 256, (30, 3, 8, 8), dtype=torch.uint8)
    with pytest.raises(PluginContractError) as caught:
        check_generated(generator, generator.generate(6, None), 6, 8, reference=reference)
    message = str(caught.value)
    assert f"breaks rule {rule}:" in message and hint in message and "\n" not in message, message


def test_a_range_error_says_its_fix_once():
    generator = _generator("bytes")
    with pytest.raises(PluginContractError) as caught:
        check_generated(generator, generator.generate(6, None), 6, 8)
    message = str(caught.value)
    assert message.count("return images") == 1 and message.count("127.5") == 1, message
    assert message.endswith("; return images / 127.5 - 1 (the harness expects [-1, 1])"), message


def test_check_generated_accepts_good_output_a_constant_image_and_a_few_bright_ones():
    generator = _generator()
    reference = torch.randint(0, 256, (600, 3, 8, 8), dtype=torch.uint8)
    check_generated(generator, generator.generate(4, None), 4, 8, reference=reference)
    check_generated(generator, torch.full((4, 3, 8, 8), 0.3), 4, 8, reference=reference)
    check_generated(generator, torch.rand(2, 3, 8, 8), 2, 8, reference=reference)   # a chunk's last 2 images


@pytest.mark.parametrize("masks, hint", [
    (torch.zeros(6, 3, 8, 8, dtype=torch.bool), "(6, 3, 8, 8), not (6, 1, 8, 8)"),
    (torch.full((6, 1, 8, 8), 0.5), "values other than 0 and 1"),
    ([[0]], "list"),
])
def test_check_generated_masks_names_the_rule(masks, hint):
    with pytest.raises(PluginContractError) as caught:
        check_generated_masks(_generator(), masks, 6, 8)
    message = str(caught.value)
    assert "breaks rule generate-masks:" in message and hint in message and "\n" not in message, message


def test_masks_may_be_bool_or_zeros_and_ones_and_the_default_gives_none():
    check_generated_masks(_generator(), torch.zeros(6, 1, 8, 8, dtype=torch.bool), 6, 8)
    check_generated_masks(_generator(), torch.ones(6, 1, 8, 8), 6, 8)
    images, masks = _generator().generate_with_masks(3, None)
    assert images.shape == (3, 3, 8, 8) and masks is None


FAULTY_RUN = """
[generators.good]
plugin = "goodgan"

[generators.faulty]
plugin = "goodgan"
output = "{output}"
"""


@pytest.mark.slow
@pytest.mark.parametrize("output, rule", [("unit", "generate-range"), ("short", "generate-count"),
                                          ("nan", "generate-finite")])
def test_faulty_output_fails_its_cell_and_the_run_goes_on(tmp_path, write_spec, output, rule):
    registry = get_registry(extra_plugins=[_Register(GoodGenerator)])
    spec = load_spec(write_spec(generators=FAULTY_RUN.format(output=output), fakes=3, classifier_steps=2), registry)
    summary = run_benchmark(spec, registry, ResultStore(tmp_path / "results"))
    assert summary.failed == ["crackforest/faulty/seed0"]
    assert sorted(summary.ran) == ["crackforest/baseline/seed0", "crackforest/good/seed0"]
    records = {r["method"]: r for r in ResultStore(tmp_path / "results").records()}
    assert records["faulty"]["status"] == "failed"
    assert "generator 'goodgan'" in records["faulty"]["reason"] and f"rule {rule}:" in records["faulty"]["reason"]


class FloatLossGenerator(GoodGenerator):
    name = "floatloss"

    def train_step(self, batch, step):
        return {"loss": float(super().train_step(batch, step)["loss"])}


def _only_cell_failure(cls, tmp_path, write_spec) -> str:
    """Run a spec with ``cls`` alone; its one cell must fail: the reason its record gives."""
    registry = get_registry(extra_plugins=[_Register(cls)])
    spec = load_spec(write_spec(generators=f"[generators.{cls.name}]\n", fakes=3, classifier_steps=2), registry)
    summary = run_benchmark(spec, registry, ResultStore(tmp_path / "results"), only=[cls.name])
    assert summary.failed == [f"crackforest/{cls.name}/seed0"]
    return ResultStore(tmp_path / "results").records()[0]["reason"]


def test_float_losses_fail_the_cell(tmp_path, write_spec):
    reason = _only_cell_failure(FloatLossGenerator, tmp_path, write_spec)
    assert "rule losses:" in reason and "float" in reason


class UndeclaredOptimiserGenerator(GoodGenerator):
    """Keeps the optimiser its base class makes but declares nothing (the old ``stateful`` slip)."""

    name = "undeclared"

    def setup(self, plan):
        super().setup(plan)


def test_an_undeclared_optimiser_fails_its_cell_before_training(tmp_path, write_spec):
    reason = _only_cell_failure(UndeclaredOptimiserGenerator, tmp_path, write_spec)
    assert "rule optimizers:" in reason and "self.opt is an optimiser" in reason and "\n" not in reason, reason


def _set_up(plugin, declared):
    from dg2bench.contracts.contract import check_training_state

    return check_training_state(plugin, declared)


def test_check_training_state_accepts_what_is_declared_and_names_what_is_not():
    from dg2bench import TrainingState

    plugin = GoodGenerator(_Hp(), 8)
    opt = torch.optim.SGD(plugin.net.parameters(), lr=0.1)
    plugin.opt = opt
    assert _set_up(plugin, TrainingState(optimizers={"opt": opt})).optimizers == {"opt": opt}
    with pytest.raises(PluginContractError, match=r"rule optimizers: self\.opt is an optimiser"):
        _set_up(plugin, None)
    plugin.schedules = {"decay": torch.optim.lr_scheduler.StepLR(opt, 1)}   # held in a dict
    with pytest.raises(PluginContractError, match=r"self\.schedules\['decay'\] is an LR scheduler"):
        _set_up(plugin, TrainingState(optimizers={"opt": opt}))
    del plugin.schedules
    with pytest.raises(PluginContractError, match=r"setup\(\) returned dict, not a TrainingState"):
        _set_up(plugin, {"opt": opt})
    with pytest.raises(PluginContractError, match=r"the name 'opt' is declared twice"):
        _set_up(plugin, TrainingState(optimizers={"opt": opt}, stateful={"opt": object()}))
    with pytest.raises(PluginContractError, match=r"optimizers\['opt'\] is a str, not a Optimizer"):
        _set_up(plugin, TrainingState(optimizers={"opt": "adam"}))
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(PluginContractError, match=r"ReduceLROnPlateau, which steps on a metric"):
        _set_up(plugin, TrainingState(optimizers={"opt": opt}, epoch_schedulers={"plateau": plateau}))
    plugin.stateful = {"opt": opt}     # the old way of declaring
    with pytest.raises(PluginContractError, match=r"self\.stateful is set, but the harness no longer reads it"):
        _set_up(plugin, TrainingState(optimizers={"opt": opt}))


def test_a_plugin_that_still_steps_its_epoch_scheduler_is_stopped_not_stepped_twice():
    from dg2bench import TrainingState
    from dg2bench.run.training import set_up, training_step

    class SteppingGenerator(GoodGenerator):
        def setup(self, plan):
            declared = super().setup(plan)
            self.decay = torch.optim.lr_scheduler.StepLR(self.opt, 1, gamma=0.5)
            return TrainingState(optimizers=declared.optimizers, epoch_schedulers={"decay": self.decay})

        def train_step(self, batch, step):
            losses = super().train_step(batch, step)
            self.decay.step()                  # the old habit: the harness steps it now
            return losses

    plugin = SteppingGenerator(_Hp(), 8)
    plan = TrainPlan(image_size=8, total_steps=4, steps_per_epoch=2, epochs=2, batch_size=2, device=torch.device("cpu"))
    set_up(plugin, plan)
    with pytest.raises(PluginContractError, match=r"train_step stepped the epoch scheduler 'decay'"):
        training_step(plugin, {"defect": torch.zeros(2, 3, 8, 8)}, 0, plan)


@dataclasses.dataclass(frozen=True)
class _RaiseHp(_Hp):
    raise_in: str = "generate"


class RaisingGenerator(GoodGenerator):
    """Raises (a two-line message) in the method ``hparams.raise_in`` names, from a helper."""

    name = "raisegan"
    Hyperparameters = _RaiseHp

    def _fail_in(self, method):
        if self.hparams.raise_in == method:
            raise ValueError(f"{method} went wrong\nsecond line")

    def setup(self, plan):
        self._fail_in("setup")
        return super().setup(plan)

    def train_step(self, batch, step):
        self._fail_in("train_step")
        return super().train_step(batch, step)

    @torch.no_grad()
    def generate(self, n, source):
        self._fail_in("generate")
        return super().generate(n, source)


RAISING_RUN = """
[generators.good]
plugin = "goodgan"

[generators.in-setup]
plugin = "raisegan"
raise_in = "setup"

[generators.in-step]
plugin = "raisegan"
raise_in = "train_step"

[generators.in-generate]
plugin = "raisegan"
raise_in = "generate"
"""


@pytest.mark.slow
def test_a_plugin_that_raises_fails_its_cell_with_one_line_and_the_run_goes_on(tmp_path, write_spec):
    registry = get_registry(extra_plugins=[_Register(GoodGenerator, RaisingGenerator)])
    spec = load_spec(write_spec(generators=RAISING_RUN, fakes=3, classifier_steps=2), registry)
    store = ResultStore(tmp_path / "results")
    summary = run_benchmark(spec, registry, store)
    assert sorted(summary.failed) == [f"crackforest/in-{m}/seed0" for m in ("generate", "setup", "step")]
    assert sorted(summary.ran) == ["crackforest/baseline/seed0", "crackforest/good/seed0"]
    records = {r["method"]: r for r in store.records()}
    for label, method in (("in-setup", "setup"), ("in-step", "train_step"), ("in-generate", "generate")):
        reason = records[label]["reason"]
        assert records[label]["status"] == "failed" and "\n" not in reason, reason
        assert reason.startswith("generator 'raisegan' (package ") and \
            f": {method} raised ValueError: {method} went wrong; fix the plugin" in reason, reason
        folder = tmp_path / "results" / "cells" / "crackforest" / label / "seed0"
        assert "second line" in (folder / "traceback.txt").read_text()
    assert records["good"]["status"] == "complete"


def test_a_harness_error_is_not_blamed_on_a_plugin():
    from dg2bench.contracts.contract import plugin_raised

    def harness_code():
        raise KeyError("a harness bug")

    try:
        harness_code()
    except KeyError as exc:
        assert plugin_raised(exc, [RaisingGenerator, None]) is None
    try:
        RaisingGenerator(_RaiseHp(raise_in="setup"), 8).setup(None)
    except ValueError as exc:
        assert "setup raised ValueError: setup went wrong;" in str(plugin_raised(exc, [None, RaisingGenerator]))


# --- the command line --------------------------------------------------------------------


@pytest.fixture
def faulty_entry_point(tmp_path, monkeypatch):
    """A third-party package whose generator has a misspelt kind, installed through an entry point."""
    source = THIRD_PARTY_WGAN.replace('"othergan"', '"typogan"').replace('"unconditional"', '"unconditonal"')
    _dist(tmp_path, "typo-pkg", "typo_module", "typogan", source)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("typo_module", None)


def test_spec_naming_a_disabled_plugin_is_one_line_exit_2(faulty_entry_point, write_spec, bench):
    code, _, err = bench("validate", str(write_spec(generators="[generators.typogan]\n")))
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2, err   # the registry's warning, then the error
    assert lines[0].startswith("warning:") and "typo-pkg" in lines[0]
    assert lines[1].startswith("error:") and "generators.typogan" in lines[1] and "typo-pkg" in lines[1]
    assert "rule kind:" in lines[1] and "disabled" in lines[1]


def test_other_commands_keep_working_and_plugins_lists_the_disabled(faulty_entry_point, write_spec, bench):
    code, out, err = bench("validate", str(write_spec()))
    assert code == 0 and len(err.strip().splitlines()) == 1 and "typo-pkg" in err
    code, out, err = bench("plugins")
    assert code == 0 and "typogan" in out and "disabled" in out.lower() and "kind" in out


# --- docs and checks agree ----------------------------------------------------------------


CONTRACTS_PAGE = REPO / "docs" / "plugins" / "contracts.md"


def test_docs_rule_table_matches_the_contract_module():
    page = CONTRACTS_PAGE.read_text()
    section = page[page.index("## Plugin contract rules"):]
    rows = re.findall(r"^\| `([a-z-]+)` \| (.+?) \|$", section, flags=re.MULTILINE)
    assert rows == [(rule.id, rule.text) for rule in RULES]


def test_docs_document_the_contracts():
    section = CONTRACTS_PAGE.read_text()
    for term in ("translation", "unconditional", "Hyperparameters", "batch_size", "epochs", "presets", "Options",
                 "stateful", "no_grad", "total_steps", "steps_per_epoch", "amp_dtype", "channels_last",
                 "compile_mode", "inference_batch_size", "plan.adam", "plan.autocast", "[-1, 1]", "(n, 3, S, S)"):
        assert term in section, term


def test_two_packages_with_one_generator_name_on_the_command_line(tmp_path, monkeypatch, write_spec, bench):
    twin = THIRD_PARTY_WGAN.replace('"othergan"', '"twingan"')
    _dist(tmp_path, "twin-a", "twin_a_module", "twingan", twin)
    _dist(tmp_path, "twin-b", "twin_b_module", "twingan", twin)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        code, _, err = bench("validate", str(write_spec(generators="[generators.twingan]\n")))
        lines = err.strip().splitlines()
        assert code == 2 and "Traceback" not in err and len(lines) == 3, err
        assert all("rule unique-name:" in line and "twin-a" in line and "twin-b" in line for line in lines), err
        code, _, err = bench("validate", str(write_spec()))
        assert code == 0 and len(err.strip().splitlines()) == 2
    finally:
        sys.modules.pop("twin_a_module", None)
        sys.modules.pop("twin_b_module", None)


def test_a_hook_that_raises_disables_its_plugin_only():
    class Raises:
        @hookimpl
        def register_generators(self, register):
            raise RuntimeError("bad\nsecond line")

    registry, lines = _registry_with(Raises())
    assert len(lines) == 1 and "rule hooks:" in lines[0] and "RuntimeError: bad" in lines[0], lines
    assert "\n" not in lines[0] and "dg2gan" in registry.names("generator")


LONE_PLUGIN = minimal_generator_source("LoneGan", "lonegan",
                                       "a plugin package installed without its entry-point table")


@pytest.fixture
def lone_distribution(tmp_path, monkeypatch):
    """A package that requires dg2bench and defines a generator but lists no dg2bench entry point."""
    import textwrap

    info = tmp_path / "lone_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lone-pkg\nVersion: 1.0\nRequires-Dist: dg2bench\n")
    (info / "top_level.txt").write_text("lone_module\n")
    (tmp_path / "lone_module.py").write_text(textwrap.dedent(LONE_PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("lone_module", None)


def test_a_package_without_its_entry_point_is_named_with_the_table_to_add(lone_distribution, write_spec, bench):
    code, _, err = bench("validate", str(write_spec(generators="[generators.lonegan]\n")))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "generators.lonegan: unknown generator plugin 'lonegan'" in lines[0]
    assert "package lone-pkg 1.0 defines it (lone_module.LoneGan) but lists no dg2bench entry point" in lines[0]
    assert '[project.entry-points.dg2bench] lonegan = "lone_module"' in lines[0] and "pip install" in lines[0]


def test_an_unknown_plugin_says_how_a_plugin_is_registered(write_spec, bench):
    code, _, err = bench("validate", str(write_spec(generators="[generators.nosuchgan]\n")))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "unknown generator plugin 'nosuchgan'" in lines[0] and "installed: " in lines[0] and "dg2gan" in lines[0]
    assert "[project.entry-points.dg2bench]" in lines[0] and "pip install" in lines[0]


def test_an_optimiser_two_levels_deep_or_in_a_plain_object_is_found():
    from types import SimpleNamespace

    from dg2bench import TrainingState

    plugin = GoodGenerator(_Hp(), 8)
    opt = torch.optim.SGD(plugin.net.parameters(), lr=0.1)
    plugin.parts = {"g": [opt]}                       # a list inside a dict
    with pytest.raises(PluginContractError, match=r"self\.parts\['g'\]\[0\] is an optimiser"):
        _set_up(plugin, None)
    plugin.parts = SimpleNamespace(opt=opt)          # an attribute of a helper object
    with pytest.raises(PluginContractError, match=r"self\.parts\.opt is an optimiser"):
        _set_up(plugin, None)
    assert _set_up(plugin, TrainingState(optimizers={"opt": opt})).optimizers == {"opt": opt}


def test_an_optimiser_made_after_setup_stops_the_first_checkpoint(tmp_path):
    from dg2bench.run.training import save_checkpoint, set_up

    class LateGenerator(GoodGenerator):
        def train_step(self, batch, step):
            if not hasattr(self, "late"):
                self.late = torch.optim.Adam(self.net.parameters())   # made in train_step, never declared
            return super().train_step(batch, step)

    plugin = LateGenerator(_Hp(), 8)
    plan = TrainPlan(image_size=8, total_steps=4, steps_per_epoch=2, epochs=2, batch_size=2, device=torch.device("cpu"))
    set_up(plugin, plan)
    plugin.train_step({"defect": torch.zeros(2, 3, 8, 8)}, 0)
    with pytest.raises(PluginContractError, match=r"self\.late is an optimiser that setup\(\) did not declare"):
        save_checkpoint(tmp_path / "checkpoint.pt", plugin, 1, [], 0.0)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_the_optimiser_walk_passes_over_objects_that_cannot_be_looked_into():
    import weakref

    from dg2bench import TrainingState

    class Touchy:
        def __getattr__(self, name):
            raise KeyError(name)

    class Gone:
        pass

    plugin = GoodGenerator(_Hp(), 8)
    opt = torch.optim.SGD(plugin.net.parameters(), lr=0.1)
    plugin.touchy, plugin.proxy = Touchy(), weakref.proxy(Gone())   # the proxy's target is gone at once
    plugin.cache = {k: float(k) for k in range(50_000)}              # walked up to HELD_ITEMS only
    assert _set_up(plugin, TrainingState(optimizers={"opt": opt})).optimizers == {"opt": opt}
