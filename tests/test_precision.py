"""`precision = fp32 | bf16 | auto`: bf16 autocast trains to losses close to fp32's; records name it."""

from __future__ import annotations

import pytest
import torch

from dg2bench.run.training import set_up
from dg2bench import TrainPlan
from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.errors import SpecError
from dg2bench.plugins.generators.cyclegan import CycleGan
from dg2bench.runtime.device import amp_dtype_for, precision_name
from dg2bench.spec import load_spec

from helpers import tiny_spec_text


def test_auto_is_fp32_on_cpu_and_bf16_when_asked():
    cpu = torch.device("cpu")
    assert amp_dtype_for(cpu) is None and amp_dtype_for(cpu, "fp32") is None
    assert amp_dtype_for(cpu, "bf16") == torch.bfloat16
    assert (precision_name(None), precision_name(torch.bfloat16)) == ("fp32", "bf16")


def _losses(amp: torch.dtype | None) -> dict[str, float]:
    torch.manual_seed(0)
    model = CycleGan(CycleGan.Hyperparameters(**CycleGan.presets["tiny"]), 32)
    set_up(model, TrainPlan(image_size=32, total_steps=6, steps_per_epoch=3, epochs=2, batch_size=4,
                          device=torch.device("cpu"), amp_dtype=amp))
    gen = torch.Generator().manual_seed(1)
    for step in range(6):
        out = model.train_step({"defect_free": torch.rand(4, 3, 32, 32, generator=gen) * 2 - 1,
                                "defect": torch.rand(4, 3, 32, 32, generator=gen) * 2 - 1}, step)
    return {k: float(v) for k, v in out.items()}


@pytest.mark.slow
def test_bf16_reaches_losses_close_to_fp32():
    fp32, bf16 = _losses(None), _losses(torch.bfloat16)
    for key in ("g_total", "cycle", "d_defect"):
        assert bf16[key] == pytest.approx(fp32[key], rel=0.05), key


def test_spec_precision_keys(write_spec, tmp_path):
    registry = get_registry()
    spec = load_spec(write_spec(tiny_spec_text(generators="[generators.wgan]\npreset = \"tiny\"\nprecision = \"bf16\"\n",
                                               extra="")), registry)
    assert spec.benchmark.precision == "auto" and spec.generators[0].precision == "bf16"
    assert spec.generators[0].resolved()["precision"] == "bf16"
    bad = tiny_spec_text().replace('device = "cpu"', 'device = "cpu"\nprecision = "fp16"')
    with pytest.raises(SpecError, match="unknown precision 'fp16'"):
        load_spec(write_spec(bad), registry)
