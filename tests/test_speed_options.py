"""The GPU path's switches: fused Adam, channels-last, torch.compile, `--set`, inference batches.

None of these needs a GPU to be checked: each switch is visible on CPU tensors, and
the training it produces must match the plain path's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dg2bench.run.training import set_up
from dg2bench import TrainPlan
from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.errors import SpecError
from dg2bench.plugins.generators.cyclegan import CycleGan
from dg2bench.runtime.device import plan_speed_options, uses_channels_last
from dg2bench.run.training import ImageBanks, place_model, train
from dg2bench.settings import BenchmarkSettings
from dg2bench.spec import load_spec

from helpers import tiny_spec_text

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def _plan(device: torch.device = CPU, **options) -> TrainPlan:
    return TrainPlan(image_size=32, total_steps=6, steps_per_epoch=3, epochs=2, batch_size=4, device=device,
                     **options)


def test_adam_is_fused_on_cuda_and_plain_on_cpu():
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert _plan(CUDA).adam(params, lr=1e-3).defaults["fused"] is True
    plain = _plan(CPU).adam(params, lr=1e-3, betas=(0.5, 0.999))
    assert not plain.defaults["fused"] and plain.defaults["betas"] == (0.5, 0.999)


def test_every_builtin_trainable_builds_its_adam_through_the_plan(monkeypatch):
    """A plugin that called torch.optim.Adam itself would miss the fused kernel on CUDA."""
    asked = []
    original = TrainPlan.adam

    def spy(self, params, **options):
        asked.append(options)
        return original(self, params, **options)

    monkeypatch.setattr(TrainPlan, "adam", spy)
    registry = get_registry()
    for kind, name in [("generator", "dg2gan"), ("generator", "cyclegan"), ("generator", "d2gan"),
                       ("generator", "wgan"), ("classifier", "resnet34")]:
        cls = registry.get(kind, name).cls
        # WGAN's original recipe uses RMSprop; its `gp` preset uses Adam.
        hparams = cls.Hyperparameters(**{**cls.presets.get("gp" if name == "wgan" else "tiny"), **cls.presets["tiny"]})
        before = len(asked)
        set_up(cls(hparams, 32), _plan())
        assert len(asked) > before, name


def test_auto_memory_format_is_contiguous_as_measured_on_gpu_and_cpu():
    assert not uses_channels_last(CUDA) and not uses_channels_last(CPU)
    assert uses_channels_last(CPU, "channels_last") and not uses_channels_last(CUDA, "contiguous")
    options = plan_speed_options(CPU, BenchmarkSettings("x", memory_format="channels_last", compile=True,
                                                        compile_mode="max-autotune", inference_batch_size=7))
    assert options == {"amp_dtype": None, "channels_last": True, "compile_mode": "max-autotune",
                       "inference_batch_size": 7}


def _cyclegan_losses(**options) -> tuple[CycleGan, list[dict[str, float]]]:
    torch.manual_seed(0)
    model = CycleGan(CycleGan.Hyperparameters(**CycleGan.presets["tiny"]), 32)
    gen = torch.Generator().manual_seed(1)
    banks = ImageBanks({k: torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=gen)
                        for k in ("defect_free", "defect")})
    outcome = train(model, banks, _plan(**options), seed=0, log_every=1)
    return model, outcome.history


@pytest.mark.slow
def test_channels_last_trains_networks_and_batches_in_that_format_to_the_same_losses(monkeypatch):
    seen = []
    original = CycleGan.train_step
    monkeypatch.setattr(CycleGan, "train_step",
                        lambda self, batch, step: seen.append(batch["defect"]) or original(self, batch, step))
    model, history = _cyclegan_losses(channels_last=True)
    assert all(x.is_contiguous(memory_format=torch.channels_last) for x in seen)
    conv = next(m for m in model.G.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    _, plain = _cyclegan_losses()
    for mine, theirs in zip(history, plain):
        for key in ("g_total", "cycle", "d_defect"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-5), (mine["step"], key)


@pytest.mark.slow
def test_compile_wraps_every_network_in_place_and_trains(monkeypatch):
    """Compiled networks keep their state-dict keys (checkpoints interchange) and train.

    Inductor takes ~40 s per tiny model on 2 CPU cores, so the step runs through
    dynamo with the ``aot_eager`` backend: the same graph capture and autograd, no codegen.
    """
    modes = []
    original = torch.nn.Module.compile

    def quick(self, *args, mode=None, **kwargs):
        modes.append(mode)
        return original(self, backend="aot_eager")

    monkeypatch.setattr(torch.nn.Module, "compile", quick)
    eager_model, eager = _cyclegan_losses()
    model, history = _cyclegan_losses(compile_mode="reduce-overhead")
    assert set(modes) == {"reduce-overhead"} and len(modes) == len(model.networks())
    assert all(net._compiled_call_impl is not None for net in model.networks().values())
    assert model.state_dict()["networks"]["G"].keys() == eager_model.state_dict()["networks"]["G"].keys()
    assert history[-1]["g_total"] == pytest.approx(eager[-1]["g_total"], rel=1e-3)


def test_place_model_leaves_eager_networks_alone():
    model = CycleGan(CycleGan.Hyperparameters(**CycleGan.presets["tiny"]), 32)
    place_model(model, _plan())
    assert all(getattr(net, "_compiled_call_impl", None) is None for net in model.networks().values())


def test_classifier_predicts_in_inference_batches(monkeypatch):
    cls = get_registry().get("classifier", "resnet34").cls
    model = cls(cls.Hyperparameters(**cls.presets["tiny"]), 32)
    set_up(model, _plan(inference_batch_size=5))
    sizes = []
    model.net.register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[0]))
    assert model.predict_proba(torch.zeros(12, 3, 32, 32)).shape == (12, 2)
    assert sizes == [5, 5, 2]


def test_set_overrides_benchmark_keys_and_checks_them(write_spec, tmp_path):
    registry = get_registry()
    spec = load_spec(write_spec(tiny_spec_text()), registry)
    changed = spec.with_benchmark(("compile=true", "memory_format=channels_last", 'precision="fp32"',
                                   "benchmark.inference_batch_size=256"))
    assert changed.benchmark.compile is True and changed.benchmark.memory_format == "channels_last"
    assert changed.benchmark.precision == "fp32" and changed.benchmark.inference_batch_size == 256
    for bad in ("compile", "nosuchkey=1", "compile=3", "memory_format=nhwc", "compile_mode=fast",
                "inference_batch_size=0"):
        with pytest.raises(SpecError):
            spec.with_benchmark((bad,))


def test_bad_set_is_one_line_with_exit_2(bench, write_spec):
    code, out, err = bench("estimate", str(write_spec(tiny_spec_text())), "--set", "memory_format=nhwc")
    assert code == 2 and "memory_format" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def _estimate_rows(bench, write_spec, tmp_path, monkeypatch, setting: str) -> list[dict]:
    """``bench estimate --format json --set SETTING`` of a tiny CycleGAN spec: its training rows
    (the testing row times predictions, not training steps)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = write_spec(tiny_spec_text(generators='[generators.cyclegan]\npreset = "tiny"\nmax_steps = 4\n',
                                     classifier_steps=2))
    code, out, err = bench("estimate", str(spec), "--format", "json", "--repeats", "1", "--warmup", "1",
                           "--set", setting)
    assert code == 0, err
    return [row for row in json.loads(out)["methods"] if row["role"] in ("generator", "classifier")]


@pytest.mark.slow
def test_estimate_reports_warmup_apart_and_the_speed_settings(bench, write_spec, tmp_path, monkeypatch):
    rows = _estimate_rows(bench, write_spec, tmp_path, monkeypatch, "memory_format=channels_last")
    assert all(r["warmup_seconds"] > 0 and r["channels_last"] is True and r["compile_mode"] is None for r in rows)
@pytest.mark.slow
def test_estimate_counts_flops_on_an_eager_step_when_networks_are_compiled(bench, write_spec, tmp_path, monkeypatch):
    """A compiled graph hides its operations from FlopCounterMode; the count must not drop to 0."""
    original = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, mode=None, **k: original(self, backend="aot_eager"))
    rows = _estimate_rows(bench, write_spec, tmp_path, monkeypatch, "compile=true")
    assert all(r["compile_mode"] == "default" and r["flops_per_step"] > 0 and r["seconds_per_step"] > 0 for r in rows)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_cpu_peak_memory_is_per_measurement_not_the_process_peak():
    from dg2bench.runtime.device import peak_memory_mb, reset_peak_memory

    cpu = torch.device("cpu")
    big = torch.ones(64 * 2**20)                  # 256 MB, then freed: an earlier cell's peak
    before = peak_memory_mb(cpu)
    del big
    reset_peak_memory(cpu)
    after = peak_memory_mb(cpu)
    assert "peak_rss_mb" in after and after["peak_rss_mb"] < next(iter(before.values())) - 200
